"""Panels of whole-animal outcomes: endurance across training, training gains, declared tables
(body mass, glucose, serum...)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from exneuro.declared import factor_levels
from exneuro.figures.declared import level_colours, plot_bars, plot_line
from exneuro.figures.treadmill import AXIS_LABELS, plot_course, plot_points
from exneuro.paper.panels import Panel, Study, choose, panel_kind
from exneuro.treadmill.metrics import metric_columns

TESTS = "treadmill/tests.parquet"


def _cohort_tests(panel: Mapping, study: Study):
    """The cohort, its included tests, the metric's column and the session ids and labels."""
    treadmill = study.section("treadmill")
    cohort = study.cohort(panel["cohort"])
    metric = panel.get("metric", treadmill["statistics"]["primary_metric"])
    columns = metric_columns(treadmill["work_definition"])
    column = columns[choose(metric, list(columns), "treadmill metric")]
    tests = study.table(TESTS)
    data = tests[(tests["cohort"] == cohort["id"]) & ~tests["excluded"].astype(bool)]
    sessions = [s["id"] for s in treadmill["sessions"]]
    labels = {s["id"]: s.get("label", s["id"]) for s in treadmill["sessions"]}
    return cohort, data, column, sessions, labels


@panel_kind("treadmill_course")
def treadmill_course(axis, panel: Mapping, study: Study) -> Panel:
    """Endurance at every test: mice as thin lines, group mean ± SEM, post-hoc stars."""
    cohort, data, column, sessions, labels = _cohort_tests(panel, study)
    groups = {g["id"]: g for g in study.settings["groups"]}
    source = plot_course(
        axis, data, column, cohort, groups, sessions, labels, study.statistics, study.colours
    )
    subset = f"cohort={cohort['id']}"
    omnibus = study.rows(
        analysis="treadmill", outcome=column, subset=subset, test=panel.get("test", "mixed_anova")
    )
    posthoc = study.rows(
        analysis="treadmill",
        outcome=column,
        test="emm_contrast",
        subset=[f"{subset}; session={s}" for s in sessions],
    )
    label = AXIS_LABELS.get(column, column).split(" (")[0]
    plotted = f"{label} at each endurance test; thin lines, individual mice; circles, mean ± SEM"
    return Panel(source, plotted, pd.concat([omnibus, posthoc]))


@panel_kind("treadmill_gain")
def treadmill_gain(axis, panel: Mapping, study: Study) -> Panel:
    """% change from baseline at one test (default the last): bars mean ± SEM, every mouse."""
    cohort, data, column, sessions, labels = _cohort_tests(panel, study)
    session = choose(panel.get("session", sessions[-1]), sessions, "treadmill session")
    final = data[data["session"] == session]
    outcome = f"{column}_pct_change"
    baseline = study.section("treadmill")["baseline_session"]
    groups = {g["id"]: g for g in study.settings["groups"]}
    source = plot_points(
        axis,
        final,
        outcome,
        cohort,
        groups,
        study.colours,
        study.statistics[study.statistics["subset"] == f"cohort={cohort['id']}; session={session}"],
        outcome,
        f"{AXIS_LABELS.get(column, column)}\n% change, {labels[session]} vs {labels[baseline]}",
    )
    rows = study.rows(
        analysis="treadmill", outcome=outcome, subset=f"cohort={cohort['id']}; session={session}"
    )
    label = AXIS_LABELS.get(column, column).split(" (")[0]
    plotted = (
        f"Change of {label.lower()} from {labels[baseline]} to {labels[session]} (%); "
        "bars, mean ± SEM; points, individual mice"
    )
    return Panel(source, plotted, rows)


@panel_kind("table_plot")
def table_plot(axis, panel: Mapping, study: Study) -> Panel:
    """A declared table's outcome as its declared figure ('line' or 'bars'), one split."""
    key = panel["table"]
    declaration = study.section("tables")[key]
    data = study.table(f"tables/{key}/data.tsv")
    outcome = choose(
        panel.get("outcome", declaration["outcomes"][0]), declaration["outcomes"], "outcome"
    )
    split = dict(panel.get("split", {}))
    for column, value in split.items():
        data = data[
            data[choose(column, declaration["split_by"], "split column")].astype(str) == str(value)
        ]
    subset = "; ".join(f"{k}={split[k]}" for k in declaration["split_by"] if k in split)
    levels = factor_levels(data, declaration)
    between = declaration["between"][0] if declaration["between"] else None
    colours = level_colours(levels[between], study.settings["groups"]) if between else {}
    if declaration["figure"] == "bars":
        source = plot_bars(
            axis,
            data,
            outcome,
            declaration,
            levels,
            colours,
            study.labels,
            study.statistics,
            subset,
        )
        shown = "bars, mean ± SEM; points, individual mice"
    else:
        source = plot_line(axis, data, outcome, declaration, levels, colours, study.labels)
        shown = "thin lines, individual mice; circles, mean ± SEM"
    label = declaration["outcome_labels"].get(outcome, outcome)
    axis.set_ylabel(label)
    if panel.get("title"):
        axis.set_title(panel["title"])
    match = {"subset": subset} if subset else {}
    if "test" in panel:
        match["test"] = panel["test"]
    rows = study.rows(analysis=f"table {key}", outcome=outcome, **match)
    plotted = f"{label}; {shown}"
    return Panel(source.assign(outcome=outcome, subset=subset), plotted, rows)
