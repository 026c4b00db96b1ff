"""Reading one CIF file into a checked pymatgen Structure (raises :class:`.outcomes.Skip`
with a reason); the directory source that calls it is :mod:`.cif`."""

from __future__ import annotations

import gzip
import warnings
import zlib
from io import StringIO
from pathlib import Path
from typing import Any

from . import cifscan
from .outcomes import Skip
from .standard import check_cell, check_species, order_majority

EARLY_SITE_FACTOR = 4  # a file with > 4 x max_sites atoms is too big in any setting
OCCUPANCY_TOLERANCE = 0.01  # occupancies up to 1.01 (refinement noise) are scaled to 1


def read_cif_text(path: Path, max_bytes: int | None = None) -> str:
    """The text of a .cif or .cif.gz file (undecodable bytes replaced).

    Raises Skip: ``file_too_large`` when the file, or its decompressed text, exceeds
    ``max_bytes`` (read stops there, so a gzip bomb costs nothing); ``unreadable`` for an I/O
    error or a corrupt or truncated gzip stream.
    """
    limit = max_bytes if max_bytes else -1
    try:
        size = path.stat().st_size
        if max_bytes and size > max_bytes:
            raise Skip("file_too_large", f"{size / 1e6:.1f} MB > {max_bytes / 1e6:g} MB")
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                data = fh.read(limit if limit < 0 else limit + 1)
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise Skip("unreadable", f"{type(e).__name__}: {e}") from e
    if max_bytes and len(data) > max_bytes:
        raise Skip("file_too_large", f"decompressed text > {max_bytes / 1e6:g} MB")
    if b"\0" in data[:65536]:
        raise Skip("unparsable", f"binary data (a NUL byte at offset {data.index(0)}), not a CIF")
    return data.decode("utf-8", errors="replace")


def _merge_duplicate_rows(parser: Any) -> list[str]:
    """Drop atom rows identical to an earlier one but for the label (pymatgen would add their
    occupancies); returns what was merged."""
    notes = []
    for block in parser._cif.data.values():  # pymatgen keeps the parsed blocks only here
        for loop in block.loops:
            if "_atom_site_fract_x" not in loop:
                continue
            cols = [c for c in loop if c != "_atom_site_label"]
            n = len(block.data[loop[0]])
            seen: dict[tuple, int] = {}
            drop: dict[int, int] = {}
            for i in range(n):
                key = tuple(block.data[c][i] for c in cols)
                if key in seen:
                    drop[i] = seen[key]
                else:
                    seen[key] = i
            if drop:
                names = block.data.get("_atom_site_label") or [str(i) for i in range(n)]
                for c in loop:
                    block.data[c] = [v for i, v in enumerate(block.data[c]) if i not in drop]
                pairs = ", ".join(f"{names[i]} = {names[j]}" for i, j in list(drop.items())[:5])
                notes.append(f"merged {len(drop)} exact duplicate atom row(s) ({pairs})")
    return notes


def shorten(msg: str, n: int = 200) -> str:
    msg = " ".join(str(msg).split())
    return msg if len(msg) <= n else msg[: n - 3] + "..."


def read_cif_structure(text: str, max_sites: int | None = None) -> tuple[Any, list[str]]:
    """The first structure of a CIF text as written (partial occupancies kept) and the notes
    for its outcome (pymatgen's warnings, merged rows); raises :class:`Skip`.

    Before pymatgen builds anything (it takes time quadratic in the atoms): the atom rows are
    counted (``too_many_sites`` above ``EARLY_SITE_FACTOR`` x ``max_sites``) and the raw
    numbers checked (:func:`.cifscan.check_values`). A file pymatgen cannot read is described
    by :func:`.cifscan.diagnose` (what and where).
    """
    from .cifparser import FastCifParser

    if not text.strip():
        raise Skip("empty_file")
    scan = cifscan.scan_cif(text)
    bound = cifscan.site_lower_bound(scan)
    if max_sites is not None and bound > EARLY_SITE_FACTOR * max_sites:
        raise Skip("too_many_sites", f"at least {bound} sites from the atom rows")
    cifscan.check_values(scan, OCCUPANCY_TOLERANCE)
    parser = None  # its warnings say why, also when parse_structures raises
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = FastCifParser(
                StringIO(text), occupancy_tolerance=1 + OCCUPANCY_TOLERANCE, check_cif=False
            )
            notes = _merge_duplicate_rows(parser)
            structures = parser.parse_structures(primitive=False, on_error="ignore")
            error = ""
        except Exception as e:
            structures, error = [], shorten(f"{type(e).__name__}: {e}")
            notes = []
    said = list(getattr(parser, "warnings", []))
    said += [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    said = [shorten(m.replace("No structure parsed for section 1 in CIF.", "")) for m in said]
    if not structures or len(structures[0]) == 0:
        detail = " | ".join(said + [error] if error else said)
        if "exceeded tolerance" in detail or "sum to > 1" in detail:
            raise Skip("bad_occupancy", f"occupancies of one site sum to more than 1 ({detail})")
        if "below threshold" in detail:
            raise Skip("absurd_cell", detail)
        where = cifscan.diagnose(text, scan)
        raise Skip("unparsable", "; ".join(where) or detail or "no structure with atoms")
    notes += list(dict.fromkeys(said))[:5]
    s = structures[0]
    check_species(s)
    return s, notes


def parse_cif(text: str, st: Any) -> tuple[Any, list[str]]:
    """:func:`read_cif_structure`, ordered per the policy and sanity-checked."""
    s, notes = read_cif_structure(text, st.max_sites)
    if not s.is_ordered:
        if st.partial_occupancy == "skip":
            raise Skip("partial_occupancy")
        s = order_majority(s)
    if len(s) > EARLY_SITE_FACTOR * st.max_sites:
        raise Skip("too_many_sites", f"{len(s)} sites in the file")
    check_cell(s)
    return s, notes
