"""Toy crystals and untrained model bundles shared by the evaluation and predict tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pymatgen.core import Lattice, Structure

from xtalsym import __version__
from xtalsym.config import validate
from xtalsym.io import derive_seed
from xtalsym.models import build_model
from xtalsym.train import save_bundle

SEED = 11
INPUT_SIZE = 32


def toy_structures() -> dict[str, tuple[int, Structure]]:
    """Two crystals of each of seven space groups (intended number, structure as built)."""
    protos = [
        (225, "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        (221, "Pm-3m", Lattice.cubic(4.11), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        (194, "P6_3/mmc", Lattice.hexagonal(3.21, 5.21), ["Mg"], [[1 / 3, 2 / 3, 0.25]]),
        (
            139,
            "I4/mmm",
            Lattice.tetragonal(3.96, 13.0),
            ["Ba", "Fe", "As"],
            [[0, 0, 0], [0, 0.5, 0.25], [0, 0, 0.354]],
        ),
        (
            62,
            "Pnma",
            Lattice.orthorhombic(5.5, 7.6, 5.4),
            ["Ca", "Ti", "O", "O"],
            [[0.03, 0.25, 0.99], [0, 0, 0.5], [0.48, 0.25, 0.09], [0.29, 0.04, 0.71]],
        ),
        (
            14,
            "P2_1/c",
            Lattice.monoclinic(5.0, 6.0, 7.0, 100),
            ["Si", "O", "O"],
            [[0.1, 0.2, 0.3], [0.35, 0.15, 0.05], [0.7, 0.4, 0.2]],
        ),
        (
            2,
            "P-1",
            Lattice.from_parameters(5, 6, 7, 80, 85, 95),
            ["Si", "O", "O"],
            [[0.1, 0.2, 0.3], [0.35, 0.15, 0.05], [0.7, 0.4, 0.2]],
        ),
    ]
    out = {}
    for number, hm, lattice, species, coords in protos:
        for k, scale in enumerate((1.0, 1.06)):
            lat = Lattice(lattice.matrix * scale)
            out[f"sg{number:03d}-{k}"] = (
                number,
                Structure.from_spacegroup(hm, lat, species, coords),
            )
    return out


def patterns_params() -> dict:
    p = validate({})["patterns"]
    p.update(size=64, scale=0.06)  # g_max / scale = 27 px inside the 32 px half width
    return p


def make_bundle(out_dir: Path, name: str, arch: str, mode: str, classes: list[int]) -> Path:
    """An untrained model bundle written by the train stage's save_bundle."""
    torch.manual_seed(derive_seed(SEED, name) % 2**31)
    arch_params = {
        "growth": 4,
        "blocks": [1, 1, 1, 1],
        "stem": 8,
        "dropout": 0.0,
        "input_size": INPUT_SIZE,
    }
    model = build_model(arch, len(classes), **arch_params)
    shaping = validate({})["shaping"]
    shaping["input_size"] = INPUT_SIZE
    card = {
        "name": name,
        "arch": arch,
        "arch_params": arch_params,
        "classes": classes,
        "input_size": INPUT_SIZE,
        "input_mode": mode,
        "patterns": patterns_params(),
        "shaping": shaping,
        "config_hash": "test",
        "data_source": {"path": "toy"},
        "xtalsym_version": __version__,
        "best_epoch": 3,
    }
    epochs = np.arange(1, 5)
    rate = 0.2 if arch == "msdn" else 0.12  # made-up curves, different per model
    history = pd.DataFrame(
        {
            "epoch": epochs,
            "train_loss": 2.0 / epochs,
            "train_acc": rate * epochs,
            "val_loss": 2.2 / epochs,
            "val_acc": 0.9 * rate * epochs,
            "lr": 1e-3,
            "seconds": 1.5,
        }
    )
    d = out_dir / name
    save_bundle(d, model.state_dict(), card, history)
    return d
