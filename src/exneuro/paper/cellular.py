"""Cellular panels: F–I curves, per-cell properties and sEPSC distributions (slice
electrophysiology), spine densities and marker-positive neurons, with cells or segments drawn
inside their mouse (SuperPlots) and mice as the unit of every test."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from exneuro.cellular.ephys_outcomes import ANALYSIS, CELL_OUTCOMES, DISTRIBUTIONS
from exneuro.cellular.histology import section_percent
from exneuro.cellular.sepsc import inter_event_intervals, pooled_distribution
from exneuro.cellular.spines import TOTAL, density_column
from exneuro.figures.ephys import AXIS_LABELS, plot_cdf, plot_fi
from exneuro.figures.legend import is_singular
from exneuro.figures.registry import draws
from exneuro.figures.style import title_above_legend
from exneuro.figures.superplot import superplot
from exneuro.figures.tables import level_colours
from exneuro.paper.panels import Panel, Study, choose, mice_per_group, with_split
from exneuro.stats.table import subset_label

STEPS = "ephys/steps.parquet"
CELLS = "ephys/cells.parquet"
EVENTS = "ephys/events.parquet"
SPINES = "spines/segment_density.parquet"
SECTIONS = "histology/sections.tsv"
MOUSE_MEANS = "welch_t_mouse_means"
SUPERPLOT = "small points, {unit} (shaded by mouse); large points, mouse means; bars, mean ± SEM"


def _cohort(study: Study, section: str) -> tuple[Mapping, list[str], dict[str, str], str]:
    """The section's cohort, its group order and colours, and its statistics subset label."""
    cohort = study.cohort(study.section(section)["cohort"])
    order = list(cohort["groups"])
    return cohort, order, level_colours(order, study.settings["groups"]), f"cohort={cohort['id']}"


def _mouse_superplot(axis, data, value, order, colours, study, rows, weight, ylabel, split):
    """SuperPlot of ``value`` with mice as the unit; stars from the first of ``rows``; one mean
    per group x level of ``split`` (e.g. sex) when given."""
    return superplot(
        axis,
        data,
        value,
        "group",
        "mouse",
        order,
        colours,
        labels=study.labels,
        statistics_row=rows.iloc[0] if len(rows) else None,
        weight=weight,
        ylabel=ylabel,
        split=split,
        animals=study.animal["plural"],
    )


def _apart(split: str | None, how: str = "marker shape") -> str:
    return f", each {split} apart ({how})" if split else ""


@draws("ephys_fi")
def ephys_fi(axis, panel: Mapping, study: Study) -> Panel:
    """Firing rate against injected current: mice as thin lines, mean ± SEM of mice."""
    cohort, order, colours, subset = _cohort(study, "ephys")
    settings = study.section("ephys")["statistics"]
    steps, split = with_split(study, "ephys", study.table(STEPS))
    source = plot_fi(
        axis,
        steps,
        study.statistics,
        order,
        colours,
        study.labels,
        {"cohort": cohort["id"]},
        settings["min_current_pa"],
        split,
    )
    rows = pd.concat(
        [
            study.rows(analysis=ANALYSIS, outcome="firing_rate_hz", subset=subset, test="lmm"),
            study.rows(analysis=ANALYSIS, outcome="firing_rate_hz", test="emm_contrast"),
        ]
    )
    plotted = (
        "Firing rate at each current step; thin lines, mouse means of their cells; circles, "
        f"mean ± SEM of mice{_apart(split, 'marker shape and line style')}"
    )
    return Panel(source, plotted, rows)


@draws("ephys_property")
def ephys_property(axis, panel: Mapping, study: Study) -> Panel:
    """One per-cell property (rheobase, input resistance, sEPSC frequency...) as a SuperPlot."""
    cohort, order, colours, subset = _cohort(study, "ephys")
    cells, split = with_split(study, "ephys", study.table(CELLS))
    tested = study.section("ephys").get("statistics", {}).get("outcomes") or CELL_OUTCOMES
    outcome = choose(panel["outcome"], [c for c in tested if c in cells.columns], "outcome")
    test = panel.get("test", "emm_contrast")
    term = f"{order[1]} - {order[0]}"
    rows = study.rows(analysis=ANALYSIS, outcome=outcome, subset=subset, test=test, term=term)
    model = study.rows(analysis=ANALYSIS, outcome=outcome, subset=subset, test="lmm")
    caveats = ()
    if "test" not in panel and any(
        is_singular(r) for r in pd.concat([model, rows]).to_dict("records")
    ):
        # a singular fit treats cells as independent: the stars come from the mouse means
        rows = study.rows(
            analysis=ANALYSIS, outcome=outcome, subset=subset, test=MOUSE_MEANS, term=term
        )
        test = MOUSE_MEANS
        caveats = (
            "The mixed model's fit is singular (mouse variance estimated at zero), so the stars "
            "show the test on mouse means.",
        )
    data = cells.dropna(subset=[outcome])
    ylabel = AXIS_LABELS.get(outcome, outcome)
    source = _mouse_superplot(axis, data, outcome, order, colours, study, rows, None, ylabel, split)
    marked = rows
    if test == "emm_contrast" or caveats:  # the model's group F test, then the stars' test
        rows = pd.concat([model, rows])
    plotted = f"{AXIS_LABELS.get(outcome, outcome)}; {SUPERPLOT.format(unit='cells')}"
    plotted += _apart(split)
    n = mice_per_group(data, order)
    return Panel(source.assign(outcome=outcome), plotted, rows, marked.iloc[:1], n, caveats)


