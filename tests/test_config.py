"""Config validation: schema errors name the key; defaults and the schema agree."""

import copy
import subprocess

import pytest
import yaml

from xtalsym import config
from xtalsym.cli import load_config

from .helpers import ROOT, TINY_CONFIG, VENV_BIN, tool_env

DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())


def test_default_config_is_valid_and_complete():
    cfg = config.load(ROOT / "config.yaml")
    assert cfg["seed"] == DEFAULT["seed"]
    # config.yaml documents every schema key: nothing is filled in from defaults.
    assert cfg == config.validate(DEFAULT) and set(DEFAULT) >= set(cfg) - {"results"}


def _schema_defaults(node):
    out = {}
    for k, sub in node.get("properties", {}).items():
        if sub.get("type") == "object" and "properties" in sub and "default" not in sub:
            out[k] = _schema_defaults(sub)
        elif "default" in sub:
            out[k] = sub["default"]
    return out


def _leaves(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict) and v and not k == "models":
            yield from _leaves(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def test_schema_defaults_match_config_yaml():
    """The documented default config and the schema's defaults do not drift apart."""
    schema_defaults = dict(_leaves(_schema_defaults(config.schema())))
    documented = dict(_leaves(DEFAULT))
    missing = sorted(set(schema_defaults) - set(documented))
    assert not missing, f"keys in the schema but not documented in config.yaml: {missing}"
    drift = {
        k: (schema_defaults[k], documented[k])
        for k in schema_defaults
        if k in documented and k not in ("train.models",) and schema_defaults[k] != documented[k]
    }
    # Deliberate differences (the quick default vs the schema's documented default) are none.
    assert not drift, f"schema default != config.yaml: {drift}"


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"seed": "abc"}, "seed"),
        ({"sed": 3}, "sed"),
        ({"structures": {"synthetic": {"per_class": -4}}}, "structures.synthetic.per_class"),
        ({"train": {"epochs": 0}}, "train.epochs"),
        ({"train": {"epohcs": 3}}, "train.epohcs"),
        ({"split": {"group_by": "color"}}, "split.group_by"),
        ({"classes": [1, 999]}, "classes"),
        ({"train": {"models": {"m": {"arch": "lenet", "input": "shaped"}}}}, "train.models.m.arch"),
    ],
)
def test_bad_config_names_the_key(patch, needle):
    cfg = copy.deepcopy(DEFAULT)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            for k2, v2 in v.items():
                if isinstance(v2, dict) and isinstance(cfg[k].get(k2), dict):
                    cfg[k][k2].update(v2)
                else:
                    cfg[k][k2] = v2
        else:
            cfg[k] = v
    with pytest.raises(config.ConfigError) as e:
        config.validate(cfg)
    assert needle in str(e.value)


def test_cli_params_merge_over_file():
    cfg = load_config(str(TINY_CONFIG), '{"train": {"epochs": 3}}')
    assert cfg["train"]["epochs"] == 3 and cfg["classes"] == [2, 14, 62, 139, 194, 225]


def test_snakemake_rejects_bad_config_before_any_work(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("structures:\n  synthetic:\n    per_class: -5\n")
    out = tmp_path / "res"
    proc = subprocess.run(
        [str(VENV_BIN / "snakemake"), "-n", "--cores", "1", "--configfile", str(bad),
         "--config", f"results={out}"],
        cwd=ROOT, capture_output=True, text=True, env=tool_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "per_class" in proc.stdout + proc.stderr
    assert not out.exists()


def test_cli_bad_config_exit_code(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("split:\n  ratios: {train: 0.8, val: 0.1, tset: 0.1}\n")
    proc = subprocess.run(
        [str(VENV_BIN / "xtalsym"), "split", "--config", str(bad), "--structures", "x",
         "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=tool_env(tmp_path), timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "split.ratios" in proc.stderr and "tset" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_runtime_keys_are_marked_in_the_schema_and_split_off():
    keys = config.runtime_keys()
    assert ("patterns", "workers") in keys and ("train", "device") in keys
    assert ("evaluate", "workers") in keys and ("shaping", "chunk_size") in keys
    # settings that change results are never runtime keys
    assert not {("patterns", "size"), ("train", "epochs"), ("seed",)} & set(keys)
    cfg = config.load(TINY_CONFIG)
    kept, runtime = config.split_runtime(cfg)
    train_runtime = ("device", "workers", "precision", "raw_copy", "processes", "cache_gb")
    assert runtime["train"] == {k: cfg["train"][k] for k in train_runtime}
    assert "workers" not in kept["patterns"] and kept["patterns"]["size"] == cfg["patterns"]["size"]
    # the two halves put back together are the config
    from xtalsym.config import merge

    assert merge(kept, runtime) == cfg
    # a slice splits cleanly: sections it lacks appear in neither half
    kept, runtime = config.split_runtime({"seed": 1, "shaping": cfg["shaping"]})
    assert set(kept) == {"seed", "shaping"} and set(runtime) == {"shaping"}


def test_threads_cap_the_workers_of_the_stage_and_runtime_params_merge():
    cfg = load_config(None, ['{"patterns": {"workers": 8}}', '{"patterns": {"workers": 6}}'])
    assert cfg["patterns"]["workers"] == 6  # merged in order
    capped = config.cap_workers(cfg, "simulate", 2)
    assert capped["patterns"]["workers"] == 2 and cfg["patterns"]["workers"] == 6
    assert config.cap_workers(cfg, "simulate", 16)["patterns"]["workers"] == 6
    assert config.cap_workers(cfg, "robustness", 1)["evaluate"]["workers"] == 1
    zero = load_config(None, '{"train": {"workers": 0}}')
    assert config.cap_workers(zero, "train", 1)["train"]["workers"] == 0
    assert config.cap_workers(cfg, "report", 1) == cfg


def test_schema_is_parsed_once_and_handed_out_as_copies():
    """Per-file defaults read the schema for every structure file; a caller that changes its
    copy must not change the next caller's."""
    first = config.schema()
    first["properties"].clear()
    assert config.schema()["properties"], "the cached schema was mutated through a copy"
    assert config.schema() is not config.schema()
