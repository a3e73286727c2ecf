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

:func:`photometry_figure` composes them and writes PDF/SVG/PNG plus one source-data table per
panel with :func:`exneuro.figures.style.save_with_source_data`.

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
    QC_FAILED,
    mean_sem,
    plot_window_metric,
)
from exneuro.figures.style import (
    apply_style,
    group_palette,
    legend_above,
    mm,
    save_with_source_data,
    title_above_legend,
)
from exneuro.model_factors import attach_sheet_columns


def _panel_label(axis, letter: str) -> None:
    """Bold panel letter 7 mm left of and 3 mm above the axes' top-left corner (a fixed
    distance, so wide and narrow panels line up; ``style.panel_label`` offsets by axes width)."""
    offset = transforms.ScaledTranslation(-mm(7), mm(3), axis.figure.dpi_scale_trans)
    axis.text(
        0,
        1,
        letter,
        transform=axis.transAxes + offset,
        fontweight="bold",
        fontsize=plt.rcParams["font.size"] + 1,
        va="bottom",
        ha="left",
    )


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
    return 1.0 if span_s <= 180.0 else 60.0


def time_label(x_label: str, unit_s: float) -> str:
    """'Time from cue' and 1 -> 'Time from cue (s)'; with 60 -> '(min)'."""
    return f"{x_label} ({'s' if unit_s == 1.0 else 'min'})"


def _lighter(colour: str, amount: float = 0.55) -> tuple[float, float, float]:
    """``colour`` mixed with white (first-day traces in the group's hue)."""
    rgb = np.array(mcolors.to_rgb(colour))
    return tuple(rgb + (1.0 - rgb) * amount)


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
) -> pd.DataFrame:
    """Mean ± SEM across mice of ΔF/F (%) over the session on each of ``days`` (first day light,
    last day in the group colour); the run from 0 to ``run_duration_s`` shaded (0: no run).
    Time 0 is the run onset, the event ``x_label`` names, or the session's first sample; the
    time axis in units of ``unit_s`` seconds (60: minutes)."""
    data = traces[(traces["group"] == group) & traces["day"].isin(list(days))]
    summary = mean_sem(data, ["day", "time_s"], "dff")
    if run_duration_s > 0:
        axis.axvspan(0, run_duration_s / unit_s, color="0.9", lw=0, zorder=0)
    for index, day in enumerate(days):
        part = summary[summary["day"] == day]
        shade = _lighter(colour) if index == 0 and len(days) > 1 else mcolors.to_rgb(colour)
        x = part["time_s"].to_numpy() / unit_s
        y = part["mean"].to_numpy() * 100
        err = part["sem"].to_numpy() * 100
        axis.fill_between(x, y - err, y + err, color=shade, alpha=0.3, lw=0, zorder=1)
        axis.plot(x, y, color=shade, lw=0.7, label=f"Day {day}", zorder=2)
    axis.axhline(0, color="black", lw=0.4, zorder=0)
    axis.set_xlabel(x_label)
    axis.set_ylabel("ΔF/F (%)")
    legend_above(axis, ncols=len(days), handlelength=1.0)  # the traces fill the axes
    if title:
        title_above_legend(axis, title)
    return summary.assign(group=group)[["group", "day", "time_s", "mean", "sem", "n_mice"]]


