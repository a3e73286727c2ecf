"""Satterthwaite inference on a fitted linear mixed model (lmerTest and emmeans numbers).

t tests of linear combinations (``contest1D``), type III F tests (``contestMD``), variance
components (``VarCorr``), estimated marginal means and their contrasts. See
:mod:`exneuro.stats.mixed`.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

import numpy as np
import pandas as pd
import patsy
from scipy import stats

from exneuro.stats.lmm_fit import MixedModelFit
from exneuro.stats.multiplicity import adjust_pvalues

# p-value adjustment: the package's shared implementation (exneuro.stats.compare), whose method
# names are sidak, holm, holm-sidak, bonferroni, fdr_bh, none; "fdr" and "bh" are accepted here as
# the emmeans/R spelling of fdr_bh.
_ADJUST_ALIASES = {"fdr": "fdr_bh", "bh": "fdr_bh", "BH": "fdr_bh"}


# ----------------------------------------------------------------------------------------------
# Inference
# ----------------------------------------------------------------------------------------------
def _satterthwaite_1d(fit: MixedModelFit, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Variance and Satterthwaite df of each row of L (lmerTest ``contest1D``)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    var = np.einsum("ij,jk,ik->i", L, fit.cov_beta, L)
    grad = np.einsum("ij,vjk,ik->iv", L, fit.jac_cov_beta, L)
    denom = np.einsum("iv,vw,iw->i", grad, fit.vcov_varpar, grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(denom > 0, 2.0 * var**2 / denom, np.inf)
    return var, df


def contrast(
    fit: MixedModelFit, L: np.ndarray, names: list[str] | None = None, level: float = 0.95
) -> pd.DataFrame:
    """t test of each row of ``L`` (a 1-df linear combination of the fixed effects).

    Returns estimate, se, df (Satterthwaite), t, p (two-sided) and a t-based CI at ``level``
    with that df — lmerTest's ``contest1D``, the base of the estimated-marginal-means comparisons.
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if L.shape[1] != len(fit.beta):
        raise ValueError(f"L has {L.shape[1]} columns; the model has {len(fit.beta)} fixed effects")
    if names is None:
        names = [f"contrast {i + 1}" for i in range(L.shape[0])]
    if len(names) != L.shape[0]:
        raise ValueError("names must give one name per row of L")
    estimate = L @ fit.beta
    var, df = _satterthwaite_1d(fit, L)
    se = np.sqrt(var)
    t = estimate / se
    p = 2.0 * stats.t.sf(np.abs(t), df)
    crit = stats.t.ppf(0.5 + level / 2.0, df)
    return pd.DataFrame(
        {
            "term": names,
            "estimate": estimate,
            "se": se,
            "df": df,
            "t": t,
            "p": p,
            "ci_low": estimate - crit * se,
            "ci_high": estimate + crit * se,
        }
    )


def coef_table(fit: MixedModelFit, level: float = 0.95) -> pd.DataFrame:
    """Fixed effects in the caller's coding: estimate, se, Satterthwaite df, t, p, t-based CI.

    The same numbers as ``summary()`` of an lmerTest fit (Kuznetsova et al. 2017).
    """
    return contrast(fit, np.eye(len(fit.beta)), list(fit.exog_names), level=level)


def _fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """lmerTest ``get_Fstat_ddf``: combine the per-eigenvector df of a multi-df F test."""
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    e = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * e / (e - nu.size)


def _contest_md(fit: MixedModelFit, L: np.ndarray) -> tuple[float, int, float]:
    """Multi-df F test of ``L beta = 0`` with lmerTest's ``contestMD`` Satterthwaite df."""
    vl = L @ fit.cov_beta @ L.T
    evals, evecs = np.linalg.eigh((vl + vl.T) / 2.0)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    tol = max(np.sqrt(np.finfo(float).eps) * evals[0], 0.0)
    pos = evals > tol
    q = int(pos.sum())
    if q == 0:
        return np.nan, 0, np.nan
    ptl = (evecs.T @ L)[:q]
    t2 = (ptl @ fit.beta) ** 2 / evals[:q]
    f_value = float(t2.sum() / q)
    _, nu = _satterthwaite_1d(fit, ptl)
    return f_value, q, _fstat_ddf(nu)


