"""The cohort's aligned traces read in parts: only the rows and columns a step draws or tests.

The combined ``aligned.parquet`` of a cohort of 10,000 sessions holds 16 million rows (every
session's binned trace and peri-event waveforms, :mod:`exneuro.photometry.stacking`). The
figure draws two days of one alignment, the waveform test one day of the tested alignments:
:class:`AlignedTraces` reads those through Parquet ``columns=`` and ``filters=`` (row groups whose
statistics exclude the filter are skipped, and the combine writes one row group per included
flag, alignment, column and day), and answers what the whole table would say about the rest
(its days, groups, mice and time span) from the file's footer and one column at a time, a row
group at a time. Only included sessions are ever read: every reader drops the others.

The same class wraps a table in memory (tests, small studies), with the same answers: the read
of a file equals the same filters applied to the whole table read at once, row for row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

#: The columns a trace panel or the waveform test reads (besides the filter columns).
TRACE_COLUMNS = ["mouse", "group", "day", "time_s", "value"]
#: The columns :meth:`AlignedTraces.extent` reads.
EXTENT_COLUMNS = ["day", "group", "mouse", "time_s"]


@dataclass(frozen=True)
class TraceExtent:
    """What the whole set of included rows of one alignment and column holds: its days and
    groups (sorted), its mice and its time span (seconds)."""

    days: list
    groups: list[str]
    mice: set[str]
    time_span_s: float

    @classmethod
    def of(cls, parts: Iterable[pd.DataFrame]) -> TraceExtent:
        """The extent of the rows of ``parts`` (``day``, ``group``, ``mouse``, ``time_s``)
        together, one part held at a time."""
        days, groups, mice, low, high = set(), set(), set(), np.inf, -np.inf
        for part in parts:
            days.update(part["day"].unique().tolist())
            groups.update(part["group"].unique().tolist())
            mice.update(part["mouse"].unique().tolist())
            if len(part):
                low = min(low, float(part["time_s"].min()))
                high = max(high, float(part["time_s"].max()))
        return cls(sorted(days), sorted(groups), mice, high - low if np.isfinite(low) else 0.0)


def read_plan(
    alignments: Sequence[str] | None,
    column: str,
    days: Sequence | None = None,
    columns: Sequence[str] = TRACE_COLUMNS,
) -> tuple[list[str], list[tuple]]:
    """The Parquet ``columns`` and ``filters`` of a read of the included rows of ``alignments``
    (None: every alignment) and ``column`` on ``days`` (None: every day)."""
    filters = [("included", "==", True), ("column", "==", column)]
    if alignments is not None:
        filters.append(("alignment", "in", list(alignments)))
    if days is not None:
        filters.append(("day", "in", [int(day) for day in days]))
    wanted = [*columns, "alignment", "column"]
    return list(dict.fromkeys(wanted)), filters


def _matches(frame: pd.DataFrame, filters: Sequence[tuple]) -> pd.Series:
    """Rows of ``frame`` passing ``filters`` (the subset of Parquet's filter syntax used here)."""
    keep = pd.Series(True, index=frame.index)
    for name, operator, value in filters:
        values = frame[name].astype(bool) if name == "included" else frame[name]
        keep &= values.isin(value) if operator == "in" else values == value
    return keep


class AlignedTraces:
    """The aligned table (``session``, ``mouse``, ``group``, ``day``, ``alignment``, ``column``,
    ``time_s``, ``value``, ``included`` ...) in a Parquet file or in memory."""

    def __init__(self, source: str | Path | pd.DataFrame):
        self.source = source

    @property
    def in_memory(self) -> bool:
        return isinstance(self.source, pd.DataFrame)

    def read(
        self,
        alignments: Sequence[str],
        column: str,
        days: Sequence | None = None,
        columns: Sequence[str] = TRACE_COLUMNS,
    ) -> pd.DataFrame:
        """The included rows of ``alignments`` and ``column`` on ``days`` (None: all), with
        ``columns`` (plus ``alignment`` and ``column``), in the table's order."""
        wanted, filters = read_plan(alignments, column, days, columns)
        if self.in_memory:
            frame = self.source
            return frame.loc[_matches(frame, filters), wanted].reset_index(drop=True)
        return pd.read_parquet(self.source, columns=wanted, filters=filters)

    def days(self, column: str) -> list:
        """The days (sorted) with an included row of ``column`` in any alignment; of a file,
        from the row groups' statistics (a row group holding several days is read)."""
        if self.in_memory:
            return sorted(self.read(None, column, columns=["day"])["day"].unique().tolist())
        _, filters = read_plan(None, column)
        file = pq.ParquetFile(self.source)
        names = file.schema_arrow.names
        found = set()
        for index in range(file.metadata.num_row_groups):
            row_group = file.metadata.row_group(index)
            if _excluded(row_group, names, filters):
                continue
            known = [_only_value(row_group, names, name) for name in ("included", "column", "day")]
            if None not in known:  # one value of each: the statistics say it all
                found.add(known[2])
                continue
            table = file.read_row_group(index, columns=["included", "column", "day"]).to_pandas()
            found.update(table.loc[_matches(table, filters), "day"].unique().tolist())
        return sorted(found)

    def extent(self, alignment: str, column: str) -> TraceExtent:
        """Days, groups, mice and time span of the included rows of ``alignment`` and
        ``column`` (a file is read one row group and one column at a time)."""
        if self.in_memory:
            return TraceExtent.of([self.read([alignment], column, columns=EXTENT_COLUMNS)])
        return TraceExtent.of(self._parts(alignment, column))

    def _parts(self, alignment: str, column: str):
        """The included rows of ``alignment`` and ``column`` a row group at a time (``day``,
        ``group``, ``mouse``, ``time_s``): row groups whose statistics rule them out are not
        read."""
        _, filters = read_plan([alignment], column)
        file = pq.ParquetFile(self.source)
        names = file.schema_arrow.names
        for index in range(file.metadata.num_row_groups):
            if _excluded(file.metadata.row_group(index), names, filters):
                continue
            columns = ["included", "alignment", "column", *EXTENT_COLUMNS]
            table = file.read_row_group(index, columns=columns).to_pandas()
            yield table[_matches(table, filters)]


def _only_value(row_group, names: list[str], name: str):
    """The one value column ``name`` takes in the row group by its statistics, else None."""
    stats = row_group.column(names.index(name)).statistics
    if stats is None or not stats.has_min_max or stats.min != stats.max or stats.null_count:
        return None
    return stats.min


def _excluded(row_group, names: list[str], filters: Sequence[tuple]) -> bool:
    """True when the row group's statistics show that no row passes ``filters``."""
    for name, operator, value in filters:
        stats = row_group.column(names.index(name)).statistics
        if stats is None or not stats.has_min_max:
            continue
        allowed = value if operator == "in" else [value]
        if not any(stats.min <= v <= stats.max for v in allowed):
            return True
    return False
