"""Anomalies of a recording's timing and values, found by every reader and reported, never repaired.

Backwards, duplicated and gapped timestamps, dropped frames and frame-counter errors, saturated
and missing values: each run of consecutive affected samples is one row of the anomaly table
(:data:`~exneuro.photometry.readers_core.ANOMALY_COLUMNS`), naming the first sample, its time,
the line of the source file for text formats and a detail a biologist can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from exneuro.photometry.readers_core import (
    anomaly_table,
    concat_anomalies,
    empty_anomalies,
    runs,
)


def _fmt(values: np.ndarray, spec: str = ".6g") -> list[str]:
    return [format(float(v), spec) for v in values]


def _lines_at(lines: np.ndarray | None, rows: np.ndarray) -> Any:
    return [None] * len(rows) if lines is None else lines[rows]


def timing_anomalies(
    time_s: np.ndarray,
    gap_factor: float,
    *,
    lines: np.ndarray | None = None,
    sample_of: Callable[[np.ndarray], np.ndarray] | None = None,
    skip_gaps_at: np.ndarray | None = None,
    channel: str = "time",
) -> pd.DataFrame:
    """Backwards timestamps, duplicated timestamps and gaps in a sequence of timestamps.

    ``time_s`` are the timestamps in file order (frames for camera systems, rows for tables). A gap
    is an interval longer than ``gap_factor`` x the median of the positive intervals; a dropped
    single sample doubles the interval, so the default factor 1.5 catches it. ``sample_of`` maps
    positions in ``time_s`` to indices of the tidy arrays (identity by default); ``lines`` gives
    the file line of each position; ``skip_gaps_at`` lists positions whose gap is already
    explained (a frame-counter jump reported as dropped frames).
    """
    t = np.asarray(time_s, dtype=float)
    if len(t) < 2:
        return empty_anomalies()
    to_sample = sample_of or (lambda rows: rows)
    step = np.diff(t)
    positive = step[step > 0]
    median = float(np.median(positive, overwrite_input=True)) if positive.size else np.nan
    tables = []

    back = np.flatnonzero(step < 0) + 1
    if back.size:
        at = [""] * back.size if lines is None else [f" at line {int(n)}" for n in lines[back]]
        details = [
            f"time goes back by {d} s{where} (from {a} to {b} s): the clock or the rows are out "
            "of order there, not a missing sample"
            for d, where, a, b in zip(
                _fmt(-step[back - 1]), at, _fmt(t[back - 1]), _fmt(t[back]), strict=True
            )
        ]
        tables.append(
            anomaly_table(
                "time_backwards", channel, to_sample(back), t[back], _lines_at(lines, back), details
            )
        )

    starts, lengths = runs(step == 0)
    if starts.size:
        rows = starts + 1
        details = [
            f"{n + 1} consecutive samples share the time {v} s"
            for n, v in zip(lengths, _fmt(t[rows]), strict=True)
        ]
        tables.append(
            anomaly_table(
                "duplicate_timestamp",
                channel,
                to_sample(rows),
                t[rows],
                _lines_at(lines, rows),
                details,
            )
        )

    if np.isfinite(median):
        gaps = np.flatnonzero(step > gap_factor * median) + 1
        if skip_gaps_at is not None and gaps.size:
            gaps = np.setdiff1d(gaps, skip_gaps_at)
        if gaps.size:
            sizes = step[gaps - 1]
            details = [
                f"gap of {d} s ({r} x the median interval {m} s) after {a} s"
                for d, r, m, a in zip(
                    _fmt(sizes),
                    _fmt(sizes / median, ".3g"),
                    _fmt(np.full(gaps.size, median)),
                    _fmt(t[gaps - 1]),
                    strict=True,
                )
            ]
            tables.append(
                anomaly_table(
                    "gap", channel, to_sample(gaps), t[gaps], _lines_at(lines, gaps), details
                )
            )
    return concat_anomalies(tables)


def saturation_anomalies(
    values: np.ndarray,
    limits: tuple[float, float],
    channel: str,
    time_s: np.ndarray,
    *,
    lines: np.ndarray | None = None,
    units: str = "",
) -> pd.DataFrame:
    """Runs of samples at or beyond the ADC/camera limit ``(low, high)``: one row per run."""
    low, high = limits
    if not (np.isfinite(low) or np.isfinite(high)):
        return empty_anomalies()
    v = np.asarray(values, dtype=float)
    starts, lengths = runs((v >= high) | (v <= low))
    if not starts.size:
        return empty_anomalies()
    peak = np.maximum.reduceat(np.where(np.isfinite(v), v, -np.inf), starts)
    trough = np.minimum.reduceat(np.where(np.isfinite(v), v, np.inf), starts)
    if np.isfinite(low) and np.isfinite(high):
        limit = f"outside the range {low:g} to {high:g} {units}"
    elif np.isfinite(high):
        limit = f"at or above the limit {high:g} {units}"
    else:
        limit = f"at or below the limit {low:g} {units}"
    details = [
        f"{n} sample(s) {limit.rstrip()} (from {lo:g} to {hi:g})"
        for n, lo, hi in zip(lengths, trough, peak, strict=True)
    ]
    return anomaly_table(
        "saturation", channel, starts, np.asarray(time_s)[starts], _lines_at(lines, starts), details
    )


def missing_anomalies(
    values: np.ndarray,
    channel: str,
    time_s: np.ndarray,
    *,
    lines: np.ndarray | None = None,
    cause: str = "",
) -> pd.DataFrame:
    """Runs of empty or non-finite values: reported, and left as NaN for the analysis to decide.
    ``cause`` replaces the generic explanation when the reader knows it."""
    starts, lengths = runs(~np.isfinite(np.asarray(values, dtype=float)))
    if not starts.size:
        return empty_anomalies()
    why = cause or (
        "an empty cell, or a control that cannot be interpolated because the timestamps around "
        "it do not increase"
    )
    details = [f"{n} missing value(s), kept as NaN ({why})" for n in lengths]
    return anomaly_table(
        "missing_value",
        channel,
        starts,
        np.asarray(time_s)[starts],
        _lines_at(lines, starts),
        details,
    )


def frame_counter_anomalies(
    counter: np.ndarray,
    time_s: np.ndarray,
    *,
    lines: np.ndarray | None = None,
    sample_of: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Dropped frames (the frame counter jumps by more than 1) and counter repeats/resets.

    Returns the anomaly rows and the positions of the jumps, so that the gap they leave in the
    timestamps is not reported a second time.
    """
    c = np.asarray(counter, dtype=float)
    to_sample = sample_of or (lambda rows: rows)
    step = np.diff(c)
    jumps = np.flatnonzero(step > 1) + 1
    back = np.flatnonzero(step <= 0) + 1
    t = np.asarray(time_s, dtype=float)
    tables = [
        anomaly_table(
            "dropped_frames",
            "frames",
            to_sample(jumps),
            t[jumps],
            _lines_at(lines, jumps),
            [
                f"{int(n) - 1} frame(s) missing: the frame counter jumps from {int(a)} to {int(b)}"
                for n, a, b in zip(step[jumps - 1], c[jumps - 1], c[jumps], strict=True)
            ],
        ),
        anomaly_table(
            "frame_counter_error",
            "frames",
            to_sample(back),
            t[back],
            _lines_at(lines, back),
            [
                f"the frame counter goes from {int(a)} to {int(b)}"
                for a, b in zip(c[back - 1], c[back], strict=True)
            ],
        ),
    ]
    return concat_anomalies(tables), jumps


def channel_anomalies(
    signal: np.ndarray,
    control: np.ndarray,
    time_s: np.ndarray,
    limits: Mapping[str, tuple[float, float]],
    *,
    lines: np.ndarray | None = None,
    units: str = "",
    control_cause: str = "",
) -> pd.DataFrame:
    """Saturation and missing values of both channels of a tidy recording (``control_cause``:
    why the control has NaN, when the reader knows)."""
    tables = []
    for name, values in (("signal", signal), ("control", control)):
        tables.append(
            saturation_anomalies(values, limits[name], name, time_s, lines=lines, units=units)
        )
        cause = control_cause if name == "control" else ""
        tables.append(missing_anomalies(values, name, time_s, lines=lines, cause=cause))
    return concat_anomalies(tables)
