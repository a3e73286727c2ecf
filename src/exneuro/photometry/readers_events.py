"""Events of a recording: TTL edges, tables of typed event times, and their checks.

Every reader's events table has :data:`~exneuro.photometry.readers_core.EVENT_COLUMNS`; events
outside the recorded span are reported as ``event_outside_recording`` anomalies.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.photometry.readers_core import (
    EVENT_COLUMNS,
    Recording,
    anomaly_table,
    concat_anomalies,
    empty_anomalies,
    empty_events,
    time_unit_factor,
)


def ttl_events(
    time_s: np.ndarray,
    level: np.ndarray,
    name: str,
    *,
    threshold: float = 0.5,
    source: str = "",
) -> pd.DataFrame:
    """Rising edges of a digital (TTL) channel as events, with the pulse's high duration.

    A rising edge is the first sample at or above ``threshold`` after one below it (as
    pyPhotometry's ``pulse_inds``); ``duration_s`` runs to the next falling edge (NaN when the
    line is still high at the end). A line already high at the first sample has no known onset
    and gives no event.
    """
    t = np.asarray(time_s, dtype=float)
    level = np.asarray(level)
    if level.dtype == bool:
        high = level
    else:
        high = np.nan_to_num(level.astype(float), nan=-np.inf) >= threshold
    if len(high) < 2:
        return empty_events()
    edges = np.flatnonzero(high[1:] != high[:-1]) + 1  # one pass; edges are few
    rises, ends = pulses(edges, high[edges])
    if not rises.size:
        return empty_events()
    has_fall = ends >= 0
    duration = np.full(len(rises), np.nan)
    duration[has_fall] = t[ends[has_fall]] - t[rises[has_fall]]
    return pd.DataFrame(
        {
            "name": np.full(len(rises), name, dtype=object),
            "time_s": t[rises],
            "duration_s": duration,
            "source": np.full(len(rises), source, dtype=object),
        }
    )


def pulses(edges: np.ndarray, high_at_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pulses of a digital line from its level changes: the sample of each rising edge and of
    the falling edge that ends it (-1 when the line is still high at the end).

    ``edges`` are the sorted samples whose level differs from the sample before; ``high_at_edges``
    the level there (True: a rise). A line high from the first sample has no rise before its first
    fall, so that fall ends no pulse.
    """
    rises = edges[high_at_edges]
    falls = edges[~high_at_edges]
    following = np.searchsorted(falls, rises)
    has_fall = following < len(falls)
    ends = np.full(len(rises), -1, dtype=np.int64)
    ends[has_fall] = falls[following[has_fall]]
    return rises, ends


def sorted_events(
    name: np.ndarray, time_s: np.ndarray, duration_s: np.ndarray, source: np.ndarray
) -> pd.DataFrame:
    """An events table from per-event arrays, ordered by time then name (stable) — the table
    :func:`concat_events` makes from per-channel tables, built in one step: a reader with several
    digital lines makes one table instead of one per line plus their concatenation."""
    if not len(time_s):
        return empty_events()
    order = np.lexsort((np.asarray(name, dtype=str), time_s))
    return pd.DataFrame(
        {
            "name": np.asarray(name, dtype=object)[order],
            "time_s": np.asarray(time_s, dtype=np.float64)[order],
            "duration_s": np.asarray(duration_s, dtype=np.float64)[order],
            "source": np.asarray(source, dtype=object)[order],
        }
    )


def make_events(name: Any, time_s: Any, duration_s: Any = np.nan, source: Any = "") -> pd.DataFrame:
    """An events table from arrays (scalars broadcast)."""
    t = np.atleast_1d(np.asarray(time_s, dtype=float))
    n = len(t)
    return pd.DataFrame(
        {
            "name": pd.Series(np.broadcast_to(np.asarray(name, dtype=object), (n,))),
            "time_s": t,
            "duration_s": np.broadcast_to(np.asarray(duration_s, dtype=float), (n,)).copy(),
            "source": pd.Series(np.broadcast_to(np.asarray(source, dtype=object), (n,))),
        }
    )


