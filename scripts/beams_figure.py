"""docs/figures/beams_cubic.png: clean patterns of fcc Cu, diamond Si and bcc W (data/real)
along the paper's Cartesian beams and along the default zone axes (docs/ablation.md).

    python scripts/beams_figure.py [--out docs/figures/beams_cubic.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scipy import ndimage

from xtalsym.config import validate
from xtalsym.inference import prepare_structure
from xtalsym.patterns import PatternCalculator
from xtalsym.patterns.physics import ZONE_AXES
from xtalsym.plotting import pyplot, save_figure

ROOT = Path(__file__).resolve().parents[1]
CRYSTALS = ("Cu", "Si", "W")
BEAMS = {
    "cartesian": ("x", "y", "z"),
    "zone_axes": tuple("[{}{}{}]".format(*uvw) for uvw in ZONE_AXES["cubic"]),
}
HALF = 70  # pixels shown either side of the direct beam (|g| <= 0.7 Å⁻¹ at 0.01 Å⁻¹/px)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "beams_cubic.png")
    args = ap.parse_args()
    cfg = validate({})
    calcs = {beams: PatternCalculator({**cfg["patterns"], "beams": beams}) for beams in BEAMS}
    plt = pyplot()
    fig, axes = plt.subplots(len(CRYSTALS), 6, figsize=(12, 2.2 * len(CRYSTALS)))
    for row, name in enumerate(CRYSTALS):
        path = ROOT / "data" / "real" / f"{name}.cif"
        structure, _, symbol = prepare_structure(path, cfg["structures"]["symprec"])
        for b, (beams, labels) in enumerate(BEAMS.items()):
            pats = calcs[beams].get_patterns(structure, [None])[0]
            c = pats.shape[-1] // 2
            for k in range(3):
                ax = axes[row, 3 * b + k]
                crop = pats[k, c - HALF : c + HALF, c - HALF : c + HALF]
                # spots are ~2 px wide: dilated for display only
                ax.imshow(ndimage.grey_dilation(crop, size=3), cmap="magma")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"{name} ({symbol}) {beams} {labels[k]}", fontsize=7)
    fig.suptitle("Cubic crystals: three identical [001] images (x, y, z) or three zone axes")
    save_figure(fig, args.out, dpi=110, tight=True)
    print(args.out)


if __name__ == "__main__":
    main()