def anova_table(fit: MixedModelFit) -> pd.DataFrame:
    """Type III F tests with Satterthwaite denominator df (lmerTest ``anova()`` default).

    The hypothesis matrices are those of lmerTest (see :func:`_type3_contrasts`), so the table does
    not depend on the caller's coding. Multi-df terms use lmerTest's ``contestMD`` (Fai &
    Cornelius 1996).
    """
    rows = []
    for label, L in fit.type3_contrasts.items():
        f_value, q, ddf = _contest_md(fit, L)
        rows.append(
            {
                "term": label,
                "F": f_value,
                "df_num": q,
                "df_den": ddf,
                "p": stats.f.sf(f_value, q, ddf) if q else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=["term", "F", "df_num", "df_den", "p"])


def variance_components(fit: MixedModelFit) -> pd.DataFrame:
    """Variance components as lme4's ``as.data.frame(VarCorr())``: grp, var1, var2, vcov, sdcor."""
    rows = []
    names = fit.re_names
    for i, a in enumerate(names):
        v = float(fit.cov_re.iloc[i, i])
        rows.append({"grp": fit.groups, "var1": a, "var2": None, "vcov": v, "sdcor": np.sqrt(v)})
    for i, j in itertools.combinations(range(len(names)), 2):
        c = float(fit.cov_re.iloc[i, j])
        denom = np.sqrt(fit.cov_re.iloc[i, i] * fit.cov_re.iloc[j, j])
        rows.append(
            {
                "grp": fit.groups,
                "var1": names[i],
                "var2": names[j],
                "vcov": c,
                "sdcor": c / denom if denom > 0 else np.nan,
            }
        )
    for name, v in fit.vcomp.items():
        rows.append(
            {
                "grp": f"{fit.groups}:{name}",
                "var1": name,
                "var2": None,
                "vcov": v,
                "sdcor": np.sqrt(v),
            }
        )
    rows.append(
        {
            "grp": "Residual",
            "var1": None,
            "var2": None,
            "vcov": fit.scale,
            "sdcor": np.sqrt(fit.scale),
        }
    )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# Estimated marginal means
# ----------------------------------------------------------------------------------------------
def _factor_columns(fit: MixedModelFit) -> tuple[dict[str, list], list[str]]:
    """Categorical data columns with their levels (model order) and numeric columns used."""
    categorical: dict[str, list] = {}
    numeric: list[str] = []
    for factor, info in fit.design_info.factor_infos.items():
        names = [n for n in patsy.eval.ast_names(factor.code) if n in fit.data.columns]
        if info.type == "categorical":
            if len(names) != 1:
                raise ValueError(
                    f"cannot build a reference grid for factor {factor.code!r}: "
                    "it must use exactly one data column"
                )
            categorical.setdefault(names[0], list(info.categories))
        else:
            numeric.extend(n for n in names if n not in numeric)
    numeric = [n for n in numeric if n not in categorical]
    return categorical, numeric


def _emm_basis(
    fit: MixedModelFit, factors: list[str]
) -> tuple[list[tuple], np.ndarray, dict[str, list]]:
    """Rows of L giving the EMM of every level combination of ``factors`` (equal weights)."""
    categorical, numeric = _factor_columns(fit)
    for name in factors:
        if name not in categorical:
            raise ValueError(
                f"{name!r} is not a categorical factor of the model; factors: {list(categorical)}"
            )
    names = list(categorical)
    grid = pd.DataFrame(list(itertools.product(*(categorical[n] for n in names))), columns=names)
    for name in numeric:
        grid[name] = float(pd.to_numeric(fit.data[name]).mean())
    X_grid = np.asarray(patsy.build_design_matrices([fit.design_info], grid, NA_action="raise")[0])
    keys = list(itertools.product(*(categorical[n] for n in factors)))
    key_of_row = list(grid[factors].itertuples(index=False, name=None))
    L = np.array([X_grid[[k == key for k in key_of_row]].mean(axis=0) for key in keys])
    return keys, L, categorical


def emmeans(
    fit: MixedModelFit, specs: list[str], by: str | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Estimated marginal means of the cells of ``specs`` (and ``by``), as R's emmeans.

    Each mean is the model prediction averaged with equal weight over the levels of the factors
    not named (covariates at their mean), with SE, Satterthwaite df and a t-based CI — what
    ``emmeans(model, ~ specs | by, lmer.df = "satterthwaite")`` reports.
    """
    if isinstance(specs, str):
        specs = [specs]
    factors = ([by] if by is not None else []) + list(specs)  # emmeans order: by outermost
    keys, L, _ = _emm_basis(fit, factors)
    res = contrast(fit, L, [str(k) for k in keys], level=level)
    out = pd.DataFrame(keys, columns=factors)[list(specs) + ([by] if by is not None else [])]
    out["emmean"] = res["estimate"].to_numpy()
    for column in ("se", "df", "ci_low", "ci_high"):
        out[column] = res[column].to_numpy()
    return out


def _contrast_pairs(levels: list, method: str, ref: Any) -> list[tuple[int, int]]:
    """(i, j) index pairs meaning level i minus level j, in emmeans' order."""
    n = len(levels)
    if method == "pairwise":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    if method in ("trt.vs.ctrl", "vs.first"):
        r = 0 if (ref is None or method == "vs.first") else levels.index(ref)
        return [(i, r) for i in range(n) if i != r]
    if method == "consec":
        return [(i + 1, i) for i in range(n - 1)]
    raise ValueError(f"unknown contrast method {method!r}: pairwise, trt.vs.ctrl, vs.first, consec")


def emm_contrasts(
    fit: MixedModelFit,
    factor: str,
    by: str | None = None,
    method: Literal["pairwise", "trt.vs.ctrl", "vs.first", "consec"] = "pairwise",
    adjust: Literal["sidak", "holm", "bonferroni", "fdr", "fdr_bh", "none"] = "sidak",
    ref: Any = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Contrasts of the estimated marginal means of ``factor``, within each level of ``by``.

    ``method``: ``pairwise`` (every level minus every later level), ``trt.vs.ctrl`` (every level
    minus ``ref``, default the first level), ``vs.first`` (minus the first level), ``consec``
    (each level minus the previous one). p values are adjusted within each ``by`` level (the
    family, as emmeans does). Confidence intervals are adjusted as emmeans adjusts them: Sidak
    level ``level^(1/m)`` for ``sidak``; Bonferroni ``1 - (1 - level)/m`` for ``bonferroni`` and
    for the step-wise methods (``holm``, ``fdr``), which have no interval form.
    """
    adjust_key = _ADJUST_ALIASES.get(adjust, adjust)
    if adjust_key not in ("sidak", "holm", "bonferroni", "fdr_bh", "none"):
        raise ValueError(f"unknown adjustment {adjust!r}: sidak, holm, bonferroni, fdr, none")
    factors = [factor] + ([by] if by is not None else [])
    keys, L, categorical = _emm_basis(fit, factors)
    levels = categorical[factor]
    if ref is not None and ref not in levels:
        raise ValueError(f"reference level {ref!r} is not a level of {factor!r}: {levels}")
    pairs = _contrast_pairs(levels, method, ref)
    by_levels = categorical[by] if by is not None else [None]
    frames = []
    for b in by_levels:
        index = {k[0]: i for i, k in enumerate(keys) if by is None or k[1] == b}
        rows = np.array([L[index[levels[i]]] - L[index[levels[j]]] for i, j in pairs])
        names = [f"{levels[i]} - {levels[j]}" for i, j in pairs]
        res = contrast(fit, rows, names, level=level)
        m = len(pairs)
        res["p_adj"] = adjust_pvalues(res["p"].to_numpy(), adjust_key)
        if adjust_key == "sidak":
            per_level = level ** (1.0 / m)
        elif adjust_key == "none":
            per_level = level
        else:
            per_level = 1.0 - (1.0 - level) / m
        crit = stats.t.ppf(0.5 + per_level / 2.0, res["df"].to_numpy())
        res["ci_low"] = res["estimate"] - crit * res["se"]
        res["ci_high"] = res["estimate"] + crit * res["se"]
        res.insert(0, "by_level", "" if b is None else b)
        res["n_tests"] = m
        frames.append(res)
    out = pd.concat(frames, ignore_index=True).rename(columns={"term": "contrast"})
    out.insert(0, "by", by if by is not None else "")
    out.insert(0, "factor", factor)
    out["ci_level"] = level
    out["adjust"] = adjust_key
    columns = ["factor", "by", "by_level", "contrast", "estimate", "se", "df", "t", "p", "p_adj"]
    return out[columns + ["ci_low", "ci_high", "ci_level", "adjust", "n_tests"]]


def likelihood_ratio_test(reduced: MixedModelFit, full: MixedModelFit) -> dict[str, float]:
    """Likelihood-ratio test of two nested mixed models, as lme4's ``anova(reduced, full)``.

    ``chisq = deviance(reduced) - deviance(full)`` on ``k_full - k_reduced`` df (parameters as
    lme4 counts them: fixed effects, theta and sigma), p from the chi-square distribution. Models
    that differ in their fixed effects must both be ML fits (REML criteria of different fixed
    effects are not comparable; lme4 refits them with ML, here the caller fits with
    ``reml=False``). A variance tested on its boundary makes the chi-square p conservative (Self &
    Liang 1987); it is reported as lme4 reports it.
    """
    if reduced.n_obs != full.n_obs:
        raise ValueError(
            f"the models use different rows ({reduced.n_obs} vs {full.n_obs}): refit both on the "
            "same complete rows"
        )
    same_fixed = reduced.exog_names == full.exog_names
    if (reduced.reml or full.reml) and not same_fixed:
        raise ValueError(
            "models with different fixed effects are compared by ML fits: fit both with reml=False"
        )
    if reduced.reml != full.reml:
        raise ValueError("both models must be fitted the same way (both REML or both ML)")
    df = full.n_params - reduced.n_params
    if df <= 0:
        raise ValueError(f"the full model must have more parameters than the reduced one ({df})")
    chisq = max(reduced.deviance - full.deviance, 0.0)
    return {"chisq": chisq, "df": df, "p": float(stats.chi2.sf(chisq, df))}