@draws("ephys_cdf")
def ephys_cdf(axis, panel: Mapping, study: Study) -> Panel:
    """Cumulative distribution of sEPSC inter-event intervals or amplitudes per group."""
    cohort, order, colours, subset = _cohort(study, "ephys")
    settings = study.section("ephys")["statistics"]
    value = choose(panel["value"], list(DISTRIBUTIONS), "sEPSC distribution")
    events = study.table(EVENTS)
    table = inter_event_intervals(events) if value == "iei_s" else events
    pooled = pooled_distribution(
        table, value, "group", settings["per_cell"], settings["min_events"]
    )
    pooled, split = with_split(study, "ephys", pooled)
    outcome = DISTRIBUTIONS[value]
    source = plot_cdf(
        axis,
        pooled,
        value,
        outcome,
        study.statistics,
        order,
        colours,
        study.labels,
        {"cohort": cohort["id"]},
        split,
    )
    rows = study.rows(analysis=ANALYSIS, outcome=outcome, subset=subset, test="ks_2samp")
    plotted = (
        f"Cumulative distribution of {AXIS_LABELS[value].split(' (')[0].replace('I', 'i', 1)}s "
        "pooled over cells, "
        f"every cell contributing {pooled.attrs.get('per_cell')} quantiles"
    )
    caveats = ()
    if split:
        plotted += f", each {split} apart (line style)"
        caveats = (f"The Kolmogorov–Smirnov tests compare the groups with every {split} pooled.",)
    return Panel(source, plotted, rows, caveats=caveats)


@draws("spine_density")
def spine_density(axis, panel: Mapping, study: Study) -> Panel:
    """Spine density of one type (default all spines) as a SuperPlot of segments in mice."""
    cohort, order, colours, subset = _cohort(study, "spines")
    settings = study.section("spines")
    density, split = with_split(study, "spines", study.table(SPINES))
    spine_type = choose(
        panel.get("spine_type", TOTAL), list(dict.fromkeys(density["spine_type"])), "spine type"
    )
    column = density_column(settings["per_um"])
    rows = study.rows(
        analysis="spines",
        outcome=column,
        test=panel.get("test", "lmm"),
        subset=subset_label(cohort=cohort["id"], spine_type=spine_type),
    )
    # the stars: the group contrast (a model with sex has its own terms too)
    term = f"{order[1]} - {order[0]}" if len(order) > 1 else ""
    contrast = rows[rows["term"].astype(str) == term]
    marked = contrast if len(contrast) else rows.iloc[:1]
    part = density[density["spine_type"] == spine_type]
    ylabel = f"Spines per {settings['per_um']:g} µm"
    source = _mouse_superplot(
        axis, part, column, order, colours, study, marked, "length_um", ylabel, split
    )
    n = mice_per_group(part, order)
    title = "All spines" if spine_type == TOTAL else spine_type.capitalize()
    title_above_legend(axis, title) if split else axis.set_title(title)
    kind = "spines" if spine_type == TOTAL else f"{spine_type} spines"
    plotted = (
        f"Density of {kind} per {settings['per_um']:g} µm of dendrite; "
        f"{SUPERPLOT.format(unit='dendritic segments')}, mouse means weighted by segment length"
        + _apart(split)
    )
    return Panel(source.assign(spine_type=spine_type), plotted, rows, marked.iloc[:1], n)


@draws("histology_percent")
def histology_percent(axis, panel: Mapping, study: Study) -> Panel:
    """% marker-positive among labelled neurons, sections within mice as a SuperPlot."""
    cohort, order, colours, subset = _cohort(study, "histology")
    labelled = study.section("histology")["labelled_name"]
    sections, split = with_split(study, "histology", study.table(SECTIONS))
    marker = choose(panel["marker"], list(dict.fromkeys(sections["marker"])), "marker")
    per_section = section_percent(sections)
    part = per_section[(per_section["marker"] == marker) & (per_section["n_labelled"] > 0)]
    rows = study.rows(
        analysis="histology",
        outcome="percent_positive",
        subset=subset_label(cohort=cohort["id"], marker=marker),
    )
    ylabel = f"{marker}+ among {labelled} cells (%)"
    source = _mouse_superplot(
        axis, part, "percent_positive", order, colours, study, rows, "n_labelled", ylabel, split
    )
    title_above_legend(axis, marker) if split else axis.set_title(marker)
    plotted = (
        f"{marker}+ among {labelled} neurons (%); {SUPERPLOT.format(unit='sections')}, mouse "
        "values pooled over sections" + _apart(split)
    )
    n = mice_per_group(part, order)
    return Panel(source.assign(marker=marker), plotted, rows, rows.iloc[:1], n)
