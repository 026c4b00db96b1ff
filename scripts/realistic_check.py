"""The realistic-pattern check (issue #30, item 4): recorded-looking zone-axis patterns of the
literature structures in data/real, made with an independent simulator (abTEM's Bloch waves),
and the evaluation of a model's predictions on them.

    python scripts/realistic_check.py generate --real data/real --out results/realistic
    xtalsym predict --images results/realistic/manifest.csv --output pred.csv
    python scripts/realistic_check.py evaluate --manifest results/realistic/manifest.csv \\
        --predictions pred.csv --out docs/realistic_results

``generate`` reads each structure as ``xtalsym evaluate --structures`` does
(:func:`xtalsym.inference.prepare_structure`: spglib label, ITA standard cell), keeps those in
the paper's 72 classes, and simulates three dynamical patterns along the crystal system's zone
axes (:data:`xtalsym.patterns.physics.ZONE_AXES`, frames from
:func:`~xtalsym.patterns.physics.zone_axis_frames`, so u and v are the model's detector axes
before the random in-plane turn). Each pattern is written by :func:`detector_image` as a
detector records it: 512 px 16-bit PNG, pixel-integrated Gaussian spots, an unscattered direct
beam, a diffuse halo, a constant offset, Poisson and read noise, a random angle and mirror.

A check only: never train or select on these images (docs/realistic.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import erf

INSTALL_HINT = "pip install 'xtalsym[realistic]'"

#: Manifest columns: what ``xtalsym predict --images`` reads, then the truth and metadata.
MANIFEST_COLUMNS = (
    ["name", "image_1", "image_2", "image_3", "scale", "spacegroup", "crystal_system"]
    + [f"zone_axis_{k}" for k in (1, 2, 3)]
    + [f"{c}_{k}" for c in ("thickness", "background_fraction", "angle_deg", "mirror")
       for k in (1, 2, 3)]
)  # fmt: skip
#: Per-image details that ``predict`` must not see (beam centre, dose, beams), one row each.
DETAIL_COLUMNS = (
    "name", "image", "file", "zone_axis", "thickness", "n_beams", "g_max", "sg_max",
    "background_fraction", "background_width", "angle_deg", "mirror", "dose", "offset",
    "spot_fwhm", "centre_row", "centre_col", "saturated_px", "seconds",
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """What a crystal's images depend on besides its structure (the cache key)."""

    seed: int = 30
    size: int = 512  # px
    energy: float = 200e3  # eV
    thickness: tuple[float, float] = (100.0, 500.0)  # Å, drawn per image
    # A selected area is a wedge, not one thickness: the pattern is the mean over
    # thickness × (1 ± wedge), which damps the Pendellösung of a single slab.
    wedge: float = 0.1
    n_wedge: int = 5
    scale: tuple[float, float] = (0.0061, 0.0085)  # Å⁻¹/px, drawn per crystal
    spot_fwhm: tuple[float, float] = (1.0, 2.0)  # px, drawn per crystal
    background_fraction: tuple[float, float] = (0.02, 0.20)  # of the electrons, per image
    background_width: tuple[float, float] = (0.1, 0.3)  # Å⁻¹, per image
    dose: tuple[float, float] = (1e6, 1e7)  # electrons per image, log-uniform
    offset: tuple[float, float] = (50.0, 400.0)  # counts, per image
    read_noise: float = 3.0  # counts (Gaussian, per pixel)
    centre_shift: float = 4.0  # px, largest beam offset from the image centre per axis
    g_max: float = 2.0  # Å⁻¹: beyond the model's field of view at any drawn scale
    g_min: float = 1.3  # Å⁻¹: the beam cap never shrinks g_max below this
    sg_max: float = 0.06  # Å⁻¹: largest excitation error of a beam in the Bloch basis
    max_beams: int = 1500  # the eigenproblem is O(N³): big cells get a smaller g_max
    thermal_sigma: float = 0.08  # Å, r.m.s. displacement of the Debye-Waller factor
    parametrization: str = "lobato"

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# The detector: no abTEM needed from here to `record`.


