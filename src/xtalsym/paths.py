"""Where each artifact lives, relative to the results directory: the one list of file names.

The Snakemake rules declare their inputs and outputs from :data:`FILES` (``{mode}``,
``{model}`` and ``{shard}`` are their wildcards) and the stages read files by the same names
(:func:`name`), so renaming an artifact here renames it everywhere, and renaming it in one
place only is a missing-file error in the DAG instead of a figure silently left out of the
report. Contracts of each file: docs/artifacts.md. Standard library only: the Snakefile
imports this module from the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

FILES: dict[str, str] = {
    # structures stage
    "structures": "structures/structures.parquet",
    "structures_shard": "structures/shards/{shard}.json",
    "outcomes": "structures/outcomes.csv",
    "structure_counts": "structures/class_counts.csv",
    "structure_counts_figure": "structures/class_counts.png",
    "realism": "structures/realism.csv",
    "realism_figure": "structures/realism.png",
    # patterns stage
    "patterns": "patterns/patterns.h5",
    "patterns_figure": "patterns/examples.png",
    # one file per shard when config shards > 1, gathered into "patterns" (xtalsym.shards)
    "patterns_shard": "patterns/shards/{shard}.h5",
    # shaping stage, one per image mode
    "images": "shaping/{mode}.h5",
    "shaping_figure": "shaping/{mode}_examples.png",
    "images_shard": "shaping/shards/{mode}-{shard}.h5",
    # split stage
    "split": "split/split.csv",
    "split_counts": "split/class_counts.csv",
    "class_weights": "split/class_weights.csv",
    "split_counts_figure": "split/class_counts.png",
    "split_excluded": "split/excluded.csv",
    # train stage, one bundle per model (the checkpoint directory is train/{model})
    "weights": "models/{model}/model.pt",
    "card": "models/{model}/model_card.json",
    "history": "models/{model}/history.csv",
    "checkpoint_dir": "train/{model}",
    # evaluate stage, one directory per model
    "metrics": "evaluate/{model}/metrics.json",
    "predictions": "evaluate/{model}/predictions.csv",
    "per_class": "evaluate/{model}/per_class.csv",
    "confusion_sg": "evaluate/{model}/confusion_sg.png",
    "confusion_cs": "evaluate/{model}/confusion_cs.png",
    # the real-structure check (rule evaluate_real), one directory per model
    "real_metrics": "evaluate/{model}/real/metrics.json",
    "real_predictions": "evaluate/{model}/real/predictions.csv",
    "real_per_class": "evaluate/{model}/real/per_class.csv",
    "real_outcomes": "evaluate/{model}/real/outcomes.csv",
    "real_confusion_sg": "evaluate/{model}/real/confusion_sg.png",
    "real_confusion_cs": "evaluate/{model}/real/confusion_cs.png",
    "robustness": "evaluate/robustness.csv",
    "robustness_figure": "evaluate/robustness.png",
    # report
    "report": "report/index.html",
    "report_markdown": "report/index.md",
    "report_metrics": "report/metrics.json",
}


def name(key: str) -> str:
    """The file name of artifact ``key`` inside its stage's directory, e.g. ``outcomes.csv``."""
    return os.path.basename(FILES[key])


def path(results: str | os.PathLike, key: str, **fields: str) -> Path:
    """``results/<FILES[key]>`` with its ``{mode}``/``{model}``/``{shard}`` fields filled in."""
    return Path(results) / FILES[key].format(**fields)
