"""The fixed vocabulary of per-input outcomes (``outcomes.csv``) and the exception that carries one.

Every input a source considers (a CIF file, a Materials Project document, a synthetic
generation attempt) ends as ``kept`` or ``skipped`` with exactly one reason from
:data:`REASONS`, so outcome tables from different runs and sources can be compared by reason.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Why an input was skipped. Keys are the ``reason`` values written to outcomes.csv.
REASONS: dict[str, str] = {
    "empty_file": "the file is empty or holds only whitespace",
    "file_too_large": "the file (or its decompressed text) exceeds structures.cif_dir.max_file_mb",
    "unreadable": "the file cannot be read or decompressed (I/O error, corrupt gzip)",
    "unparsable": "the file is not a readable crystal structure (syntax error, no atoms)",
    "unknown_element": "a site names a species that is not a chemical element",
    "partial_occupancy": "partially occupied sites and partial_occupancy: skip",
    "absurd_cell": "cell lengths or angles non-finite, negative or out of range, or a flat cell",
    "bad_coordinates": "an atom's fractional coordinate is missing, not finite or not a number",
    "bad_occupancy": "an occupancy is not finite, negative, or a site sums to more than 1",
    "overlapping_atoms": "two atoms closer than half their summed covalent radii (exact duplicate "
    "rows are merged instead)",
    "too_many_sites": "more sites than structures.max_sites in the conventional cell",
    "symmetry_failed": "spglib found no symmetry dataset at symprec",
    "outside_class_set": "the spglib space group is not in the configured class set",
    "duplicate": "same reduced formula, space group and primitive-cell size as a kept structure",
    "generation_failed": "the generator could not place a composition in the requested group",
    "timeout": "parsing one CIF (structures.cif_dir.timeout_s) or one generator attempt took too long",
    "crashed": "the process working on the file died (out of memory, a crash in native code)",
    "processing_error": "an unexpected error while ordering, labelling or standardising the file",
    "surplus": "a valid synthetic structure for a class that already has its count",
    "download_failed": "a Materials Project document without a usable structure",
}

OUTCOME_COLUMNS = ("source", "name", "status", "reason", "id", "detail")


class Skip(Exception):
    """An input is skipped for ``reason`` (a key of :data:`REASONS`)."""

    def __init__(self, reason: str, detail: str = ""):
        if reason not in REASONS:
            raise ValueError(f"unknown skip reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Outcome:
    """One row of outcomes.csv."""

    source: str
    name: str
    status: str  # kept or skipped
    reason: str = ""
    id: str = ""
    detail: str = ""  # what exactly was wrong, where (line, tag); parser warnings of kept files

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in OUTCOME_COLUMNS}
