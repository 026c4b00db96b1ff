"""Fuzz tests (issue 19): a few hundred seeded mutations of good CIFs and random byte strings
through the cif_dir stage, `xtalsym evaluate --structures` and `xtalsym predict`, and broken
pattern images through `xtalsym predict` and `xtalsym shape`.

Asserted: nothing raises, every file gets exactly one outcome with a known reason, every
unmutated good file is kept, and a bad input to predict is a clear error naming the file.
"""

from __future__ import annotations

import gzip
import io
import random
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from xtalsym import config
from xtalsym.cli import main
from xtalsym.shaping import read_pattern_image
from xtalsym.structures import run_structures
from xtalsym.structures.outcomes import REASONS

from .helpers.images import png_claiming
from .seed_cifs import SEEDS
from .test_report import make_bundle

SEED = 19
N_MUTANTS = 300
N_RANDOM = 40
VALUES = ["", "?", ".", "nan", "inf", "-inf", "-1", "0", "1e308", "-4.2", "abc", "1.5", "''", ";"]


def _mutate_text(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random mutation of a CIF's bytes: (kind, mutated bytes)."""
    kind = rng.choice(["truncate", "flip", "garbage", "swap_fields", "swap_lines", "value",
                       "drop_line", "repeat_line", "keyword"])  # fmt: skip
    b = bytearray(data)
    lines = data.decode().splitlines(keepends=True)
    if kind == "truncate":
        return kind, bytes(b[: rng.randrange(len(b))])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return kind, bytes(b)
    if kind == "garbage":
        at = rng.randrange(len(b))
        return kind, bytes(b[:at] + rng.randbytes(rng.randint(1, 64)) + b[at:])
    i = rng.randrange(len(lines))
    if kind == "swap_fields":
        toks = lines[i].split()
        if len(toks) >= 2:
            a, c = rng.sample(range(len(toks)), 2)
            toks[a], toks[c] = toks[c], toks[a]
            lines[i] = " ".join(toks) + "\n"
    elif kind == "swap_lines":
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "value":
        toks = lines[i].split()
        if toks:
            toks[rng.randrange(len(toks))] = rng.choice(VALUES)
            lines[i] = " ".join(toks) + "\n"
    elif kind == "drop_line":
        del lines[i]
    elif kind == "repeat_line":
        lines.insert(i, lines[i] * rng.randint(1, 40))
    elif kind == "keyword":
        lines.insert(i, rng.choice(["lop_\n", "loop_\n", "data_\n", "_cell_length_a\n", "save_x\n",
                                    "';\n", "; unclosed text field\n"]))  # fmt: skip
    return kind, "".join(lines).encode()


def mutants(rng: random.Random) -> dict[str, bytes]:
    """``relative path -> bytes``: mutated seeds (some gzipped, some gzipped and corrupted)
    and random byte strings."""
    out: dict[str, bytes] = {}
    seeds = [t.encode() for t, _ in SEEDS.values()]
    for k in range(N_MUTANTS):
        kind, data = _mutate_text(rng.choice(seeds), rng)
        if rng.random() < 0.25:
            gz = bytearray(gzip.compress(data))
            how = rng.choice(["ok", "truncate", "flip", "header"])
            if how == "truncate":
                gz = gz[: rng.randrange(1, len(gz))]
            elif how == "flip":
                gz[rng.randrange(10, len(gz))] ^= 0xFF
            elif how == "header":
                gz[rng.randrange(0, 10)] ^= 0xFF
            out[f"fuzz/{k:03d}-{kind}-gz{how}.cif.gz"] = bytes(gz)
        else:
            out[f"fuzz/{k:03d}-{kind}.cif"] = data
    for k in range(N_RANDOM):
        n = rng.choice([0, 1, 7, 100, 5000])
        data = (
            rng.randbytes(n)
            if k % 2
            else bytes(rng.choice(b"_loop data;'\"\n #.0123") for _ in range(n))
        )
        out[f"random/{k:03d}.cif" + (".gz" if k % 5 == 0 else "")] = data
    return out


def write_corpus(root) -> dict[str, bytes]:
    files = {f"a_good/{name}": text.encode() for name, (text, _) in SEEDS.items()}
    files |= mutants(random.Random(SEED))
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def test_fuzzed_cifs_never_break_the_structures_stage(tmp_path):
    root = tmp_path / "cifs"
    files = write_corpus(root)
    cfg = config.validate(
        {
            "classes": [136, 194, 225, 227],
            "structures": {"sources": ["cif_dir"], "workers": 2,
                           "cif_dir": {"path": str(root), "chunk_size": 40, "timeout_s": 20}},
        }
    )  # fmt: skip
    run_structures(cfg, tmp_path / "out", progress=False)
    oc = pd.read_csv(tmp_path / "out" / "outcomes.csv", keep_default_na=False)
    assert sorted(oc["name"]) == sorted(files)  # exactly one outcome per file
    assert set(oc.loc[oc["status"] == "skipped", "reason"]) <= set(REASONS)
    assert (oc.loc[oc["status"] == "kept", "reason"] == "").all()
    by_name = oc.set_index("name")
    for name in SEEDS:
        assert by_name.loc[f"a_good/{name}", "status"] == "kept", name
    reasons = Counter(oc["reason"])
    # The fuzz reaches the checks it is meant to, and nothing falls through to a bug.
    assert reasons["processing_error"] == 0, oc[oc["reason"] == "processing_error"].to_dict(
        "records"
    )
    for r in ("unparsable", "unreadable", "empty_file", "duplicate"):
        assert reasons[r] > 0, reasons
    # a skipped file says why beyond the reason code where one can
    unparsable = oc[oc["reason"] == "unparsable"]
    assert (unparsable["detail"].str.len() > 0).mean() > 0.9


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("models"), "msdn", "msdn", "shaped",
                       [2, 14, 62, 139, 194, 221, 225])  # fmt: skip


