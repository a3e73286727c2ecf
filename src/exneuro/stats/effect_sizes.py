"""Small shared helpers of the two-group tests: input cleaning, t summaries, standardized effects.

Hedges' small-sample correction, noncentral-t confidence limits of standardized mean differences
(as R's effectsize) and Fisher-z intervals of correlation-type effect sizes.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

# ------------------------------------------------------------------------------------------------
# Small numerical helpers
# ------------------------------------------------------------------------------------------------


def _clean(x: ArrayLike, name: str) -> tuple[np.ndarray, int]:
    """Float vector without NaNs, and the number of NaNs removed."""
    arr = np.asarray(x, dtype=float).ravel()
    if np.any(np.isinf(arr)):
        raise ValueError(f"{name} contains infinite values")
    keep = ~np.isnan(arr)
    return arr[keep], int((~keep).sum())


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return float(level)


def hedges_correction(df: float, exact: bool = True) -> float:
    """Hedges' small-sample bias correction J(df) that turns Cohen's d into Hedges' g.

    Exact: J = Γ(df/2) / (sqrt(df/2) Γ((df-1)/2)) (Hedges 1981, eq. 6e); approximate:
    J ≈ 1 - 3 / (4 df - 1). The functions of this module use the exact form (as R's effectsize).
    """
    if df <= 1:
        return float("nan")
    if not exact:
        return 1.0 - 3.0 / (4.0 * df - 1.0)
    return float(
        math.exp(special.gammaln(df / 2) - 0.5 * math.log(df / 2) - special.gammaln((df - 1) / 2))
    )


def _ncp_limits(t: float, df: float, level: float) -> tuple[float, float]:
    """Confidence limits for the noncentrality parameter of a noncentral t, by pivoting its CDF.

    Solves F(t; df, λ) = 1 - α/2 (lower limit) and F(t; df, λ) = α/2 (upper limit) for λ, the
    method of Steiger & Fouladi (1997) used by MBESS ``conf.limits.nct`` and R's effectsize.
    """
    alpha = 1.0 - level
    if not np.isfinite(t):
        return float("nan"), float("nan")

    def solve(target: float) -> float:
        def f(ncp: float) -> float:
            return float(special.nctdtr(df, ncp, t)) - target  # noncentral t CDF

        step = max(5.0, abs(t))
        lo, hi = t - step, t + step
        while f(lo) < 0:
            lo -= step
            step *= 2
        step = max(5.0, abs(t))
        while f(hi) > 0:
            hi += step
            step *= 2
        return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=500))

    return solve(1.0 - alpha / 2), solve(alpha / 2)


def _t_summary(estimate: float, se: float, df: float, level: float) -> dict[str, float]:
    """t statistic, two-sided p and t-based CI for an estimate with standard error se on df."""
    if se > 0 and np.isfinite(se):
        t = estimate / se
        p = float(2.0 * stats.t.sf(abs(t), df))
    else:
        t, p = float("nan"), float("nan")
    q = float(stats.t.ppf(1.0 - (1.0 - level) / 2.0, df))
    return {
        "statistic": t,
        "p": p,
        "ci_low": estimate - q * se,
        "ci_high": estimate + q * se,
    }


def _standardized_mean(t: float, scale: float, df: float, level: float) -> dict[str, float]:
    """Cohen's d = t·scale, its noncentral-t CI, and Hedges' g = J·d with the CI scaled by J.

    ``scale`` converts a t statistic to d: sqrt(1/n1 + 1/n2) for two groups, 1/sqrt(n) for one
    sample or paired differences. The g interval is J × the d interval, as in R's effectsize.
    """
    d = t * scale
    lo, hi = _ncp_limits(t, df, level) if np.isfinite(t) else (float("nan"), float("nan"))
    j = hedges_correction(df)
    return {"d": d, "d_low": lo * scale, "d_high": hi * scale, "J": j, "g": j * d,
            "g_low": j * lo * scale, "g_high": j * hi * scale}  # fmt: skip


def _fisher_z_interval(r: float, se: float, level: float) -> tuple[float, float]:
    """tanh(atanh(r) ± z se): the interval R's effectsize gives for rank-biserial correlations."""
    z = stats.norm.ppf(1.0 - (1.0 - level) / 2.0)
    with np.errstate(divide="ignore"):
        zr = np.arctanh(np.clip(r, -1.0, 1.0))
    return float(np.tanh(zr - z * se)), float(np.tanh(zr + z * se))
