"""Fiber-photometry panels: session traces, heatmap, window metric across days, peri-event
waveforms with their significant intervals, and the recordings' quality control."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from exneuro.figures.legend import row_counts
from exneuro.figures.photometry import (
    RUN_EVENT_NAMES,
    TraceAlignment,
    plot_peri_event,
    plot_session_traces,
    span_unit_s,
    time_label,
    trace_alignment,
    trace_legend_columns,
)
from exneuro.figures.photometry_heatmap import plot_heatmap
from exneuro.figures.photometry_metric import (
    METRIC_LABELS,
    plot_window_metric,
    window_bounds,
    window_phrase,
)
from exneuro.figures.registry import draws
from exneuro.figures.style import legend_above, title_above_legend
from exneuro.model_factors import attach_sheet_columns
from exneuro.paper.catalogue import ALIGNED_TRACES, SAMPLE_SHEET
from exneuro.paper.panels import Panel, Study, choose, declared_split, group_n_text, with_split
from exneuro.photometry.aligned_traces import AlignedTraces, TraceExtent

METRICS = "photometry/metrics.tsv"
QC = "photometry/qc.tsv"
WAVEFORMS = "photometry/waveforms.tsv"
INTERVALS = "photometry/significant_intervals.tsv"


def _order(study: Study) -> list[str]:
    return list(study.cohort(study.section("photometry")["cohort"])["groups"])


def default_event(photometry: Mapping) -> str:
    """What trace panels align to when the panel names no event: the run, else the first
    peri-event alignment, else (a whole-session study) the session."""
    if photometry["run_event"] is not None:
        return "run"
    return (photometry["peri_event"]["events"] or ["session"])[0]


def trace_events(photometry: Mapping) -> list[str]:
    """The events a trace or heatmap panel can be aligned to (its ``event`` option)."""
    whole = "run" if photometry["run_event"] is not None else "session"
    return [whole, *photometry["peri_event"]["events"]]


def _apart(split: str | None) -> str:
    return f", each {split} apart (line style)" if split else ""


def _trace_source(
    study: Study, panel: Mapping
) -> tuple[AlignedTraces, TraceAlignment, TraceExtent, str | None]:
    """The included sessions' ΔF/F aligned as the panel asks (``event``): the aligned table
    (read later, only the days drawn), the alignment, what all its days hold (days, groups,
    mice, time span) and the split factor (sex ...) when those mice hold more than one level."""
    settings = study.section("photometry")
    event = choose(panel.get("event", default_event(settings)), trace_events(settings), "event")
    alignment = trace_alignment(event)
    aligned = study.table(ALIGNED_TRACES)
    aligned = aligned if isinstance(aligned, AlignedTraces) else AlignedTraces(aligned)
    extent = aligned.extent(alignment.alignment, "dff")
    _, split = with_split(study, "photometry", pd.DataFrame({"mouse": sorted(extent.mice)}))
    return aligned, alignment, extent, split


def _drawn_traces(
    study: Study, aligned: AlignedTraces, alignment: TraceAlignment, days: list, split: str | None
) -> pd.DataFrame:
    """The ΔF/F rows of ``days`` (with the split factor's column)."""
    traces = aligned.read([alignment.alignment], "dff", days).rename(columns={"value": "dff"})
    return attach_sheet_columns(traces, study.table(SAMPLE_SHEET), [split]) if split else traces


def _run_duration_s(study: Study, alignment: TraceAlignment) -> float:
    """The median run of the included sessions when the panel shades the run, else 0."""
    if not alignment.shade_run:
        return 0.0
    qc = study.table(QC)
    included = qc[qc["included"].astype(bool)]
    return float((included["run_offset_s"] - included["run_onset_s"]).median())


def _days(panel: Mapping, available: list) -> list:
    asked = panel.get("days", [available[0], available[-1]])
    return [choose(day, available, "photometry day") for day in asked]


def failed_qc_sentence(study: Study, group: str, days: list) -> str:
    """How many of the sessions a trace panel averages failed QC (included all the same)."""
    qc = study.table(QC)
    averaged = qc[qc["included"].astype(bool) & (qc["group"] == group) & qc["day"].isin(days)]
    failed = averaged[~averaged["qc_pass"].astype(bool)]
    if failed.empty:
        return f"None of the {len(averaged)} sessions averaged failed QC."
    sessions = "; ".join(
        f"{mouse} day {day}: {reasons}"
        for mouse, day, reasons in zip(
            failed["mouse"], failed["day"], failed["qc_reasons"], strict=True
        )
    )
    return (
        f"The means average {len(failed)} of {len(averaged)} sessions that failed QC and stay "
        f"in the analysis ({sessions})."
    )


@draws("photometry_trace")
def photometry_trace(axis, panel: Mapping, study: Study) -> Panel:
    """One group's ΔF/F around an event (the run, a cue ...) or over the whole session, first
    vs last day, mean ± SEM."""
    aligned, alignment, extent, split = _trace_source(study, panel)
    group = choose(panel["group"], extent.groups, "photometry group")
    days = _days(panel, extent.days)
    traces = _drawn_traces(study, aligned, alignment, days, split)
    unit_s = span_unit_s(extent.time_span_s)
    source = plot_session_traces(
        axis,
        traces,
        group,
        days,
        study.colours[group],
        _run_duration_s(study, alignment),
        study.labels[group],
        time_label(alignment.x_label, unit_s),
        unit_s,
        split,
    )
    # the days' traces fill the axes
    legend_above(axis, ncols=trace_legend_columns(days, split))
    title_above_legend(axis, axis.get_title())
    mice = traces[traces["group"] == group]
    n = ", ".join(
        f"day {day}: {mice.loc[mice['day'] == day, 'mouse'].nunique()} mice" for day in days
    )
    plotted = (
        f"ΔF/F of {study.labels[group]} mice {alignment.phrase} on days "
        f"{' and '.join(str(d) for d in days)}; mean ± SEM across mice{_apart(split)} ({n})"
    )
    return Panel(source, plotted, caveats=(failed_qc_sentence(study, group, days),))


@draws("photometry_heatmap")
def photometry_heatmap(axis, panel: Mapping, study: Study) -> Panel:
    """Every mouse × time on one day (default the last), grouped by group, aligned as the
    trace panels (``event``)."""
    aligned, alignment, extent, split = _trace_source(study, panel)
    day = choose(panel.get("day", extent.days[-1]), extent.days, "photometry day")
    traces = _drawn_traces(study, aligned, alignment, [day], split)
    order = _order(study)
    unit_s = span_unit_s(extent.time_span_s)
    run_s = _run_duration_s(study, alignment)
    qc = study.table(QC)
    failed = qc[qc["included"].astype(bool) & ~qc["qc_pass"].astype(bool) & (qc["day"] == day)]
    source = plot_heatmap(
        axis,
        traces,
        day,
        order,
        study.labels,
        run_s,
        dict(zip(failed["mouse"], failed["qc_reasons"], strict=True)),
        time_label(alignment.x_label, unit_s),
        unit_s,
        alignment.zero_is_event,
        split=split,
    )
    n = group_n_text(traces[traces["day"] == day], order, study.labels)
    rows_by = (
        f"one row per mouse, grouped by {split} within group" if split else "one row per mouse"
    )
    if run_s:
        plotted = f"ΔF/F of every mouse on day {day}, {rows_by}, run dashed ({n})"
    else:
        event = alignment.x_label.removeprefix("Time from ")
        marks = f"; {event} at 0 dashed" if alignment.zero_is_event else ""
        plotted = f"ΔF/F of every mouse on day {day} {alignment.phrase}, {rows_by}{marks}"
        plotted += f" ({n})"
    caveats = ()
    if len(failed):
        caveats = (
            f"Crosses at the right edge mark {len(failed)} session(s) that failed QC and stay "
            "in the analysis (reasons in the source data).",
        )
    return Panel(source, plotted, caveats=caveats)


@draws("photometry_window")
def photometry_window(axis, panel: Mapping, study: Study) -> Panel:
    """A window metric across training days: mice as lines, mean ± SEM, contrast stars."""
    settings = study.section("photometry")
    metrics = study.table(METRICS)
    metrics, split = with_split(study, "photometry", metrics[metrics["included"].astype(bool)])
    window = choose(
        panel.get("window", settings["figure"]["window"]),
        list(dict.fromkeys(metrics["window"])),
        "photometry window",
    )
    metric = choose(
        panel.get("metric", settings["figure"]["metric"]),
        list(dict.fromkeys(metrics["metric"])),
        "photometry metric",
    )
    cohort = study.cohort(settings["cohort"])
    order = _order(study)
    qc = study.table(QC)
    failed = qc[~qc["qc_pass"].astype(bool) & qc["included"].astype(bool)]
    source = plot_window_metric(
        axis,
        metrics,
        window,
        metric,
        order,
        study.colours,
        study.labels,
        study.statistics,
        cohort["control_group"],
        failed[["mouse", "day", "qc_reasons"]],
        split,
    )
    subset = f"cohort={cohort['id']}; window={window}"
    days = sorted(metrics["day"].unique().tolist())
    rows = pd.concat(
        [
            study.rows(analysis="photometry", outcome=metric, subset=subset, test="lmm"),
            study.rows(
                analysis="photometry",
                outcome=metric,
                test="emm_contrast",
                subset=[f"{subset}; day={d}" for d in days],
            ),
        ]
    )
    label = METRIC_LABELS.get(metric, metric).split(" (")[0]
    plotted = (
        f"{label} {window_phrase(window, *window_bounds(metrics, window))} on each training "
        "day; thin lines, individual "
        "mice; circles, mean ± SEM"
        + (f", each {split} apart (marker shape and line style)" if split else "")
    )
    shown = failed.merge(metrics[["mouse", "day"]].drop_duplicates(), on=["mouse", "day"])
    caveats = ()
    if len(shown):
        pairs = zip(shown["mouse"], shown["day"], strict=True)
        sessions = ", ".join(f"{mouse} day {day}" for mouse, day in pairs)
        caveats = (
            f"Crosses mark {len(shown)} session(s) that failed QC and stay in the analysis "
            f"({sessions}; reasons in the source data).",
        )
    return Panel(source, plotted, rows, caveats=caveats)


@draws("photometry_peri_event")
def photometry_peri_event(axis, panel: Mapping, study: Study) -> Panel:
    """Mean waveform ± bootstrap CI around an event (run onset or offset, cue, lick ...),
    significant intervals as bars."""
    settings = study.section("photometry")
    waveforms = study.table(WAVEFORMS)
    event = choose(
        panel.get("event", settings["peri_event"]["events"][0]),
        list(dict.fromkeys(waveforms["event"])),
        "peri-event alignment",
    )
    tested = waveforms[waveforms["event"] == event]
    day = choose(panel.get("day", tested["day"].min()), sorted(tested["day"].unique()), "day")
    order = _order(study)
    peri = tested[(tested["day"] == day) & tested["group"].isin(order)]
    intervals = study.table(INTERVALS)
    spans = intervals[(intervals["event"] == str(event)) & (intervals["day"] == day)]
    name = RUN_EVENT_NAMES.get(event, event)
    split = declared_split(study, "photometry")
    source = plot_peri_event(
        axis, peri, spans, order, study.colours, study.labels, name, pooled=split
    )
    peri_event = settings["peri_event"]
    rows = study.rows(analysis="photometry", test=f"waveform_{peri_event['method']}")
    rows = rows[rows["subset"].astype(str).str.contains(f"event={event}; day={day}", regex=False)]
    tested: dict[str, int] = {}
    for row in rows.to_dict("records"):  # each group's waveform test counts its own mice
        tested.update(row_counts(row))
    n = {g: tested[g] for g in order if g in tested} or None
    around = f"the {name}" if event in RUN_EVENT_NAMES else f"each {name}"
    plotted = (
        f"ΔF/F around {around} on day {day}, baseline-"
        f"subtracted; mean of mice ± {peri_event['method']} 95% CI; bars, intervals of at least "
        f"{peri_event['min_duration_s']:g} s where the group differs from its baseline (colour)"
        + (" or the groups differ (black)" if len(order) > 1 else "")
    )
    caveats = ()
    if split:
        caveats = (
            f"The waveforms pool the mice of every {split}: their test does not include "
            f"{split} (only the window-metric models do).",
        )
    return Panel(source, plotted, rows, n_by_group=n, caveats=caveats)


@draws("photometry_qc")
def photometry_qc(axis, panel: Mapping, study: Study) -> Panel:
    """Recording QC: control-fit R² against the residual motion artifact, thresholds dashed."""
    settings = study.section("photometry")["qc"]
    qc = study.table(QC)
    for included, marker, name in ((True, "o", "included"), (False, "x", "excluded")):
        part = qc[qc["included"].astype(bool) == included]
        for group in _order(study):
            rows = part[part["group"] == group]
            axis.scatter(
                rows["fit_r2"],
                rows["artifact_correlation"],
                s=8,
                marker=marker,
                color=study.colours[group],
                lw=0.6 if marker == "x" else 0,
                label=f"{study.labels[group]}, {name}" if len(rows) else None,
            )
    min_r2 = settings.get("min_fit_r2")  # off by default: low-motion sessions fit poorly
    if min_r2 is not None:
        axis.axvline(min_r2, color="black", lw=0.5, ls="--")
    axis.axhline(settings["max_artifact_correlation"], color="black", lw=0.5, ls="--")
    photometry = study.section("photometry")
    fitted = (
        "whole session"
        if photometry.get("preprocessing", {}).get("control_fit", {}).get("window") == "session"
        else "pre-run window"
        if photometry["run_event"] is not None
        else "baseline window"
    )
    axis.set_xlabel(f"Control fit R² ({fitted})")
    axis.set_ylabel("Motion artifact (r)")
    legend_above(axis, ncols=2, handlelength=1.0, fontsize="x-small")
    source = qc[
        ["session", "mouse", "group", "day", "fit_r2", "artifact_correlation", "qc_pass"]
        + ["included", "exclusion_reason"]
    ]
    plotted = (
        f"Quality control of every recording ({len(qc)} sessions, {qc['mouse'].nunique()} mice): "
        f"fit of the isosbestic control in the {fitted} (R²"
        + (f", pass ≥ {min_r2:g}" if min_r2 is not None else ", not a QC rule")
        + ") "
        "against the correlation of the corrected signal with the control channel, the "
        "residual motion (pass ≤ "
        f"{settings['max_artifact_correlation']:g}); crosses, sessions excluded in the config"
    )
    return Panel(source, plotted)
