"""Neurophotometrics digital-input (TTL) files: events on the recording's clock.

The file has several generations (ibl-photometry ``neurophotometrics.py``): ``Timestamp, Value``
(one file per input, Value True on the rising edge), ``Timestamp, Value.Seconds, Value.Value``,
and ``ChannelName, Channel, AlwaysTrue, SystemTimestamp, ComputerTimestamp`` (one row per rising
edge). Its times are on one of the recording's clocks; the column with the same name as the
recording's time column is used and checked to overlap the recording, so TTLs on the computer
clock are never mixed with frames on the hardware clock.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.photometry.readers_core import empty_events, time_unit_factor
from exneuro.photometry.readers_events import concat_events, make_events
from exneuro.photometry.readers_text import check_file, read_columns, require, table_header

#: Timestamp columns, in the order the reader prefers them.
TIME_COLUMNS = ("SystemTimestamp", "Timestamp", "ComputerTimestamp")


def read_npm_ttl(
    path: str | Path,
    *,
    recording_time_column: str,
    recording_time_raw: np.ndarray,
    time_unit: str = "s",
    time_column: str = "auto",
    name: str | None = None,
) -> pd.DataFrame:
    """Events of a Neurophotometrics digital-input file, on the recording's clock (seconds).

    ``recording_time_raw`` are the photometry frames' raw timestamps in ``recording_time_column``;
    an event's ``time_s`` is (its raw time - the first frame's) x unit. ``time_column`` (auto: the
    recording's time column, else the first timestamp column) selects which of the file's clocks
    to use; times that do not overlap the recording are on another clock and raise an error.
    """
    path = check_file(path, "Neurophotometrics digital-input")
    names, sep = table_header(path)
    candidates = [c for c in (*TIME_COLUMNS, "Value.Seconds") if c in names]
    if time_column == "auto":
        time_column = recording_time_column if recording_time_column in names else None
        time_column = time_column or (candidates[0] if candidates else None)
    if not time_column:
        raise data_error(
            str(path),
            "not a Neurophotometrics digital-input file: no timestamp column",
            f"columns found: {', '.join(n for n in names if n)}",
        )
    # generations: ChannelName/.../SystemTimestamp; Timestamp/Value.Seconds/Value.Value;
    # Timestamp/Value
    if "ChannelName" in names:
        text = ["ChannelName"]
    elif "Value.Value" in names:
        text = ["Value.Value"]
    elif "Value" in names:
        text = ["Value"]
    else:
        raise data_error(
            str(path),
            "not a Neurophotometrics digital-input file: no 'Value' or 'ChannelName' column",
            f"columns found: {', '.join(n for n in names if n)}",
        )
    require(names, {"ttl_time_column": time_column}, path)
    data, lines = read_columns(path, names, [time_column], sep=sep, text_columns=text)
    rows = np.isfinite(data[time_column])
    raw, lines = data[time_column][rows], lines[rows]
    if raw.size == 0:
        return empty_events()
    lo, hi = float(np.min(recording_time_raw)), float(np.max(recording_time_raw))
    if not ((raw >= lo) & (raw <= hi)).any():
        others = [c for c in candidates if c != time_column]
        raise data_error(
            str(path),
            f"the TTL times in '{time_column}' ({raw.min():.6g} to {raw.max():.6g}) never fall "
            f"inside the recording ({lo:.6g} to {hi:.6g} in '{recording_time_column}'): they are "
            "on another clock",
            "set ttl_time_column to the digital-input column on the recording's clock"
            + (f" (other columns: {', '.join(others)})" if others else ""),
            column=time_column,
        )
    scale = time_unit_factor(time_unit, "Neurophotometrics")
    t = (raw - float(recording_time_raw[0])) * scale
    source = f"{path.name}:{time_column}"
    if text == ["ChannelName"]:
        channel = data["ChannelName"][rows]
        labels = channel if name is None else np.array([f"{name}:{c}" for c in channel], object)
        if name is not None and len(set(channel)) == 1:
            labels = np.full(len(channel), name, dtype=object)
        return concat_events([make_events(labels, t, np.nan, source)])
    polarity = _polarity(path, data[text[0]][rows], lines, text[0])
    rises, falls = t[polarity], t[~polarity]
    duration = np.full(len(rises), np.nan)
    if len(falls):
        nxt = np.searchsorted(falls, rises, side="right")
        ends = nxt < len(falls)
        duration[ends] = falls[nxt[ends]] - rises[ends]
    return concat_events([make_events(name or path.stem, rises, duration, source)])


def _polarity(path: Path, cells: np.ndarray, lines: np.ndarray, column: str) -> np.ndarray:
    """True/False (or 1/0) cells as booleans: True is a rising edge."""
    text = pd.Series(cells, dtype=object).astype(str).str.strip().str.lower()
    high = text.isin({"true", "1", "1.0"})
    low = text.isin({"false", "0", "0.0"})
    bad = ~(high | low)
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise data_error(
            str(path),
            f"'{cells[row]}' is not True/False",
            "the Value column holds the line level",
            line=int(lines[row]),
            column=column,
        )
    return high.to_numpy()
