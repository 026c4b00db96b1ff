"""What a user with one, two or three recorded patterns gets, and whether the angle matters.

For every structure of a folder (data/real by default; never used to train or choose):

* **patterns**: ``--variants`` draws of three zone axes (the model card's rule,
  ``patterns.beams: drawn``, with its training noise), each classified from its first one,
  two and all three patterns (the set model leaves the others out): top-1 and crystal-system
  accuracy per number of patterns, over structures x draws;
* **angle**: the clean zone-axis patterns drawn as 512 px 16-bit detector frames (spots of
  1.4 px at 0.0061 Å⁻¹/px, a halo, an offset, Poisson noise), once unturned and once turned
  by a random angle per image (and mirrored half of the time), classified through predict's
  recorded-pattern path: how often the two top-1 agree, and each one's top-1.

    python scripts/pattern_check.py [--model models/reference] [--structures data/real]
        [--variants 4] [--out docs/pattern_check.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from xtalsym import inference as inf
from xtalsym.evaluate.metrics import system_indices
from xtalsym.evaluate.stats import wilson_interval
from xtalsym.experimental import recorded_patterns
from xtalsym.patterns import PatternCalculator
from xtalsym.patterns.simulate import Settings, excited
from xtalsym.predict.inputs import pattern_set_inputs
from xtalsym.spots import rotation_map

SCALE, SIZE, SIGMA = 0.0061, 512, 1.4


def detector_frame(uv: np.ndarray, inten: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 16-bit frame of spots at ``uv`` (Å⁻¹) with integrated ``inten`` (any unit)."""
    dose = 3e5
    counts = inten / max(float(inten.sum()), 1e-12) * dose
    c = SIZE / 2
    rows, cols = c - uv[:, 1] / SCALE, c + uv[:, 0] / SCALE
    img = np.full((SIZE, SIZE), 60.0)
    r0, c0 = np.rint(rows).astype(int), np.rint(cols).astype(int)
    off = np.arange(-4, 5)
    rr, cc = r0[:, None] + off, c0[:, None] + off
    wy = np.exp(-((rr - rows[:, None]) ** 2) / (2 * SIGMA**2))
    wx = np.exp(-((cc - cols[:, None]) ** 2) / (2 * SIGMA**2))
    w = wy[:, :, None] * wx[:, None, :] * (counts / (2 * np.pi * SIGMA**2))[:, None, None]
    ok = (rr[:, :, None] >= 0) & (rr[:, :, None] < SIZE) & (cc[:, None, :] >= 0)
    ok &= cc[:, None, :] < SIZE
    rr3 = np.broadcast_to(rr[:, :, None], w.shape)
    cc3 = np.broadcast_to(cc[:, None, :], w.shape)
    np.add.at(img, (rr3[ok], cc3[ok]), w[ok])
    yy, xx = np.ogrid[:SIZE, :SIZE]
    g = np.hypot(yy - c, xx - c) * SCALE
    beam = np.exp(-(g / SCALE) ** 2 / (2 * SIGMA**2))
    halo = np.exp(-g / rng.uniform(0.1, 0.3))
    img += 20 * dose * beam / beam.sum() + rng.uniform(0.02, 0.2) * dose * halo / halo.sum()
    return np.clip(rng.poisson(img), 0, 65535).astype(np.uint16)


def accuracy(pred: np.ndarray, y: np.ndarray, systems: np.ndarray) -> dict:
    """Top-1 with its Wilson interval and crystal-system accuracy; a refused input (-1) is
    wrong at both levels."""
    n = len(y)
    k = int((pred == y).sum())
    lo, hi = wilson_interval(k, n)
    cs = (pred >= 0) & (systems[np.maximum(pred, 0)] == systems[y])
    return {"sg_top1": k / n, "sg_top1_ci": [lo, hi], "cs_accuracy": float(cs.mean()), "n": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/reference")
    ap.add_argument("--structures", default="data/real")
    ap.add_argument("--variants", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="results/pattern_check.json")
    args = ap.parse_args()
    t0 = time.time()
    bundle = inf.Bundle.load(args.model)
    card, classes = bundle.card, bundle.classes
    index = {c: i for i, c in enumerate(classes)}
    systems = system_indices(classes)
    settings = Settings.from_params(card["patterns"])
    calc = PatternCalculator(settings)
    seeds = inf.tta_seeds(args.variants)
    rng = np.random.default_rng(args.seed)
    y, by_count, unturned, turned, refused = [], {1: [], 2: [], 3: []}, [], [], []
    files = sorted(p for p in Path(args.structures).iterdir() if p.is_file())
    for f in tqdm(files, unit="structure"):
        try:
            s, number, _ = inf.prepare_structure(f, bundle.symprec())
        except ValueError:
            continue
        if number not in index:
            continue
        tables = calc.tables(s)
        pats = calc.get_patterns(s, seeds)  # (V, 3, H, W), drawn axes, canonical frames
        for k in (1, 2, 3):
            p = pats[:, :k]
            z = bundle.proba(pattern_set_inputs(p, card))  # (V, K): each draw on its own
            by_count[k].append(z.argmax(1))
        refl = excited(tables, settings).split(3)
        frames = {"unturned": [], "turned": []}
        for r in refl:
            keep = r.hkl.any(axis=1)
            uv, inten = r.uv[keep], r.intensity[keep]
            frames["unturned"].append(detector_frame(uv, inten, rng))
            m = rotation_map(rng.uniform(0, 360), bool(rng.random() < 0.5))
            frames["turned"].append(detector_frame(uv @ m.T, inten, rng))
        for key, dest in (("unturned", unturned), ("turned", turned)):
            try:
                got = recorded_patterns(frames[key], card, scale=SCALE)
            except ValueError as e:  # e.g. a zone with no spot above the noise: counts as wrong
                refused.append(f"{f.name} ({key}): {e}")
                dest.append(-1)
                continue
            dest.append(bundle.proba(pattern_set_inputs(got, card)).mean(0).argmax())
        y.append(index[number])
    y = np.array(y)
    yv = np.repeat(y, args.variants)
    out = {
        "model": args.model,
        "structures": args.structures,
        "variants": args.variants,
        "seed": args.seed,
        "machine": f"{platform.processor() or platform.machine()}, {platform.node()}",
        "seconds": round(time.time() - t0, 1),
        "by_patterns": {k: accuracy(np.concatenate(v), yv, systems) for k, v in by_count.items()},
        "recorded_unturned": accuracy(np.array(unturned), y, systems),
        "recorded_turned": accuracy(np.array(turned), y, systems),
        "angle_agreement": float((np.array(unturned) == np.array(turned)).mean()),
        "refused": refused,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