def plot_heatmap(
    axis,
    traces: pd.DataFrame,
    day,
    group_order: Sequence[str],
    labels: Mapping[str, str],
    run_duration_s: float | None = None,
    failed_qc: Mapping[str, str] | None = None,
    x_label: str = "Time from run onset (min)",
    unit_s: float = 60.0,
    zero_is_event: bool = True,
) -> pd.DataFrame:
    """Mice × time heatmap of ΔF/F (%) on ``day``, mice grouped in ``group_order`` (symmetric
    diverging colour scale at the 99th percentile of |ΔF/F|); the event at time 0 (unless
    ``zero_is_event`` is False: whole sessions) and the run's end dashed. Spans
    left out of a session (disconnected, excluded) stay blank. ``failed_qc`` (mouse → QC reasons
    of its session on ``day``): those rows are marked with a red cross at the right edge and the
    source data gain a ``qc_failed`` column."""
    data = traces[traces["day"] == day]
    order = {group: index for index, group in enumerate(group_order)}
    mice = (
        data[["mouse", "group"]]
        .drop_duplicates()
        .assign(rank=lambda f: f["group"].map(order))
        .sort_values(["rank", "mouse"])
    )
    wide = data.pivot_table(index="mouse", columns="time_s", values="dff", aggfunc="mean")
    wide = wide.reindex(mice["mouse"])
    values = wide.to_numpy() * 100
    times = wide.columns.to_numpy(float) / unit_s
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    limit = float(np.nanpercentile(np.abs(values), 99)) if np.isfinite(values).any() else 1.0
    image = axis.imshow(
        values,
        aspect="auto",
        interpolation="nearest",
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        extent=(times[0] - step / 2, times[-1] + step / 2, len(mice), 0),
    )
    counts = mice["group"].value_counts().reindex(list(group_order)).fillna(0).astype(int)
    bounds = np.cumsum(counts.to_numpy())
    for bound in bounds[:-1]:
        axis.axhline(bound, color="black", lw=0.6)
    centres = bounds - counts.to_numpy() / 2.0
    shown = counts.to_numpy() > 0
    axis.set_yticks(
        centres[shown],
        [labels.get(g, g) for g in counts.index[shown]],
        rotation=90,
        va="center",
    )
    axis.tick_params(axis="y", length=0)
    edges = [0.0] if zero_is_event else []
    edges += [run_duration_s / unit_s] if run_duration_s else []
    for edge in edges:
        axis.axvline(edge, color="black", lw=0.5, ls="--")
    axis.set_xlabel(x_label)
    axis.set_title(f"Day {day}")
    columns = ["mouse", "group", "day", "time_s", "dff"]
    long = data.merge(mice[["mouse"]], on="mouse")
    if failed_qc is not None:
        rows = np.flatnonzero(mice["mouse"].isin(list(failed_qc)).to_numpy())
        if rows.size:
            axis.plot(
                np.full(rows.size, times[-1] + step / 2),
                rows + 0.5,
                "x",
                color=QC_FAILED,
                ms=3,
                clip_on=False,
                label="failed QC",
            )
            axis.legend(loc="lower left", bbox_to_anchor=(0.0, 1.08), handlelength=0.8)
        long = long.assign(qc_failed=long["mouse"].map(dict(failed_qc)).fillna(""))
        columns.append("qc_failed")
    colourbar = axis.figure.colorbar(image, ax=axis, fraction=0.06, pad=0.02)
    colourbar.set_label("ΔF/F (%)")
    colourbar.outline.set_linewidth(0.5)
    return long[columns].sort_values(
        ["group", "mouse", "time_s"], key=lambda s: s.map(order) if s.name == "group" else s
    )


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
) -> pd.DataFrame:
    """Mean waveform ± bootstrap CI around the event per group, significant intervals as bars
    above the traces: one row per group (against its pre-event baseline, in the group's colour),
    then one black row per group comparison (``intervals`` rows whose ``group`` is not a group,
    e.g. ``silenced - control``)."""
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
    legend_above(axis, ncols=len(group_order))
    drawn = summary[summary["group"].isin(list(group_order))].copy()
    drawn = drawn.assign(kind="waveform")
    marks = intervals.assign(kind="significant")
    return pd.concat([drawn, marks], ignore_index=True)


