"""The test suite's own contract: data from ../shared is optional locally, required on CI."""

import pytest

from .conftest import require_shared


def test_missing_shared_data_skips_locally_and_fails_on_ci(monkeypatch, tmp_path):
    absent = tmp_path / "shared" / "testdata"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        require_shared(absent, "test data")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not found"):
        require_shared(absent, "test data")
    assert require_shared(tmp_path, "a directory that exists") == tmp_path
