"""The recordings sheet: which raw file holds which mouse's session on which training day.

One row per session (and fibre region): mouse, training day, the raw file and its format; an
optional separate TTL file (Neurophotometrics digital inputs), the region to take from a file
that holds several, run onset/offset on the recording's clock when no TTL marked the run
(typed from the treadmill log), a table of the session's other events (cues, licks ...), and
event times typed in the sheet itself: one column per declared event type, each cell one or
several times in seconds separated by ';' (``12.5; 40; 71.2``; blank: none that session).
Every mistake is reported with the sheet's file, line and column.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.io import parse_numbers, read_lab_table, require_columns
from exneuro.photometry.readers import READERS

#: Columns of the recordings sheet: the required ones, then the optional ones.
REQUIRED_FIELDS = ("mouse", "day", "file", "format")
OPTIONAL_FIELDS = ("region", "ttl_file", "run_onset_s", "run_offset_s", "events_file")


def session_id(mouse: str, day: int, region: str = "") -> str:
    """``M069_d4`` (``M069_d4_VMH`` when the sheet names a region)."""
    return f"{mouse}_d{day}" + (f"_{region}" if region else "")


def read_recordings(
    path: str | Path,
    columns: Mapping[str, str],
    samples: pd.DataFrame,
    cohort: str,
    typed_events: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read and check the recordings sheet against the sample sheet.

    ``typed_events``: event name → the sheet's column holding that event's times
    (:func:`typed_event_times`). Returns one row per session: ``session``, ``mouse``,
    ``group``, ``day``, ``file``, ``format``, ``region``, ``ttl_file``, ``run_onset_s``,
    ``run_offset_s`` (NaN when the TTL marks the run), ``events_file`` (a table of named event
    times, or ''), ``typed_events`` (a list of ``[name, time_s, column]``, sorted by time),
    ``sheet`` (the sheet's path) and ``line`` (the sheet's line). Raises
    :class:`~exneuro.errors.InputDataError` naming the line and column for an unknown mouse or a
    mouse of another cohort, a day that is not an integer, an unknown format, a missing file, a
    run onset without offset or after it, a typed event time that is not a number, negative or
    typed twice, and a session listed twice.
    """
    where = str(path)
    table = read_lab_table(path)
    names = {field: columns.get(field, field) for field in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)}
    require_columns(table, {f: names[f] for f in REQUIRED_FIELDS}, where)
    typed = typed_event_times(table, typed_events or {}, where)
    for field in OPTIONAL_FIELDS:
        if names[field] not in table.columns:
            table[names[field]] = ""
    text = {field: table[names[field]].astype(str).str.strip() for field in names}
    lines = table["_line"].astype(int).to_numpy()

    def fail(row: int, field: str, problem: str, fix: str) -> None:
        raise data_error(where, problem, fix, line=int(lines[row]), column=names[field])

    cohort_of = dict(zip(samples["mouse_id"], samples["cohort"], strict=True))
    group_of = dict(zip(samples["mouse_id"], samples["group"], strict=True))
    for row, mouse in enumerate(text["mouse"]):
        if mouse not in cohort_of:
            fail(
                row, "mouse", f"mouse '{mouse}' is not in the sample sheet", "add it or fix the id"
            )
        if cohort_of[mouse] != cohort:
            fail(
                row,
                "mouse",
                f"mouse '{mouse}' belongs to cohort '{cohort_of[mouse]}', not '{cohort}'",
                "photometry.cohort names the recorded cohort; fix the mouse id or the cohort",
            )
    days = parse_numbers(table, names["day"], where)
    for row, day in enumerate(days):
        if day != round(day):
            fail(row, "day", f"day '{text['day'].iloc[row]}' is not a whole number", "write 1, 2 …")
    for row, fmt in enumerate(text["format"]):
        if fmt not in READERS:
            fail(row, "format", f"format '{fmt}' is unknown", f"use one of {', '.join(READERS)}")
    for field in ("file", "ttl_file", "events_file"):
        for row, name in enumerate(text[field]):
            if (name or field == "file") and not Path(name).is_file():
                fail(
                    row,
                    field,
                    f"file '{name}' not found",
                    "check the path (from the project folder)",
                )
    onset = parse_numbers(table, names["run_onset_s"], where, required=False)
    offset = parse_numbers(table, names["run_offset_s"], where, required=False)
    for row in np.flatnonzero(np.isnan(onset) != np.isnan(offset)):
        fail(
            row,
            "run_offset_s",
            "run onset and offset must be given together",
            "fill both or neither",
        )
    for row in np.flatnonzero(offset <= onset):
        fail(row, "run_offset_s", "run offset is not after the onset", "swap or correct the times")
    frame = pd.DataFrame(
        {
            "mouse": text["mouse"],
            "group": text["mouse"].map(group_of),
            "day": days.astype(int),
            "file": text["file"],
            "format": text["format"],
            "region": text["region"],
            "ttl_file": text["ttl_file"],
            "events_file": text["events_file"],
            "run_onset_s": onset,
            "run_offset_s": offset,
            "typed_events": typed,
            "sheet": where,
            "line": lines,
        }
    )
    frame.insert(
        0,
        "session",
        [
            session_id(m, d, r)
            for m, d, r in zip(frame["mouse"], frame["day"], frame["region"], strict=True)
        ],
    )
    repeated = frame["session"].duplicated(keep=False)
    if repeated.any():
        first = frame.loc[repeated, ["session", "line"]]
        session = first["session"].iloc[0]
        both = first.loc[first["session"] == session, "line"].tolist()
        raise data_error(
            where,
            f"session {session} is listed twice (lines {both[0]} and {both[1]})",
            "keep one row per mouse, day and region",
            line=int(both[1]),
        )
    return frame