def photometry_figure(
    traces: pd.DataFrame,
    metrics: pd.DataFrame,
    peri_summary: pd.DataFrame,
    intervals: pd.DataFrame,
    groups: Sequence[Mapping],
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
    *,
    run_duration_s: float,
    window: str = "post_0_15",
    metric: str = "mean_dff",
    statistics: pd.DataFrame | None = None,
    control: str | None = None,
    event_label: str = "Run offset",
    days: Sequence | None = None,
    failed_qc: pd.DataFrame | None = None,
    alignment: TraceAlignment | None = None,
    split: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Draw and save the photometry figure; write each panel's source data; return them.

    ``failed_qc`` (``mouse``, ``day``, ``qc_reasons``): included sessions that failed QC, marked
    in the heatmap. ``alignment``: what time 0 of the traces is (default the run onset,
    :func:`trace_alignment`). ``split`` (a column of ``metrics``, a fixed model factor such as
    sex) draws the window-metric means per group x level.

    Top row: session traces of each group (first vs last of ``days``, default the first and
    last training day) and the heatmap of the last day. Bottom row: ``metric`` in ``window``
    across days, and the peri-event waveforms with their significant intervals. ``groups`` are
    the config's groups (``id``, ``label``, ``color``); only those present in the data are
    drawn, in config order. ``style``: ``font_size_pt``, ``png_dpi``, ``full_width_mm``.
    """
    apply_style(style.get("font_size_pt", 7.0))
    colours = group_palette(groups)
    labels = {group["id"]: group.get("label", group["id"]) for group in groups}
    present = set(traces["group"]) | set(metrics["group"])
    order = [group["id"] for group in groups if group["id"] in present]
    missing = sorted(present - set(colours))
    if missing:
        raise KeyError(f"groups {missing} have no colour in the config's groups")
    all_days = sorted(traces["day"].unique().tolist())
    shown_days = list(days) if days is not None else [all_days[0], all_days[-1]]
    figure = plt.figure(figsize=(mm(style.get("full_width_mm", 174.0)), mm(112)))
    outer = figure.add_gridspec(2, 1, height_ratios=[1, 1], hspace=0.55)
    top = outer[0].subgridspec(
        1, len(order) + 1, width_ratios=[1] * len(order) + [1.35], wspace=0.45
    )
    bottom = outer[1].subgridspec(1, 2, wspace=0.35)
    # seconds for short traces (event-locked sessions), minutes for whole sessions
    alignment = alignment or trace_alignment("run")
    unit_s = time_unit_s(traces)
    trace_label = time_label(alignment.x_label, unit_s)
    source: dict[str, pd.DataFrame] = {}
    letters = iter("ABCDEFGHIJKLMNOP")
    for index, group in enumerate(order):
        axis = figure.add_subplot(top[0, index])
        letter = next(letters)
        source[letter] = plot_session_traces(
            axis,
            traces,
            group,
            shown_days,
            colours[group],
            run_duration_s,
            labels[group],
            trace_label,
            unit_s,
        )
        _panel_label(axis, letter)
    axis = figure.add_subplot(top[0, len(order)])
    letter = next(letters)
    flagged = None
    if failed_qc is not None:
        on_day = failed_qc[failed_qc["day"] == shown_days[-1]]
        flagged = dict(zip(on_day["mouse"], on_day["qc_reasons"], strict=True))
    source[letter] = plot_heatmap(
        axis,
        traces,
        shown_days[-1],
        order,
        labels,
        run_duration_s,
        flagged,
        trace_label,
        unit_s,
        alignment.zero_is_event,
    )
    _panel_label(axis, letter)
    axis = figure.add_subplot(bottom[0, 0])
    letter = next(letters)
    source[letter] = plot_window_metric(
        axis,
        metrics,
        window,
        metric,
        order,
        colours,
        labels,
        statistics,
        control,
        failed_qc,
        split,
    )
    _panel_label(axis, letter)
    axis = figure.add_subplot(bottom[0, 1])
    letter = next(letters)
    source[letter] = plot_peri_event(
        axis, peri_summary, intervals, order, colours, labels, event_label
    )
    _panel_label(axis, letter)
    figure.subplots_adjust(left=0.08, right=0.93, top=0.93, bottom=0.1)
    save_with_source_data(figure, figure_paths, style.get("png_dpi", 600), source, source_data_dir)
    return source


def study_photometry_figure(
    aligned: pd.DataFrame,
    metrics: pd.DataFrame,
    qc: pd.DataFrame,
    waveforms: pd.DataFrame,
    intervals: pd.DataFrame,
    statistics: pd.DataFrame,
    control: str,
    settings: Mapping,
    groups: Sequence[Mapping],
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
    split: str | None = None,
    sheet: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """:func:`photometry_figure` from the workflow's tables (included sessions only); ``split``
    names a sample-sheet column (of ``sheet``) the window metric is drawn apart by.

    ``settings``: the config's photometry ``figure``, ``peri_event`` and ``run_event`` (null:
    sessions without a run; the trace panels show the mean trace around the first event, or
    the whole session when no event is named). The waveform panel shows the first peri-event
    alignment on its first tested day, each group with its intervals of significance against
    the pre-event baseline, and the intervals where groups differ.
    """
    kept = aligned[aligned["included"].astype(bool)]
    events = settings["peri_event"]["events"]
    event = events[0] if events else None
    with_run = settings["run_event"] is not None  # else: traces around the first event
    alignment = trace_alignment("run" if with_run else event or "session")
    traces = kept[(kept["alignment"] == alignment.alignment) & (kept["column"] == "dff")].rename(
        columns={"value": "dff"}
    )
    tested = waveforms[waveforms["event"] == event]
    day = tested["day"].min()
    group_ids = {group["id"] for group in groups}
    peri = tested[(tested["day"] == day) & tested["group"].isin(group_ids)]
    spans = intervals[(intervals["event"] == event) & (intervals["day"] == day)]
    included = qc[qc["included"].astype(bool)]
    figure = settings["figure"]
    metrics = metrics[metrics["included"].astype(bool)]
    if split:
        metrics = attach_sheet_columns(metrics, sheet, [split])
    return photometry_figure(
        traces,
        metrics,
        peri,
        spans,
        groups,
        style,
        figure_paths,
        source_data_dir,
        run_duration_s=(
            float((included["run_offset_s"] - included["run_onset_s"]).median()) if with_run else 0
        ),
        window=figure["window"],
        metric=figure["metric"],
        statistics=statistics,
        control=control,
        event_label=RUN_EVENT_NAMES.get(event, event or "event"),
        days=figure["days"],
        failed_qc=included.loc[~included["qc_pass"].astype(bool), ["mouse", "day", "qc_reasons"]],
        alignment=alignment,
        split=split,
    )
