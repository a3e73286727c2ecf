"""The study's one tidy statistics table.

Every test the pipeline runs, whatever the modality, becomes one or more rows of this table, so a
reader (or a figure that draws significance stars) finds every number in one place and in one
shape. The columns follow CONVENTIONS.md: what was tested, the estimate with its CI, the test
statistic with exact degrees of freedom, raw and adjusted p with the correction named, an effect
size with its kind, and n at every level of nesting.

Statistics functions return frames built with :func:`stats_frame`; the caller then fills the
context columns (``analysis``, ``outcome``, ``subset``) with :func:`label_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

#: Column name -> meaning. The order here is the column order of the written table.
STAT_COLUMNS: dict[str, str] = {
    "analysis": "which analysis produced the row (e.g. 'treadmill', 'photometry')",
    "outcome": "the dependent variable, with its unit (e.g. 'distance_m')",
    "subset": "the part of the data tested: 'key=value' pairs joined by '; ' ('cohort=silencing')",
    "test": "the test or model family (e.g. 'rm_anova', 'lmm', 'emm_contrast', 'welch_t')",
    "model": "formula or design of the test (e.g. 'distance_m ~ group * session + (1 | mouse)')",
    "term": "the model term or contrast tested (e.g. 'group:session', 'silenced - control')",
    "estimate": "point estimate of the term or contrast, in outcome units (blank for F tests)",
    "ci_low": "lower bound of the confidence interval of the estimate",
    "ci_high": "upper bound of the confidence interval of the estimate",
    "ci_level": "confidence level of the interval (e.g. 0.95)",
    "se": "standard error of the estimate (model-based for mixed models and GLMMs)",
    "statistic_name": "name of the test statistic: F, t, z, U, W, D, chi2 or 'odds ratio'",
    "statistic": "value of the test statistic",
    "df_num": "numerator (or only) degrees of freedom",
    "df_den": "denominator degrees of freedom (F tests) or blank",
    "p": "p value of the test as computed, before any multiplicity or sphericity correction",
    "p_adj": "p value after the correction named in 'correction' (equals p when none)",
    "correction": "correction applied to give p_adj (e.g. 'Greenhouse-Geisser', 'Sidak (4 tests)')",
    "epsilon": "sphericity epsilon used for the correction (RM ANOVA), else blank",
    "mauchly_w": "Mauchly's W for sphericity of the term (RM ANOVA, within terms with > 1 df)",
    "mauchly_p": "p of Mauchly's test (R stats::mauchly.test chi-square approximation)",
    "eps_gg": "Greenhouse-Geisser epsilon of the term",
    "eps_hf": "Huynh-Feldt epsilon of the term (uncapped; capped at 1 for its correction)",
    "p_gg": "p with the Greenhouse-Geisser correction",
    "p_hf": "p with the Huynh-Feldt correction",
    "effect_size": "effect size value",
    "effect_size_name": "kind of effect size (e.g. 'partial eta^2', 'Hedges g')",
    "effect_size_ci_low": "lower bound of the effect size CI",
    "effect_size_ci_high": "upper bound of the effect size CI",
    "effect_size_alt": "a second effect size where the field reports two (e.g. generalized eta^2)",
    "effect_size_alt_name": "kind of the second effect size",
    "n_mice": "number of mice (independent experimental units) entering the test",
    "n_cells": "number of cells or neurons entering the test (nested data), else blank",
    "n_segments": "number of dendritic segments or sections entering the test, else blank",
    "n_obs": "number of rows (observations) entering the test",
    "n_excluded": "number of subjects dropped by the test itself (e.g. listwise deletion)",
    "n_by_group": "mice per group, 'group=n' joined by '; '",
    "fit_method": "how the model was fitted: REML, ML, Laplace (GLMM), OLS, GLS-REML",
    "df_method": "how denominator df were obtained: Satterthwaite, Kenward-Roger, residual, z",
    "converged": "'yes' if the fit passed the optimizer's convergence checks, 'no' if not",
    "singular_fit": "'yes' if a variance component is estimated on its boundary (lme4 isSingular)",
    "variance_components": "estimated variances of the model: 'level: variance (SD)' by '; '",
    "loglik": "maximized log-likelihood (restricted log-likelihood for REML fits, as lme4)",
    "aic": "Akaike information criterion, -2 logLik + 2 k (k = fixed + variance parameters)",
    "bic": "Bayesian information criterion, -2 logLik + log(n_obs) k",
    "p_mouse_level": "p of the test on mouse means, reported beside a singular mixed-model fit",
    "family": "declared family of tests this row belongs to (config 'statistics.families')",
    "primary": "'yes' for a declared primary outcome of its family",
    "p_family": "p adjusted across every test of the declared family",
    "family_correction": "correction across the family (e.g. 'Holm (6 tests)')",
    "notes": "method details a reader needs (SS type, df method, estimation method)",
}

_FLOAT_COLUMNS = [
    "estimate",
    "ci_low",
    "ci_high",
    "ci_level",
    "se",
    "statistic",
    "df_num",
    "df_den",
    "p",
    "p_adj",
    "epsilon",
    "mauchly_w",
    "mauchly_p",
    "eps_gg",
    "eps_hf",
    "p_gg",
    "p_hf",
    "loglik",
    "aic",
    "bic",
    "p_mouse_level",
    "p_family",
    "effect_size",
    "effect_size_ci_low",
    "effect_size_ci_high",
    "effect_size_alt",
]
_COUNT_COLUMNS = ["n_mice", "n_cells", "n_segments", "n_obs", "n_excluded"]


def stats_frame(records: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Build a statistics table from row dicts, with every column present and in order.

    Unknown keys raise ``KeyError`` so that a typo never silently drops a number. Missing keys are
    left blank. ``p_adj`` defaults to ``p`` and ``correction`` to ``'none'`` when not given.
    """
    rows = [dict(record) for record in records]
    for row in rows:
        unknown = sorted(set(row) - set(STAT_COLUMNS))
        if unknown:
            raise KeyError(
                f"unknown statistics-table column(s) {unknown}; known: {list(STAT_COLUMNS)}"
            )
    frame = pd.DataFrame(rows, columns=list(STAT_COLUMNS))
    for column in _FLOAT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype("float64")
    for column in _COUNT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype("Int64")
    missing_adj = frame["p_adj"].isna() & frame["p"].notna()
    frame.loc[missing_adj, "p_adj"] = frame.loc[missing_adj, "p"]
    frame["correction"] = frame["correction"].where(frame["correction"].notna(), "none")
    text_columns = [c for c in STAT_COLUMNS if c not in _FLOAT_COLUMNS + _COUNT_COLUMNS]
    frame[text_columns] = frame[text_columns].astype("string")
    return frame


