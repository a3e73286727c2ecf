"""Panels of whole-animal outcomes: endurance across training, training gains, declared tables
(body mass, glucose, serum...)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from exneuro.figures.registry import draws
from exneuro.figures.style import title_above_legend
from exneuro.figures.tables import level_colours, plot_bars, plot_line, posthoc_rows
from exneuro.figures.treadmill import (
    change_label,
    gain_test_rows,
    metric_name,
    outlier_caveat,
    plot_course,
    plot_points,
)
from exneuro.model_factors import attach_sheet_columns, declared_factors
from exneuro.paper.catalogue import SAMPLE_SHEET
from exneuro.paper.panels import Panel, Study, choose, mice_per_group, require
from exneuro.tables.design import factor_levels
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


def _split(cohort: Mapping, study: Study, data: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """``data`` and the model factor the panel is drawn apart by (the first fixed one, e.g.
    sex), joined from the sample sheet when the figure reads it; None when neither the table
    nor a sheet carries it."""
    statistics = study.section("treadmill")["statistics"]
    first = (declared_factors(cohort, statistics)["fixed"] or [None])[0]
    if first and first not in data.columns and SAMPLE_SHEET in study.tables:
        data = attach_sheet_columns(data, study.table(SAMPLE_SHEET), [first])
    return data, (first if first in data.columns else None)


def _by(split: str | None) -> str:
    return f", each {split} apart (marker shape and line style)" if split else ""


@draws("treadmill_course")
def treadmill_course(axis, panel: Mapping, study: Study) -> Panel:
    """Endurance at every test: mice as thin lines, group mean ± SEM, post-hoc stars."""
    cohort, data, column, sessions, labels = _cohort_tests(panel, study)
    groups = {g["id"]: g for g in study.settings["groups"]}
    data, split = _split(cohort, study, data)
    source = plot_course(
        axis,
        data,
        column,
        cohort,
        groups,
        sessions,
        labels,
        study.statistics,
        study.colours,
        split,
    )
    subset = f"cohort={cohort['id']}"
    # the omnibus of the model whose contrasts give the stars (all mice), unless the config
    # names another test, whose own n the legend then states
    omnibus = study.rows(
        analysis="treadmill", outcome=column, subset=subset, test=panel.get("test", "lmm")
    )
    posthoc = study.rows(
        analysis="treadmill",
        outcome=column,
        test="emm_contrast",
        subset=[f"{subset}; session={s}" for s in sessions],
    )
    control = cohort["control_group"]
    marked = posthoc[posthoc["term"].isin([f"{g} - {control}" for g in cohort["groups"]])]
    plotted = (
        f"{metric_name(column)} at each endurance test; thin lines, individual mice; circles, "
        f"mean ± SEM{_by(split)}"
    )
    n = mice_per_group(data.dropna(subset=[column]), cohort["groups"])
    caveat = outlier_caveat(data, column, labels)
    caveats = (caveat,) if caveat else ()
    return Panel(source, plotted, pd.concat([omnibus, posthoc]), marked, n, caveats)


@draws("treadmill_gain")
def treadmill_gain(axis, panel: Mapping, study: Study) -> Panel:
    """% change from baseline at one test (default the last): bars mean ± SEM, every mouse."""
    cohort, data, column, sessions, labels = _cohort_tests(panel, study)
    session = choose(panel.get("session", sessions[-1]), sessions, "treadmill session")
    final, split = _split(cohort, study, data[data["session"] == session])
    outcome = f"{column}_pct_change"
    baseline = study.section("treadmill")["baseline_session"]
    groups = {g["id"]: g for g in study.settings["groups"]}
    subset = f"cohort={cohort['id']}; session={session}"
    treadmill_rows = study.statistics[study.statistics["analysis"] == "treadmill"]
    marked = gain_test_rows(treadmill_rows, column, subset)
    source = plot_points(
        axis,
        final,
        outcome,
        cohort,
        groups,
        study.colours,
        marked,
        marked["outcome"].iloc[0] if len(marked) else outcome,
        change_label(column, labels[session], labels[baseline]),
        split=split,
    )
    rows = pd.concat(
        [marked, study.rows(analysis="treadmill", outcome=outcome, subset=subset)]
    ).drop_duplicates()
    plotted = (
        f"Change of {metric_name(column).lower()} from {labels[baseline]} to {labels[session]} "
        f"(%); bars, mean ± SEM; points, individual mice{_by(split)}"
    )
    n = mice_per_group(final.dropna(subset=[outcome]), cohort["groups"])
    caveat = outlier_caveat(final, column, labels)
    return Panel(source, plotted, rows, marked, n, (caveat,) if caveat else ())


@draws("treadmill_adaptation")
def treadmill_adaptation(axis, panel: Mapping, study: Study) -> Panel:
    """Fitted rise of each mouse's adaptation curve: every mouse whose fit converged as a
    point, the group mean, the count fitted under each group and the two-group test's stars."""
    cohort = study.cohort(panel["cohort"])
    adaptation = study.table(f"treadmill/{cohort['id']}/adaptation.tsv")
    treadmill = study.section("treadmill")
    primary = treadmill["statistics"]["primary_metric"]
    metric = adaptation["metric"].iloc[0] if len(adaptation) else primary
    fitted, split = _split(cohort, study, adaptation[adaptation["fit_status"] == "ok"])
    tried = adaptation.groupby("group")["mouse"].nunique()
    kept = fitted.groupby("group")["mouse"].nunique()
    counts = {
        g: f"{int(kept.get(g, 0))} of {int(tried.get(g, 0))} fitted" for g in cohort["groups"]
    }
    outcome = f"{metric} rise_percent"
    rows = study.rows(
        analysis="treadmill adaptation", outcome=outcome, subset=f"cohort={cohort['id']}"
    )
    groups = {g["id"]: g for g in study.settings["groups"]}
    source = plot_points(
        axis,
        fitted,
        "rise_percent",
        cohort,
        groups,
        study.colours,
        rows,
        outcome,
        "Fitted training rise (%)",
        bars=False,
        counts=counts,
        split=split,
    )
    plotted = (
        f"Rise of {metric_name(metric).lower()} over training fitted per mouse (%); points, "
        f"mice whose fit converged; lines, mean ± SEM{_by(split)}"
    )
    n = mice_per_group(fitted.dropna(subset=["rise_percent"]), cohort["groups"])
    return Panel(source, plotted, rows, rows, n)


