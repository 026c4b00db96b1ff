"""A light CIF scanner: where a CIF is broken, how big it is, and whether its numbers are sane.

pymatgen's CifParser says little more than "Invalid CIF file with no structures!" for most
broken files, and builds the structure in time quadratic in the atom count before anything
can be checked. This module reads the same tokens (quotes, ``;`` text fields, ``#`` comments)
with their line numbers, so that

* a broken file is described by what is wrong and where (:func:`diagnose`): a stray ``lop_``,
  a misspelt tag, a value that is not a number, a file that ends inside a loop;
* the atom rows are counted before parsing (:func:`site_lower_bound`), so a 20,000-atom file
  is rejected in milliseconds;
* the raw cell parameters, coordinates and occupancies are checked (:func:`check_values`)
  before pymatgen turns a negative length into a positive one.

It never raises on any input: problems are collected as messages.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field

from .outcomes import Skip

CELL_LENGTHS = ("_cell_length_a", "_cell_length_b", "_cell_length_c")
CELL_ANGLES = ("_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma")
FRACT = ("_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z")
OCCUPANCY = "_atom_site_occupancy"
SYMOP_TAGS = ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz")
#: Tags a structure needs, or that pymatgen reads: a tag close to one of these is a typo.
KNOWN_TAGS = (
    *CELL_LENGTHS, *CELL_ANGLES, *FRACT, OCCUPANCY, *SYMOP_TAGS, "_atom_site_label",
    "_atom_site_type_symbol", "_symmetry_space_group_name_H-M", "_space_group_name_H-M_alt",
    "_symmetry_Int_Tables_number", "_space_group_IT_number", "_cell_volume",
)  # fmt: skip
KEYWORDS = ("loop_", "data_", "save_", "global_", "stop_")
#: Largest order of a site-symmetry group (m-3m): an atom row makes >= n_ops / 48 sites.
MAX_SITE_SYMMETRY = 48
MAX_PROBLEMS = 4  # messages kept per file

_TOKEN = re.compile(r"""'(.*?)'(?=\s|$)|"(.*?)"(?=\s|$)|(#.*)|(\S+)""")
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity))"
                     r"(?:\(\d*\)?)?\s*$", re.IGNORECASE)  # fmt: skip


@dataclass
class Loop:
    tags: list[str]
    line: int
    values: list[tuple[str, int]] = field(default_factory=list)  # (value, line)

    def rows(self) -> list[dict[str, tuple[str, int]]]:
        k = len(self.tags)
        n = len(self.values) // k if k else 0
        return [
            dict(zip(self.tags, self.values[i * k : (i + 1) * k], strict=True)) for i in range(n)
        ]


@dataclass
class Block:
    name: str
    line: int
    items: dict[str, tuple[str, int]] = field(default_factory=dict)  # tag -> (value, line)
    loops: list[Loop] = field(default_factory=list)
    tag_lines: dict[str, int] = field(default_factory=dict)  # every tag (lower case) -> line

    def loop_with(self, *tags: str) -> Loop | None:
        for lp in self.loops:
            if any(t in lp.tags for t in tags):
                return lp
        return None


@dataclass
class Scan:
    blocks: list[Block] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def note(self, msg: str) -> None:
        if msg not in self.problems:
            self.problems.append(msg)

    @property
    def structure_block(self) -> Block | None:
        """The first block with an atom-site loop (else the first block)."""
        for b in self.blocks:
            if b.loop_with(*FRACT, "_atom_site_label"):
                return b
        return self.blocks[0] if self.blocks else None


def _tokens(text: str, scan: Scan):
    """(value, line, is_bare) of every token; ``;`` text fields are one quoted token."""
    field_start, field_lines = 0, []
    for no, line in enumerate(text.splitlines(), 1):
        if field_start:
            if line.startswith(";"):
                yield " ".join(field_lines), field_start, False
                field_start, field_lines = 0, []
                line = line[1:]
            else:
                field_lines.append(line)
                continue
        elif line.startswith(";"):
            field_start, field_lines = no, [line[1:]]
            continue
        pos = 0
        while pos < len(line):
            m = _TOKEN.search(line, pos)
            if m is None:
                break
            pos = m.end()
            if m.group(3) is not None:
                break  # a comment runs to the end of the line
            bare = m.group(4)
            if bare is not None and bare[0] in "'\"":
                scan.note(f"line {no}: unterminated quoted string {bare[:30]!r}")
            if bare is not None:
                yield bare, no, True
            else:
                yield (m.group(1) if m.group(1) is not None else m.group(2)), no, False
    if field_start:
        scan.note(f"line {field_start}: a ';' text field is never closed (truncated file?)")


