"""Running a parsed ``xtalsym`` command: the stage functions each subcommand calls."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..config import cap_workers
from .common import load_config, model_or_reference


def _name_of(path: str) -> str:
    """Model name from a metrics/history path like results/evaluate/<name>/metrics.json."""
    return Path(path).parent.name


def summary_line(m: dict[str, Any]) -> str:
    """The evaluate command's one-line summary, counting skipped files in the user form."""
    data = m.get("data") or {}
    head = f"{m['n']} crystals"
    if "files" in data:
        head += (
            f" ({data['skipped']} of {data['files']} files skipped, reasons in "
            f"{data.get('outcomes', 'outcomes.csv')})"
        )
    return (
        f"{head}: space group top-1 {m['sg_top1']:.3f}, top-5 {m['sg_top5']:.3f}, "
        f"balanced {m['sg_balanced_accuracy']:.3f}, crystal system {m['cs_accuracy']:.3f}"
    )


def dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "predict":
        from .predict import run_predict

        return run_predict(args)

    cfg = load_config(args.config, args.params)
    if args.threads:
        cfg = cap_workers(cfg, cmd, args.threads)
        if cmd in ("train", "evaluate", "robustness"):
            import torch

            torch.set_num_threads(args.threads)
    if cmd == "structures":
        from ..shards import parse_shard
        from ..structures import gather_structures, run_structures, run_structures_shard

        if args.shard:
            run_structures_shard(cfg, args.out, parse_shard(args.shard))
        elif args.gather:
            gather_structures(cfg, args.out, args.gather)
        else:
            run_structures(cfg, args.out)
    elif cmd == "patterns":
        from ..patterns import gather_patterns, run_patterns
        from ..shards import parse_shard

        if args.gather:
            gather_patterns(cfg, args.structures, args.gather, args.out, figure_path=args.figure)
        else:
            shard = parse_shard(args.shard) if args.shard else None
            run_patterns(cfg, args.structures, args.out, figure_path=args.figure, shard=shard)
    elif cmd == "shaping":
        from .. import shaping

        opts = shaping.ShapingOptions.from_config(cfg["shaping"]["quirks"])
        if args.view_of:
            if args.mode != "unshaped":
                raise SystemExit("xtalsym shaping: --view-of makes --mode unshaped images")
            shaping.unshaped_view(cfg, args.view_of, args.out, args.patterns, args.figure)
        elif args.gather:
            if not args.patterns:
                raise SystemExit("xtalsym shaping: --gather needs --patterns")
            shaping.gather_shaping(
                cfg, args.patterns, args.gather, args.mode, args.out, figure_path=args.figure
            )
        elif args.patterns:
            shaping.run_shaping(cfg, args.patterns, args.mode, args.out, figure_path=args.figure)
        elif args.images:
            outcomes = shaping.shape_image_files([Path(p) for p in args.images], args.out, opts)
            bad = [o for o in outcomes if o[1] != "ok"]
            for path, _, reason in bad:
                print(f"skipped {path}: {reason}", file=sys.stderr)
            print(f"shaped {len(outcomes) - len(bad)} of {len(outcomes)} image(s) into {args.out}")
            return 1 if len(bad) == len(outcomes) else 0
        else:
            raise SystemExit("xtalsym shaping: give --patterns H5 or image files")
    elif cmd == "split":
        from ..split import run_split

        run_split(cfg, args.structures, args.out, patterns_path=args.patterns)
    elif cmd == "train":
        from ..train import run_train
        from ..train.launch import relaunch

        paths = {"images": args.images, "split": args.split, "weights": args.weights}
        paths |= {"out": args.out, "checkpoint-dir": args.checkpoint_dir}
        argv = ["--model", args.model, *(f"--{k}={v}" for k, v in paths.items())]
        rc = relaunch(cfg, argv)  # train.processes > 1: one process per GPU via srun/torchrun
        if rc is not None:
            return rc
        run_train(
            cfg, args.model, args.images, args.split, args.weights, args.out, args.checkpoint_dir
        )
    elif cmd == "evaluate":
        models = args.model or ([model_or_reference(None)] if args.structures else [])
        if models and len(models) != len(args.out):
            raise SystemExit("xtalsym evaluate: give one --out per --model")
        if args.structures:
            from ..evaluate.structures import evaluate_structures_many

            found = evaluate_structures_many(
                args.structures, models, args.out, symprec=args.symprec, tta=args.tta
            )
        elif args.images and args.split and len(models) == 1:
            from ..evaluate import run_evaluate

            found = [run_evaluate(cfg, models[0], args.images, args.split, args.out[0])]
        else:
            raise SystemExit(
                "xtalsym evaluate: give --structures DIR, or one --model with --images and --split"
            )
        for m in found:
            print(summary_line(m))
    elif cmd == "robustness":
        from ..evaluate import run_robustness

        dirs = {Path(d).name: d for d in args.models}
        run_robustness(cfg, dirs, args.structures, args.split, args.out)
    elif cmd == "learning-curve":
        from ..evaluate import learning_curve as lcm

        if args.action == "subset":
            lcm.run_subset(cfg, args.split, args.per_class, args.out_split, args.out_weights)
        else:
            benches = args.benchmarks or [None] * len(args.metrics)
            if not len(args.metrics) == len(args.cards) == len(benches):
                raise ValueError("--metrics, --cards and --benchmarks must be as many each")
            runs = [
                lcm.Run.from_paths(*t) for t in zip(args.metrics, args.cards, benches, strict=True)
            ]
            from ..spacegroups import resolve_classes

            lcm.run_aggregate(runs, args.out, n_classes=len(resolve_classes(cfg["classes"])))
    elif cmd == "report":
        from ..evaluate import run_report

        run_report(
            cfg,
            {_name_of(p): p for p in args.metrics},
            {_name_of(p): p for p in args.histories},
            args.robustness,
            args.structures_dir,
            args.split_dir,
            args.out,
            example_figures=args.figures,
            real_metrics_paths=(
                {Path(p).parent.parent.name: p for p in args.real_metrics}
                if args.real_metrics
                else None
            ),
            learning_curve=args.learning_curve,
        )
        print(f"report: {Path(args.out) / 'index.html'}")
    return 0
