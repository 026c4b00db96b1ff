"""Streaming writer of structures.parquet and outcomes.csv (both atomic).

Rows arrive source by source in ascending id order (cif- < mp- < syn-), are appended as
Parquet row groups, and the files are renamed into place only when every source finished,
so an interrupted run never leaves a partial artifact.
"""

from __future__ import annotations

import contextlib
import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..io import atomic_path
from .cif import CHUNK_SCHEMA
from .outcomes import OUTCOME_COLUMNS, Outcome
from .standard import ARTIFACT_COLUMNS

ARTIFACT_SCHEMA = pa.schema([CHUNK_SCHEMA.field(name) for name in ARTIFACT_COLUMNS])


class ArtifactWriter(contextlib.AbstractContextManager):
    """``with ArtifactWriter(out_dir) as w: w.write_rows(rows); w.write_outcomes(o)``."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.counts: Counter = Counter()  # kept structures per space group
        self.kept: Counter = Counter()  # per source
        self.skipped: Counter = Counter()  # per (source, reason)
        self._last_id = ""
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> ArtifactWriter:
        s = self._stack.__enter__()
        table = s.enter_context(atomic_path(self.out_dir / "structures.parquet"))
        outcomes = s.enter_context(atomic_path(self.out_dir / "outcomes.csv"))
        # Closed (LIFO) before atomic_path renames the files.
        self._parquet = s.enter_context(pq.ParquetWriter(table, ARTIFACT_SCHEMA))
        fh = s.enter_context(open(outcomes, "w", newline=""))
        self._csv = csv.DictWriter(fh, fieldnames=OUTCOME_COLUMNS)
        self._csv.writeheader()
        return self

    def __exit__(self, *exc: Any) -> bool | None:
        if exc[0] is None and self.n_rows == 0:
            self._parquet.write_table(ARTIFACT_SCHEMA.empty_table())
        return self._stack.__exit__(*exc)

    @property
    def n_rows(self) -> int:
        return sum(self.kept.values())

    def write_rows(self, rows: Sequence[dict[str, Any]] | pa.Table) -> None:
        """Append kept rows (ascending ids, all greater than those written before)."""
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(list(rows))
        if table.num_rows == 0:
            return
        table = table.select(list(ARTIFACT_COLUMNS)).cast(ARTIFACT_SCHEMA)
        ids = table.column("id").to_pylist()
        if ids[0] <= self._last_id or any(a >= b for a, b in zip(ids, ids[1:], strict=False)):
            raise ValueError("structures rows must arrive in strictly ascending id order")
        self._last_id = ids[-1]
        self._parquet.write_table(table)
        self.counts.update(table.column("spacegroup").to_pylist())
        self.kept.update(table.column("source").to_pylist())

    def write(self, rows: Sequence[dict[str, Any]], outcomes: Iterable[Outcome]) -> None:
        """Append a batch of kept rows and the outcomes that go with them."""
        self.write_rows(rows)
        self.write_outcomes(outcomes)

    def write_outcomes(self, outcomes: Iterable[Outcome]) -> None:
        for o in outcomes:
            self._csv.writerow(o.as_dict())
            if o.status != "kept":
                self.skipped[(o.source, o.reason)] += 1
