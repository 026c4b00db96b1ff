"""The materials_project source without network: query building, a recorded fixture of the
client's documents, the download cache, and clear errors for a missing key, client or network."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
from pymatgen.core import Structure

from xtalsym import config
from xtalsym.structures import label, mp, run_structures

FIXTURE = Path(__file__).parent / "data" / "mp_documents.json"
KEY = "s3cr3t-KEY-0123456789"


def documents() -> list[dict]:
    """Three summary documents as mp-api returns them (use_document_model=False)."""
    return json.loads(FIXTURE.read_text())


class FakeClient:
    """Stands in for ``MPRester`` (no network in tests): serves the fixture per space group."""

    def __init__(self, key: str, fail: Exception | None = None):
        assert key == KEY
        self.calls: list[dict] = []
        self.fail = fail
        self.materials = self
        self.summary = self

    def search(self, **q):
        self.calls.append(q)
        if self.fail:
            raise self.fail
        return [copy.deepcopy(d) for d in documents() if d["symmetry"]["number"] == q["spacegroup_number"]]  # fmt: skip


def test_build_queries():
    qs = mp.build_queries([225, 14, 136], max_per_class=None, max_sites=64)
    assert [q["spacegroup_number"] for q in qs] == [14, 136, 225]
    q = qs[0]
    assert q["fields"] == ["material_id", "formula_pretty", "structure", "symmetry"]
    assert q["all_fields"] is False and q["deprecated"] is False
    assert q["num_sites"] == (1, 64) and "num_chunks" not in q
    capped = mp.build_queries([14], max_per_class=2500, max_sites=32)[0]
    assert capped["chunk_size"] == 1000 and capped["num_chunks"] == 3
    small = mp.build_queries([14], max_per_class=50, max_sites=32)[0]
    assert small["chunk_size"] == 50 and small["num_chunks"] == 1


def test_documents_to_rows_labels_by_spglib():
    docs = [mp.normalise_document(d) for d in documents()]
    docs[1]["symmetry"]["number"] = 1  # the document's own label is never used
    rows, outcomes = mp.documents_to_rows(docs, 0.01, 64, [136, 225, 227])
    assert [r["id"] for r in rows] == ["mp-149", "mp-22862", "mp-2657"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["mp-149"]["spacegroup"] == 227 and by_id["mp-149"]["n_sites"] == 8
    assert by_id["mp-22862"]["spacegroup"] == 225 and by_id["mp-22862"]["formula"] == "NaCl"
    assert by_id["mp-2657"]["symbol"] == "P4_2/mnm"
    for r in rows:
        assert r["source"] == "materials_project"
        assert label(Structure.from_str(r["structure"], fmt="json"), 0.01)[0] == r["spacegroup"]
    assert all(o.status == "kept" for o in outcomes)
    rows, outcomes = mp.documents_to_rows(docs, 0.01, 64, [225, 227])
    assert {o.name: o.reason for o in outcomes}["mp-2657"] == "outside_class_set"
    broken = dict(docs[0], material_id="mp-9", structure=None)
    _, outcomes = mp.documents_to_rows([broken], 0.01, 64, [225])
    assert outcomes[0].reason == "download_failed"


def test_normalise_accepts_client_objects():
    d = documents()[0]
    obj = type("Doc", (), {**d, "structure": Structure.from_dict(d["structure"])})()
    n = mp.normalise_document(obj)
    assert n["material_id"] == "mp-22862" and n["structure"]["@class"] == "Structure"
    assert json.dumps(n)  # JSON-ready for the cache


def test_fetch_caches_downloads(tmp_path):
    qs = mp.build_queries([136, 225, 227], None, 64)
    clients = []

    def factory(key):
        clients.append(FakeClient(key))
        return clients[-1]

    docs = mp.fetch_documents(qs, tmp_path, factory, env={"MP_API_KEY": KEY})
    assert sorted(d["material_id"] for d in docs) == ["mp-149", "mp-22862", "mp-2657"]
    assert len(clients) == 1 and len(clients[0].calls) == 3
    assert len(list(tmp_path.glob("sg*.json"))) == 3

    def offline(key):
        raise AssertionError("a cached rerun must not download")

    again = mp.fetch_documents(qs, tmp_path, offline, env={})  # no key needed either
    assert again == docs
    for f in tmp_path.iterdir():
        assert KEY not in f.read_text()


def test_missing_key_client_or_network_fail_clearly(tmp_path):
    qs = mp.build_queries([225], None, 64)
    with pytest.raises(RuntimeError, match="MP_API_KEY"):
        mp.fetch_documents(qs, tmp_path, lambda k: FakeClient(k), env={})
    # The real client factory: mp-api is an optional extra.
    try:
        import mp_api  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match=r"pip install 'xtalsym\[mp\]'"):
            mp.fetch_documents(qs, tmp_path, env={"MP_API_KEY": KEY})
    err = ConnectionError(f"Max retries exceeded with url ...?api_key={KEY}")
    with pytest.raises(RuntimeError, match="space group 225 failed.*network") as e:
        mp.fetch_documents(qs, tmp_path, lambda k: FakeClient(k, fail=err), env={"MP_API_KEY": KEY})  # fmt: skip
    assert KEY not in str(e.value) and e.value.__cause__ is None
    assert not list(tmp_path.glob("*.json"))  # nothing cached from a failed download


def test_stage_with_materials_project_from_cache(tmp_path, monkeypatch):
    cfg = config.validate(
        {"classes": [136, 225, 227], "structures": {"sources": ["materials_project"], "workers": 1}}
    )
    out = tmp_path / "structures"
    qs = mp.build_queries([136, 225, 227], None, cfg["structures"]["max_sites"])
    mp.fetch_documents(qs, out / mp.CACHE_DIR, lambda k: FakeClient(k), env={"MP_API_KEY": KEY})
    monkeypatch.delenv("MP_API_KEY", raising=False)
    run_structures(cfg, out, progress=False)
    df = pd.read_parquet(out / "structures.parquet")
    assert list(df["id"]) == ["mp-149", "mp-22862", "mp-2657"]
    assert list(df["spacegroup"]) == [227, 225, 136]
    oc = pd.read_csv(out / "outcomes.csv", keep_default_na=False)
    assert set(oc["status"]) == {"kept"} and set(oc["source"]) == {"materials_project"}