def _is_tag(tok: tuple[str, int, bool]) -> bool:
    return tok[2] and tok[0].startswith("_")


def _is_keyword(tok: tuple[str, int, bool]) -> bool:
    return tok[2] and tok[0].lower().startswith(KEYWORDS)


def scan_cif(text: str) -> Scan:
    """Blocks, items, loops and syntax problems of a CIF text (never raises)."""
    scan = Scan()
    toks = list(_tokens(text, scan))
    i, block, valueless = 0, None, 0
    n = len(toks)
    while i < n:
        tok = toks[i]
        value, line, bare = tok
        low = value.lower()
        if bare and low.startswith("data_"):
            block = Block(value[5:], line)
            scan.blocks.append(block)
            i += 1
            continue
        if block is None:
            scan.note(f"line {line}: {value[:30]!r} before the first data_ block")
            block = Block("", line)
            scan.blocks.append(block)
        if bare and low == "loop_":
            lp = Loop([], line)
            i += 1
            while i < n and _is_tag(toks[i]):
                lp.tags.append(toks[i][0].lower())
                block.tag_lines.setdefault(toks[i][0].lower(), toks[i][1])
                i += 1
            while i < n and not _is_tag(toks[i]) and not _is_keyword(toks[i]):
                if toks[i][2] and toks[i][0].endswith("_"):
                    _misspelt_keyword(scan, toks[i])
                lp.values.append(toks[i][:2])
                i += 1
            if not lp.tags:
                scan.note(f"line {line}: loop_ without tags")
            elif not lp.values:
                scan.note(f"line {line}: loop_ of {lp.tags[0]} has no values (truncated file?)")
            elif len(lp.values) % len(lp.tags):
                k, v = len(lp.tags), len(lp.values)
                scan.note(
                    f"line {line}: the loop of {lp.tags[0]} has {v} values for {k} columns "
                    f"(the last row, line {lp.values[-1][1]}, has {v % k}): a truncated file "
                    "or a row with a missing value"
                )
            block.loops.append(lp)
            continue
        if bare and low.startswith(("save_", "global_", "stop_")):
            scan.note(f"line {line}: {value!r} (save frames and STAR keywords are not CIF data)")
            i += 1
            continue
        if _is_tag(tok):
            block.tag_lines.setdefault(low, line)
            nxt = toks[i + 1] if i + 1 < n else None
            if nxt is None or _is_tag(nxt) or _is_keyword(nxt):
                if nxt is None:
                    scan.note(f"line {line}: {value} has no value: the file ends (truncated?)")
                elif not valueless:
                    scan.note(f"line {line}: {value} has no value (and maybe the tags after it:"
                              " a loop_ missing?)")  # fmt: skip
                valueless += 1
                block.items[low] = ("", line)
                i += 1
            else:
                block.items[low] = nxt[:2]
                i += 2
            continue
        # A bare value where a tag or keyword belongs.
        if not _misspelt_keyword(scan, tok):
            scan.note(f"line {line}: unexpected {value[:30]!r} (a value without a tag?)")
        i += 1
    return scan


def _misspelt_keyword(scan: Scan, tok: tuple[str, int, bool]) -> bool:
    close = difflib.get_close_matches(tok[0].lower(), ["loop_", "data_"], n=1, cutoff=0.6)
    if close:
        scan.note(f"line {tok[1]}: unexpected {tok[0][:30]!r} (did you mean {close[0]}?)")
    return bool(close)


def to_float(value: str) -> float | None:
    """A CIF number (``5.431(2)``, ``nan``) as float; None for ``?``/``.`` or a non-number."""
    m = _NUMBER.match(value)
    return float(m.group(1)) if m else None


def _is_unknown(value: str) -> bool:
    return value.strip() in ("?", ".", "")


def _typo_hint(block: Block, tag: str) -> str:
    """' (line 3 has _cell_lenght_a: a typo?)' when a tag of the block is close to ``tag``."""
    unknown = [t for t in block.tag_lines if t not in {k.lower() for k in KNOWN_TAGS}]
    close = difflib.get_close_matches(tag.lower(), unknown, n=1, cutoff=0.8)
    return f" (line {block.tag_lines[close[0]]} has {close[0]}: a typo?)" if close else ""


