"""Statistics of slice electrophysiology, with the mouse as the experimental unit.

Cells are nested within mice: cells of one mouse share its history (training, surgery, slicing
day), so treating cells as independent n inflates the false-positive rate (Aarts et al. 2014,
*Nat Neurosci* 17:491-496; Eisner 2021, *J Physiol* 599:2901). Every analysis here therefore
keeps the mouse in the model or averages to it, and the naive cells-as-n test is reported next to
it, labelled as such, because many published ephys papers use it and a reader wants to compare.

* **F–I curve** (:func:`fi_curve_statistics`): linear mixed model
  ``firing_rate_hz ~ group * current + (1 | mouse) + (1 | mouse:cell)`` with current as a
  factor (the curve need not be linear), type III F tests with Satterthwaite df, and post-hoc
  group contrasts at each current from the model's estimated marginal means, corrected as one
  family over all currents (``family="all"``, as Prism) by default.
* **Per-cell values** (:func:`cell_property_statistics`: rheobase, F–I gain, input resistance,
  resting potential, spike threshold, sEPSC frequency and amplitude): the mixed model
  ``value ~ group + (1 | mouse)`` (F test and the group contrast with its CI), the cluster-level
  test on mouse means (Welch by default; n = mice), and the naive test over cells
  (``<test>_cells_as_n``), optionally the hierarchical bootstrap.
* **Distributions** (:func:`distribution_statistics`): Kolmogorov–Smirnov tests on the
  equal-weight pools of inter-event intervals and amplitudes (each cell the same number of
  values). Events within a cell are not independent and cells within a mouse are not either, so
  the KS p is descriptive — the inferential test of sEPSC frequency and amplitude is the per-cell
  mixed model above.

Declared sample-sheet factors (``model_factors``: e.g. sex fixed, cage random) enter both mixed
models: ``group * sex * current`` and ``group * sex`` with the group contrasts averaged over sex,
and ``(1 | cage/mouse)`` for a cage; a factor the data cannot support is a "not tested" row.

Every row is a :func:`exneuro.stats.table.stats_frame` row with ``analysis="ephys"``, the outcome
column name, ``n_mice`` and ``n_cells`` filled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from exneuro.cellular.ephys_outcomes import ANALYSIS, CELL_OUTCOMES, DISTRIBUTIONS
from exneuro.cellular.sepsc import inter_event_intervals, pooled_distribution
from exneuro.model_factors import (
    NO_FACTORS,
    ModelFactors,
    attach_sheet_columns,
    count_animals,
    fit_lmm,
    usable_factors,
)
from exneuro.not_tested import not_tested_row, too_few_mice
from exneuro.stats import compare, mixed
from exneuro.stats.posthoc import contrast_family
from exneuro.stats.table import concat_stats, format_n_by_group, label_rows, subset_label

NAIVE_NOTE = (
    "NAIVE analysis, cells treated as independent n (pseudoreplication): shown only for "
    "comparison with published cells-as-n tests; use the mixed-model and mouse-means rows"
)


def _label(
    frame: pd.DataFrame, outcome: str, context: Mapping[str, str], keep_subset: bool = False
) -> pd.DataFrame:
    """Set analysis and outcome, and the subset from ``context`` (blank when there is none)."""
    out = label_rows(frame, analysis=ANALYSIS, outcome=outcome)
    if not keep_subset:
        out["subset"] = pd.Series(subset_label(**context) or pd.NA, index=out.index, dtype="string")
    return out


def _group_formula(outcome: str, control: str, factors: ModelFactors = NO_FACTORS) -> str:
    crossed = factors.treatment_terms().removesuffix(" * ")
    return f"{outcome} ~ C(group, Treatment({control!r}))" + (f" * {crossed}" if crossed else "")


def _factors(
    data: pd.DataFrame, declared: Mapping | None, context: Mapping[str, str]
) -> ModelFactors:
    """The declared factors these rows support (the others as "not tested" rows)."""
    if not declared or not (declared.get("fixed") or declared.get("random")):
        return NO_FACTORS
    return usable_factors(data, declared, subset_label(**context))


def _with_factors(rows: pd.DataFrame, factors: ModelFactors, data: pd.DataFrame) -> pd.DataFrame:
    """Model rows with the factors said in the notes and animals (not cages) counted."""
    if not factors.columns:
        return rows
    rows = count_animals(rows, data, factors, "mouse")
    averaged = (
        f"group means averaged over {', '.join(factors.fixed)} with equal weights; "
        if factors.fixed and (rows["test"] == "emm_contrast").any()
        else ""
    )
    return rows.assign(notes=f"{factors.note()}; {averaged}" + rows["notes"])


def _groups(data: pd.DataFrame, control: str) -> list[str]:
    present = list(pd.unique(data["group"].dropna()))
    if control not in present:
        raise ValueError(f"control group {control!r} is not in the data (groups: {present})")
    others = sorted(g for g in present if g != control)
    if not others:
        raise ValueError(f"only the control group {control!r} is in the data: nothing to compare")
    return others


def _counts(data: pd.DataFrame) -> dict[str, int]:
    return {
        "n_mice": int(data["mouse"].nunique()),
        "n_cells": int(data.groupby(["mouse", "cell"]).ngroups),
    }


def _mice_by_group(data: pd.DataFrame) -> str:
    counts = data.groupby("group", sort=True)["mouse"].nunique()
    return format_n_by_group(counts.to_dict())


def _integral_currents(steps: pd.DataFrame) -> pd.DataFrame:
    """Currents as integers when they are whole pA, so subsets read 'current_pa=40'."""
    current = steps["current_pa"].to_numpy(float)
    if np.all(current == np.round(current)):
        return steps.assign(current_pa=current.astype(int))
    return steps


def fi_curve_statistics(
    steps: pd.DataFrame,
    control: str,
    correction: str = "sidak",
    level: float = 0.95,
    family: str = "all",
    min_current_pa: float = 0.0,
    context: Mapping[str, str] | None = None,
    model_factors: Mapping | None = None,
) -> pd.DataFrame:
    """Mixed-model F–I analysis of a step table with a ``group`` column (one row per cell × step).

    Steps with current <= ``min_current_pa`` (default: the hyperpolarizing and zero steps, where
    no cell fires) are left out. Rows: the type III F tests of group, current and their
    interaction (``test="lmm"``), then the group contrasts against ``control`` at every current
    (``test="emm_contrast"``, ``subset`` ending in ``current_pa=<I>``), corrected with
    ``correction`` over all currents (``family="all"``) or per current (``"per_level"``).
    """
    context = dict(context or {})
    data = _integral_currents(steps[steps["current_pa"] > min_current_pa])
    data = data.dropna(subset=["firing_rate_hz", "group"]).reset_index(drop=True)
    others = _groups(data, control)
    reason = too_few_mice(data, "group", "mouse", [control, *others])
    if reason:  # a group difference on one animal: a "not tested" row, the study goes on
        return _label(not_tested_row("lmm", "group", "", reason), "firing_rate_hz", context)
    factors = _factors(data, model_factors, context)
    fit = fit_lmm(
        data,
        f"{_group_formula('firing_rate_hz', control, factors)} * C(current_pa)",
        factors,
        vc_formula={"cell": "0 + C(cell)"},
    )
    model_rows = mixed.to_stats(fit, levels={"cell": "n_cells"}, between="group")
    model_rows = _with_factors(model_rows, factors, data)
    model_rows = _label(model_rows, "firing_rate_hz", context)
    model_rows["notes"] = (
        f"current as a factor; steps > {min_current_pa:g} pA; cell nested in mouse; "
        + model_rows["notes"]
    )
    contrasts = contrast_family(
        fit, "group", "current_pa", "trt.vs.ctrl", control, correction, level, family, context
    )
    contrasts = _label(contrasts, "firing_rate_hz", context, keep_subset=True)
    contrasts = _with_factors(contrasts, factors, data)
    contrasts["n_cells"] = fit.n_per_level["cell"]
    contrasts["n_by_group"] = model_rows["n_by_group"].iloc[0]
    untested = _label(factors.untested, "firing_rate_hz", context)
    return concat_stats([model_rows, untested, contrasts])


def _mixed_rows(
    data: pd.DataFrame,
    outcome: str,
    control: str,
    correction: str,
    level: float,
    context,
    model_factors: Mapping | None = None,
) -> list[pd.DataFrame]:
    factors = _factors(data, model_factors, context)
    fit = fit_lmm(data, _group_formula(outcome, control, factors), factors)
    anova = mixed.to_stats(fit, between="group")
    contrast = contrast_family(
        fit, "group", None, "trt.vs.ctrl", control, correction, level, "all", context
    )
    contrast["n_by_group"] = anova["n_by_group"].iloc[0]
    counts = _counts(data.dropna(subset=[outcome]))
    rows = []
    for frame in (anova, contrast):
        frame = _with_factors(frame.copy(), factors, data)
        frame["n_cells"] = counts["n_cells"]
        frame["notes"] = "per-cell values, mouse as random intercept; " + frame["notes"]
        rows.append(frame)
    return [*rows, factors.untested]


def cell_property_statistics(
    cells: pd.DataFrame,
    control: str,
    outcomes: Sequence[str] | None = None,
    test: str = "welch",
    correction: str = "sidak",
    level: float = 0.95,
    bootstrap_resamples: int = 0,
    context: Mapping[str, str] | None = None,
    model_factors: Mapping | None = None,
) -> pd.DataFrame:
    """Group tests of per-cell values (one row per cell with ``mouse``, ``cell``, ``group``).

    For each outcome present (default :data:`CELL_OUTCOMES`): the mixed model ``value ~ group +
    (1 | mouse)`` (F row and the contrast of each group against ``control``), the cluster-level
    test on mouse means (``test``; n = mice), the naive test over cells (``<test>_cells_as_n``;
    labelled as pseudoreplicated), and with ``bootstrap_resamples`` > 0 the hierarchical
    bootstrap (mice, then cells). Cells missing the value (e.g. no rheobase) are left out of that
    outcome and counted out of ``n_cells``.
    """
    context = dict(context or {})
    outcomes = [o for o in (outcomes or CELL_OUTCOMES) if o in cells.columns]
    others = _groups(cells, control)
    frames = []
    for outcome in outcomes:
        data = cells.dropna(subset=[outcome, "group"]).reset_index(drop=True)
        if data.empty:  # a property the lab did not measure
            continue
        reason = too_few_mice(data, "group", "mouse", [control, *others])
        if reason:  # a group difference on one animal: a "not tested" row, the study goes on
            rows = [not_tested_row("lmm", "group", "", reason)]
            frames.append(_label(concat_stats(rows), outcome, context))
            continue
        rows = _mixed_rows(data, outcome, control, correction, level, context, model_factors)
        for group in others:
            pair = data[data["group"].isin([control, group])]
            counts = _counts(pair)
            cluster = compare.cluster_level_test(
                pair, outcome, "group", "mouse", test=test, labels=(control, group), level=level
            )
            naive = compare.two_group_test(
                pair.loc[pair["group"] == control, outcome],
                pair.loc[pair["group"] == group, outcome],
                test=test,
                labels=(control, group),
                level=level,
                unit="cells",
            )
            naive["test"] = naive["test"] + "_cells_as_n"
            naive["model"] = f"{outcome} ~ group, every cell an independent observation"
            naive["n_mice"] = counts["n_mice"]
            naive["notes"] = f"{NAIVE_NOTE}; cells {naive['n_by_group'].iloc[0]}; " + naive["notes"]
            naive["n_by_group"] = _mice_by_group(pair)
            cluster["n_cells"] = counts["n_cells"]
            rows += [cluster, naive]
            if bootstrap_resamples > 0:
                rows.append(
                    compare.hierarchical_bootstrap(
                        pair,
                        outcome,
                        "group",
                        levels=("mouse", "cell"),
                        n_boot=bootstrap_resamples,
                        labels=(control, group),
                        level=level,
                    )
                )
        frames.append(_label(concat_stats(rows), outcome, context))
    return concat_stats(frames)


def distribution_statistics(
    events: pd.DataFrame,
    control: str,
    per_cell: int | None = None,
    min_values: int = 10,
    context: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """KS tests of the equal-weight pooled IEI and amplitude distributions, each group against
    ``control`` (events with ``mouse``, ``cell``, ``group``, ``time_s``, ``amplitude_pa``).

    Each cell contributes ``per_cell`` values (default: the smallest count among cells with at
    least ``min_values`` values) as its quantiles; cells with fewer are left out and counted in the
    notes. The p value is descriptive (see the module docstring).
    """
    context = dict(context or {})
    others = _groups(events, control)
    sources = {"iei_s": inter_event_intervals(events), "amplitude_pa": events}
    frames = []
    for value, outcome in DISTRIBUTIONS.items():
        pooled = pooled_distribution(sources[value], value, "group", per_cell, min_values)
        for group in others:
            a = pooled.loc[pooled["group"] == control, value]
            b = pooled.loc[pooled["group"] == group, value]
            row = compare.ks_test(a, b, labels=(control, group))
            pair = pooled[pooled["group"].isin([control, group])]
            counts = _counts(pair)
            row["n_mice"] = counts["n_mice"]
            row["n_cells"] = counts["n_cells"]
            values = row["n_by_group"].iloc[0]
            row["n_by_group"] = _mice_by_group(pair)
            dropped = pooled.attrs["dropped_cells"]
            row["notes"] = (
                f"DESCRIPTIVE: equal-weight pool, {pooled.attrs['per_cell']} values per cell "
                f"(each cell's quantiles at (k - 0.5)/n; values {values})"
                + (f", {len(dropped)} cells with < {min_values} values left out" if dropped else "")
                + "; events within cells and cells within mice are not independent, so this p "
                "is not an inference: test per-cell values with the mouse as unit; " + row["notes"]
            )
            frames.append(_label(row, outcome, context))
    return concat_stats(frames)


def ephys_statistics(
    steps: pd.DataFrame,
    cells: pd.DataFrame,
    events: pd.DataFrame | None,
    control: str,
    outcomes: Sequence[str] | None = None,
    test: str = "welch",
    correction: str = "sidak",
    level: float = 0.95,
    per_cell: int | None = None,
    min_events: int = 10,
    bootstrap_resamples: int = 0,
    context: Mapping[str, str] | None = None,
    model_factors: Mapping | None = None,
    sheet: pd.DataFrame | None = None,
    sheet_path: str = "the sample sheet",
) -> pd.DataFrame:
    """Every ephys test as one statistics table: F–I model and contrasts, per-cell values, KS.
    ``model_factors`` name sample-sheet columns (joined from ``sheet``) that enter the mixed
    models (see the module docstring)."""
    declared = model_factors or {}
    columns = [
        *declared.get("fixed", []),
        *([declared["random"]] if declared.get("random") else []),
    ]
    steps = attach_sheet_columns(steps, sheet, columns, "mouse", sheet_path)
    cells = attach_sheet_columns(cells, sheet, columns, "mouse", sheet_path)
    frames = [
        fi_curve_statistics(
            steps, control, correction, level, context=context, model_factors=model_factors
        ),
        cell_property_statistics(
            cells,
            control,
            outcomes,
            test,
            correction,
            level,
            bootstrap_resamples,
            context,
            model_factors,
        ),
    ]
    if events is not None and len(events):
        frames.append(distribution_statistics(events, control, per_cell, min_events, context))
    return concat_stats(frames)
