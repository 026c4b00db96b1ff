"""envs/*.yaml pin the same versions as pyproject.toml (conda is not reachable here)."""

import re
import tomllib

import yaml

from .helpers import ROOT

# conda-forge names of PyPI packages where they differ.
CONDA_NAME = {"torch": "pytorch"}


def _pyproject_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for d in deps:
        name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^;\s]+)", d).groups()
        pins[name.lower()] = version
    return pins


def _env_pins(path):
    doc = yaml.safe_load(path.read_text())
    pins = {}
    for dep in doc["dependencies"]:
        if isinstance(dep, str) and "=" in dep:
            name, version = dep.split("=", 1)
            pins[name.lower()] = version
        elif isinstance(dep, dict):
            for line in dep.get("pip", []):
                m = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", line)
                if m:
                    pins[m.group(1).lower()] = m.group(2)
    return pins


def test_env_files_agree_with_pyproject():
    pins = _pyproject_pins()
    inverse = {v: k for k, v in CONDA_NAME.items()}
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        env_pins = _env_pins(env)
        assert env_pins, env
        for name, version in env_pins.items():
            pypi = inverse.get(name, name)
            if pypi in ("python", "pip"):
                continue
            assert pypi in pins, f"{env.name}: {name} is not a pinned dependency in pyproject"
            assert pins[pypi] == version, f"{env.name}: {name}={version}, pyproject {pins[pypi]}"


def test_lock_agrees_with_pyproject():
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line:
            n, v = line.split("==")
            lock[n.lower()] = v
    for name, version in _pyproject_pins().items():
        if name == "torch":
            continue  # installed first from its own pinned wheel (Makefile)
        assert lock.get(name) == version, f"requirements.lock {name}={lock.get(name)} != {version}"