@pytest.mark.usefixtures("one_torch_thread")
def test_fuzzed_structures_through_evaluate_and_predict(tmp_path, bundle, capsys):
    rng = random.Random(SEED + 1)
    d = tmp_path / "mine"
    d.mkdir()
    for name in ("nacl.cif", "mg.cif"):  # in the bundle's classes
        (d / name).write_text(SEEDS[name][0])
    bad = {}
    all_mutants = mutants(rng)
    for rel in rng.sample(sorted(all_mutants), 24):
        name = rel.replace("/", "_")
        bad[name] = all_mutants[rel]
        (d / name).write_bytes(bad[name])
    (d / "POSCAR_junk").write_bytes(rng.randbytes(300))
    out = tmp_path / "eval" / "metrics.json"
    assert (
        main(["evaluate", "--structures", str(d), "--model", str(bundle), "--out", str(out)]) == 0
    )
    oc = pd.read_csv(out.parent / "outcomes.csv", keep_default_na=False)
    assert sorted(oc["file"]) == sorted(p.name for p in d.iterdir())
    kept = set(oc.loc[oc["status"] == "kept", "file"])
    assert {"nacl.cif", "mg.cif"} <= kept
    for row in oc[oc["status"] == "skipped"].itertuples():
        assert row.file in row.reason  # the reason names the file
    capsys.readouterr()
    # predict, one file per call: either an answer or one clear error naming the file
    for name in rng.sample(sorted(bad), 5) + ["POSCAR_junk"]:
        rc = main(["predict", str(d / name), "--model", str(bundle), "--json"])
        err = capsys.readouterr().err
        assert rc in (0, 1), name
        if rc == 1:
            assert name in err and "Traceback" not in err, err


def _png(arr: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, **kw).save(buf, format="PNG")
    return buf.getvalue()


def broken_images(size: int = 64) -> dict[str, bytes]:
    """name -> bytes of pattern images a user might hand over, each broken in one way."""
    rng = np.random.default_rng(SEED)
    gray = rng.integers(0, 255, (size, size), dtype=np.uint8)
    png = _png(gray)
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, format="JPEG")
    jpg = buf.getvalue()
    return {
        "truncated_x.png": png[: len(png) // 2],
        "truncated_x.jpg": jpg[: len(jpg) // 2],
        "zero_x.png": b"",
        "bomb_x.png": png_claiming(100_000, 100_000),
        "text_x.png": b"not an image at all\n",
        "nonsquare_x.png": _png(gray[:, : size // 2]),
        "tiny_x.png": _png(gray[:8, :8]),
        "header_only_x.png": png[:33],
    }


def test_broken_pattern_images_name_the_file(tmp_path, bundle, capsys):
    rng = np.random.default_rng(SEED)
    good = {}
    for axis in "xyz":
        good[axis] = tmp_path / f"ok_{axis}.png"
        good[axis].write_bytes(_png(rng.integers(0, 255, (64, 64), dtype=np.uint8)))
    # Unusual but valid: 16-bit, RGBA (wrong channel count for a pattern), LA: classified.
    deep = tmp_path / "deep_y.png"
    Image.fromarray((rng.integers(0, 65535, (64, 64))).astype(np.uint16)).save(deep)
    rgba = tmp_path / "rgba_z.png"
    Image.fromarray(rng.integers(0, 255, (64, 64, 4), dtype=np.uint8), mode="RGBA").save(rgba)
    for files in ([good["x"], deep, good["z"]], [good["x"], good["y"], rgba]):
        assert main(["predict", *map(str, files), "--model", str(bundle)]) == 0
        capsys.readouterr()
    for name, data in broken_images().items():
        bad = tmp_path / name
        bad.write_bytes(data)
        with pytest.raises(ValueError, match=rf"^{bad}: "):
            read_pattern_image(bad)
    for name in ("truncated_x.png", "bomb_x.png", "zero_x.png"):  # the CLI says the same
        rc = main(["predict", str(tmp_path / name), str(good["y"]), str(good["z"]), "--model",
                   str(bundle)])  # fmt: skip
        err = capsys.readouterr().err
        assert rc == 1 and name in err and "Traceback" not in err, (name, err)
    # `xtalsym shape` on a mixed batch: the bad ones reported, the good ones shaped
    batch = [tmp_path / n for n in broken_images()] + [good["x"], deep, rgba]
    assert main(["shape", *map(str, batch), "--out", str(tmp_path / "shaped")]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "shaped").iterdir()) == [
        "deep_y.png", "ok_x.png", "rgba_z.png"
    ]  # fmt: skip
