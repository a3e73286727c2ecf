"""Exercise-epoch metrics of processed photometry sessions, and their group × day statistics.

Windows are defined relative to the run's onset or offset, in the config as e.g.::

    - {name: baseline, ref: onset, start_s: -600, end_s: 0}
    - {name: running, ref: onset, start_s: 0, end_s: offset}
    - {name: post_0_15, ref: offset, start_s: 0, end_s: 900}
    - {name: post_15_60, ref: offset, start_s: 900, end_s: 3600}

``start_s``/``end_s`` are seconds from ``ref`` (``onset``, ``offset`` or ``session`` = the
recording's clock), or the words ``onset``/``offset`` for that event's time itself. A ``ref``
naming one of the recording's events (``cue``, ``lick``, ``shock``) places the window around
each of the session's events of that name (``{name: cue_0_5, ref: cue, start_s: 0, end_s: 5}``);
its metrics are the means over those events (a session without such an event: NaN, coverage 0).

Per window and trace column (ΔF/F and its z-score), :func:`epoch_metrics` gives the area under
the curve in units × seconds, the time-averaged mean, the peak (maximum) and its latency from
the window start. The area is the exact integral over [start, end] of the trace linearly
interpolated between samples (the trapezoid rule on the time axis, with partial intervals at the
window edges), so it does not depend on the sampling rate or on where the samples fall —
GuPPy's historic default integrated over sample indices, which scales the AUC with fs
(notes §2.8; GuPPy PR #415). The mean is that integral divided by the covered duration.

A window is measured only where the recording covers it: the part of it before the first or
after the last sample (a truncated file, a recording stopped early), inside a gap (an interval
longer than :data:`GAP_FACTOR` × the median sampling interval: lost samples are not
interpolated) or in a span left out (disconnected, excluded in the config) is not covered. A
window covered below the minimum (``min_window_coverage``, default
:data:`DEFAULT_MIN_COVERAGE`) gets NaN metrics — a mean over 37 % of a window is another
quantity — and is named by :func:`coverage_shortfalls` for the session's QC row.

Their group × day statistics are in :mod:`exneuro.photometry.epoch_stats`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError, InputDataError

WINDOW_REFS = ("onset", "offset", "session")
EVENT_WORDS = ("onset", "offset")

#: An interval between samples longer than this many median intervals is a gap: not covered.
#: (1.5, as the readers' gap check: one lost sample doubles the interval.)
GAP_FACTOR = 1.5

#: Smallest covered fraction of a window whose metrics are computed (``min_window_coverage``).
DEFAULT_MIN_COVERAGE = 0.9

#: Default windows (seconds): 10 min rest, the run, then 0-15 and 15-60 min after the run.
DEFAULT_WINDOWS: list[dict[str, Any]] = [
    {"name": "baseline", "ref": "onset", "start_s": -600, "end_s": 0},
    {"name": "running", "ref": "onset", "start_s": 0, "end_s": "offset"},
    {"name": "post_0_15", "ref": "offset", "start_s": 0, "end_s": 900},
    {"name": "post_15_60", "ref": "offset", "start_s": 900, "end_s": 3600},
]


def resolve_windows(
    windows: Sequence[Mapping[str, Any]],
    run_onset_s: float,
    run_offset_s: float,
    events: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Absolute bounds of each window: ``window``, ``ref``, ``start_s``, ``end_s``.

    ``events``: the session's event times by name. A window whose ``ref`` is an event name
    gets one row per event of that name (none in ``events``: one row with NaN bounds), with
    its bounds relative to the event in ``rel_start_s``/``rel_end_s`` (NaN for other windows).
    Raises :class:`~exneuro.errors.ConfigError` naming the window for an event window bounded by
    the run's words, a missing key, a duplicated name or an end not after the start.
    """
    event_times = events or {}
    on_run = [
        spec
        for spec in windows
        if spec.get("ref") in EVENT_WORDS
        or {spec.get("start_s"), spec.get("end_s")} & set(EVENT_WORDS)
    ]
    if on_run and not run_onset_s < run_offset_s:  # NaN run times: a session without a run
        raise InputDataError(
            f"run onset {run_onset_s} s is not before run offset {run_offset_s} s (window "
            f"{on_run[0].get('name')!r} is placed relative to the run)"
        )
    events = {"onset": float(run_onset_s), "offset": float(run_offset_s), "session": 0.0}
    rows = []
    for index, spec in enumerate(windows):
        name = spec.get("name", f"#{index + 1}")
        missing = {"name", "ref", "start_s", "end_s"} - set(spec)
        if missing:
            raise ConfigError(f"photometry window {name!r} lacks {sorted(missing)}")
        if spec["ref"] not in WINDOW_REFS:  # around each event of that name
            rows += _event_window_rows(str(name), spec, event_times.get(spec["ref"], ()))
            continue

        def bound(value: Any, key: str, name: str = name, ref: str = spec["ref"]) -> float:
            if isinstance(value, str):
                if value not in EVENT_WORDS:
                    raise ConfigError(
                        f"photometry window {name!r}: {key} {value!r} must be seconds or one of "
                        f"{EVENT_WORDS}"
                    )
                return events[value]
            return events[ref] + float(value)

        start, end = bound(spec["start_s"], "start_s"), bound(spec["end_s"], "end_s")
        if not end > start:
            raise ConfigError(
                f"photometry window {name!r} ends ({end:g} s) before it starts ({start:g} s)"
            )
        rows.append({"window": str(name), "ref": spec["ref"], "start_s": start, "end_s": end})
    names = [str(spec.get("name", f"#{i + 1}")) for i, spec in enumerate(windows)]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ConfigError(f"photometry window names repeat: {duplicated}")
    columns = ["window", "ref", "start_s", "end_s", "rel_start_s", "rel_end_s"]
    return pd.DataFrame(rows, columns=columns)