def typed_event_times(
    table: pd.DataFrame, columns: Mapping[str, str], where: str
) -> list[list[list]]:
    """Per sheet row, the event times typed in the ``columns`` (event name → column): a list of
    ``[name, time_s, column]`` sorted by time (a decimal comma is read as a point).

    Each cell holds one or several times in seconds on the recording's clock separated by ';'
    (``12.5; 40; 71.2``), or nothing. Raises :class:`~exneuro.errors.InputDataError` naming the
    sheet, line and column for a missing column, a time that is not a number, a negative time
    and a time typed twice in one cell.
    """
    require_columns(table, {f"times of event '{n}'": c for n, c in columns.items()}, where)
    rows: list[list[list]] = [[] for _ in range(len(table))]
    for name, column in columns.items():
        cells = table[column].astype(str).str.strip().reset_index(drop=True)
        items = cells.str.split(";").explode().str.strip()
        items = items[items != ""]  # a blank cell, or a trailing ';'
        times = pd.to_numeric(items.str.replace(",", ".", regex=False), errors="coerce")

        def fail(position: int, problem: str, fix: str, column: str = column) -> None:
            line = int(table["_line"].iloc[position])
            raise data_error(where, problem, fix, line=line, column=column)

        bad = items[times.isna() | ~np.isfinite(times)]
        if len(bad):
            fail(
                bad.index[0],
                f"'{bad.iloc[0]}' is not a time in seconds",
                "write the times as plain numbers separated by ';', e.g. 12.5; 40; 71.2",
            )
        negative = times[times < 0]
        if len(negative):
            fail(
                negative.index[0],
                f"time {negative.iloc[0]:g} s is negative",
                "type times on the recording's clock",
            )
        typed = pd.DataFrame({"row": times.index, "time_s": times.to_numpy()})
        twice = typed[typed.duplicated()]
        if len(twice):
            fail(
                int(twice["row"].iloc[0]),
                f"time {twice['time_s'].iloc[0]:g} s is typed twice",
                "type each event once",
            )
        for position, time in times.items():
            rows[position].append([name, float(time), column])
    return [sorted(row, key=lambda event: event[1]) for row in rows]


def session_records(recordings: pd.DataFrame) -> dict[str, dict]:
    """Session id → its row as plain Python values (missing run times as None): what a job's
    params carry, looked up in constant time when the workflow builds 10,000 jobs."""
    records = {}
    for row in recordings.to_dict("records"):
        for key in ("run_onset_s", "run_offset_s"):
            row[key] = None if pd.isna(row[key]) else float(row[key])
        records[row["session"]] = {
            key: value.item() if isinstance(value, np.generic) else value
            for key, value in row.items()
        }
    return records
