"""Learning curve: nested train subsets, aggregation of real files, the figure, the report
section, and the DAG it adds (only when evaluate.learning_curve.enabled)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from xtalsym.cli import main
from xtalsym.evaluate import learning_curve as lc
from xtalsym.split import SPLITS, make_split

from .conftest import TINY_CONFIG
from .helpers import effective_config


def toy_split(per_class: dict[int, int], seed: int = 3) -> pd.DataFrame:
    """A real split (make_split) of ``per_class[sg]`` crystals per space group."""
    rows = [
        {"id": f"sg{sg}-{i:03d}", "spacegroup": sg} for sg, n in per_class.items() for i in range(n)
    ]
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # input order must not matter
    return make_split(df, {"train": 0.8, "val": 0.1, "test": 0.1}, seed)


def train_ids(df: pd.DataFrame) -> set[str]:
    return set(df.loc[df["split"] == "train", "id"])


def test_subsets_are_nested_and_capped_per_class():
    split = toy_split({2: 50, 14: 50, 225: 12})
    subs = {n: lc.subset_split(split, n, seed=11) for n in (1, 3, 10, 40, 100)}
    for small, big in ((1, 3), (3, 10), (10, 40), (40, 100)):
        assert train_ids(subs[small]) < train_ids(subs[big]) or (
            train_ids(subs[small]) == train_ids(subs[big]) == train_ids(split)
        )
    full = split[split["split"] == "train"].groupby("spacegroup").size()
    for n, sub in subs.items():
        counts = sub[sub["split"] == "train"].groupby("spacegroup").size()
        # every class keeps min(n, its train count): 225 has only 9 or 10
        assert (counts == np.minimum(n, full)).all(), (n, counts.to_dict())
        # validation and test untouched, rows in their original order
        for s in ("val", "test"):
            pd.testing.assert_frame_equal(sub[sub["split"] == s], split[split["split"] == s])
        assert sub.index.is_monotonic_increasing
    assert train_ids(subs[100]) == train_ids(split)


def test_subset_depends_on_the_seed_not_on_row_order():
    split = toy_split({14: 60, 62: 60})
    a = lc.subset_split(split, 5, seed=1)
    b = lc.subset_split(split.sample(frac=1.0, random_state=4), 5, seed=1)
    c = lc.subset_split(split, 5, seed=2)
    assert train_ids(a) == train_ids(b)
    assert train_ids(a) != train_ids(c)
    with pytest.raises(ValueError, match="crystals per class"):
        lc.subset_split(split, 0, seed=1)


def test_subset_command_writes_split_and_weights(tmp_path):
    split = toy_split({2: 30, 14: 60})
    split.to_csv(tmp_path / "split.csv", index=False)
    rc = main(
        ["learning-curve", "subset", "--params", json.dumps({"classes": [2, 14, 62]}),
         "--split", str(tmp_path / "split.csv"), "--per-class", "20",
         "--out-split", str(tmp_path / "s.csv"), "--out-weights", str(tmp_path / "w.csv")]
    )  # fmt: skip
    assert rc == 0
    sub = pd.read_csv(tmp_path / "s.csv")
    assert sub[sub["split"] == "train"].groupby("spacegroup").size().to_dict() == {2: 20, 14: 20}
    w = pd.read_csv(tmp_path / "w.csv").set_index("spacegroup")["weight"]
    # equal train counts -> equal weights; a class absent from train gets 0
    assert w[2] == pytest.approx(1.0) and w[14] == pytest.approx(1.0) and w[62] == 0.0


def write_point(root: Path, model: str, n: int, top1: float, n_test: int, seconds: float):
    """The files one curve point leaves: metrics.json, model_card.json, history.csv and the
    training benchmark, in the layout of workflow/rules/learning_curve.smk."""
    ev = root / "evaluate" / f"{model}_n{n}"
    bundle = root / "models" / f"{model}_n{n}"
    ev.mkdir(parents=True)
    bundle.mkdir(parents=True)
    (ev / "metrics.json").write_text(
        json.dumps({"n": n_test, "sg_top1": top1, "sg_top5": min(1, 2 * top1),
                    "cs_accuracy": min(1, top1 + 0.3), "model": {"name": model}})
    )  # fmt: skip
    card = {"name": model, "n_train": 6 * n, "best_epoch": 2, "val_acc": top1 - 0.01,
            "epochs_run": 3, "n_parameters": 1000 + n, "patterns": {"n_variants": 2}}  # fmt: skip
    (bundle / "model_card.json").write_text(json.dumps(card))
    pd.DataFrame(
        {"epoch": [1, 2, 3], "train_loss": [2.0, 1.0, 0.5], "train_acc": [0.3, 0.9, 0.95],
         "val_loss": [2, 1.5, 1.6], "val_acc": [0.2, top1, top1], "lr": [1e-3] * 3,
         "seconds": [1.0, 1.0, 1.0]}
    ).to_csv(bundle / "history.csv", index=False)  # fmt: skip
    bench = root / "benchmarks" / f"train_{model}_n{n}.tsv"
    bench.parent.mkdir(parents=True, exist_ok=True)
    bench.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:{int(seconds):02d}\t100.0\n")
    return ev / "metrics.json", bundle / "model_card.json", bench


def test_aggregate_reads_real_files_and_plots(tmp_path):
    points = {("msdn", 10): 0.30, ("msdn", 40): 0.50, ("vgg", 10): 0.20, ("vgg", 40): 0.25}
    paths = [write_point(tmp_path, m, n, p, 400, 12.5 + n) for (m, n), p in points.items()]
    out = tmp_path / "out"
    rc = main(
        ["learning-curve", "aggregate", "--params", json.dumps({"classes": [2, 14, 62, 225]}),
         "--metrics", *(str(p[0]) for p in paths), "--cards", *(str(p[1]) for p in paths),
         "--benchmarks", *(str(p[2]) for p in paths), "--out", str(out)]
    )  # fmt: skip
    assert rc == 0
    t = pd.read_csv(out / "learning_curve.csv")
    assert list(t.columns) == lc.COLUMNS
    assert list(zip(t["model"], t["n_per_class"], strict=True)) == sorted(points)
    row = t[(t["model"] == "msdn") & (t["n_per_class"] == 40)].iloc[0]
    assert row["sg_top1"] == 0.5 and row["n_train"] == 240 and row["n_variants"] == 2
    assert row["train_acc"] == 0.9  # at the best epoch (2), not the last
    assert row["train_seconds"] == pytest.approx(52.5) and row["n_test"] == 400
    # Wilson 95 % at p = 0.5, n = 400: 0.5 -+ 0.0480
    assert row["sg_top1_lo"] == pytest.approx(0.4512, abs=2e-4)
    assert row["sg_top1_hi"] == pytest.approx(0.5488, abs=2e-4)
    assert (t["sg_top1_lo"] <= t["sg_top1"]).all() and (t["sg_top1"] <= t["sg_top1_hi"]).all()
    png = (out / "learning_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    text = " ".join(lc.summary(t))
    # msdn: 30 -> 50 % over two doublings of the training set = +10 points per doubling
    assert "+10.0 points per doubling" in text and "+2.5 points per doubling" in text


def test_wilson_bounds_edges():
    lo, hi = lc.wilson_bounds([0.0, 1.0, 0.5], [20, 20, 1])
    assert lo[0] == 0.0 and hi[0] == pytest.approx(0.1611, abs=1e-3)
    assert hi[1] == 1.0 and lo[1] == pytest.approx(1 - 0.1611, abs=1e-3)
    assert 0.0 < lo[2] < 0.5 < hi[2] < 1.0


def test_run_directories_must_name_model_and_size(tmp_path):
    with pytest.raises(ValueError, match="<model>_n<crystals>"):
        lc.Run.from_paths(tmp_path / "msdn" / "metrics.json", tmp_path / "model_card.json")
    run = lc.Run.from_paths(tmp_path / "msdn_unshaped_n80/metrics.json", tmp_path / "c.json")
    assert (run.model, run.n_per_class) == ("msdn_unshaped", 80)


def test_report_section_shows_figure_and_table(tmp_path):
    from xtalsym.evaluate.document import render_markdown
    from xtalsym.evaluate.report import learning_curve_section

    paths = [write_point(tmp_path, "msdn", n, p, 200, 5.0) for n, p in ((10, 0.2), (20, 0.4))]
    runs = [lc.Run.from_paths(*p) for p in paths]
    lc.run_aggregate(runs, tmp_path / "lc", n_classes=4)
    out = tmp_path / "report"
    sec = learning_curve_section(tmp_path / "lc" / "learning_curve.csv", out)
    md = render_markdown("t", "i", [sec])
    assert "figures/learning_curve.png" in md and (out / "figures/learning_curve.png").is_file()
    assert "| msdn | 20 |" in md and "40.0% [" in md
    assert (out / "learning_curve.csv").is_file()


def test_config_overlay_and_default():
    from xtalsym.config import validate

    root = Path(__file__).resolve().parents[1]
    base = yaml.safe_load((root / "config.yaml").read_text())
    assert validate(base)["evaluate"]["learning_curve"]["enabled"] is False
    cfg = effective_config(root / "config/learning_curve.yaml")
    curve = cfg["evaluate"]["learning_curve"]
    assert curve["enabled"] and set(curve["models"]) <= set(cfg["train"]["models"])
    assert "msdn" in curve["models"] and len(curve["models"]) >= 2
    # enough train crystals per class for the largest size
    r = cfg["split"]["ratios"]
    per_train = cfg["structures"]["synthetic"]["per_class"] * r["train"] / sum(r.values())
    assert per_train >= max(curve["sizes"]) and cfg["patterns"]["n_variants"] >= 2
    assert set(SPLITS) == set(r)


# ------------------------------------------------------------------------ the DAG


@pytest.fixture
def curve_config(tmp_path):
    def make(enabled: bool, sizes=(2, 4, 8), models=("msdn", "vgg")) -> Path:
        cfg = yaml.safe_load(TINY_CONFIG.read_text())
        cfg["evaluate"]["learning_curve"] = {
            "enabled": enabled,
            "sizes": list(sizes),
            "models": list(models),
        }
        path = tmp_path / f"curve_{enabled}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    return make


def planned_jobs(results: Path, tmp: Path, configfile: Path) -> pd.Series:
    """Jobs per rule a dry run plans (Snakemake's job-stats table)."""
    import re

    from .test_workflow import snakemake

    proc = snakemake(results, tmp, "-n", "--quiet", "rules", configfile=configfile)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.findall(r"^([a-z_]+)\s+(\d+)\s*$", proc.stdout + proc.stderr, flags=re.M)
    return pd.Series({k: int(v) for k, v in found})


@pytest.mark.slow
def test_dry_run_plans_every_point_only_when_enabled(tmp_path, curve_config):
    on = planned_jobs(tmp_path / "r", tmp_path, curve_config(True))
    assert on["learning_curve_subset"] == 3
    assert on["learning_curve_train"] == on["learning_curve_evaluate"] == 6  # 2 models x 3
    assert on["learning_curve_aggregate"] == 1 and on["build_report"] == 1
    off = planned_jobs(tmp_path / "r", tmp_path, curve_config(False))
    assert not [r for r in off.index if r.startswith("learning_curve")]
    assert off["train_model"] == on["train_model"]


@pytest.mark.slow
def test_unknown_curve_model_is_a_clear_error(tmp_path, curve_config):
    from .test_workflow import snakemake

    proc = snakemake(tmp_path / "r", tmp_path, "-n", configfile=curve_config(True, models=["x"]))
    assert proc.returncode != 0
    assert "evaluate.learning_curve.models: x not in train.models" in proc.stderr + proc.stdout


def test_cli_help_names_both_actions(capsys):
    from xtalsym.cli import build_parser

    assert "learning-curve" in build_parser().format_help()
    with pytest.raises(SystemExit) as e:
        main(["learning-curve", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "subset" in out and "aggregate" in out