def diagnose(text: str, scan: Scan | None = None) -> list[str]:
    """What is wrong with a CIF that pymatgen cannot read, and where (line or tag)."""
    scan = scan or scan_cif(text)
    out = list(scan.problems)
    b = scan.structure_block
    if b is None:
        return (out or ["no data_ block: not a CIF"])[:MAX_PROBLEMS]
    for tag in (*CELL_LENGTHS, *CELL_ANGLES):
        if tag not in b.items:
            out.append(f"no {tag}{_typo_hint(b, tag)}")
        elif (v := b.items[tag])[0] and not _is_unknown(v[0]) and to_float(v[0]) is None:
            out.append(f"line {v[1]}: {tag} = {v[0][:30]!r} is not a number")
    lp = b.loop_with(*FRACT, "_atom_site_label")
    if lp is None:
        out.append(f"no atom-site loop (_atom_site_fract_x ...){_typo_hint(b, FRACT[0])}")
    else:
        for tag in FRACT:
            if tag not in lp.tags:
                cart = "_atom_site_cartn_" + tag[-1]
                extra = " (Cartesian coordinates are not read)" if cart in lp.tags else ""
                out.append(f"the atom loop (line {lp.line}) has no {tag}{extra}"
                           f"{_typo_hint(b, tag)}")  # fmt: skip
        if not {"_atom_site_type_symbol", "_atom_site_label"} & set(lp.tags):
            out.append(f"the atom loop (line {lp.line}) has no _atom_site_type_symbol or label")
        for row in lp.rows():
            name = _atom_name(row)
            for tag in (*FRACT, OCCUPANCY):
                v = row.get(tag)
                if v and not _is_unknown(v[0]) and to_float(v[0]) is None:
                    out.append(f"line {v[1]}: atom {name}: {tag} = {v[0][:30]!r} is not a number")
            if len(out) >= MAX_PROBLEMS:
                break
    return list(dict.fromkeys(out))[:MAX_PROBLEMS]


def _atom_name(row: dict[str, tuple[str, int]]) -> str:
    v = row.get("_atom_site_label") or row.get("_atom_site_type_symbol")
    return v[0] if v else "?"


def n_symops(block: Block) -> int:
    lp = block.loop_with(*SYMOP_TAGS)
    return max(1, len(lp.values) // len(lp.tags)) if lp else 1


def site_lower_bound(scan: Scan) -> int:
    """A lower bound on the sites pymatgen builds from the largest block.

    Each atom row gives at least ``n_ops / 48`` sites (48 = the largest site-symmetry
    order); rows of disordered sites share a site, so callers allow a margin.
    """
    best = 0
    for b in scan.blocks:
        lp = b.loop_with(*FRACT, "_atom_site_label")
        if lp is not None:
            rows = len(lp.values) // len(lp.tags)
            best = max(best, rows * max(1, n_symops(b) // MAX_SITE_SYMMETRY))
    return best


def check_values(scan: Scan, occupancy_tolerance: float) -> None:
    """Raise Skip for non-physical raw numbers of the structure block (line and tag named).

    Cell lengths must be finite and > 0 and angles finite in (0, 180) deg
    (``absurd_cell``); coordinates finite numbers (``bad_coordinates``); occupancies finite,
    >= 0 and <= 1 + ``occupancy_tolerance`` (``bad_occupancy``).
    """
    b = scan.structure_block
    if b is None:
        return
    for tag in (*CELL_LENGTHS, *CELL_ANGLES):
        v = b.items.get(tag)
        x = to_float(v[0]) if v else None
        if x is None:
            continue  # missing or not a number: pymatgen's parse fails and diagnose() says why
        bad = not math.isfinite(x) or x <= 0 or (tag in CELL_ANGLES and x >= 180)
        if bad:
            unit = "Å" if tag in CELL_LENGTHS else "deg"
            raise Skip("absurd_cell", f"line {v[1]}: {tag} = {v[0]} {unit}")
    lp = b.loop_with(*FRACT)
    if lp is None:
        return
    for row in lp.rows():
        name = _atom_name(row)
        for tag in FRACT:
            v = row.get(tag)
            if v is None:
                continue
            x = to_float(v[0])
            if _is_unknown(v[0]) or (x is not None and not math.isfinite(x)):
                raise Skip("bad_coordinates", f"line {v[1]}: atom {name}: {tag} = {v[0]!r}")
        v = row.get(OCCUPANCY)
        x = to_float(v[0]) if v else None
        if x is not None and (not math.isfinite(x) or x < 0 or x > 1 + occupancy_tolerance):
            raise Skip("bad_occupancy", f"line {v[1]}: atom {name}: {OCCUPANCY} = {v[0]}")