def detector_positions(
    uv: np.ndarray, angle_deg: float, mirror: bool, scale: float, centre: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) in px of reflections at (u, v) (N, 2) in Å⁻¹ on the detector.

    A mirror flips u first; the image is then turned counter-clockwise by ``angle_deg`` (as
    seen with v up); ``scale`` in Å⁻¹/px; ``centre`` (row, column) of the direct beam in px.
    Columns grow with u, rows fall with v (docs/artifacts.md's detector axes).
    """
    u = np.where(mirror, -uv[:, 0], uv[:, 0])
    v = uv[:, 1]
    a = math.radians(angle_deg)
    ur = u * math.cos(a) - v * math.sin(a)
    vr = u * math.sin(a) + v * math.cos(a)
    return centre[0] - vr / scale, centre[1] + ur / scale


def expected_electrons(
    uv: np.ndarray,
    intensity: np.ndarray,
    *,
    size: int,
    scale: float,
    spot_fwhm: float,
    background_fraction: float,
    background_width: float,
    dose: float,
    angle_deg: float = 0.0,
    mirror: bool = False,
    centre: tuple[float, float] | None = None,
) -> np.ndarray:
    """Mean electrons per pixel (size, size) float64 before noise.

    ``intensity`` (N,) of the reflections at ``uv`` (N, 2) Å⁻¹ (direct beam included at 0, 0)
    is normalised to ``(1 - background_fraction) * dose`` electrons; each spot is a Gaussian
    of ``spot_fwhm`` px integrated over the pixels (exact for spots narrower than a pixel). The
    halo exp(-|q| / ``background_width``) (q in Å⁻¹ from the beam) holds
    ``background_fraction * dose`` electrons summed over the image. ``centre`` (row, column) of
    the direct beam in px, default (size/2, size/2).
    """
    c = (size / 2.0, size / 2.0) if centre is None else centre
    img = np.zeros((size, size))
    rows, cols = detector_positions(np.asarray(uv, float), angle_deg, mirror, scale, c)
    w = np.asarray(intensity, float)
    w = w / w.sum() * (1.0 - background_fraction) * dose
    sigma = spot_fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    half = int(math.ceil(4 * sigma)) + 1
    inside = (rows > -half) & (rows < size + half) & (cols > -half) & (cols < size + half)
    rows, cols, w = rows[inside], cols[inside], w[inside]
    offs = np.arange(-half, half + 1)
    r0, c0 = np.round(rows).astype(int), np.round(cols).astype(int)
    pr, pc = r0[:, None] + offs, c0[:, None] + offs  # (N, K) pixel indices

    def mass(p: np.ndarray, x: np.ndarray) -> np.ndarray:
        # Share of a 1D Gaussian at x falling in pixel p (covering p - 0.5 .. p + 0.5).
        s = math.sqrt(2.0) * sigma
        return 0.5 * (erf((p + 0.5 - x[:, None]) / s) - erf((p - 0.5 - x[:, None]) / s))

    blocks = w[:, None, None] * mass(pr, rows)[:, :, None] * mass(pc, cols)[:, None, :]
    rr = np.broadcast_to(pr[:, :, None], blocks.shape)
    cc = np.broadcast_to(pc[:, None, :], blocks.shape)
    ok = (rr >= 0) & (rr < size) & (cc >= 0) & (cc < size)
    np.add.at(img, (rr[ok], cc[ok]), blocks[ok])
    if background_fraction > 0:
        yy, xx = np.mgrid[0:size, 0:size]
        q = np.hypot(yy - c[0], xx - c[1]) * scale
        halo = np.exp(-q / background_width)
        img += halo * (background_fraction * dose / halo.sum())
    return img


def record(
    electrons: np.ndarray, *, offset: float, read_noise: float, rng: np.random.Generator
) -> np.ndarray:
    """A 16-bit detector image (uint16) of mean ``electrons`` per pixel: Poisson counts (one
    count per electron), a constant ``offset`` and Gaussian ``read_noise`` (counts), clipped to
    0..65535 (a strong direct beam saturates)."""
    counts = rng.poisson(electrons).astype(np.float64) + offset
    if read_noise > 0:
        counts += rng.normal(0.0, read_noise, electrons.shape)
    return np.clip(np.rint(counts), 0, 65535).astype(np.uint16)


def detector_image(
    uv: np.ndarray,
    intensity: np.ndarray,
    *,
    rng: np.random.Generator,
    offset: float,
    read_noise: float = 0.0,
    **kwargs: Any,
) -> np.ndarray:
    """:func:`expected_electrons` (keyword arguments) recorded by :func:`record`: uint16."""
    return record(
        expected_electrons(uv, intensity, **kwargs), offset=offset, read_noise=read_noise, rng=rng
    )


def write_png16(path: Path, img: np.ndarray) -> None:
    """Write a uint16 image as a 16-bit greyscale PNG, atomically."""
    from PIL import Image

    from xtalsym.io import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(img, dtype=np.uint16)).save(tmp, format="PNG")


# ---------------------------------------------------------------------------------------------
# The independent simulator: abTEM's Bloch waves.


def import_abtem() -> Any:
    """abtem.bloch, or SystemExit with the install hint."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import abtem.bloch
    except ImportError as e:
        raise SystemExit(
            f"the realistic-pattern check needs abTEM ({e}); install it with: {INSTALL_HINT}"
        ) from None
    return abtem.bloch


def structure_factors(structure: Any, settings: Settings, g_max: float) -> Any:
    """abTEM's StructureFactorArray of a pymatgen Structure up to 2 g_max (Å⁻¹): the Bloch
    matrix couples beams g, h through U(g - h)."""
    from ase import Atoms

    bloch = import_abtem()
    atoms = Atoms(
        numbers=[site.specie.Z for site in structure],
        scaled_positions=structure.frac_coords,
        cell=structure.lattice.matrix,
        pbc=True,
    )
    sf = bloch.StructureFactor(
        atoms,
        g_max=2.0 * g_max,
        parametrization=settings.parametrization,
        thermal_sigma=settings.thermal_sigma,
    )
    return sf.build(lazy=False)


def bloch_spots(
    sfa: Any, frame: np.ndarray, thickness: float, settings: Settings
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Dynamical zone-axis pattern: (u, v) (N, 2) Å⁻¹, intensities (N,), details.

    ``frame`` rows n, u, v (Cartesian, the structure's frame): the crystal is turned so that
    n is the beam (abTEM's z) and u, v are abTEM's x, y. The number of beams is capped at
    ``settings.max_beams`` by shrinking g_max (never below ``settings.g_min``); intensities
    are the mean over the thickness wedge.
    """
    bloch = import_abtem()
    rot = np.stack([frame[1], frame[2], frame[0]])  # rows x, y, z of the new frame
    g_max = min(settings.g_max, sfa.g_max / 2.0)

    def waves(g: float) -> Any:
        return bloch.BlochWaves(
            sfa, energy=settings.energy, sg_max=settings.sg_max, g_max=g, orientation_matrix=rot
        )

    bw = waves(g_max)
    while len(bw) > settings.max_beams and g_max > settings.g_min:
        # Beams of the zero-order zone fill a disc: their number grows as g_max².
        g_max = max(settings.g_min, g_max * math.sqrt(0.95 * settings.max_beams / len(bw)))
        bw = waves(g_max)
    t = thickness * (1.0 + np.linspace(-settings.wedge, settings.wedge, settings.n_wedge))
    dp = bw.calculate_diffraction_patterns(t, lazy=False)
    intensity = np.asarray(dp.array, dtype=np.float64).mean(axis=0)
    g = bw.hkl @ np.linalg.inv(np.asarray(bw.cell, dtype=np.float64)).T  # Å⁻¹, turned frame
    info = {"n_beams": len(bw), "g_max": round(float(g_max), 4), "hkl": bw.hkl}
    return g[:, :2], intensity, info


# ---------------------------------------------------------------------------------------------
# generate


def draw_conditions(rng: np.random.Generator, settings: Settings) -> dict[str, Any]:
    """One crystal's drawn conditions: a scale and spot size, then three images' worth."""
    s = settings
    out: dict[str, Any] = {
        "scale": float(rng.uniform(*s.scale)),
        "spot_fwhm": float(rng.uniform(*s.spot_fwhm)),
    }
    images = []
    for _ in range(3):
        images.append(
            {
                "thickness": float(rng.uniform(*s.thickness)),
                "background_fraction": float(rng.uniform(*s.background_fraction)),
                "background_width": float(rng.uniform(*s.background_width)),
                "angle_deg": float(rng.uniform(0.0, 360.0)),
                "mirror": bool(rng.random() < 0.5),
                "dose": float(math.exp(rng.uniform(*np.log(s.dose)))),
                "offset": float(rng.uniform(*s.offset)),
                "centre_shift": rng.uniform(-s.centre_shift, s.centre_shift, 2).tolist(),
            }
        )
    out["images"] = images
    return out


def simulate_crystal(
    name: str, structure: Any, number: int, out: Path, settings: Settings
) -> dict[str, Any]:
    """Write ``images/<name>_{1,2,3}.png`` under ``out``; return the crystal's record (its
    manifest row and per-image details)."""
    from xtalsym.io import derive_seed
    from xtalsym.patterns import physics
    from xtalsym.spacegroups import crystal_system

    system = crystal_system(number)
    axes = physics.ZONE_AXES[system]
    frames = physics.zone_axis_frames(structure.lattice.matrix, system)
    rng = np.random.default_rng(derive_seed(settings.seed, "realistic", name))
    cond = draw_conditions(rng, settings)
    sfa = structure_factors(structure, settings, settings.g_max)
    row: dict[str, Any] = {"name": name, "scale": round(cond["scale"], 6)}
    row.update({"spacegroup": int(number), "crystal_system": system})
    details = []
    for k, (axis, frame, im) in enumerate(zip(axes, frames, cond["images"], strict=True), 1):
        t0 = time.perf_counter()
        uv, intensity, info = bloch_spots(sfa, frame, im["thickness"], settings)
        centre = (
            settings.size / 2 + im["centre_shift"][0],
            settings.size / 2 + im["centre_shift"][1],
        )
        img = detector_image(
            uv, intensity, rng=rng, offset=im["offset"], read_noise=settings.read_noise,
            size=settings.size, scale=cond["scale"], spot_fwhm=cond["spot_fwhm"],
            background_fraction=im["background_fraction"],
            background_width=im["background_width"], dose=im["dose"],
            angle_deg=im["angle_deg"], mirror=im["mirror"], centre=centre,
        )  # fmt: skip
        rel = f"images/{name}_{k}.png"
        write_png16(out / rel, img)
        zone = "[" + "".join(str(i) for i in axis) + "]"
        row[f"image_{k}"] = rel
        row[f"zone_axis_{k}"] = zone
        row[f"thickness_{k}"] = round(im["thickness"], 1)
        row[f"background_fraction_{k}"] = round(im["background_fraction"], 4)
        row[f"angle_deg_{k}"] = round(im["angle_deg"], 2)
        row[f"mirror_{k}"] = int(im["mirror"])
        details.append(
            {
                "name": name, "image": k, "file": rel, "zone_axis": zone,
                "thickness": round(im["thickness"], 1), "n_beams": info["n_beams"],
                "g_max": info["g_max"], "sg_max": settings.sg_max,
                "background_fraction": round(im["background_fraction"], 4),
                "background_width": round(im["background_width"], 4),
                "angle_deg": round(im["angle_deg"], 2), "mirror": int(im["mirror"]),
                "dose": round(im["dose"]), "offset": round(im["offset"], 1),
                "spot_fwhm": round(cond["spot_fwhm"], 3), "centre_row": round(centre[0], 3),
                "centre_col": round(centre[1], 3), "saturated_px": int((img == 65535).sum()),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )  # fmt: skip
    return {"key": settings.key(), "row": row, "details": details}


def _record_path(out: Path, name: str) -> Path:
    return out / ".records" / f"{name}.json"


def _cached(out: Path, name: str, key: str) -> dict[str, Any] | None:
    """The crystal's record when it and its three images were written with these settings."""
    p = _record_path(out, name)
    if not p.is_file():
        return None
    try:
        rec = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    if rec.get("key") != key:
        return None
    if not all((out / rec["row"][f"image_{k}"]).is_file() for k in (1, 2, 3)):
        return None
    return rec


def select_structures(
    real: Path, symprec: float, n_per_group: int | None
) -> tuple[list[tuple[str, Any, int]], list[tuple[str, str]]]:
    """([(name, standardised structure, space group)], [(file, reason) skipped]).

    Read as ``xtalsym evaluate --structures`` does; files outside the 72 classes are
    skipped; with ``n_per_group`` at most that many per space group (first by name).
    """
    from xtalsym import inference as inf
    from xtalsym.evaluate.structures import structure_files
    from xtalsym.spacegroups import PAPER_72

    keep: list[tuple[str, Any, int]] = []
    skipped: list[tuple[str, str]] = []
    per_group: dict[int, int] = {}
    stems: set[str] = set()
    for f in structure_files(real):
        rel = str(f.relative_to(real))
        try:
            structure, number, symbol = inf.prepare_structure(f, symprec)
        except ValueError as e:
            skipped.append((rel, str(e)))
            continue
        if number not in PAPER_72:
            skipped.append((rel, f"space group {number} ({symbol}) is not one of the 72 classes"))
            continue
        name = f.name.split(".")[0]
        if name in stems:
            skipped.append((rel, f"another file already gives the name {name!r}"))
            continue
        if n_per_group is not None and per_group.get(number, 0) >= n_per_group:
            skipped.append((rel, f"--n-per-group {n_per_group}: group {number} is full"))
            continue
        per_group[number] = per_group.get(number, 0) + 1
        stems.add(name)
        keep.append((name, structure, int(number)))
    return keep, skipped


def generate(args: argparse.Namespace) -> int:
    """The ``generate`` subcommand."""
    from tqdm import tqdm

    from xtalsym.io import write_json, write_table

    import_abtem()  # fail early, before reading anything
    settings = Settings(seed=args.seed, max_beams=args.max_beams)
    out, real = Path(args.out), Path(args.real)
    if not real.is_dir():
        raise SystemExit(f"{real}: not a directory")
    t_start = time.perf_counter()
    crystals, skipped = select_structures(real, args.symprec, args.n_per_group)
    for rel, why in skipped:
        logging.warning("skipped %s: %s", rel, why)
    key = settings.key()
    records, failed, n_new = [], [], 0
    for name, structure, number in tqdm(crystals, desc="realistic patterns", unit="crystal"):
        rec = _cached(out, name, key)
        if rec is None:
            try:
                rec = simulate_crystal(name, structure, number, out, settings)
            except Exception as e:  # one structure's failure (abTEM, memory) is its own
                logging.error("%s: simulation failed (%s: %s)", name, type(e).__name__, e)
                failed.append((name, f"simulation failed ({type(e).__name__}: {e})"))
                continue
            write_json(_record_path(out, name), rec)
            n_new += 1
        records.append(rec)
    manifest = pd.DataFrame([r["row"] for r in records], columns=list(MANIFEST_COLUMNS))
    details = pd.DataFrame([d for r in records for d in r["details"]], columns=DETAIL_COLUMNS)
    write_table(out / "manifest.csv", manifest)
    write_table(out / "details.csv", details)
    seconds = time.perf_counter() - t_start
    write_json(
        out / "generation.json",
        {
            "settings": asdict(settings),
            "settings_key": key,
            "real": str(real),
            "symprec": args.symprec,
            "n_crystals": len(records),
            "n_simulated_now": n_new,
            "skipped": [{"file": f, "reason": r} for f, r in skipped + failed],
            "seconds_this_run": round(seconds, 1),
            "abtem_version": _abtem_version(),
        },
    )
    print(
        f"{len(records)} crystals ({n_new} simulated now, {len(records) - n_new} cached), "
        f"{len(skipped)} skipped, {len(failed)} failed, {seconds:.0f} s: {out / 'manifest.csv'}"
    )
    return 1 if failed else 0


def _abtem_version() -> str:
    import abtem

    return str(abtem.__version__)


# ---------------------------------------------------------------------------------------------
# evaluate

PREDICTION_COLUMNS = (
    "name", "status", "error", "top1_spacegroup", "top1_probability", "top1_crystal_system",
    "top5_spacegroups",
)  # fmt: skip
THICKNESS_BINS = (100, 200, 300, 400, 500)  # Å
BACKGROUND_BINS = (0.02, 0.065, 0.11, 0.155, 0.20)
ANGLE_BINS = tuple(range(0, 361, 45))  # degrees


def score(manifest: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per manifest crystal with ``ok`` (predicted), ``top1``, ``top5``, ``cs``
    (bool): a crystal without an ``ok`` prediction counts as wrong."""
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions: missing columns {', '.join(missing)}")
    pred = predictions.drop_duplicates("name", keep="first").set_index("name")
    df = manifest.copy()
    p = pred.reindex(df["name"])
    ok = (p["status"].astype(str).str.lower() == "ok").to_numpy()
    top1 = pd.to_numeric(p["top1_spacegroup"], errors="coerce").to_numpy()
    df["ok"] = ok
    err = p["error"].astype(object)
    err = err.where(err.notna() & (err.astype(str).str.strip() != ""), "no prediction")
    df["error"] = np.where(ok, "", err.astype(str).to_numpy())
    df["predicted"] = np.where(ok, top1, np.nan)
    df["top1"] = ok & (top1 == df["spacegroup"].to_numpy())
    top5 = p["top5_spacegroups"].fillna("").astype(str).to_numpy()
    df["top5"] = ok & np.array(
        [
            str(sg) in t.replace(" ", "").split(";")
            for sg, t in zip(df["spacegroup"], top5, strict=True)
        ]
    )
    df["cs"] = ok & (p["top1_crystal_system"].astype(str).to_numpy() == df["crystal_system"])
    return df


def _acc(hits: np.ndarray) -> dict[str, Any]:
    from xtalsym.evaluate.stats import wilson_interval

    n, k = int(len(hits)), int(np.sum(hits))
    lo, hi = wilson_interval(k, n)
    return {"accuracy": k / n if n else None, "lo": lo, "hi": hi, "n": n, "correct": k}


def _binned(values: np.ndarray, hits: dict[str, np.ndarray], edges: tuple) -> list[dict]:
    idx = np.clip(np.digitize(values, edges[1:-1]), 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        sel = idx == b
        rows.append({"bin": [edges[b], edges[b + 1]], **{m: _acc(h[sel]) for m, h in hits.items()}})
    return rows


def summarise(df: pd.DataFrame) -> dict[str, Any]:
    """Overall accuracies and accuracy against thickness, background and angle (Wilson)."""
    metrics = ("top1", "top5", "cs")
    crystal = {m: df[m].to_numpy() for m in metrics}
    k3 = (1, 2, 3)
    thick = df[[f"thickness_{k}" for k in k3]].to_numpy(float).mean(1)
    bg = df[[f"background_fraction_{k}" for k in k3]].to_numpy(float).mean(1)
    # An angle belongs to one image: each crystal counts once per image (n = 3 per crystal).
    angle = np.concatenate([df[f"angle_deg_{k}"].to_numpy(float) % 360 for k in k3])
    per_image = {m: np.tile(crystal[m], 3) for m in ("top1", "cs")}
    mirrors = df[[f"mirror_{k}" for k in k3]].to_numpy(int).sum(1)
    systems = {
        s: {m: _acc(crystal[m][df["crystal_system"].to_numpy() == s]) for m in ("top1", "cs")}
        for s in sorted(df["crystal_system"].unique())
    }
    return {
        "n_crystals": int(len(df)),
        "n_predicted": int(df["ok"].sum()),
        "errors": [
            {"name": n, "error": e} for n, e in zip(df["name"], df["error"], strict=True) if e
        ],
        "overall": {m: _acc(crystal[m]) for m in metrics},
        "by_thickness": _binned(thick, crystal, THICKNESS_BINS),
        "by_background_fraction": _binned(bg, crystal, BACKGROUND_BINS),
        "by_angle": _binned(angle, per_image, ANGLE_BINS),
        "by_mirrored_images": [
            {"mirrored": int(m), **{k: _acc(crystal[k][mirrors == m]) for k in ("top1", "cs")}}
            for m in range(4)
        ],
        "by_crystal_system": systems,
    }


def _pct(a: dict[str, Any]) -> str:
    if not a["n"]:
        return "-"
    return f"{100 * a['accuracy']:.1f} % [{100 * a['lo']:.1f}, {100 * a['hi']:.1f}]"


def markdown(summary: dict[str, Any], manifest: str, predictions: str) -> str:
    """The summary as markdown tables."""
    o = summary["overall"]
    lines = [
        "# Realistic-pattern check",
        "",
        f"Manifest `{manifest}`, predictions `{predictions}`: {summary['n_crystals']} crystals, "
        f"{summary['n_predicted']} predicted (a crystal without a prediction counts as wrong). "
        "Brackets: 95 % Wilson intervals.",
        "",
        "| SG top-1 | SG top-5 | crystal system | crystals |",
        "|---|---|---|---|",
        f"| {_pct(o['top1'])} | {_pct(o['top5'])} | {_pct(o['cs'])} | {summary['n_crystals']} |",
        "",
    ]
    for title, key, unit, fmt in (
        ("thickness (mean of the three images)", "by_thickness", "Å", "{:g}"),
        ("background fraction (mean of the three images)", "by_background_fraction", "",
         "{:.3f}"),
        ("in-plane angle (each image; n counts images)", "by_angle", "°", "{:g}"),
    ):  # fmt: skip
        lines += [f"## Accuracy against {title}", "", f"| bin{' (' + unit + ')' if unit else ''}"
                  " | SG top-1 | crystal system | n |", "|---|---|---|---|"]  # fmt: skip
        for r in summary[key]:
            b = f"{fmt.format(r['bin'][0])}-{fmt.format(r['bin'][1])}"
            lines.append(f"| {b} | {_pct(r['top1'])} | {_pct(r['cs'])} | {r['top1']['n']} |")
        lines.append("")
    lines += ["## Accuracy against mirrored images", "",
              "| mirrored images | SG top-1 | crystal system | n |", "|---|---|---|---|"]  # fmt: skip
    for r in summary["by_mirrored_images"]:
        lines.append(
            f"| {r['mirrored']} | {_pct(r['top1'])} | {_pct(r['cs'])} | {r['top1']['n']} |"
        )
    lines += ["", "## Per crystal system", "", "| crystal system | SG top-1 | crystal system | n |",
              "|---|---|---|---|"]  # fmt: skip
    for s, r in summary["by_crystal_system"].items():
        lines.append(f"| {s} | {_pct(r['top1'])} | {_pct(r['cs'])} | {r['top1']['n']} |")
    if summary["errors"]:
        lines += ["", "## Not predicted", ""]
        lines += [f"- `{e['name']}`: {e['error']}" for e in summary["errors"]]
    return "\n".join(lines) + "\n"


def figure(summary: dict[str, Any], path: Path) -> None:
    """Accuracy (top-1, crystal system; Wilson bars) against thickness, background, angle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xtalsym.io import atomic_path

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
    panels = (
        ("by_thickness", "thickness (Å, crystal mean)"),
        ("by_background_fraction", "background fraction (crystal mean)"),
        ("by_angle", "in-plane angle (°, per image)"),
    )
    for ax, (key, label) in zip(axes, panels, strict=True):
        rows = summary[key]
        x = np.array([(r["bin"][0] + r["bin"][1]) / 2 for r in rows], float)
        width = np.array([r["bin"][1] - r["bin"][0] for r in rows], float)
        for metric, colour, dx in (("top1", "C0", -0.12), ("cs", "C1", 0.12)):
            a = [r[metric] for r in rows]
            keep = np.array([s["n"] > 0 for s in a])
            y = np.array([s["accuracy"] if s["n"] else np.nan for s in a], float)
            lo = np.array([s["lo"] for s in a]) * 100
            hi = np.array([s["hi"] for s in a]) * 100
            xs = x + dx * width
            # Rounding can put a Wilson bound a hair past its accuracy at 0 or 100 %.
            err = np.clip([100 * y[keep] - lo[keep], hi[keep] - 100 * y[keep]], 0, None)
            ax.errorbar(xs[keep], 100 * y[keep], yerr=err, fmt="o", color=colour, capsize=2,
                        label={"top1": "SG top-1", "cs": "crystal system"}[metric])  # fmt: skip
        ax.set_xlabel(label)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def evaluate(args: argparse.Namespace) -> int:
    """The ``evaluate`` subcommand: writes OUT.md, OUT.json, OUT.png."""
    from xtalsym.io import write_json, write_text

    manifest = pd.read_csv(args.manifest)
    predictions = pd.read_csv(args.predictions, dtype={"name": str})
    df = score(manifest, predictions)
    summary = summarise(df)
    summary["manifest"], summary["predictions"] = str(args.manifest), str(args.predictions)
    stem = Path(args.out)
    if stem.suffix.lower() in (".md", ".json", ".png"):
        stem = stem.with_suffix("")
    write_json(stem.with_suffix(".json"), summary)
    write_text(stem.with_suffix(".md"), markdown(summary, args.manifest, args.predictions))
    figure(summary, stem.with_suffix(".png"))
    o = summary["overall"]
    print(
        f"top-1 {_pct(o['top1'])}, top-5 {_pct(o['top5'])}, crystal system {_pct(o['cs'])}, "
        f"{summary['n_crystals']} crystals: {stem}.md/.json/.png"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="simulate the recorded-looking patterns (needs abTEM)")
    g.add_argument("--real", default="data/real", help="folder of structure files")
    g.add_argument("--out", default="results/realistic", help="output folder")
    g.add_argument("--n-per-group", type=int, default=None,
                   help="at most this many structures per space group (default: all)")  # fmt: skip
    g.add_argument("--seed", type=int, default=Settings.seed)
    g.add_argument("--symprec", type=float, default=0.01, help="spglib tolerance (Å)")
    g.add_argument("--max-beams", type=int, default=Settings.max_beams,
                   help="cap on Bloch waves per pattern (g_max shrinks to meet it)")  # fmt: skip
    e = sub.add_parser("evaluate", help="score `xtalsym predict --images` output")
    e.add_argument("--manifest", default="results/realistic/manifest.csv")
    e.add_argument("--predictions", required=True, help="CSV of xtalsym predict --images")
    e.add_argument("--out", required=True, help="output path stem: writes .md, .json, .png")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    return generate(args) if args.command == "generate" else evaluate(args)


if __name__ == "__main__":
    sys.exit(main())
