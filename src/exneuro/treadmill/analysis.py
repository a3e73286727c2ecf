"""Group statistics of one cohort's endurance tests, all through the shared statistics engine.

For each configured outcome:
- a linear mixed model ``outcome ~ group * session + (1 | mouse)`` (REML, Satterthwaite F tests),
  which keeps mice with a missed test (GraphPad's 'mixed-effects analysis' of the same design);
- the two-way repeated-measures ANOVA (group between, session within, type III SS,
  sphericity-corrected), which drops mice with a missing test listwise and says how many;
- post-hoc comparisons from the mixed model: each group against the control group at every
  session (one family), and every session against baseline within each group (one family),
  corrected as configured;
- the gain at the last session: by default the baseline-adjusted ANCOVA (follow-up ~ baseline +
  group; Vickers & Altman 2001), with the % change from baseline compared between groups (Welch
  by default, with Hedges' g) beside it as a descriptive comparison; and per session, the mixed
  model of the later sessions with each mouse's baseline as covariate, each group against control
  at every session (``lmm_baseline_adjusted``, ``emm_contrast_baseline_adjusted``);
- an outcome declared with a transform (``transforms: {distance_m: log}``) is tested on that
  scale by every test above; the % change stays on the original scale.
Adaptation curves and responders are compared between groups per mouse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from exneuro.model_factors import (
    NO_FACTORS,
    ModelFactors,
    attach_sheet_columns,
    count_animals,
    declared_factors,
    fit_lmm,
    usable_factors,
)
from exneuro.not_tested import TWO_GROUP_TEST_NAMES, not_tested_row, untested_on_failure
from exneuro.stats import compare, mixed
from exneuro.stats.ancova import baseline_ancova
from exneuro.stats.anova import rm_anova
from exneuro.stats.posthoc import contrast_family
from exneuro.stats.table import concat_stats, format_n_by_group, label_rows, subset_label
from exneuro.stats.transforms import TRANSFORMS, apply_transform, transform_label
from exneuro.treadmill.adaptation import classify_responders, fit_adaptation
from exneuro.treadmill.metrics import metric_columns

#: Tests whose models include the declared factors (their notes say so).
FACTOR_TESTS = (
    "lmm",
    "lmm_coefficient",
    "emm_contrast",
    "mixed_anova",
    "rm_anova",
    "ancova",
    "lmm_baseline_adjusted",
    "emm_contrast_baseline_adjusted",
)
ADAPTATION_OUTCOMES = {
    "slope_per_day": "per-mouse linear slope across training days",
    "plateau": "per-mouse plateau of the rise-to-plateau fit",
    "rise_percent": "per-mouse fitted rise, % of the fitted start",
}


def cohort_tests(tests: pd.DataFrame, cohort: Mapping) -> pd.DataFrame:
    """The included tests of one cohort, with group and session as ordered categories."""
    data = tests[(tests["cohort"] == cohort["id"]) & ~tests["excluded"]].copy()
    return data


def group_summary(
    data: pd.DataFrame, columns: list[str], sessions: list[str], by: Sequence[str] = ()
) -> pd.DataFrame:
    """Mean, SD, SEM and n mice per group, session and outcome (what the figures draw), and per
    level of the fixed factors ``by`` (e.g. sex) when the models include them."""
    by = list(by)
    long = data.melt(
        id_vars=["group", *by, "session", "mouse"],
        value_vars=columns,
        var_name="outcome",
        value_name="value",
    ).dropna(subset=["value"])
    summary = (
        long.groupby(["outcome", "group", *by, "session"], sort=False, observed=True)["value"]
        .agg(["mean", "std", "count"])
        .reset_index()
    )
    summary["sem"] = summary["std"] / np.sqrt(summary["count"])
    summary["session"] = pd.Categorical(summary["session"], sessions, ordered=True)
    summary = summary.rename(columns={"std": "sd", "count": "n_mice"})
    return summary.sort_values(["outcome", "group", *by, "session"]).reset_index(drop=True)


def against_control(
    values: pd.DataFrame,
    column: str,
    cohort: Mapping,
    test: str,
    level: float,
    subset: str,
    outcome: str | None = None,
) -> pd.DataFrame:
    """Each group of the cohort against its control group on one per-mouse column."""
    control = cohort["control_group"]
    rows = [
        label_rows(
            compare.two_group_test(
                values.loc[values["group"] == control, column].dropna(),
                values.loc[values["group"] == group, column].dropna(),
                test=test,
                labels=(control, group),
                level=level,
            ),
            outcome=outcome or column,
            subset=subset,
        )
        for group in cohort["groups"]
        if group != control
    ]
    return concat_stats(rows)


def outcome_statistics(
    data: pd.DataFrame,
    column: str,
    cohort: Mapping,
    sessions: list[str],
    settings: Mapping,
    baseline: str | None = None,
    factors: ModelFactors = NO_FACTORS,
) -> pd.DataFrame:
    """Mixed model, RM ANOVA, post-hoc contrasts and gain tests of one outcome in one cohort.

    ``factors`` are the sample-sheet factors the cohort declared and the data support
    (:func:`exneuro.model_factors.usable_factors`): fixed ones are crossed with group and session
    in the mixed model and the RM ANOVA and added to the ANCOVA; a random one is a random
    intercept above the mouse. The post-hoc contrasts are then averaged over the fixed factors'
    levels with equal weights (emmeans), which the notes say."""
    level = settings["ci_level"]
    baseline = baseline or sessions[0]
    transform = settings.get("transforms", {}).get(column)
    raw = data
    if transform:
        data = data.assign(
            **{
                column: apply_transform(
                    data[column], transform, f"treadmill {column}, cohort {cohort['id']}"
                )
            }
        )
    control = cohort["control_group"]
    n_by_group = (
        data.groupby("group", observed=False)["mouse"].nunique().reindex(cohort["groups"]).fillna(0)
    )
    rows = []
    one_group = len(cohort["groups"]) == 1  # no control to compare with: session effects only
    group_terms = "" if one_group else f"C(group, Treatment('{control}')) * "
    formula = (
        f"{column} ~ {group_terms}{factors.treatment_terms()}C(session, Treatment('{sessions[0]}'))"
    )
    fit = fit_lmm(data.dropna(subset=[column]), formula, factors)
    correction = settings["posthoc_correction"]
    ddf = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger"}[
        settings.get("df_method", "satterthwaite")
    ]
    model_rows = mixed.to_stats(fit, include_coefficients=True, ddf=ddf)
    coefficients = model_rows["statistic_name"] == "t"  # the fixed effects with their SEs
    model_rows.loc[coefficients, "test"] = "lmm_coefficient"
    rows.append(model_rows)
    context = {"cohort": cohort["id"]}
    if not one_group:
        rows.append(
            contrast_family(
                fit,
                "group",
                "session",
                "trt.vs.ctrl",
                control,
                correction,
                level,
                family="all",
                context=context,
            )
        )
    rows.append(
        contrast_family(
            fit,
            "session",
            None if one_group else "group",
            "trt.vs.ctrl",
            sessions[0],
            correction,
            level,
            family="all",
            context=context,
        )
    )
    rows += untested_on_failure(
        lambda: rm_anova(
            data,
            dv=column,
            subject="mouse",
            within=["session"],
            between=[*([] if one_group else ["group"]), *factors.fixed] or None,
        ).to_stats(correction=settings["sphericity_correction"]),
        "rm_anova",
        "",
        subset_label(cohort=cohort["id"]),
    )
    last = sessions[-1]
    final = raw[raw["session"] == last]
    if not one_group:
        ancova = settings.get("baseline_adjustment", "ancova") == "ancova"
        percent = against_control(
            final,
            f"{column}_pct_change",
            cohort,
            settings["gain_test"],
            level,
            subset=subset_label(cohort=cohort["id"], session=last),
        )
        if ancova:
            if len(sessions) > 2:  # with one follow-up session the ANCOVA row is that model
                rows.append(
                    _baseline_adjusted_course(
                        data, column, cohort, sessions, baseline, settings, factors
                    )
                )
            percent["notes"] = (
                "descriptive: % change from baseline compared between groups; the gain test is "
                "the baseline-adjusted ANCOVA row; " + percent["notes"]
            )
            rows.append(_gain_ancova(data, column, cohort, baseline, last, level, factors))
        rows.append(percent)
    rows = [count_animals(frame, data, factors, "mouse") for frame in rows]
    table = concat_stats([*rows, factors.untested])
    if factors.columns:
        modelled = table["test"].isin(FACTOR_TESTS) & ~table["notes"].str.startswith(
            "not tested", na=False
        )
        table.loc[modelled, "notes"] = factors.note() + "; " + table.loc[modelled, "notes"]
        if factors.fixed:
            averaged = modelled & table["test"].str.startswith("emm_contrast")
            table.loc[averaged, "notes"] = (
                f"means averaged over {', '.join(factors.fixed)} with equal weights; "
                + table.loc[averaged, "notes"]
            )
    if transform:
        transformed = table["outcome"].isna()  # every row but the % change rows
        table.loc[transformed, "model"] = table.loc[transformed, "model"].str.replace(
            column, transform_label(transform, column), regex=False
        )
        table.loc[transformed, "notes"] = (
            f"outcome {TRANSFORMS[transform][2]}; " + table.loc[transformed, "notes"]
        )
    table["n_by_group"] = table["n_by_group"].fillna(format_n_by_group(n_by_group.astype(int)))
    return _label_default(table, column, cohort)


def _baseline_adjusted_course(
    data: pd.DataFrame,
    column: str,
    cohort: Mapping,
    sessions: list[str],
    baseline: str,
    settings: Mapping,
    factors: ModelFactors = NO_FACTORS,
) -> pd.DataFrame:
    """The mixed model of the sessions after baseline with the baseline as covariate,
    ``outcome ~ baseline + group * session + (1 | mouse)``, and each group against control at
    every session from it (the ANCOVA per session; tests ``lmm_baseline_adjusted`` and
    ``emm_contrast_baseline_adjusted``, beside the unadjusted ones)."""
    later = [s for s in sessions if s != baseline]
    covariate = f"baseline_{column}"
    base = data.loc[data["session"] == baseline].set_index("mouse")[column]
    post = data.loc[data["session"].isin(later)].copy()
    post[covariate] = post["mouse"].map(base).astype(float)
    post["session"] = pd.Categorical(post["session"].astype(str), later, ordered=True)
    post = post.dropna(subset=[column, covariate])
    control = cohort["control_group"]
    formula = (
        f"{column} ~ {covariate} + C(group, Treatment('{control}')) * "
        f"{factors.treatment_terms()}C(session, Treatment('{later[0]}'))"
    )
    fit = fit_lmm(post, formula, factors)
    omnibus = mixed.to_stats(fit)
    omnibus = omnibus[omnibus["term"] != covariate].assign(test="lmm_baseline_adjusted")
    contrasts = contrast_family(
        fit,
        "group",
        "session",
        "trt.vs.ctrl",
        control,
        settings["posthoc_correction"],
        settings["ci_level"],
        family="all",
        context={"cohort": cohort["id"]},
    ).assign(test="emm_contrast_baseline_adjusted")
    table = concat_stats([omnibus, contrasts])
    table["notes"] = f"adjusted for each mouse's {baseline} value ({covariate}); " + table["notes"]
    return table


def _gain_ancova(
    data: pd.DataFrame,
    column: str,
    cohort: Mapping,
    baseline: str,
    last: str,
    level: float,
    factors: ModelFactors = NO_FACTORS,
) -> pd.DataFrame:
    """ANCOVA of the outcome at the last session on its baseline value, groups against control
    (adjusted for the fixed factors: ``follow_up ~ baseline + group + sex``)."""
    wide = data.pivot_table(
        index=["mouse", "group", *factors.fixed], columns="session", values=column, observed=True
    ).reset_index()
    if baseline not in wide or last not in wide:
        raise ValueError(f"{column}: no values at session '{baseline}' or '{last}'")
    groups = [cohort["control_group"]] + [
        g for g in cohort["groups"] if g != cohort["control_group"]
    ]
    rows = baseline_ancova(
        wide.rename(columns={baseline: "baseline", last: "follow_up"}),
        "follow_up",
        "baseline",
        "group",
        groups,
        level,
        adjust_for={name: factors.levels[name] for name in factors.fixed},
    )
    extra = "".join(f" + {name}" for name in factors.fixed)
    rows["model"] = f"{column} at {last} ~ {column} at {baseline} + group{extra}"
    rows["subset"] = subset_label(cohort=cohort["id"], session=last)
    return rows


def _label_default(table: pd.DataFrame, outcome: str, cohort: Mapping) -> pd.DataFrame:
    table["analysis"] = table["analysis"].fillna("treadmill")
    table["outcome"] = table["outcome"].fillna(outcome)
    table["subset"] = table["subset"].fillna(subset_label(cohort=cohort["id"]))
    return table


def adaptation_statistics(
    adaptation: pd.DataFrame, responders: pd.DataFrame, cohort: Mapping, settings: Mapping
) -> pd.DataFrame:
    """Per-mouse adaptation outcomes: each group's slope against 0, groups against control for
    slope, plateau and rise, and responders against control (Fisher's exact test)."""
    control = cohort["control_group"]
    level = settings["ci_level"]
    rows = []
    for group, mice in adaptation.groupby("group", sort=False):
        outcome = f"{mice['metric'].iloc[0]} slope_per_day"
        rows += untested_on_failure(
            lambda mice=mice, group=group, outcome=outcome: label_rows(
                compare.one_sample_test(mice["slope_per_day"].dropna(), mu=0.0, level=level),
                outcome=outcome,
                subset=subset_label(cohort=cohort["id"], group=group),
            ),
            "one_sample_t",
            "",
            subset_label(cohort=cohort["id"], group=group),
        )
    if len(cohort["groups"]) == 1:  # slopes against 0 only: no control to compare with
        return _adaptation_table(rows)
    fitted = adaptation[adaptation["fit_status"].isin(["ok"])]
    subset = subset_label(cohort=cohort["id"])
    gain_test = TWO_GROUP_TEST_NAMES[settings["gain_test"]]
    for outcome in ADAPTATION_OUTCOMES:
        source = adaptation if outcome == "slope_per_day" else fitted
        name = f"{adaptation['metric'].iloc[0]} {outcome}"
        if outcome != "slope_per_day" and fitted.empty:
            statuses = "; ".join(sorted(set(adaptation["fit_status"])))
            reason = f"no mouse has a rise-to-plateau fit ({statuses})"
            rows.append(not_tested_row(gain_test, "", subset, reason).assign(outcome=name))
            continue
        rows += untested_on_failure(
            lambda source=source, outcome=outcome, name=name: against_control(
                source, outcome, cohort, settings["gain_test"], level, subset=subset, outcome=name
            ),
            gain_test,
            "",
            subset,
        )
    for group in cohort["groups"]:
        if group == control:
            continue
        counts = [
            [
                int(responders.loc[responders["group"] == g, "responder"].sum()),
                int((~responders.loc[responders["group"] == g, "responder"]).sum()),
            ]
            for g in (control, group)
        ]
        test = compare.fisher_exact_test(counts, labels=(control, group))
        rows.append(
            label_rows(
                test,
                outcome=f"responders ({responders['rule'].iloc[0]})",
                subset=subset_label(cohort=cohort["id"]),
            )
        )
    return _adaptation_table(rows)


def _adaptation_table(rows: list[pd.DataFrame]) -> pd.DataFrame:
    table = concat_stats(rows)
    table["analysis"] = "treadmill adaptation"
    return table


def cohort_factors(
    data: pd.DataFrame,
    cohort: Mapping,
    settings: Mapping,
    sheet: pd.DataFrame | None = None,
    sheet_path: str = "the sample sheet",
) -> tuple[pd.DataFrame, ModelFactors]:
    """The cohort's tests with the declared factor columns from the sample sheet, and the
    factors the data support (the others as "not tested" rows)."""
    declared = declared_factors(cohort, settings)
    columns = [*declared["fixed"], *([declared["random"]] if declared["random"] else [])]
    data = attach_sheet_columns(data, sheet, columns, "mouse", sheet_path)
    one_group = len(cohort["groups"]) == 1
    factors = usable_factors(
        data,
        declared,
        subset_label(cohort=cohort["id"]),
        group=None if one_group else "group",
        where=sheet_path,
    )
    return data, factors


def cohort_statistics(
    tests: pd.DataFrame,
    cohort: Mapping,
    treadmill: Mapping,
    sheet: pd.DataFrame | None = None,
    sheet_path: str = "the sample sheet",
) -> dict[str, pd.DataFrame]:
    """Every statistic of one cohort: the statistics rows, group summary (by the declared
    fixed factors too), adaptation fits and responders."""
    sessions = [s["id"] for s in treadmill["sessions"]]
    columns = metric_columns(treadmill["work_definition"])
    settings = treadmill["statistics"]
    data = cohort_tests(tests, cohort)
    data["session"] = pd.Categorical(data["session"], sessions, ordered=True)
    data["group"] = pd.Categorical(data["group"], cohort["groups"], ordered=True)
    data, factors = cohort_factors(data, cohort, settings, sheet, sheet_path)
    outcomes = [columns[name] for name in settings["metrics"]]
    stats = [
        outcome_statistics(
            data, column, cohort, sessions, settings, treadmill.get("baseline_session"), factors
        )
        for column in outcomes
    ]
    adaptation_column = columns[treadmill["adaptation"]["metric"]]
    adaptation = fit_adaptation(
        data,
        adaptation_column,
        treadmill["adaptation"]["plateau_fraction"],
        fit_plateau=treadmill["adaptation"]["fit_plateau"],
    )
    rule = treadmill["responders"]
    responders = classify_responders(
        data,
        columns[rule["metric"]],
        treadmill["baseline_session"],
        rule["session"],
        rule["min_percent_change"],
    )
    stats.append(adaptation_statistics(adaptation, responders, cohort, settings))
    pct = [f"{c}_pct_change" for c in outcomes]
    return {
        "statistics": concat_stats(stats),
        "summary": group_summary(data, outcomes + pct, sessions, list(factors.fixed)),
        "adaptation": adaptation,
        "responders": responders,
    }