def _event_window_rows(
    name: str, spec: Mapping[str, Any], times: Sequence[float]
) -> list[dict[str, Any]]:
    """The rows of a window around each event of ``spec['ref']`` at ``times``."""
    if any(isinstance(spec[key], str) for key in ("start_s", "end_s")):
        raise ConfigError(
            f"photometry window {name!r} is around each '{spec['ref']}': give start_s and end_s "
            "in seconds from the event"
        )
    start, end = float(spec["start_s"]), float(spec["end_s"])
    if not end > start:
        raise ConfigError(f"photometry window {name!r} ends ({end:g} s) before it starts")
    at = np.asarray(times, dtype=float) if len(times) else np.array([np.nan])
    return [
        {
            "window": name,
            "ref": spec["ref"],
            "start_s": t + start,
            "end_s": t + end,
            "rel_start_s": start,
            "rel_end_s": end,
        }
        for t in at
    ]


def interval_integral(
    time_s: np.ndarray,
    values: np.ndarray,
    start_s: np.ndarray,
    end_s: np.ndarray,
    interval_weight: np.ndarray | None = None,
) -> np.ndarray:
    """∫ x(t) dt over each [start, end] (clipped to the recording), x linear between samples.

    Vectorized over intervals: one cumulative trapezoid ``F(t_i)``, then
    ``F(τ) = F(t_i) + w_i (τ − t_i)(x_i + x(τ))/2`` at each bound (exact for piecewise-linear
    x). ``interval_weight`` ``w_i`` (one per interval between samples; default 1) is 0 on the
    intervals that do not count (gaps).
    """
    t = np.asarray(time_s, dtype=float)
    x = np.asarray(values, dtype=float)
    w = np.ones(len(t) - 1) if interval_weight is None else np.asarray(interval_weight, float)
    cum = np.concatenate([[0.0], np.cumsum(w * np.diff(t) * (x[1:] + x[:-1]) / 2.0)])

    def primitive(tau: np.ndarray) -> np.ndarray:
        tau = np.clip(np.asarray(tau, dtype=float), t[0], t[-1])
        i = np.clip(np.searchsorted(t, tau, side="right") - 1, 0, len(t) - 2)
        frac = (tau - t[i]) / (t[i + 1] - t[i])
        x_tau = x[i] + frac * (x[i + 1] - x[i])
        return cum[i] + w[i] * (tau - t[i]) * (x[i] + x_tau) / 2.0

    return primitive(end_s) - primitive(start_s)


