"""Photometry figure: activity around the run across training, per group.

Panels (each function draws one axis and returns the exact numbers drawn, the panel's source
data):

* :func:`plot_session_traces` — ΔF/F across the session, mean ± SEM across mice, first vs last
  training day, the run shaded (one panel per group);
* :func:`plot_heatmap` — every mouse × time on one day, grouped by group;
* :func:`plot_window_metric` — a window metric (e.g. mean ΔF/F 0-15 min after the run) across
  training days: every mouse as a thin line, group mean ± SEM on top, stars for the group
  contrast at each day read from the statistics table (never recomputed);
* :func:`plot_peri_event` — mean waveform around an event with its bootstrap CI per group and
  the significant intervals of the consecutive-threshold test as bars.

Each is drawn through a panel type (:mod:`exneuro.paper.activity`): the photometry figure of
the workflow is a declared figure (:mod:`exneuro.paper.standard.activity`).

Inputs are tidy tables: ``traces`` (``mouse``, ``group``, ``day``, ``time_s`` from run onset on a
common grid — :func:`exneuro.photometry.peri_event.binned_trace` — and ``dff``), ``metrics``
(``mouse``, ``group``, ``day``, ``window``, ``metric``, ``value``), ``peri_summary`` (``group``,
``lag_s``, ``mean``, ``ci_low``, ``ci_high``) and ``intervals`` (``group``, ``start_s``,
``end_s``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib import transforms

from exneuro.figures.photometry_metric import (
    mean_sem,
)
from exneuro.figures.style import (
    legend_above,
    title_above_legend,
)
from exneuro.figures.treadmill import SPLIT_LINES, split_levels

#: What the run's events are called in labels and legends.
RUN_EVENT_NAMES = {"run": "run onset", "onset": "run onset", "offset": "run offset"}


@dataclass(frozen=True)
class TraceAlignment:
    """How a trace or heatmap panel lines sessions up, and how its labels say so.

    ``alignment``: the rows of the aligned table drawn (``run_onset``, ``session`` or an event
    name); ``x_label``: the time axis without its unit; ``phrase``: what the legend says is
    drawn; ``zero_is_event``: time 0 is an event (dashed in the heatmap).
    """

    alignment: str
    x_label: str
    phrase: str
    zero_is_event: bool
    shade_run: bool


def trace_alignment(event: str) -> TraceAlignment:
    """The alignment of ``event``: ``run`` (the binned session on the run-onset grid, the run
    shaded), ``session`` (sessions without a run: the whole session from its first sample), or
    a peri-event alignment (``onset``/``offset`` of the run, or any named event such as cue,
    lick, shock: the session's mean over its events, per-trial baseline subtracted)."""
    if event == "run":
        return TraceAlignment(
            "run_onset", "Time from run onset", "around the run (grey)", True, True
        )
    if event == "session":
        return TraceAlignment("session", "Time in session", "over the whole session", False, False)
    if event in RUN_EVENT_NAMES:
        phrase = f"around the {RUN_EVENT_NAMES[event]} (baseline-subtracted)"
    else:
        phrase = f"around each {event} (per session the mean over its {event} events, "
        phrase += "baseline-subtracted)"
    name = RUN_EVENT_NAMES.get(event, event)
    return TraceAlignment(event, f"Time from {name}", phrase, True, False)


def time_unit_s(traces: pd.DataFrame) -> float:
    """Seconds (1) for traces spanning at most 3 min (event-locked), else minutes (60)."""
    span_s = float(traces["time_s"].max() - traces["time_s"].min()) if len(traces) else 0.0
    return span_unit_s(span_s)


def span_unit_s(span_s: float) -> float:
    """Seconds (1) for a time axis spanning at most 3 min (event-locked), else minutes (60)."""
    return 1.0 if span_s <= 180.0 else 60.0


def time_label(x_label: str, unit_s: float) -> str:
    """'Time from cue' and 1 -> 'Time from cue (s)'; with 60 -> '(min)'."""
    return f"{x_label} ({'s' if unit_s == 1.0 else 'min'})"


def _lighter(colour: str, amount: float = 0.55) -> tuple[float, float, float]:
    """``colour`` mixed with white (first-day traces in the group's hue)."""
    rgb = np.array(mcolors.to_rgb(colour))
    return tuple(rgb + (1.0 - rgb) * amount)


def trace_legend_columns(days: Sequence, split: str | None) -> int:
    """Columns of a trace panel's legend: one per day, or with a split (days and levels as
    separate entries, short enough for a narrow panel) a column of days and one of levels."""
    return 2 if split else len(days)


def plot_session_traces(
    axis,
    traces: pd.DataFrame,
    group: str,
    days: Sequence,
    colour: str,
    run_duration_s: float,
    title: str | None = None,
    x_label: str = "Time from run onset (min)",
    unit_s: float = 60.0,
    split: str | None = None,
) -> pd.DataFrame:
    """Mean ± SEM across mice of ΔF/F (%) over the session on each of ``days`` (first day light,
    last day in the group colour); the run from 0 to ``run_duration_s`` shaded (0: no run).
    Time 0 is the run onset, the event ``x_label`` names, or the session's first sample; the
    time axis in units of ``unit_s`` seconds (60: minutes). ``split`` (a column of ``traces``,
    a fixed model factor such as sex): one mean per day x level, the levels told apart by line
    style and named in the legend (the days by shade), so that no drawn mean mixes them."""
    data = traces[(traces["group"] == group) & traces["day"].isin(list(days))]
    levels = split_levels(data, split)
    split = split if levels != [None] else None
    keys = [*([split] if split else []), "day", "time_s"]
    summary = mean_sem(
        data.assign(**{split: data[split].astype(str)}) if split else data, keys, "dff"
    )
    if run_duration_s > 0:
        axis.axvspan(0, run_duration_s / unit_s, color="0.9", lw=0, zorder=0)
    for index, day in enumerate(days):
        shade = _lighter(colour) if index == 0 and len(days) > 1 else mcolors.to_rgb(colour)
        for k, level in enumerate(levels):
            part = summary[summary["day"] == day]
            if split:
                part = part[part[split] == level]
            x = part["time_s"].to_numpy() / unit_s
            y = part["mean"].to_numpy() * 100
            err = part["sem"].to_numpy() * 100
            axis.fill_between(x, y - err, y + err, color=shade, alpha=0.3, lw=0, zorder=1)
            label = None if split else f"Day {day}"
            axis.plot(x, y, color=shade, lw=0.7, ls=SPLIT_LINES[k], label=label, zorder=2)
        if split:  # legend entries: the day's shade, then (below) the levels' line styles
            axis.plot([], [], color=shade, lw=0.7, label=f"Day {day}")
    for k, level in enumerate(levels if split else []):
        axis.plot([], [], color="0.35", lw=0.7, ls=SPLIT_LINES[k], label=level)
    axis.axhline(0, color="black", lw=0.4, zorder=0)
    axis.set_xlabel(x_label)
    axis.set_ylabel("ΔF/F (%)")
    # the traces fill the axes; with a split, a column of days beside a column of levels
    legend_above(axis, ncols=trace_legend_columns(days, split), handlelength=1.0)
    if title:
        title_above_legend(axis, title)
    columns = ["group", *([split] if split else []), "day", "time_s", "mean", "sem", "n_mice"]
    return summary.assign(group=group)[columns]


def plot_peri_event(
    axis,
    summary: pd.DataFrame,
    intervals: pd.DataFrame,
    group_order: Sequence[str],
    colours: Mapping[str, str],
    labels: Mapping[str, str],
    event_label: str = "Run offset",
    ylabel: str = "ΔF/F (%, baseline-subtracted)",
    scale: float = 100.0,
    pooled: str | None = None,
) -> pd.DataFrame:
    """Mean waveform ± bootstrap CI around the event per group, significant intervals as bars
    above the traces: one row per group (against its pre-event baseline, in the group's colour),
    then one black row per group comparison (``intervals`` rows whose ``group`` is not a group,
    e.g. ``silenced - control``). ``pooled`` (a model factor such as sex that the waveform test
    does not include): the legend's title says the waveforms pool its levels."""
    top = float(np.nanmax(summary["ci_high"])) * scale if len(summary) else 1.0
    bottom = float(np.nanmin(summary["ci_low"])) * scale if len(summary) else 0.0
    span = max(top - bottom, 1e-12)
    for g_index, group in enumerate(group_order):
        part = summary[summary["group"] == group]
        if part.empty:
            continue
        x = part["lag_s"].to_numpy()
        axis.fill_between(
            x,
            part["ci_low"] * scale,
            part["ci_high"] * scale,
            color=colours[group],
            alpha=0.25,
            lw=0,
        )
        axis.plot(
            x, part["mean"] * scale, color=colours[group], lw=0.7, label=labels.get(group, group)
        )
        bars = intervals[intervals["group"] == group]
        height = top + span * (0.05 + 0.06 * g_index)
        for row in bars.itertuples(index=False):
            axis.plot(
                [row.start_s, row.end_s],
                [height, height],
                color=colours[group],
                lw=1.5,
                solid_capstyle="butt",
            )
    comparisons = [g for g in dict.fromkeys(intervals["group"]) if g not in group_order]
    for c_index, comparison in enumerate(comparisons):
        height = top + span * (0.05 + 0.06 * (len(group_order) + c_index))
        for row in intervals[intervals["group"] == comparison].itertuples(index=False):
            axis.plot(
                [row.start_s, row.end_s],
                [height, height],
                color="black",
                lw=1.5,
                solid_capstyle="butt",
            )
        axis.text(
            0.01,
            height,
            " vs ".join(labels.get(g, g) for g in comparison.split(" - ")),
            transform=transforms.blended_transform_factory(axis.transAxes, axis.transData),
            va="center",
            ha="left",
            fontsize=plt.rcParams["font.size"] - 1,
        )
    axis.axvline(0, color="black", lw=0.5, ls="--")
    axis.axhline(0, color="black", lw=0.4)
    axis.set_xlabel(f"Time from {event_label.lower()} (s)")
    axis.set_ylabel(ylabel)
    legend_above(axis, ncols=len(group_order), title=f"{pooled} pooled" if pooled else None)
    drawn = summary[summary["group"].isin(list(group_order))].copy()
    drawn = drawn.assign(kind="waveform")
    marks = intervals.assign(kind="significant")
    return pd.concat([drawn, marks], ignore_index=True)