@draws("table_plot")
def table_plot(axis, panel: Mapping, study: Study) -> Panel:
    """A declared table's outcome as its declared figure ('line' or 'bars'), one split; the
    post-hoc stars of a line figure whenever its legend reports post-hoc contrasts."""
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
    tests = panel.get("test")
    named = [tests] if isinstance(tests, str) else list(tests or [])
    match = {"test": named} if named else {}
    rows = study.rows(analysis=f"table {key}", outcome=outcome, **match)
    if subset:
        subsets = rows["subset"].fillna("").astype(str)
        rows = rows[(subsets == subset) | subsets.str.startswith(f"{subset}; ")]
    marked = rows.iloc[0:0]
    # a design with no within factor or covariate has no line to draw: bars, as declared or not
    bars = declaration["figure"] == "bars" or not (
        declaration["within"] or declaration["covariates"]
    )
    if bars:
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
        marked = rows[rows["test"].isin(["welch_t", "student_t", "mann_whitney"])]
        shown = "bars, mean ± SEM; points, individual mice"
    else:
        marks = {}
        if "emm_contrast" in set(rows["test"]) or "emm_contrast" in named:
            # group contrasts at each level: a post-hoc family over another factor (e.g. pre vs
            # post within each group) has no star on the line, unless the panel asked for one
            marks = posthoc_rows(rows, outcome, declaration, levels, subset)
            require(
                bool(marks) or "emm_contrast" not in named,
                f"test 'emm_contrast' is named but the table '{key}' has no post-hoc contrasts "
                f"of '{outcome}' over its first within factor (declare 'posthoc' in the table)",
            )
            marked = pd.DataFrame(list(marks.values()))
        source = plot_line(axis, data, outcome, declaration, levels, colours, study.labels, marks)
        shown = "thin lines, individual mice; circles, mean ± SEM"
    label = declaration["outcome_labels"].get(outcome, outcome)
    axis.set_ylabel(label)
    if panel.get("title"):
        title_above_legend(axis, panel["title"])
    apart = declaration["between"][1:]
    if apart:  # one mean per group x level (figures.tables): the legend says which
        shown += f", each {', '.join(apart)} apart"
        shown += " (marker shape and line style)" if not bars else ""
    plotted = f"{label}; {shown}"
    subject = declaration["subject"]
    n = None
    if between:
        drawn = data.dropna(subset=[outcome])
        n = mice_per_group(drawn, levels[between], group=between, mouse=subject)
        if between != "group":
            groups = source[between]
            source = source.assign(
                group=groups.combine_first(source["group"]) if "group" in source else groups
            )
        if subject != "mouse":
            source = source.assign(mouse=source[subject])
    return Panel(source.assign(outcome=outcome, subset=subset), plotted, rows, marked, n)