def epoch_metrics(
    session_table: pd.DataFrame,
    run_onset_s: float,
    run_offset_s: float,
    windows: Sequence[Mapping[str, Any]] | None = None,
    columns: Sequence[str] = ("dff", "z"),
    min_coverage: float = 0.0,
    events: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Metrics of each window of one session, one row per window × metric (tidy).

    ``events``: the session's event times by name, for windows placed around each event
    (:func:`resolve_windows`): their metrics are the means over the events (the peak, the mean
    of each event's peak), ``start_s``/``end_s`` are relative to the event, ``coverage`` the
    mean over the events (0 without an event) and ``n_samples`` the sum.

    ``session_table`` has ``time_s`` (increasing, session clock) and the ``columns`` (from
    :func:`exneuro.photometry.preprocess.preprocess_session`). For column ``c`` the metrics are
    ``mean_c`` (time average), ``auc_c_s`` (units × s), ``peak_c`` (maximum sample) and
    ``peak_latency_c_s`` (seconds from the window start to the peak).

    Columns of the result: ``window``, ``ref``, ``start_s``, ``end_s`` (absolute),
    ``coverage`` (fraction of the window inside the recording), ``n_samples``, ``metric``,
    ``value``. A window outside the recording gets NaN values and coverage 0 — never dropped.
    NaN samples (spans left out as disconnected or excluded in the config) do not count: the mean
    is over the usable time, ``auc`` that mean × the window's recorded duration, ``coverage`` the
    usable fraction of the window and the peak the largest usable sample. Gaps in ``time_s``
    (intervals over :data:`GAP_FACTOR` × the median) are not covered. A window whose coverage is
    below ``min_coverage`` gets NaN values (its ``coverage`` says why).
    """
    bounds = resolve_windows(
        DEFAULT_WINDOWS if windows is None else windows, run_onset_s, run_offset_s, events
    )
    missing = [c for c in ("time_s", *columns) if c not in session_table.columns]
    if missing:
        raise KeyError(f"session table lacks column(s) {missing} needed for the epoch metrics")
    t = session_table["time_s"].to_numpy(float)
    if len(t) < 2 or np.any(np.diff(t) <= 0):
        raise InputDataError("session time_s must have at least 2 strictly increasing samples")
    starts = bounds["start_s"].to_numpy()
    ends = bounds["end_s"].to_numpy()
    step = np.diff(t)
    gaps = step > GAP_FACTOR * np.median(step)
    weight = (~gaps).astype(float) if gaps.any() else None
    covered = np.clip(ends, t[0], t[-1]) - np.clip(starts, t[0], t[-1])
    first = np.searchsorted(t, starts, side="left")
    last = np.searchsorted(t, ends, side="right")
    n_samples = last - first
    records = []
    coverage = covered / (ends - starts)
    for column in columns:
        x = session_table[column].to_numpy(float)
        finite = np.isfinite(x)
        usable = (
            covered
            if finite.all() and weight is None
            else interval_integral(t, finite.astype(float), starts, ends, weight)
        )
        area = interval_integral(t, np.where(finite, x, 0.0), starts, ends, weight)
        coverage = usable / (ends - starts)
        measured = (usable > 0) & (coverage >= min_coverage)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(measured, area / np.where(usable > 0, usable, 1.0), np.nan)
        auc = np.where(measured, mean * covered, np.nan)
        for k in range(len(bounds)):
            segment = x[first[k] : last[k]]
            if measured[k] and np.isfinite(segment).any():
                j = int(np.nanargmax(segment))
                peak, latency = float(segment[j]), float(t[first[k] + j] - starts[k])
            else:
                peak = latency = float("nan")
            for metric, value in (
                (f"mean_{column}", mean[k]),
                (f"auc_{column}_s", auc[k]),
                (f"peak_{column}", peak),
                (f"peak_latency_{column}_s", latency),
            ):
                records.append((k, metric, float(value)))
    index, metric, value = zip(*records, strict=True) if records else ((), (), ())
    out = bounds.iloc[list(index)].reset_index(drop=True)
    out["duration_s"] = (out["end_s"] - out["start_s"]).to_numpy()
    out["coverage"] = coverage[list(index)]
    out["n_samples"] = n_samples[list(index)]
    out["metric"] = list(metric)
    out["value"] = list(value)
    out = _mean_over_events(out, min_coverage)
    order = {w: i for i, w in enumerate(bounds["window"])}
    out = out.sort_values(
        ["window", "metric"],
        key=lambda s: s.map(order) if s.name == "window" else s,
        kind="stable",
    )
    return out.reset_index(drop=True)


def coverage_shortfalls(metrics: pd.DataFrame, min_coverage: float) -> tuple[float, str]:
    """The smallest coverage of a session's windows, and the windows below ``min_coverage``.

    ``metrics``: :func:`epoch_metrics` output. The text names each short window with its
    coverage and span, e.g. ``post_0_15 covered 37% of 1500-2400 s (< 90%)``; empty when every
    window is covered enough. Used as the session's QC reason: the window's metrics are NaN.
    """
    if metrics.empty:
        return float("nan"), ""
    per_window = metrics.groupby("window", sort=False).agg(
        coverage=("coverage", "min"), start_s=("start_s", "first"), end_s=("end_s", "first")
    )
    short = per_window[per_window["coverage"] < min_coverage]
    text = "; ".join(
        f"{name} covered {row.coverage:.0%} of {row.start_s:g}-{row.end_s:g} s "
        f"(< {min_coverage:.0%})"
        for name, row in short.iterrows()
    )
    return float(per_window["coverage"].min()), text


def _mean_over_events(rows: pd.DataFrame, min_coverage: float = 0.0) -> pd.DataFrame:
    """One row per window × metric: the rows of a window around each event averaged.

    An event whose window the recording covers below ``min_coverage`` (its values are NaN) is
    left out of the mean and of the coverage, so that one cue cut by the end of the recording
    does not fail the session; the window's coverage is the mean over the events used (over all
    of them when none is covered enough).
    """
    around = rows["rel_start_s"].notna()
    columns = [c for c in rows.columns if c not in ("rel_start_s", "rel_end_s")]
    if not around.any():
        return rows[columns]
    rows = rows.copy()
    enough = rows["coverage"] >= min_coverage
    key = [rows["window"], rows["metric"]]
    any_enough = enough.groupby(key).transform("any")
    rows["coverage"] = rows["coverage"].where(enough | ~any_enough)
    averaged = (
        rows[around]
        .groupby(["window", "metric"], sort=False)
        .agg(
            ref=("ref", "first"),
            start_s=("rel_start_s", "first"),
            end_s=("rel_end_s", "first"),
            coverage=("coverage", "mean"),
            n_samples=("n_samples", "sum"),
            value=("value", "mean"),
        )
        .reset_index()
    )
    averaged["duration_s"] = averaged["end_s"] - averaged["start_s"]
    averaged["coverage"] = averaged["coverage"].fillna(0.0)
    return pd.concat([rows.loc[~around, columns], averaged[columns]], ignore_index=True)