def concat_events(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack event tables, ordered by time then name."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return empty_events()
    stacked = pd.concat(tables, ignore_index=True)
    times = stacked["time_s"].to_numpy()
    if (times[1:] > times[:-1]).all():  # already in order, without ties or NaN (one TTL line)
        return stacked
    return stacked.sort_values(["time_s", "name"], kind="stable").reset_index(drop=True)


def events_from_table(
    table: pd.DataFrame | str | Path,
    *,
    onset_column: str,
    offset_column: str | None = None,
    name_column: str | None = None,
    name: str = "run",
    time_unit: str = "s",
    time_offset_s: float = 0.0,
) -> pd.DataFrame:
    """Events (e.g. treadmill run onset/offset) from a table the lab keeps beside the recording.

    ``table`` is a path (CSV/TSV/Excel, read as text so every bad cell is reported with its line)
    or an already-loaded table (the session log or the sample sheet). One event per row: time =
    onset x unit + ``time_offset_s`` (the table's zero on the recording's clock), duration =
    offset - onset when an offset column is given. The event name comes from ``name_column`` or
    is ``name``.
    """
    from exneuro.io import parse_numbers, read_lab_table, require_columns

    scale = time_unit_factor(time_unit, "events table")
    if isinstance(table, str | Path):
        where = str(table)
        frame = read_lab_table(table)
    else:
        where = "events table"
        frame = table.astype(object).where(table.notna(), "").astype(str)
        if "_line" not in frame:
            frame["_line"] = np.arange(len(frame)) + 2
    wanted = {"onset": onset_column}
    if offset_column:
        wanted["offset"] = offset_column
    if name_column:
        wanted["name"] = name_column
    require_columns(frame, wanted, where)
    onset = parse_numbers(frame, onset_column, where) * scale + time_offset_s
    duration = np.full(len(frame), np.nan)
    if offset_column:
        offset = parse_numbers(frame, offset_column, where, required=False) * scale + time_offset_s
        duration = offset - onset
        bad = duration < 0
        if bad.any():
            row = int(np.argmax(bad))
            raise data_error(
                where,
                f"offset {frame[offset_column].iloc[row]} is before onset "
                f"{frame[onset_column].iloc[row]}",
                "swap or correct the two times",
                line=int(frame["_line"].iloc[row]),
                column=offset_column,
            )
    names = frame[name_column].str.strip().to_numpy(object) if name_column else name
    return concat_events([make_events(names, onset, duration, where)])


def with_events(recording: Recording, events: pd.DataFrame) -> Recording:
    """The recording with more events; events outside its time span are reported as anomalies."""
    events = events.loc[:, list(EVENT_COLUMNS)]
    found = events_outside(
        events, recording.time_s, "check the time offset between the event log and the recording"
    )
    return replace(
        recording,
        events=concat_events([recording.events, events]),
        anomalies=concat_anomalies([recording.anomalies, found]),
    ).validate()


def events_outside(events: pd.DataFrame, time_s: np.ndarray, fix: str = "") -> pd.DataFrame:
    """Anomaly rows for events that fall outside the recorded time span (none for a recording
    without samples: that one is refused as such)."""
    if not len(events) or not len(time_s):
        return empty_anomalies()
    t0, t1 = float(np.min(time_s)), float(np.max(time_s))
    times = events["time_s"].to_numpy()
    beyond = (times < t0) | (times > t1)
    if not beyond.any():
        return empty_anomalies()
    outside = events.loc[beyond]
    return anomaly_table(
        "event_outside_recording",
        "events",
        [None] * len(outside),
        outside["time_s"].to_numpy(float),
        None,
        [
            f"event '{n}' at {t:.6g} s is outside the recording ({t0:.6g}-{t1:.6g} s)"
            + (f": {fix}" if fix else "")
            for n, t in zip(outside["name"], outside["time_s"], strict=True)
        ],
    )
