"""Linear mixed models that report what R's lme4 + lmerTest (+ emmeans) report.

Why this module exists
----------------------
Mouse experiments have few independent units (6-12 mice per group) and many observations per
unit (sessions, cells, dendritic segments). Treating the observations as independent is
pseudo-replication; a linear mixed model with the mouse as grouping factor is the standard
remedy. With so few mice the Wald z-tests that statsmodels reports are too liberal, so every
test here uses t and F reference distributions with **Satterthwaite degrees of freedom**
(Satterthwaite 1946, *Biometrics Bulletin* 2:110-114), computed exactly as the R package
lmerTest does (Kuznetsova, Brockhoff & Christensen 2017, *J Stat Softw* 82(13)), so that a
reviewer who refits the model in R gets the same numbers.

What is computed, and how
-------------------------
* **Fit.** Two optimizers work on the same model. (1) lme4's profiled REML/ML deviance (Bates et
  al. 2015, *J Stat Softw* 67(1), eqs. 34 and 41), evaluated here from per-group
  cross-products, is minimized from lme4's start by a bounded derivative-free search (Powell, as
  lme4 uses BOBYQA) polished by L-BFGS-B. (2) statsmodels
  :class:`~statsmodels.regression.mixed_linear_model.MixedLM` is then run from that optimum with
  its default optimizer, falling back to ``lbfgs``, ``powell`` and ``nm`` while it does not
  converge cleanly — unless the optimum of (1) already passes lme4's convergence checks, when
  the fallbacks would only cost time (statsmodels loops over animals in Python: minutes at a
  thousand animals, and it cannot start from a variance at zero); every warning it raises is
  kept in :attr:`MixedModelFit.warnings`. The
  candidate with the lower lme4 deviance, polished, is reported; its statsmodels result object is
  kept in :attr:`MixedModelFit.result`. The final optimum is checked as lme4 checks it (scaled
  gradient, Hessian eigenvalues, singular fits). statsmodels on its own stops at a looser
  tolerance and sometimes on the boundary when the optimum is interior (the nested-cells
  reference case), which is why lme4's criterion is optimized directly.
* **Parametrization** follows lme4: ``varpar = (theta, sigma)``, where ``theta`` holds the
  lower-triangular (column-major) Cholesky factor of the random-effect covariance relative to
  the residual variance, and the relative standard deviation of each variance component, and
  ``sigma`` is the residual standard deviation.
* **Satterthwaite df** for a contrast ``L beta`` (:func:`contrast`, :func:`coef_table`):
  ``df = 2 (L C L')^2 / (g' A g)`` with ``C(varpar) = sigma^2 (X' V*^-1 X)^-1`` the covariance of
  the fixed effects, ``g`` the gradient of ``L C L'`` with respect to ``varpar`` (central
  differences) and ``A = 2 H^-1`` the asymptotic covariance of ``varpar``, ``H`` being the
  Hessian of the (REML or ML) deviance ``-2 log L(theta, sigma)`` at the optimum (Kuznetsova et
  al. 2017, eqs. 5-7; lmerTest ``devfun_vp``/``contest1D``). As in lmerTest, ``H`` is inverted
  on its positive eigenvalues only, and non-positive eigenvalues are reported as warnings. The df
  is invariant, to first order, to the parametrization of the variance parameters; the tests
  check this numerically against the (covariance, sigma^2) scale.
* **Multi-df F tests** (:func:`anova_table`) follow lmerTest ``contestMD`` (after Fai &
  Cornelius 1996, *J Stat Comput Simul* 54:363-378): eigen-decompose ``L C L' = P D P'``; the
  ``q`` rows of ``P'L`` are independent 1-df contrasts with Satterthwaite df ``nu_m``;
  ``F = sum(t_m^2)/q`` and the denominator df is ``2E/(E - q)`` with ``E = sum nu_m/(nu_m - 2)``
  (``2`` if any ``nu_m <= 2``).
* **Type III hypotheses.** The F table reproduces lmerTest's ``anova(type = 3)``: SAS-style type
  III estimable functions built from the treatment-coded design, the all-level indicator design
  and term containment (lmerTest ``get_contrasts_type3``), mapped to the caller's coefficients.
  The hypotheses are the marginal ones of sum-to-zero coding for factor designs, and they do not
  depend on the coding the caller chose (treatment, sum, ...). Terms with continuous covariates
  are tested at covariate = 0, as in lmerTest/SAS. The *basis* of each hypothesis is reproduced
  too, because the contestMD df of a multi-df term depends on it (in lmerTest too: its df for a
  group test in a group x covariate model changes in the 4th digit with the order of the group
  levels; the treatment reference here is the first level, or the caller's ``Treatment``
  reference, like R's first factor level). Single-term models use lmerTest's type I basis, as
  its ``anova()`` does. A formula this construction cannot handle falls back to sum-coding
  hypotheses (noted in ``fit.warnings``). The coefficient table keeps the caller's coding.
* **Estimated marginal means** (:func:`emmeans`, :func:`emm_contrasts`) follow the R package
  emmeans (Lenth): predictions on the reference grid of all factor levels (covariates at their
  mean), averaged with equal weights over the factors not named, with Satterthwaite df as in
  ``emmeans(..., lmer.df = "satterthwaite")``.

Where the code lives
--------------------
:mod:`~exneuro.stats.lmm_engine` (deviance, derivatives, convergence checks),
:mod:`~exneuro.stats.lmm_design` (formulas, type III hypotheses), :mod:`~exneuro.stats.lmm_fit`
(:func:`fit_lmm`), :mod:`~exneuro.stats.lmm_inference` (t and F tests, emmeans); this module
gathers them and writes the statistics-table rows.

Random-effect structures
------------------------
* ``groups="mouse"``: random intercept per mouse, ``(1 | mouse)``.
* ``re_formula="~Days"``: correlated random intercept and slope, ``(Days | mouse)``.
* ``vc_formula={"cell": "0 + C(cell)"}``: a random intercept for each cell within its mouse,
  ``(1 | mouse/cell)``. Labels need only be unique within a mouse. A third level (segments within
  cells within mice) is a second entry, ``{"cell": "0 + C(cell)", "segment": "0 +
  C(cell):C(segment)"}``.
* ``re_formula="1", vc_formula={"Days": "0 + Days"}``: uncorrelated intercept and slope,
  ``(1 | mouse) + (0 + Days | mouse)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from exneuro.stats.kenward_roger import kr_anova_table, kr_coef_table
from exneuro.stats.lmm_design import _INDICATOR_VC, TYPE3_NOTES, _strip_codings
from exneuro.stats.lmm_fit import MixedModelFit, fit_lmm
from exneuro.stats.lmm_inference import (
    anova_table,
    coef_table,
    contrast,
    emm_contrasts,
    emmeans,
    likelihood_ratio_test,
    variance_components,
)
from exneuro.stats.multiplicity import adjust_pvalues, correction_label
from exneuro.stats.table import stats_frame

__all__ = [
    "MixedModelFit",
    "adjust_pvalues",
    "anova_table",
    "coef_table",
    "contrast",
    "emm_contrasts",
    "emmeans",
    "fit_lmm",
    "likelihood_ratio_test",
    "model_label",
    "to_stats",
    "variance_components",
]


# ----------------------------------------------------------------------------------------------


# Rows of the project's statistics table
# ----------------------------------------------------------------------------------------------
def model_label(fit: MixedModelFit) -> str:
    """lme4-style description, e.g. 'distance_m ~ group * session + (1 | mouse); REML; ...'."""
    fixed = _strip_codings(fit.formula).strip()
    fixed = re.sub(r"\s+", " ", fixed)
    random = []
    if fit.re_formula is None or fit.re_formula.strip().lstrip("~").strip() == "1":
        random.append(f"(1 | {fit.groups})")
    else:
        random.append(
            f"({_strip_codings(fit.re_formula.strip().lstrip('~')).strip()} | {fit.groups})"
        )
    for name in sorted(fit.vc_formula):
        vcf = fit.vc_formula[name]
        match = _INDICATOR_VC.match(vcf)
        if match:
            nested = [match.group(1)] + re.findall(r"C\(\s*(\w+)\s*\)", match.group(2) or "")
            random.append(f"(1 | {fit.groups}:{':'.join(nested)})")
        else:
            random.append(f"({_strip_codings(vcf).strip()} | {fit.groups})")
    method = "REML" if fit.reml else "ML"
    return f"{fixed} + {' + '.join(random)}; {method}; Satterthwaite df"


def variance_text(fit: MixedModelFit) -> str:
    """'mouse: 12.3 (SD 3.51); mouse:cell: 4.1 (SD 2.02); Residual: 30.2 (SD 5.5)'."""
    parts = []
    for row in variance_components(fit).itertuples(index=False):
        if row.var2 is not None and isinstance(row.var2, str):
            first = "intercept" if row.var1 == row.grp else row.var1
            parts.append(f"{row.grp} corr({first}, {row.var2}): {row.sdcor:.4g}")
            continue
        name = (
            row.grp
            if row.var1 in (None, row.grp) or row.grp == "Residual"
            else (f"{row.grp} {row.var1}")
        )
        parts.append(f"{name}: {row.vcov:.6g} (SD {row.sdcor:.4g})")
    return "; ".join(parts)


def fit_columns(fit: MixedModelFit, df_method: str = "Satterthwaite") -> dict[str, Any]:
    """The model-level columns of every row of one fit: method, convergence, singularity,
    variance components, logLik, AIC and BIC (lme4's definitions)."""
    return {
        "fit_method": "REML" if fit.reml else "ML",
        "df_method": df_method,
        "converged": "yes" if fit.converged else "no",
        "singular_fit": "yes" if fit.singular else "no",
        "variance_components": variance_text(fit),
        "loglik": fit.loglike,
        "aic": fit.aic,
        "bic": fit.bic,
    }


def singular_note(fit: MixedModelFit) -> str:
    """A note for a singular fit, '' otherwise."""
    if not fit.singular:
        return ""
    return (
        f"SINGULAR FIT: {', '.join(fit.singular_components)} estimated at zero (lme4 isSingular); "
        "the model's df treat the observations as nearly independent units: read the test on "
        "mouse means beside it"
    )


def to_stats(
    fit: MixedModelFit,
    contrasts: pd.DataFrame | None = None,
    levels: Mapping[str, str] | None = None,
    *,
    include_anova: bool = True,
    include_coefficients: bool = False,
    between: str | None = None,
    level: float = 0.95,
    ddf: str = "Satterthwaite",
) -> pd.DataFrame:
    """Rows for the project's statistics table (:func:`exneuro.stats.table.stats_frame`).

    ``ddf`` is the df method of the F and coefficient tests: ``"Satterthwaite"`` (lmerTest's
    default) or ``"Kenward-Roger"`` (pbkrtest, with the adjusted SEs; REML fits only); post-hoc
    contrasts keep Satterthwaite df.

    * one ``test="lmm"`` row per type III F test (``statistic_name="F"``, ``df_num``/``df_den``);
    * optionally one ``test="lmm"`` row per fixed-effect coefficient (``t``, Satterthwaite df);
    * one ``test="emm_contrast"`` row per row of ``contrasts`` (from :func:`emm_contrasts`) with
      estimate, adjusted CI, t, df, p, p_adj, the correction named (e.g. ``"Sidak (3 tests)"``)
      and the standardized effect ``estimate / sqrt(total variance)`` named ``"d (total SD)"``.

    ``levels`` maps variance-component names to count columns, e.g. ``{"cell": "n_cells"}``;
    ``between`` names the between-group column whose groups are counted in ``n_by_group``.
    The caller fills ``analysis``, ``outcome`` and ``subset`` with ``label_rows``.
    """
    if ddf not in ("Satterthwaite", "Kenward-Roger"):
        raise ValueError(f"ddf must be 'Satterthwaite' or 'Kenward-Roger', not {ddf!r}")
    levels = dict(levels or {})
    unknown = sorted(set(levels) - set(fit.vc_formula))
    if unknown:
        raise ValueError(
            f"levels names unknown variance components {unknown}; known {sorted(fit.vc_formula)}"
        )
    bad = sorted(set(levels.values()) - {"n_cells", "n_segments"})
    if bad:
        raise ValueError(f"levels must map to 'n_cells' or 'n_segments', not {bad}")
    model = model_label(fit).replace("Satterthwaite df", f"{ddf} df")
    common: dict[str, Any] = {
        **fit_columns(fit, ddf),
        "model": model,
        "n_mice": fit.n_per_level[fit.groups],
        "n_obs": fit.n_obs,
    }
    for name, column in levels.items():
        common[column] = fit.n_per_level[name]
    if fit.n_excluded_groups:
        common["n_excluded"] = fit.n_excluded_groups
    if between is not None:
        counts = fit.data.groupby(between, sort=True, observed=True)[fit.groups].nunique()
        common["n_by_group"] = "; ".join(f"{k}={int(v)}" for k, v in counts.items())
    base_note = (
        f"{'REML' if fit.reml else 'ML'} (lme4 deviance); "
        + (
            "Satterthwaite df (lmerTest method)"
            if ddf == "Satterthwaite"
            else "Kenward-Roger df and adjusted SEs (pbkrtest); post-hoc contrasts Satterthwaite"
        )
        + (f"; {fit.n_dropped} rows with missing values dropped" if fit.n_dropped else "")
        + ("" if fit.converged else "; CONVERGENCE WARNING: " + " | ".join(fit.warnings))
        + (f"; {singular_note(fit)}" if fit.singular else "")
    )
    records: list[dict[str, Any]] = []
    if include_anova:
        table = anova_table(fit) if ddf == "Satterthwaite" else kr_anova_table(fit)
        for row in table.itertuples(index=False):
            records.append(
                {
                    **common,
                    "test": "lmm",
                    "term": row.term,
                    "statistic_name": "F",
                    "statistic": row.F,
                    "df_num": row.df_num,
                    "df_den": row.df_den,
                    "p": row.p,
                    # F-to-eta-squared conversion (effectsize::F_to_eta2): F df1 / (F df1 + df2)
                    "effect_size": row.F * row.df_num / (row.F * row.df_num + row.df_den),
                    "effect_size_name": f"partial eta^2 (from F and {ddf} df)",
                    "notes": f"{TYPE3_NOTES[fit.type3_method]}; " + base_note,
                }
            )
    if include_coefficients:
        table = coef_table(fit, level) if ddf == "Satterthwaite" else kr_coef_table(fit, level)
        for row in table.itertuples(index=False):
            records.append(
                {
                    **common,
                    "test": "lmm",
                    "term": row.term,
                    "estimate": row.estimate,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "ci_level": level,
                    "se": row.se,
                    "statistic_name": "t",
                    "statistic": row.t,
                    "df_num": row.df,
                    "p": row.p,
                    "notes": "fixed-effect coefficient (caller's coding); " + base_note,
                }
            )
    if contrasts is not None and len(contrasts):
        total_sd = np.sqrt(fit.total_variance)
        slopes = [n for n, v in fit.intercept_like.items() if not v]
        es_note = "d = estimate / sqrt(sum of variance components)" + (
            f" (random-slope variances {slopes} excluded)" if slopes else ""
        )
        for row in contrasts.itertuples(index=False):
            term = row.contrast if not row.by else f"{row.contrast} | {row.by}={row.by_level}"
            correction = correction_label(row.adjust, int(row.n_tests))
            ci_note = {
                "sidak": "Sidak-adjusted CI",
                "none": "unadjusted CI",
            }.get(row.adjust, "Bonferroni-adjusted CI")
            records.append(
                {
                    **common,
                    "test": "emm_contrast",
                    "term": f"{row.factor}: {term}",
                    "estimate": row.estimate,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "ci_level": row.ci_level,
                    "se": row.se,
                    "statistic_name": "t",
                    "statistic": row.t,
                    "df_num": row.df,
                    "p": row.p,
                    "p_adj": row.p_adj,
                    "correction": correction,
                    "effect_size": row.estimate / total_sd,
                    "effect_size_name": "d (total SD)",
                    "notes": (
                        f"estimated marginal means (emmeans); {ci_note}; {es_note}; {base_note}"
                    ),
                }
            )
    return stats_frame(records)