def label_rows(frame: pd.DataFrame, **context: str) -> pd.DataFrame:
    """Return a copy of a statistics table with context columns (analysis, outcome, subset) set."""
    unknown = sorted(set(context) - {"analysis", "outcome", "subset"})
    if unknown:
        raise KeyError(f"label_rows sets only analysis, outcome and subset, not {unknown}")
    labelled = frame.copy()
    for column, value in context.items():
        labelled[column] = pd.Series(value, index=labelled.index, dtype="string")
    return labelled


def concat_stats(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack statistics tables, keeping the column order and dtypes of :func:`stats_frame`."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return stats_frame([])
    return stats_frame([record for frame in frames for record in frame.to_dict("records")])


def format_n_by_group(counts: Mapping[str, int]) -> str:
    """'control=8; silenced=7' from a mapping of group to number of mice."""
    return "; ".join(f"{group}={int(n)}" for group, n in counts.items())


def subset_label(**levels: object) -> str:
    """'cohort=silencing; session=week2' from keyword levels, in the order given."""
    return "; ".join(f"{key}={value}" for key, value in levels.items() if value is not None)


def significance_stars(p: float) -> str:
    """Stars used on every figure: * < 0.05, ** < 0.01, *** < 0.001, **** < 0.0001, else 'ns'."""
    if p is None or not np.isfinite(p):
        return ""
    for threshold, stars in ((1e-4, "****"), (1e-3, "***"), (1e-2, "**"), (0.05, "*")):
        if p < threshold:
            return stars
    return "ns"
