"""The command line: one subcommand per stage plus predict, each option described."""

import argparse
import subprocess

import pytest
import yaml

from xtalsym.cli import build_parser
from xtalsym.config import merge, validate

from .conftest import ROOT, tool_env

COMMANDS = ["structures", "patterns", "shaping", "split", "train", "evaluate", "robustness",
            "report", "learning-curve", "predict"]  # fmt: skip
ALIASES = {"simulate": "patterns", "shape": "shaping"}


def test_top_level_help_lists_every_stage():
    text = build_parser().format_help()
    for cmd in COMMANDS:
        assert cmd in text


def subcommands() -> dict[str, argparse.ArgumentParser]:
    ap = build_parser()
    (sub,) = [a for a in ap._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_stage_and_predict_is_a_subcommand():
    subs = subcommands()
    assert set(subs) == set(COMMANDS) | set(ALIASES)
    for alias, stage in ALIASES.items():  # the short names are the same subcommand
        assert subs[alias] is subs[stage]
    # and run as the stage (config caps, messages and dispatch use the stage's name)
    args = build_parser().parse_args(["simulate", "--structures", "s.parquet", "--out", "p.h5"])
    assert args.command == "patterns"
    assert (
        build_parser().parse_args(["shape", "--patterns", "p", "--out", "o"]).command == "shaping"
    )


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_option_of_every_subcommand_is_described(cmd):
    p = subcommands()[cmd]
    text = p.format_help()
    assert text.startswith("usage: xtalsym " + cmd)
    assert p.description, cmd
    for action in p._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help and len(action.help.split()) >= 2, f"{cmd} {name}: no help text"
        if action.option_strings and action.default not in (None, False):
            # the default is shown, e.g. "(default: 5)"
            assert f"(default: {action.default})" in " ".join(text.split()), f"{cmd} {name}"


def test_predict_help_says_what_a_pattern_image_must_be():
    text = " ".join(subcommands()["predict"].format_help().split())
    for phrase in ("256 px", "0.01 Å^-1/px", "direct beam", "centre", "docs/artifacts.md",
                   "any in-plane angle", "255 * (I / I_ref)^gamma", "--tta", "--mask",
                   "--images MANIFEST.csv", "--resume", "one to three", "Exit status"):  # fmt: skip
        assert phrase in text, phrase


def test_paper_config_is_valid():
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    cfg = validate(merge(base, paper))
    assert cfg["shaping"]["input_size"] == 224 and cfg["train"]["blocks"] == [3, 6, 12, 8]
    assert len([m for m in cfg["train"]["models"].values() if m]) == 5


def test_missing_input_is_a_clear_error(tmp_path):
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/xtalsym"), "split", "--structures", str(tmp_path / "nope.parquet"),
         "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=tool_env(tmp_path), timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "nope.parquet" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_runner_rejects_unknown_subjects():
    from benchmarks.run_all import main

    with pytest.raises(SystemExit) as e:
        main(["nope"])
    assert e.value.code == 2


def test_scale_benchmark_projection():
    from benchmarks.bench_scale import BIG_N, BIG_SHARDS, PAPER_N, STAGES, summarise

    def size(n, rss, shards=1):
        stage = {"seconds": n / 100, "bytes": 1000 * n, "peak_rss_mb": rss}
        if shards > 1:  # shard jobs of n / 100 / (shards + 1) s each, a gather as long
            part = n / 100 / (shards + 1)
            stage |= {"shard_seconds": [part] * shards, "gather_seconds": part}
        stages = {s: dict(stage) for s in STAGES}
        stages["split"] = {"seconds": n / 100, "bytes": 1000 * n, "peak_rss_mb": rss}
        return {"n_crystals": n, "shards": shards, "stages": stages}

    doc = summarise(size(1000, 500.0, shards=2), size(5000, 540.0, shards=2), workers=2)
    p = doc["projected_108658"][STAGES[0]]
    assert p["seconds"] == round(PAPER_N / 100) and p["gib"] == round(1000 * PAPER_N / 2**30, 2)
    assert p["peak_rss_mb"] == round(540 + 0.01 * (PAPER_N - 5000))  # linear upper estimate
    assert doc["peak_rss_ratio_large_vs_small"] == 1.08
    big = doc[f"projected_{BIG_N}_on_{BIG_SHARDS}_shards"]
    # a shard of 2,500 crystals took 50/3 s: one of 10,000 takes 4x; gathers on the line
    # through (1000, 10/3 s) and (5000, 50/3 s)
    assert big["structures"]["shard_seconds"] == round(50 / 3 * 4)
    assert big["structures"]["gather_seconds"] == round(10 / 3 + 40 / 3 * (BIG_N - 1000) / 4000)
    assert big["split"] == {"shard_seconds": 0, "gather_seconds": BIG_N // 100,
                            "seconds": BIG_N // 100}  # fmt: skip
    flat = summarise(size(1000, 600.0, shards=2), size(5000, 550.0, shards=2), workers=2)
    assert flat["projected_108658"][STAGES[0]]["peak_rss_mb"] == 550  # never below measured
