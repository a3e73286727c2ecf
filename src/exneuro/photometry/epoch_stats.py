"""Group × day statistics of the exercise-epoch metrics (:mod:`exneuro.photometry.epochs`).

:func:`epoch_statistics` tests every (metric, window) across training days and groups with the
project's engine: the linear mixed model ``value ~ group * day + (1 | mouse)`` (REML,
Satterthwaite type III F tests), post-hoc contrasts from it (each group against control at each
day; each day against the first day within each group), and the two-way repeated-measures ANOVA
(day within, group between; sphericity-corrected) when every mouse has every day. A module of
its own so that the per-recording jobs do not import the statistics engine.

Declared sample-sheet factors (``model_factors``) enter the models: a fixed one (sex) is crossed
with group and day (``group * sex * day``; between factors ``[group, sex]`` of the ANOVA; the
contrasts averaged over its levels), a random one (cage) sits above the mouse
(``(1 | cage/mouse)``); one the data cannot support is a "not tested" row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError
from exneuro.model_factors import (
    NO_FACTORS,
    ModelFactors,
    attach_sheet_columns,
    count_animals,
    fit_lmm,
    usable_factors,
)
from exneuro.not_tested import not_tested_row, untested_on_failure
from exneuro.stats import compare, mixed
from exneuro.stats.anova import rm_anova
from exneuro.stats.posthoc import contrast_family
from exneuro.stats.table import concat_stats, format_n_by_group, label_rows, subset_label


def _literal(value: Any) -> str:
    """A patsy literal for a factor level (ints stay ints, everything else quoted)."""
    if isinstance(value, (bool, np.bool_)):
        return repr(str(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return repr(str(value))


def epoch_statistics(
    metrics: pd.DataFrame,
    control: str,
    metric_names: Sequence[str] = ("mean_dff",),
    windows: Sequence[str] | None = None,
    correction: str = "sidak",
    level: float = 0.95,
    family: str = "all",
    anova: str = "complete",
    sphericity_correction: str = "greenhouse-geisser",
    context: Mapping[str, str] | None = None,
    model_factors: Mapping | None = None,
    sheet: pd.DataFrame | None = None,
    sheet_path: str = "the sample sheet",
) -> pd.DataFrame:
    """Group × day statistics of each (metric, window) as statistics-table rows.

    ``metrics``: tidy rows with ``mouse``, ``group``, ``day``, ``window``, ``metric``, ``value``
    (:func:`epoch_metrics` output with the session's mouse, group and day added). For each
    metric in ``metric_names`` and window (all, or ``windows``):

    * LMM ``value ~ group * day + (1 | mouse)`` with ``group`` treatment-coded against
      ``control`` and ``day`` a factor (reference: the first day); type III F tests with
      Satterthwaite df (:func:`exneuro.stats.mixed.to_stats`);
    * post-hoc (:func:`exneuro.stats.posthoc.contrast_family`): each group − control at every
      day, and every day − first day within every group, corrected by ``correction``
      (``family='all'``: one family per contrast set, as Prism; ``'per_level'``: per day/group,
      as emmeans);
    * two-way RM ANOVA (day within, group between; type III; ``sphericity_correction``) when
      every mouse has every day (``anova='complete'``), always with listwise deletion
      (``'listwise'``) or never (``'never'``).

    Rows are labelled ``analysis='photometry'``, ``outcome`` = the metric, ``subset`` =
    ``context`` plus ``window=<name>`` (and the day or group of a contrast). ``model_factors``
    (``{'fixed': [...], 'random': ...}``) name columns of ``sheet`` joined by mouse (see the
    module docstring).
    """
    needed = {"mouse", "group", "day", "window", "metric", "value"}
    missing = sorted(needed - set(metrics.columns))
    if missing:
        raise KeyError(f"photometry metrics lack column(s) {missing}")
    if anova not in ("complete", "listwise", "never"):
        raise ConfigError(f"anova {anova!r}; choose complete, listwise or never")
    groups = sorted(metrics["group"].dropna().unique().tolist())
    if control not in groups:
        raise ConfigError(f"control group {control!r} is not among the groups {groups}")
    context = dict(context or {})
    declared = {"fixed": [], "random": None, **(model_factors or {})}
    columns = [*declared["fixed"], *([declared["random"]] if declared["random"] else [])]
    metrics = attach_sheet_columns(metrics, sheet, columns, "mouse", sheet_path)
    window_names = list(dict.fromkeys(metrics["window"])) if windows is None else list(windows)
    frames = []
    for metric in metric_names:
        if metric not in set(metrics["metric"]):
            raise ConfigError(
                f"metric {metric!r} is not in the photometry metrics; "
                f"known: {sorted(set(metrics['metric']))}"
            )
        for window in window_names:
            data = metrics.loc[
                (metrics["metric"] == metric) & (metrics["window"] == window),
                ["mouse", "group", *columns, "day", "value"],
            ].dropna(subset=["mouse", "group", "day", "value"])
            if data.empty:
                raise ConfigError(f"no values of {metric!r} in photometry window {window!r}")
            label = subset_label(**context, window=window)
            frames.append(
                _window_statistics(
                    data,
                    control,
                    correction,
                    level,
                    family,
                    anova,
                    sphericity_correction,
                    {**context, "window": window},
                    declared,
                ).assign(analysis="photometry", outcome=metric)
            )
            frames[-1]["subset"] = frames[-1]["subset"].fillna(label)
    table = concat_stats(frames)
    return table


def _window_statistics(
    data: pd.DataFrame,
    control: str,
    correction: str,
    level: float,
    family: str,
    anova: str,
    sphericity_correction: str,
    context: dict[str, str],
    declared: Mapping | None = None,
) -> pd.DataFrame:
    """Mixed model, post-hoc families and RM ANOVA of one metric in one window.

    The design is what the data hold: one group (a one-group cohort) tests days only; one day
    compares each group with control on the mouse values (Welch); a group of one mouse, or one
    group on one day, gives a "not tested" row saying so.
    """
    days = sorted(data["day"].unique().tolist())
    counts = data.groupby("group")["mouse"].nunique()
    groups = [control, *sorted(g for g in counts.index if g != control)]
    subset = subset_label(**context)
    lone = [f"group {g} has {counts[g]} mouse" for g in groups if counts.get(g, 0) < 2]
    if lone:
        table = not_tested_row("lmm", "", subset, "; ".join(lone) + " (2 or more are needed)")
    elif len(days) == 1:
        table = concat_stats(_one_day_rows(data, groups, level, subset))
    else:
        factors = NO_FACTORS
        if declared and (declared["fixed"] or declared["random"]):
            one_group = len(groups) == 1
            factors = usable_factors(data, declared, subset, group=None if one_group else "group")
        table = concat_stats(
            [
                *untested_on_failure(
                    lambda: _model_rows(
                        data,
                        control,
                        days,
                        len(groups) == 1,
                        correction,
                        level,
                        family,
                        context,
                        factors,
                    ),
                    "lmm",
                    "",
                    subset,
                ),
                factors.untested,
            ]
        )
        per_mouse = data.groupby("mouse")["day"].nunique()
        complete = (
            bool((per_mouse == len(days)).all()) and not data.duplicated(["mouse", "day"]).any()
        )
        if anova == "listwise" or (anova == "complete" and complete):
            between = [*([] if len(groups) == 1 else ["group"]), *factors.fixed] or None
            anova_rows = untested_on_failure(
                lambda: rm_anova(
                    data, dv="value", subject="mouse", within=["day"], between=between
                ).to_stats(correction=sphericity_correction),
                "rm_anova",
                "",
                subset,
            )
            table = concat_stats([table, *anova_rows])
    table["n_by_group"] = table["n_by_group"].fillna(format_n_by_group(counts.to_dict()))
    return table


def _model_rows(
    data: pd.DataFrame,
    control: str,
    days: list,
    one_group: bool,
    correction: str,
    level: float,
    family: str,
    context: dict[str, str],
    factors: ModelFactors = NO_FACTORS,
) -> list[pd.DataFrame]:
    """The mixed model ``value ~ group * day + (1 | mouse)`` (``value ~ day`` for one group;
    with the declared factors crossed in and a random unit above the mouse) and its post-hoc
    families."""
    first = days[0]
    day_term = f"C(day, Treatment({_literal(first)}))"
    group_term = "" if one_group else f"C(group, Treatment({_literal(control)})) * "
    formula = f"value ~ {group_term}{factors.treatment_terms()}{day_term}"
    fit = fit_lmm(data, formula, factors)
    rows = [mixed.to_stats(fit, between=None if one_group else "group", level=level)]
    if not one_group:
        rows.append(
            contrast_family(
                fit,
                "group",
                "day",
                "trt.vs.ctrl",
                control,
                correction,
                level,
                family=family,
                context=context,
            )
        )
    rows.append(
        contrast_family(
            fit,
            "day",
            None if one_group else "group",
            "trt.vs.ctrl",
            first,
            correction,
            level,
            family=family,
            context=context,
        )
    )
    if not factors.columns:
        return rows
    averaged = f"means averaged over {', '.join(factors.fixed)} with equal weights; "
    return [
        count_animals(frame, data, factors, "mouse").assign(
            notes=lambda f: (
                f"{factors.note()}; "
                + (averaged if factors.fixed and (f["test"] == "emm_contrast").all() else "")
                + f["notes"]
            )
        )
        for frame in rows
    ]


def _one_day_rows(
    data: pd.DataFrame, groups: list[str], level: float, subset: str
) -> list[pd.DataFrame]:
    """One recording day: each group against control on the mouse values (Welch's t)."""
    control = groups[0]
    if len(groups) == 1:
        return [not_tested_row("welch_t", "", subset, "one group on one day: nothing to compare")]
    means = data.groupby(["group", "mouse"])["value"].mean()
    rows = []
    for group in groups[1:]:
        rows += untested_on_failure(
            lambda group=group: label_rows(
                compare.two_group_test(
                    means[control], means[group], labels=(control, group), level=level
                ),
                subset=subset,
            ),
            "welch_t",
            f"{group} - {control}",
            subset,
        )
    return rows
