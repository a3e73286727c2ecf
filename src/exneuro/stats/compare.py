"""Simple comparisons reported by mouse exercise-neuroscience papers, as rows of the stats table.

Every public test returns a one-row frame built with :func:`exneuro.stats.table.stats_frame`; the
caller fills ``analysis``, ``outcome`` and ``subset`` with :func:`~exneuro.stats.table.label_rows`
and, where a family of tests needs it, replaces ``p_adj``/``correction`` using
:func:`adjust_pvalues` and :func:`correction_label`.

Conventions shared by all functions
-----------------------------------
* Direction: estimates are ``second - first``: ``treated - control`` (``b - a``) for two
  groups, ``after - before`` for paired data, ``mean - mu`` for one sample. Effect sizes carry
  the same sign.
* Every number that base R reports is computed the way R 4.2 computes it, so that the tests can
  assert agreement with ``t.test``, ``wilcox.test``, ``ks.test``, ``fisher.test`` and
  ``p.adjust`` (reference numbers in ``tests/reference/r_two_group``).
* Missing values are dropped (pairwise for paired data); the count dropped is ``n_excluded``.

Nested data (cells within mice)
-------------------------------
Cells from one mouse are not independent, so a t test over cells is anti-conservative
(pseudoreplication). :func:`cluster_level_test` tests per-mouse means (n = mice) and
:func:`hierarchical_bootstrap` resamples mice and then cells within mice (Saravanan, Berman &
Sober 2020, *Neurons, Behavior, Data analysis, and Theory* 3(5), "Application of the hierarchical
bootstrap to multi-level data in neuroscience"). The caller reports both next to the naive test.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, special, stats
from scipy.stats.contingency import odds_ratio as _scipy_odds_ratio

from exneuro.stats.table import format_n_by_group, stats_frame

__all__ = [
    "PADJUST_METHODS",
    "adjust_pvalues",
    "cluster_level_test",
    "correction_label",
    "equal_weight_pool",
    "fisher_exact_test",
    "hedges_correction",
    "hierarchical_bootstrap",
    "hierarchical_bootstrap_distribution",
    "ks_test",
    "one_sample_test",
    "paired_test",
    "two_group_test",
]

_EPS = np.finfo(float).eps

# ------------------------------------------------------------------------------------------------
# Multiplicity
# ------------------------------------------------------------------------------------------------

#: Method name -> label used in the ``correction`` column.
PADJUST_METHODS: dict[str, str] = {
    "sidak": "Sidak",
    "holm": "Holm",
    "holm-sidak": "Holm-Sidak",
    "bonferroni": "Bonferroni",
    "fdr_bh": "Benjamini-Hochberg FDR",
    "none": "none",
}


def adjust_pvalues(p: ArrayLike, method: str) -> np.ndarray:
    """Adjust a family of p values for multiple testing; NaNs pass through and do not count.

    With m the number of non-missing p values and p_(1) <= ... <= p_(m) the sorted values:

    * ``"bonferroni"``: min(1, m p).
    * ``"sidak"``: 1 - (1 - p)^m (Šidák 1967), exact for independent tests.
    * ``"holm"``: step-down, p̃_(i) = max_{j<=i} min(1, (m - j + 1) p_(j)) (Holm 1979).
    * ``"holm-sidak"``: step-down Šidák, p̃_(i) = max_{j<=i} 1 - (1 - p_(j))^(m - j + 1).
    * ``"fdr_bh"``: Benjamini & Hochberg (1995) step-up,
      p̃_(i) = min_{j>=i} min(1, m p_(j) / j).
    * ``"none"``: unchanged.

    Holm, Bonferroni and BH reproduce R's ``p.adjust`` (which also drops NAs from m); Šidák and
    Holm-Šidák follow ``statsmodels.stats.multitest.multipletests``. The result has the shape of
    ``p``.
    """
    if method not in PADJUST_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {list(PADJUST_METHODS)}")
    values = np.asarray(p, dtype=float)
    flat = values.ravel()
    out = np.full(flat.shape, np.nan)
    ok = ~np.isnan(flat)
    q = flat[ok]
    if np.any((q < 0) | (q > 1)):
        raise ValueError("p values must lie in [0, 1]")
    m = q.size
    if m == 0:
        return out.reshape(values.shape)
    with np.errstate(divide="ignore"):
        if method == "none":
            adjusted = q.copy()
        elif method == "bonferroni":
            adjusted = np.minimum(1.0, m * q)
        elif method == "sidak":
            adjusted = -np.expm1(m * np.log1p(-q))
        elif method in ("holm", "holm-sidak"):
            order = np.argsort(q, kind="stable")
            factor = m - np.arange(m)  # m - i + 1 for 1-based rank i
            if method == "holm":
                stepped = factor * q[order]
            else:
                stepped = -np.expm1(factor * np.log1p(-q[order]))
            adjusted = np.empty(m)
            adjusted[order] = np.minimum(1.0, np.maximum.accumulate(stepped))
        else:  # fdr_bh
            order = np.argsort(q, kind="stable")[::-1]  # largest first
            rank = np.arange(m, 0, -1)
            adjusted = np.empty(m)
            adjusted[order] = np.minimum(1.0, np.minimum.accumulate(m / rank * q[order]))
    out[ok] = np.clip(adjusted, 0.0, 1.0)
    return out.reshape(values.shape)


def correction_label(method: str, m: int) -> str:
    """Text for the ``correction`` column, e.g. ``'Sidak (4 tests)'``; ``'none'`` for no method."""
    if method not in PADJUST_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {list(PADJUST_METHODS)}")
    if method == "none":
        return "none"
    return f"{PADJUST_METHODS[method]} ({int(m)} test{'s' if int(m) != 1 else ''})"


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


# ---- exact null distributions of the rank statistics (as R's cwilcox / csignrank) -------------


@lru_cache(maxsize=128)
def _rank_sum_counts(m: int, n: int) -> np.ndarray:
    """Number of arrangements giving each Mann-Whitney U = #{x_i > y_j}, U = 0..m·n.

    Recurrence of Mann & Whitney (1947): the largest observation is an x (it beats all n y's) or
    a y, so c(u; m, n) = c(u - n; m - 1, n) + c(u; m, n - 1). Counts are summed in float64 (all
    terms positive, relative error ~1e-15).
    """
    prev = [np.ones(1) for _ in range(n + 1)]  # m = 0: only U = 0
    for i in range(1, m + 1):
        cur = [np.ones(1)]
        for j in range(1, n + 1):
            arr = np.zeros(i * j + 1)
            arr[j : j + prev[j].size] += prev[j]
            arr[: cur[j - 1].size] += cur[j - 1]
            cur.append(arr)
        prev = cur
    return prev[n]


@lru_cache(maxsize=128)
def _signed_rank_counts(n: int) -> np.ndarray:
    """Number of sign patterns giving each Wilcoxon V = 0..n(n+1)/2 (subset sums of 1..n)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k]
    return counts


def _lower_quantile(counts: np.ndarray, prob: float) -> int:
    """Smallest q with P(S <= q) >= prob, with R's 10·DBL_EPSILON slack (qwilcox, qsignrank)."""
    cdf = np.cumsum(counts) / counts.sum()
    return int(np.searchsorted(cdf, prob - 10 * _EPS, side="left"))


def _two_sided_exact_p(counts: np.ndarray, stat: float, centre: float) -> float:
    """R's exact two-sided p: 2·P(S >= stat) above the centre, 2·P(S <= stat) below, capped."""
    total = counts.sum()
    s = int(round(stat))
    p = counts[s:].sum() / total if stat > centre else counts[: s + 1].sum() / total
    return float(min(1.0, 2.0 * p))


def _step_root(
    candidates: np.ndarray,
    f: Callable[[float], float],
    f_low: float,
    f_high: float,
) -> tuple[float, bool]:
    """Root of a non-increasing step function f that jumps only at ``candidates``.

    R's ``wilcox.test`` finds normal-approximation confidence limits with ``uniroot(tol=1e-4)``
    on a function of the shift d that is constant between consecutive pairwise differences (or
    Walsh averages) and changes sign at one of them; uniroot returns that jump point to within
    1e-4. Here the jump point is found exactly by bisection over the sorted unique candidates,
    evaluating f at interval midpoints. Returns (root, unique); when f is exactly 0 on a whole
    interval the root is not unique and its midpoint is returned.
    """
    c = np.unique(candidates)
    if f_low == 0:
        return float(c[0]), True
    if f_high == 0:
        return float(c[-1]), True
    k = c.size - 1  # number of open intervals between candidates
    lo, hi = 0, k  # find smallest interval index j in [0, k) with f(mid_j) <= 0 (k if none)
    values: dict[int, float] = {}
    while lo < hi:
        mid = (lo + hi) // 2
        values[mid] = f(0.5 * (c[mid] + c[mid + 1]))
        if values[mid] <= 0:
            hi = mid
        else:
            lo = mid + 1
    j = lo
    if j < k and values.get(j, f(0.5 * (c[j] + c[j + 1]))) == 0:
        return float(0.5 * (c[j] + c[j + 1])), False
    return float(c[j]), True


# ------------------------------------------------------------------------------------------------
# Rank tests, following R 4.2 stats::wilcox.test.default
# ------------------------------------------------------------------------------------------------


def _mann_whitney(x: np.ndarray, y: np.ndarray, level: float) -> dict[str, object]:
    """R's ``wilcox.test(x, y, conf.int = TRUE, conf.level = level)`` (two-sided, correct=TRUE).

    W = (rank sum of x in the pooled sample) - n_x (n_x + 1)/2 = #{x_i > y_j} + ½ #{x_i = y_j}.
    Exact null distribution and the Bauer (1972) exact CI from order statistics of the pairwise
    differences x_i - y_j when n_x, n_y < 50 and there are no ties; otherwise the normal
    approximation with tie and continuity corrections and R's inverted-test CI. The estimate is
    the Hodges-Lehmann shift, median(x_i - y_j).
    """
    nx, ny = x.size, y.size
    alpha = 1.0 - level
    pooled = np.concatenate([x, y])
    ranks = stats.rankdata(pooled)
    w_stat = float(ranks[:nx].sum() - nx * (nx + 1) / 2)
    ties = np.unique(pooled).size < pooled.size
    exact = nx < 50 and ny < 50 and not ties
    diffs = np.sort(np.subtract.outer(x, y).ravel())
    estimate = float(np.median(diffs))
    ci_level = level
    notes: list[str] = []
    if exact:
        counts = _rank_sum_counts(nx, ny)
        p = _two_sided_exact_p(counts, w_stat, nx * ny / 2)
        qu = _lower_quantile(counts, alpha / 2) or 1
        ql = nx * ny - qu
        achieved = 2.0 * counts[:qu].sum() / counts.sum()
        ci = (float(diffs[qu - 1]), float(diffs[ql]))
        if achieved - alpha > alpha / 2:
            ci_level = 1.0 - achieved
            notes.append(f"requested {level:g} CI not achievable; achieved level {ci_level:.4g}")
        notes.append("exact p and exact CI (Bauer 1972) from the permutation distribution")
    else:
        _, tie_counts = np.unique(ranks, return_counts=True)
        n_all = nx + ny

        def sigma_of(tc: np.ndarray) -> float:
            return math.sqrt(
                (nx * ny / 12) * ((n_all + 1) - np.sum(tc**3 - tc) / (n_all * (n_all - 1)))
            )

        z = w_stat - nx * ny / 2
        z = (z - np.sign(z) * 0.5) / sigma_of(tie_counts)
        p = float(2.0 * min(stats.norm.cdf(z), stats.norm.sf(z)))

        def score(d: float) -> float:
            r = stats.rankdata(np.concatenate([x - d, y]))
            _, tc = np.unique(r, return_counts=True)
            dz = r[:nx].sum() - nx * (nx + 1) / 2 - nx * ny / 2
            return float((dz - np.sign(dz) * 0.5) / sigma_of(tc))

        mumin, mumax = float(diffs[0]), float(diffs[-1])
        s_min, s_max = score(mumin), score(mumax)

        def root(zq: float) -> float:
            if s_min - zq <= 0:
                return mumin
            if s_max - zq >= 0:
                return mumax
            value, _ = _step_root(diffs, lambda d: score(d) - zq, s_min - zq, s_max - zq)
            return value

        zcrit = float(stats.norm.ppf(1.0 - alpha / 2))
        ci = (root(zcrit), root(-zcrit))
        notes.append(
            "normal approximation with tie and continuity corrections"
            + (" (ties present)" if ties else " (n >= 50)")
            + "; CI limits are the pairwise differences where R's inverted test changes sign "
            "(R's uniroot finds them to 1e-4)"
        )
    return {"W": w_stat, "p": p, "estimate": estimate, "ci": ci, "ci_level": ci_level,
            "exact": exact, "notes": notes}  # fmt: skip


def _signed_rank(x: np.ndarray, mu: float, level: float) -> dict[str, object]:
    """R's ``wilcox.test(x, mu = mu, conf.int = TRUE)`` for one sample or paired differences.

    Zeros of x - mu are dropped; V = sum of the ranks of |x - mu| over positive x - mu. Exact
    null distribution and exact CI from the Walsh averages (x_i + x_j)/2, i <= j, when n < 50
    without ties or zeros; otherwise normal approximation with tie and continuity corrections and
    R's inverted-test CI. The estimate is the Hodges-Lehmann pseudomedian, median of Walsh
    averages.
    """
    alpha = 1.0 - level
    shifted = x - mu
    zeros = int(np.sum(shifted == 0))
    shifted = shifted[shifted != 0]
    n = shifted.size
    if n == 0:
        raise ValueError("all differences are zero; the signed-rank test is undefined")
    ranks = stats.rankdata(np.abs(shifted))
    v_stat = float(ranks[shifted > 0].sum())
    ties = np.unique(ranks).size < n
    exact = n < 50 and not ties and zeros == 0
    xs = shifted + mu
    iu = np.triu_indices(n)
    walsh = np.sort((np.add.outer(xs, xs) / 2)[iu])
    estimate = float(np.median(walsh))
    ci_level = level
    notes: list[str] = []
    if zeros:
        notes.append(f"{zeros} zero difference(s) dropped before ranking (as R)")
    if exact:
        counts = _signed_rank_counts(n)
        p = _two_sided_exact_p(counts, v_stat, n * (n + 1) / 4)
        qu = _lower_quantile(counts, alpha / 2) or 1
        ql = n * (n + 1) // 2 - qu
        achieved = 2.0 * counts[:qu].sum() / counts.sum()
        ci = (float(walsh[qu - 1]), float(walsh[ql]))
        if achieved - alpha > alpha / 2:
            ci_level = 1.0 - achieved
            notes.append(f"requested {level:g} CI not achievable; achieved level {ci_level:.4g}")
        notes.append("exact p and exact CI from the Walsh averages")
    else:

        def sigma_of(nn: int, tc: np.ndarray) -> float:
            return math.sqrt(nn * (nn + 1) * (2 * nn + 1) / 24 - np.sum(tc**3 - tc) / 48)

        _, tie_counts = np.unique(ranks, return_counts=True)
        z = v_stat - n * (n + 1) / 4
        z = (z - np.sign(z) * 0.5) / sigma_of(n, tie_counts)
        p = float(2.0 * min(stats.norm.cdf(z), stats.norm.sf(z)))

        def score(d: float) -> float:
            xd = xs - d
            xd = xd[xd != 0]
            nx = xd.size
            dr = stats.rankdata(np.abs(xd))
            _, tc = np.unique(dr, return_counts=True)
            zd = dr[xd > 0].sum() - nx * (nx + 1) / 4
            return float((zd - np.sign(zd) * 0.5) / sigma_of(nx, tc))

        mumin, mumax = float(xs.min()), float(xs.max())
        s_min, s_max = score(mumin), score(mumax)
        a = alpha
        while True:  # R widens the interval until the limits are attainable
            if s_min - stats.norm.ppf(1 - a / 2) < 0 or s_max - stats.norm.ppf(a / 2) > 0:
                a *= 2
            else:
                break
        if a >= 1 or (1 - level) < a * 0.75:
            ci_level = 1 - min(1.0, a)
            notes.append(f"requested {level:g} CI not achievable; achieved level {ci_level:.4g}")
        if a < 1:
            zq_low = float(stats.norm.ppf(1 - a / 2))
            zq_high = float(stats.norm.ppf(a / 2))
            low, _ = _step_root(walsh, lambda d: score(d) - zq_low, s_min - zq_low, s_max - zq_low)
            high, _ = _step_root(
                walsh, lambda d: score(d) - zq_high, s_min - zq_high, s_max - zq_high
            )
            ci = (low, high)
        else:
            ci = (float(np.median(xs)), float(np.median(xs)))
        notes.append(
            "normal approximation with tie and continuity corrections"
            + (" (ties or zeros present)" if n < 50 else " (n >= 50)")
            + "; CI limits are the Walsh averages where R's inverted test changes sign "
            "(R's uniroot finds them to 1e-4)"
        )
    return {"V": v_stat, "n": n, "p": p, "estimate": estimate, "ci": ci, "ci_level": ci_level,
            "exact": exact, "notes": notes}  # fmt: skip


def _signed_rank_biserial(v_stat: float, n: int, level: float) -> tuple[float, float, float]:
    """Matched-pairs rank-biserial r = (V+ - V-)/(n(n+1)/2) = 4V/(n(n+1)) - 1 (Kerby 2014).

    CI: Fisher-z with SE = sqrt(n(n+1)(2n+1)/6) / (n(n+1)/2), as R's effectsize.
    """
    total = n * (n + 1) / 2
    r = 2.0 * v_stat / total - 1.0
    se = math.sqrt(n * (n + 1) * (2 * n + 1) / 6) / total
    low, high = _fisher_z_interval(r, se, level)
    return r, low, high


# ------------------------------------------------------------------------------------------------
# Two independent groups
# ------------------------------------------------------------------------------------------------

_TWO_GROUP_TESTS = ("welch", "student", "mann_whitney")


def _two_group_record(
    a: ArrayLike,
    b: ArrayLike,
    test: str,
    labels: Sequence[str],
    level: float,
    unit: str,
) -> dict[str, object]:
    if test not in _TWO_GROUP_TESTS:
        raise ValueError(f"test must be one of {_TWO_GROUP_TESTS}, got {test!r}")
    if unit not in ("mice", "cells"):
        raise ValueError("unit must be 'mice' or 'cells'")
    level = _check_level(level)
    labels = tuple(str(label) for label in labels)
    if len(labels) != 2:
        raise ValueError("labels must name the two groups (first = a, second = b)")
    xa, drop_a = _clean(a, "a")
    xb, drop_b = _clean(b, "b")
    na, nb = xa.size, xb.size
    if na < 2 or nb < 2:
        raise ValueError(
            f"need at least 2 values per group, got {labels[0]}={na}, {labels[1]}={nb}"
        )
    ma, mb = float(xa.mean()), float(xb.mean())
    va, vb = float(xa.var(ddof=1)), float(xb.var(ddof=1))
    df_pooled = na + nb - 2
    sp = math.sqrt(((na - 1) * va + (nb - 1) * vb) / df_pooled)
    hn = 1.0 / na + 1.0 / nb
    t_pooled = (mb - ma) / (sp * math.sqrt(hn)) if sp > 0 else float("nan")
    es = _standardized_mean(t_pooled, math.sqrt(hn), df_pooled, level)
    term = f"{labels[1]} - {labels[0]}"
    record: dict[str, object] = {
        "term": term,
        "ci_level": level,
        "n_obs": na + nb,
        "n_excluded": drop_a + drop_b,
        "n_by_group": format_n_by_group({labels[0]: na, labels[1]: nb}),
        ("n_mice" if unit == "mice" else "n_cells"): na + nb,
    }
    means = f"means {labels[0]}={ma:.6g}, {labels[1]}={mb:.6g}"
    hedges_note = (
        "Hedges g = J*(mean_b - mean_a)/SD_pooled, J exact = Gamma(df/2)/(sqrt(df/2)"
        "Gamma((df-1)/2)) with df = n1+n2-2 (Hedges 1981); CI = J x noncentral-t CI of Cohen's d "
        "(Steiger & Fouladi 1997), as R effectsize::hedges_g"
    )
    if test in ("welch", "student"):
        if test == "student":
            se = sp * math.sqrt(hn)
            df = float(df_pooled)
            name, model = "student_t", "two independent groups, equal variances (pooled SD)"
            df_note = "df = n1 + n2 - 2"
        else:
            sa, sb = va / na, vb / nb
            se = math.sqrt(sa + sb)
            df = (sa + sb) ** 2 / (sa**2 / (na - 1) + sb**2 / (nb - 1)) if se > 0 else float("nan")
            name, model = "welch_t", "two independent groups, unequal variances"
            df_note = "Welch-Satterthwaite df"
        diff = mb - ma
        summary = _t_summary(diff, se, df, level)
        record.update(
            test=name,
            model=model,
            estimate=diff,
            statistic_name="t",
            df_num=df,
            effect_size=es["g"],
            effect_size_name="Hedges g",
            effect_size_ci_low=es["g_low"],
            effect_size_ci_high=es["g_high"],
            effect_size_alt=es["d"],
            effect_size_alt_name="Cohen's d (pooled SD)",
            notes=f"estimate = mean difference ({means}); t-based CI, {df_note}; {hedges_note}",
            **summary,
        )
        return record
    mw = _mann_whitney(xb, xa, level)
    w_stat = float(mw["W"])  # type: ignore[arg-type]
    r_rb = 2.0 * w_stat / (na * nb) - 1.0
    r_low, r_high = _fisher_z_interval(r_rb, math.sqrt((na + nb + 1) / (3 * na * nb)), level)
    ci = mw["ci"]
    record.update(
        test="mann_whitney",
        model="two independent groups, Wilcoxon rank-sum / Mann-Whitney",
        estimate=mw["estimate"],
        ci_low=ci[0],  # type: ignore[index]
        ci_high=ci[1],  # type: ignore[index]
        ci_level=mw["ci_level"],
        statistic_name="W",
        statistic=w_stat,
        p=mw["p"],
        effect_size=r_rb,
        effect_size_name="rank-biserial r",
        effect_size_ci_low=r_low,
        effect_size_ci_high=r_high,
        effect_size_alt=es["g"],
        effect_size_alt_name="Hedges g",
        notes="; ".join(
            [
                f"W = rank sum of {labels[1]} - n({labels[1]})(n+1)/2 = #pairs {labels[1]} > "
                f"{labels[0]} (+0.5 per tie), as R wilcox.test({labels[1]}, {labels[0]}); "
                "U for the other order = n1*n2 - W",
                "estimate = Hodges-Lehmann shift median(b_i - a_j) with R's CI",
                *mw["notes"],  # type: ignore[misc]
                "rank-biserial r = 2W/(n1 n2) - 1 (Kerby 2014), CI tanh(atanh r +- z "
                "sqrt((n1+n2+1)/(3 n1 n2))) as R effectsize",
                f"{means}; Hedges g (alt) as for the t tests",
            ]
        ),
    )
    return record


def two_group_test(
    a: ArrayLike,
    b: ArrayLike,
    test: Literal["welch", "student", "mann_whitney"] = "welch",
    labels: Sequence[str] = ("control", "treated"),
    level: float = 0.95,
    unit: Literal["mice", "cells"] = "mice",
) -> pd.DataFrame:
    """Compare two independent groups (``a`` = first label, ``b`` = second); one table row.

    * ``"welch"`` (default) / ``"student"``: estimate = mean(b) - mean(a) with the t-based CI;
      t, df (Welch-Satterthwaite, Welch 1947, or n1 + n2 - 2) and two-sided p as R's ``t.test(b,
      a)``.
    * ``"mann_whitney"``: R's ``wilcox.test(b, a, conf.int = TRUE)`` — W (see notes for the
      convention), exact p and CI when both n < 50 without ties, normal approximation otherwise;
      the estimate is the Hodges-Lehmann shift. Effect size: rank-biserial r (Kerby 2014) with
      its Fisher-z CI; Hedges g in ``effect_size_alt``.

    The t tests report Hedges' g (pooled-SD Cohen's d times the exact J, Hedges 1981) with the
    noncentral-t CI scaled by J — what ``effectsize::hedges_g`` reports — and Cohen's d in
    ``effect_size_alt``. With Welch's test the effect size still standardises by the pooled SD.
    ``unit`` says whether the values are per mouse (``n_mice``) or per cell (``n_cells``; the
    naive, pseudoreplicated analysis).
    """
    return stats_frame([_two_group_record(a, b, test, labels, level, unit)])


# ------------------------------------------------------------------------------------------------
# Paired and one-sample tests
# ------------------------------------------------------------------------------------------------


def _location_record(
    diffs: np.ndarray,
    mu: float,
    test: str,
    level: float,
    kind: str,
) -> dict[str, object]:
    """Shared body of paired_test (kind='paired') and one_sample_test (kind='one_sample')."""
    n = diffs.size
    if n < 2:
        raise ValueError(f"need at least 2 observations, got {n}")
    mean = float(diffs.mean())
    sd = float(diffs.std(ddof=1))
    df = n - 1
    t_d = (mean - mu) / (sd / math.sqrt(n)) if sd > 0 else float("nan")
    es = _standardized_mean(t_d, 1.0 / math.sqrt(n), df, level)
    d_name = "Cohen's d_z" if kind == "paired" else "Cohen's d"
    g_name = "Hedges g_z" if kind == "paired" else "Hedges g"
    what = "after - before" if kind == "paired" else f"mean - {mu:g}"
    d_note = (
        f"{d_name} = (mean {'difference' if kind == 'paired' else '- mu'})/SD"
        f"{' of the differences' if kind == 'paired' else ''}, CI by noncentral-t inversion "
        f"(Steiger & Fouladi 1997) as R effectsize::cohens_d; {g_name} = J*d with exact J, "
        "df = n - 1"
    )
    record: dict[str, object] = {"ci_level": level, "n_obs": n}
    if test in ("paired_t", "t"):
        summary = _t_summary(mean - mu, sd / math.sqrt(n), df, level)
        record.update(
            test="paired_t" if kind == "paired" else "one_sample_t",
            estimate=mean - mu,
            statistic_name="t",
            df_num=float(df),
            effect_size=es["d"],
            effect_size_name=d_name,
            effect_size_ci_low=es["d_low"],
            effect_size_ci_high=es["d_high"],
            effect_size_alt=es["g"],
            effect_size_alt_name=g_name,
            notes=f"estimate = mean {what}; t-based CI, df = n - 1; {d_note}",
            **summary,
        )
        return record
    sr = _signed_rank(diffs, mu, level)
    r, r_low, r_high = _signed_rank_biserial(float(sr["V"]), int(sr["n"]), level)  # type: ignore[arg-type]
    ci = sr["ci"]
    shift = 0.0 if kind == "paired" else mu
    record.update(
        test="wilcoxon_signed_rank",
        estimate=float(sr["estimate"]) - shift,  # type: ignore[arg-type]
        ci_low=ci[0] - shift,  # type: ignore[index]
        ci_high=ci[1] - shift,  # type: ignore[index]
        ci_level=sr["ci_level"],
        statistic_name="V",
        statistic=sr["V"],
        p=sr["p"],
        effect_size=r,
        effect_size_name="matched-pairs rank-biserial r",
        effect_size_ci_low=r_low,
        effect_size_ci_high=r_high,
        effect_size_alt=es["d"],
        effect_size_alt_name=d_name,
        notes="; ".join(
            [
                f"V = sum of ranks of positive ({what}) as R wilcox.test",
                "estimate = Hodges-Lehmann pseudomedian (median of Walsh averages)"
                + (f" minus mu = {mu:g}" if kind == "one_sample" and mu != 0 else "")
                + " with R's CI",
                *sr["notes"],  # type: ignore[misc]
                "r = 4V/(n(n+1)) - 1 over nonzero differences (Kerby 2014), Fisher-z CI with "
                "SE sqrt(n(n+1)(2n+1)/6)/(n(n+1)/2) as R effectsize",
                f"mean {what} = {mean - mu:.6g}; {d_name} (alt) by the t formula",
            ]
        ),
    )
    record["n_obs"] = n
    return record


def paired_test(
    before: ArrayLike,
    after: ArrayLike,
    test: Literal["paired_t", "wilcoxon"] = "paired_t",
    level: float = 0.95,
    labels: Sequence[str] = ("before", "after"),
) -> pd.DataFrame:
    """Compare two measurements of the same mice (e.g. before vs after training); one row.

    Differences are ``after - before`` (pairs with a missing value are dropped: ``n_excluded``).

    * ``"paired_t"``: mean difference, t-based CI, t on n - 1 df, two-sided p (R ``t.test(after,
      before, paired = TRUE)``). Effect size: Cohen's d_z = mean(diff)/SD(diff) with the
      noncentral-t CI (R effectsize ``cohens_d(paired = TRUE)``); Hedges g_z = J(n - 1)·d_z in
      ``effect_size_alt``.
    * ``"wilcoxon"``: signed-rank test as R ``wilcox.test(after, before, paired = TRUE,
      conf.int = TRUE)``: V = sum of positive ranks, exact or normal-approximation p, the
      Hodges-Lehmann pseudomedian of the differences with its CI; matched-pairs rank-biserial r
      as effect size and d_z in ``effect_size_alt``.
    """
    if test not in ("paired_t", "wilcoxon"):
        raise ValueError("test must be 'paired_t' or 'wilcoxon'")
    level = _check_level(level)
    x0 = np.asarray(before, dtype=float).ravel()
    x1 = np.asarray(after, dtype=float).ravel()
    if x0.shape != x1.shape:
        raise ValueError("before and after must have the same length")
    keep = ~(np.isnan(x0) | np.isnan(x1))
    diffs = x1[keep] - x0[keep]
    record = _location_record(diffs, 0.0, test, level, "paired")
    labels = tuple(str(label) for label in labels)
    record.update(
        model=f"paired ({labels[1]} - {labels[0]}) within mouse",
        term=f"{labels[1]} - {labels[0]}",
        n_mice=diffs.size,
        n_excluded=int((~keep).sum()),
    )
    return stats_frame([record])


def one_sample_test(
    x: ArrayLike,
    mu: float = 0.0,
    test: Literal["t", "wilcoxon"] = "t",
    level: float = 0.95,
    unit: Literal["mice", "cells"] = "mice",
) -> pd.DataFrame:
    """Test whether per-mouse values (e.g. adaptation slopes) differ from ``mu``; one row.

    * ``"t"``: estimate = mean(x) - mu with the t CI, t on n - 1 df, two-sided p (R ``t.test(x,
      mu = mu)``; R prints the CI of the mean, which is this CI + mu). Effect size Cohen's d =
      (mean - mu)/SD with its noncentral-t CI, Hedges g in ``effect_size_alt``.
    * ``"wilcoxon"``: signed-rank test of x - mu (R ``wilcox.test(x, mu = mu, conf.int = TRUE)``);
      estimate = pseudomedian - mu with its CI, V, p, rank-biserial r.
    """
    if test not in ("t", "wilcoxon"):
        raise ValueError("test must be 't' or 'wilcoxon'")
    if unit not in ("mice", "cells"):
        raise ValueError("unit must be 'mice' or 'cells'")
    level = _check_level(level)
    values, dropped = _clean(x, "x")
    record = _location_record(values, float(mu), test, level, "one_sample")
    if test == "wilcoxon":
        record["model"] = f"one sample, location vs {mu:g}"
    else:
        record["model"] = f"one sample, mean vs {mu:g}"
    record.update(
        term=f"location - {mu:g}" if test == "wilcoxon" else f"mean - {mu:g}",
        n_excluded=dropped,
        **{("n_mice" if unit == "mice" else "n_cells"): values.size},
    )
    return stats_frame([record])


# ------------------------------------------------------------------------------------------------
# Distributions and proportions
# ------------------------------------------------------------------------------------------------


def ks_test(
    a: ArrayLike,
    b: ArrayLike,
    labels: Sequence[str] = ("control", "treated"),
    method: Literal["auto", "exact", "asymp"] = "auto",
) -> pd.DataFrame:
    """Two-sample Kolmogorov-Smirnov test of two distributions (e.g. inter-event intervals).

    D = sup |F_a - F_b|. p is two-sided:

    * ``"auto"`` (default): exact (``scipy.stats.ks_2samp(method="exact")``, Hodges 1958) when
      max(n_a, n_b) <= 10000, as scipy decides, else asymptotic;
    * ``"exact"``: always exact (scipy falls back to asymptotic if the recursion fails; noted);
    * ``"asymp"``: the limiting Kolmogorov distribution, p = Q_KS(sqrt(n_a n_b/(n_a+n_b)) D),
      which is what R's ``ks.test(exact = FALSE)`` reports (and what R uses by default once
      n_a n_b >= 10000). scipy's own "asymp" uses a finite-n approximation instead.

    The exact p assumes continuous data; with ties R 4.2 computes a tie-aware exact p and the two
    differ (noted). The test treats every value as independent: pool per-cell values with
    :func:`equal_weight_pool` so each cell weighs the same, and remember that events within a
    cell are still not independent (prefer a cell- or mouse-level summary for inference).
    """
    if method not in ("auto", "exact", "asymp"):
        raise ValueError("method must be 'auto', 'exact' or 'asymp'")
    labels = tuple(str(label) for label in labels)
    xa, drop_a = _clean(a, "a")
    xb, drop_b = _clean(b, "b")
    na, nb = xa.size, xb.size
    if na == 0 or nb == 0:
        raise ValueError("both samples need at least one value")
    if method == "auto":
        method = "exact" if max(na, nb) <= 10000 else "asymp"
    if method == "exact":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = stats.ks_2samp(xb, xa, alternative="two-sided", method="exact")
        d_stat, p = float(res.statistic), float(res.pvalue)
        used = "exact (Hodges 1958, scipy)"
        if any("Switching to method=asymp" in str(w.message) for w in caught):
            used = "scipy asymptotic (exact recursion failed)"
    else:
        d_stat = float(stats.ks_2samp(xb, xa, alternative="two-sided", method="asymp").statistic)
        p = float(stats.kstwobign.sf(math.sqrt(na * nb / (na + nb)) * d_stat))
        used = "asymptotic Kolmogorov distribution (as R ks.test exact = FALSE)"
    ties = np.unique(np.concatenate([xa, xb])).size < na + nb
    notes = [
        f"p {used}",
        f"medians {labels[0]}={np.median(xa):.6g}, {labels[1]}={np.median(xb):.6g}",
        "every value treated as an independent observation",
    ]
    if ties:
        notes.append("ties present: p assumes continuous data and differs from R's exact p")
    return stats_frame(
        [
            {
                "test": "ks_2samp",
                "model": "two-sample Kolmogorov-Smirnov, two-sided",
                "term": f"{labels[1]} vs {labels[0]}",
                "statistic_name": "D",
                "statistic": d_stat,
                "p": min(1.0, max(0.0, p)),
                "n_obs": na + nb,
                "n_excluded": drop_a + drop_b,
                "n_by_group": format_n_by_group({labels[0]: na, labels[1]: nb}),
                "notes": "; ".join(notes),
            }
        ]
    )


def equal_weight_pool(
    values: ArrayLike,
    unit_ids: ArrayLike,
    n_per_unit: int | None = None,
    seed: int | None = 0,
    method: Literal["quantile", "resample"] = "quantile",
) -> pd.DataFrame:
    """Give every unit (cell) the same number of values before pooling them for a KS test.

    Pooling raw events lets a cell with 500 events outweigh a cell with 20. This returns
    ``n_per_unit`` values per unit (default: the smallest unit's count):

    * ``"quantile"`` (deterministic, preferred): each unit's quantiles at the common
      probabilities p_k = (k - 0.5)/n, k = 1..n (Hazen plotting positions, R quantile type 5).
      A unit with exactly n values is returned unchanged (sorted); larger units are summarised
      by their ECDF at the same probabilities.
    * ``"resample"``: n values drawn at random from each unit (without replacement when the unit
      has at least n values, with replacement otherwise), using ``numpy.random.default_rng(seed)``.

    Returns a frame with columns ``unit`` and ``value`` (units in order of first appearance).
    """
    vals = np.asarray(values, dtype=float).ravel()
    ids = np.asarray(unit_ids).ravel()
    if vals.shape != ids.shape:
        raise ValueError("values and unit_ids must have the same length")
    keep = ~np.isnan(vals)
    vals, ids = vals[keep], ids[keep]
    codes, uniques = pd.factorize(ids)
    if len(uniques) == 0:
        raise ValueError("no values to pool")
    counts = np.bincount(codes, minlength=len(uniques))
    n = int(counts.min()) if n_per_unit is None else int(n_per_unit)
    if n < 1:
        raise ValueError("n_per_unit must be at least 1")
    rng = np.random.default_rng(seed)
    probs = (np.arange(n) + 0.5) / n
    pieces = []
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    for k in range(len(uniques)):
        unit_vals = vals[order[starts[k] : starts[k + 1]]]
        if method == "quantile":
            picked = np.quantile(unit_vals, probs, method="hazen")
        elif method == "resample":
            picked = rng.choice(unit_vals, size=n, replace=unit_vals.size < n)
        else:
            raise ValueError("method must be 'quantile' or 'resample'")
        pieces.append(picked)
    return pd.DataFrame(
        {"unit": np.repeat(np.asarray(uniques, dtype=object), n), "value": np.concatenate(pieces)}
    )


def fisher_exact_test(
    table: ArrayLike | None = None,
    *,
    successes: Sequence[int] | None = None,
    totals: Sequence[int] | None = None,
    labels: Sequence[str] = ("control", "treated"),
    level: float = 0.95,
    unit: Literal["mice", "cells"] = "mice",
) -> pd.DataFrame:
    """Fisher's exact test of responders vs non-responders between two groups; one row.

    Give either ``table`` (2x2, rows = groups in ``labels`` order, columns = responders,
    non-responders) or ``successes`` and ``totals`` per group. The estimate is the odds ratio of
    responding in the second group relative to the first, as the *conditional maximum-likelihood
    estimate* with the exact conditional CI — what R's ``fisher.test`` reports (via
    ``scipy.stats.contingency.odds_ratio(kind="conditional")``), not the sample odds ratio ad/bc
    (which ``scipy.stats.fisher_exact`` returns; given in ``effect_size_alt``). p is the two-sided
    exact p (sum of table probabilities <= the observed one). ``effect_size`` is the difference
    in response proportions (second - first).
    """
    level = _check_level(level)
    labels = tuple(str(label) for label in labels)
    if table is not None:
        if successes is not None or totals is not None:
            raise ValueError("give either table or successes/totals, not both")
        tab = np.asarray(table)
    else:
        if successes is None or totals is None:
            raise ValueError("give table, or both successes and totals")
        k = np.asarray(successes)
        nn = np.asarray(totals)
        tab = np.column_stack([k, nn - k])
    if tab.shape != (2, 2) or np.any(tab < 0) or np.any(tab != np.round(tab)):
        raise ValueError("need a 2x2 table of non-negative counts")
    tab = tab.astype(np.int64)
    swapped = tab[::-1]  # second group first: OR = odds(second) / odds(first)
    cond = _scipy_odds_ratio(swapped, kind="conditional")
    ci = cond.confidence_interval(confidence_level=level)
    p = float(stats.fisher_exact(swapped, alternative="two-sided").pvalue)
    n_groups = tab.sum(axis=1)
    props = tab[:, 0] / n_groups
    with np.errstate(divide="ignore", invalid="ignore"):
        sample_or = (swapped[0, 0] * swapped[1, 1]) / (swapped[0, 1] * swapped[1, 0])
    return stats_frame(
        [
            {
                "test": "fisher_exact",
                "model": "2x2 table: group x (responder, non-responder)",
                "term": f"{labels[1]} vs {labels[0]}",
                "estimate": float(cond.statistic),
                "ci_low": float(ci.low),
                "ci_high": float(ci.high),
                "ci_level": level,
                "statistic_name": "odds ratio",
                "statistic": float(cond.statistic),
                "p": p,
                "effect_size": float(props[1] - props[0]),
                "effect_size_name": "difference in proportions",
                "effect_size_alt": float(sample_or),
                "effect_size_alt_name": "sample odds ratio",
                "n_obs": int(tab.sum()),
                ("n_mice" if unit == "mice" else "n_cells"): int(tab.sum()),
                "n_by_group": format_n_by_group({labels[0]: n_groups[0], labels[1]: n_groups[1]}),
                "notes": (
                    f"odds ratio = odds of responding in {labels[1]} / {labels[0]}, "
                    "conditional MLE with exact conditional CI (as R fisher.test); "
                    "two-sided exact p; responders "
                    f"{labels[0]} {tab[0, 0]}/{n_groups[0]}, {labels[1]} {tab[1, 0]}/{n_groups[1]}"
                ),
            }
        ]
    )


# ------------------------------------------------------------------------------------------------
# Nested data: cells within mice
# ------------------------------------------------------------------------------------------------


def _group_labels(column: pd.Series, labels: Sequence[str] | None) -> tuple[str, str]:
    """The two groups to compare: ``labels`` if given, else categories / sorted unique values."""
    present = pd.unique(column.dropna())
    if labels is not None:
        chosen = tuple(labels)
        missing = [g for g in chosen if g not in set(present)]
        if len(chosen) != 2 or missing:
            raise ValueError(f"labels must name two groups present in the data; missing {missing}")
        return chosen[0], chosen[1]
    if isinstance(column.dtype, pd.CategoricalDtype):
        ordered = [c for c in column.cat.categories if c in set(present)]
    else:
        ordered = sorted(present)
    if len(ordered) != 2:
        raise ValueError(f"expected exactly two groups, found {list(ordered)}; pass labels")
    return ordered[0], ordered[1]


def _check_nesting(data: pd.DataFrame, group: str, cluster: str) -> None:
    groups_per_cluster = data.groupby(cluster, observed=True)[group].nunique()
    crossed = groups_per_cluster[groups_per_cluster > 1]
    if len(crossed):
        raise ValueError(f"{cluster} ids occur in more than one group: {list(crossed.index)[:5]}")


def cluster_level_test(
    data: pd.DataFrame,
    value: str,
    group: str,
    cluster: str,
    test: Literal["welch", "student", "mann_whitney"] = "welch",
    labels: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Two-group test on per-cluster (per-mouse) means of nested data; n = clusters.

    Averaging the cells of each mouse first makes the mouse the unit of analysis, so the test
    keeps its nominal false-positive rate however many cells each mouse contributes (at the cost
    of ignoring unequal cell counts; see :func:`hierarchical_bootstrap`). The row is that of
    :func:`two_group_test` on the means, with ``test`` suffixed ``_<cluster>_means``, ``n_mice``
    = clusters and ``n_cells`` = rows averaged.
    """
    return stats_frame([_cluster_record(data, value, group, cluster, test, labels, level)])


def _cluster_record(
    data: pd.DataFrame,
    value: str,
    group: str,
    cluster: str,
    test: str,
    labels: Sequence[str] | None,
    level: float,
) -> dict[str, object]:
    frame = data[[value, group, cluster]].dropna(subset=[value, group, cluster])
    first, second = _group_labels(frame[group], labels)
    frame = frame[frame[group].isin([first, second])]
    _check_nesting(frame, group, cluster)
    means = frame.groupby([group, cluster], observed=True)[value].mean()
    a = means.xs(first, level=group).to_numpy()
    b = means.xs(second, level=group).to_numpy()
    record = _two_group_record(a, b, test, (str(first), str(second)), level, "mice")
    cells = frame.groupby(group, observed=True).size()
    record.update(
        test=f"{record['test']}_{cluster}_means",
        model=f"mean({value}) per {cluster} ~ {group}",
        n_cells=len(frame),
        n_obs=len(frame),
        notes=(
            f"{value} averaged within each {cluster} first ({first}: {int(cells[first])} rows, "
            f"{second}: {int(cells[second])} rows), then the test on {cluster} means (n = "
            f"{len(a) + len(b)} {cluster}s); " + str(record["notes"])
        ),
    )
    return record


def _nesting_arrays(
    frame: pd.DataFrame, levels: Sequence[str]
) -> tuple[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Tree of one group's data for vectorised nested resampling.

    Returns the number of top-level units and, for each step down (level 1..L-1, then rows), the
    arrays (children_sorted, start, count): the children of parent unit u are
    ``children_sorted[start[u] : start[u] + count[u]]``. Units at level k are the distinct paths
    (levels[0], ..., levels[k]), so cell ids may repeat across mice.
    """
    codes = []
    for k in range(len(levels)):
        keys = frame[list(levels[: k + 1])]
        codes.append(
            keys.groupby(list(levels[: k + 1]), sort=True, observed=True).ngroup().to_numpy()
        )
    steps = []
    n_top = int(codes[0].max()) + 1
    for k in range(1, len(levels) + 1):
        parent_codes = codes[k - 1]
        if k < len(levels):
            child_codes = codes[k]
            parent_of_child = np.zeros(int(child_codes.max()) + 1, dtype=np.int64)
            parent_of_child[child_codes] = parent_codes
        else:  # rows are the children of the last named level
            parent_of_child = parent_codes
        n_parent = int(parent_codes.max()) + 1
        children_sorted = np.argsort(parent_of_child, kind="stable")
        count = np.bincount(parent_of_child, minlength=n_parent)
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        steps.append((children_sorted, start, count))
    return n_top, steps


def _resample_statistic(
    values: np.ndarray,
    n_top: int,
    steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_boot: int,
    rng: np.random.Generator,
    statistic: str,
) -> np.ndarray:
    """Statistic of every hierarchical bootstrap replicate, vectorised over replicates.

    For each replicate: draw n_top top-level units with replacement; for every drawn unit draw as
    many of its children (with replacement) as it has, level by level down to the rows; apply the
    statistic to all drawn rows pooled. Replicates are processed in chunks of bounded size (a loop
    over chunks and levels only), so memory stays bounded and the result is deterministic.
    """
    rows_per_rep = values.size
    by_value = np.argsort(values, kind="stable")
    value_rank = np.empty(values.size, dtype=np.int64)
    value_rank[by_value] = np.arange(values.size)
    chunk = int(max(1, min(n_boot, 4_000_000 // max(1, rows_per_rep))))
    out = np.empty(n_boot)
    for begin in range(0, n_boot, chunk):
        size = min(chunk, n_boot - begin)
        rep = np.repeat(np.arange(size), n_top)
        node = rng.integers(0, n_top, size=size * n_top)
        for children_sorted, start, count in steps:
            if np.all(count == 1):  # a single child each: resampling is the identity
                node = children_sorted[start[node]]
                continue
            k = count[node]
            rep = np.repeat(rep, k)
            parent = np.repeat(node, k)
            offset = rng.integers(0, count[parent])
            node = children_sorted[start[parent] + offset]
        drawn = values[node]
        n_rows = np.bincount(rep, minlength=size)
        if statistic == "mean":
            out[begin : begin + size] = np.bincount(rep, weights=drawn, minlength=size) / n_rows
        else:  # median of each replicate's pooled rows: sort by (replicate, value rank)
            key = rep.astype(np.int64) * values.size + value_rank[node]
            key.sort()
            sorted_vals = values[by_value[key % values.size]]
            first = np.concatenate([[0], np.cumsum(n_rows)[:-1]])
            lo = sorted_vals[first + (n_rows - 1) // 2]
            hi = sorted_vals[first + n_rows // 2]
            out[begin : begin + size] = 0.5 * (lo + hi)
    return out


def _prepare_nested(
    data: pd.DataFrame, value: str, levels: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    levels = [str(level) for level in levels]
    if not levels:
        raise ValueError("levels must name at least the top level (e.g. ['mouse', 'cell'])")
    missing = [c for c in [value, *levels] if c not in data.columns]
    if missing:
        raise KeyError(f"columns not found: {missing}")
    frame = data.dropna(subset=[value, *levels])
    return frame, levels


def hierarchical_bootstrap_distribution(
    data: pd.DataFrame,
    value: str,
    levels: Sequence[str] = ("mouse", "cell"),
    n_boot: int = 10000,
    seed: int | np.random.Generator = 0,
    statistic: Literal["mean", "median"] = "mean",
) -> np.ndarray:
    """Bootstrap distribution (length ``n_boot``) of a statistic of one group's nested data.

    The resampling of :func:`hierarchical_bootstrap`, for one group: useful to plot the
    distribution or to compare more than two groups.
    """
    if statistic not in ("mean", "median"):
        raise ValueError("statistic must be 'mean' or 'median'")
    frame, levels = _prepare_nested(data, value, levels)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_top, steps = _nesting_arrays(frame, levels)
    values = frame[value].to_numpy(dtype=float)
    return _resample_statistic(values, n_top, steps, int(n_boot), rng, statistic)


def hierarchical_bootstrap(
    data: pd.DataFrame,
    value: str,
    group: str,
    levels: Sequence[str] = ("mouse", "cell"),
    n_boot: int = 10000,
    seed: int = 0,
    statistic: Literal["mean", "median"] = "mean",
    labels: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Hierarchical bootstrap of the difference between two groups of nested data; one row.

    Saravanan, Berman & Sober (2020): within each group, resample mice with replacement, then,
    within each resampled mouse, resample its cells with replacement (and so on for further
    ``levels``; rows within the last named level are resampled too, which is the identity when
    each such unit has one row). The statistic (``"mean"`` or ``"median"``) is computed over all
    resampled rows of a group pooled, as in the paper. Reported:

    * estimate = statistic(second group) - statistic(first group) on the original data;
    * CI = percentile interval of the bootstrap differences;
    * p = 2·min(P*, 1 - P*), P* = proportion of bootstrap differences <= 0 (the paper's
      p_boot made two-sided); its resolution is 1/n_boot, so p = 0 means p < 1/n_boot.

    Vectorised over replicates (loops over levels and memory-bounded chunks only) and
    deterministic for a given ``seed`` (``numpy.random.default_rng``; groups drawn in label
    order).
    """
    if statistic not in ("mean", "median"):
        raise ValueError("statistic must be 'mean' or 'median'")
    level = _check_level(level)
    frame, levels = _prepare_nested(data, value, levels)
    frame = frame.dropna(subset=[group])
    first, second = _group_labels(frame[group], labels)
    frame = frame[frame[group].isin([first, second])]
    _check_nesting(frame, group, levels[0])
    rng = np.random.default_rng(seed)
    boot = {}
    observed = {}
    n_top = {}
    n_second = {}
    for name in (first, second):
        part = frame[frame[group] == name]
        top, steps = _nesting_arrays(part, levels)
        values = part[value].to_numpy(dtype=float)
        boot[name] = _resample_statistic(values, top, steps, int(n_boot), rng, statistic)
        observed[name] = float(np.mean(values) if statistic == "mean" else np.median(values))
        n_top[name] = top
        n_second[name] = (
            int(part.groupby(levels[:2], observed=True).ngroups) if len(levels) > 1 else len(part)
        )
    diff = boot[second] - boot[first]
    alpha = 1.0 - level
    ci_low, ci_high = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
    p_le = float(np.mean(diff <= 0))
    p = min(1.0, 2.0 * min(p_le, 1.0 - p_le))
    return stats_frame(
        [
            {
                "test": "hierarchical_bootstrap",
                "model": f"{statistic}({value}) ~ {group}, resampling {' > '.join(levels)}",
                "term": f"{second} - {first}",
                "estimate": observed[second] - observed[first],
                "ci_low": float(ci_low),
                "ci_high": float(ci_high),
                "ci_level": level,
                "p": p,
                "n_mice": n_top[first] + n_top[second],
                "n_cells": n_second[first] + n_second[second],
                "n_obs": len(frame),
                "n_by_group": format_n_by_group({first: n_top[first], second: n_top[second]}),
                "notes": (
                    f"hierarchical bootstrap (Saravanan et al. 2020), {int(n_boot)} resamples, "
                    f"seed {seed}: {levels[0]} resampled with replacement within group, "
                    + "".join(
                        f"then {child} within each resampled {parent}, "
                        for parent, child in zip(levels[:-1], levels[1:], strict=True)
                    )
                    + f"then rows within each {levels[-1]}"
                    + f"; statistic = {statistic} of all resampled rows pooled; estimate from the "
                    f"original data; percentile CI; p = 2 min(P*, 1 - P*) with P* = share of "
                    f"differences <= 0 (resolution {1 / n_boot:.2g}); bootstrap SE "
                    f"{float(np.std(diff, ddof=1)):.6g}"
                ),
            }
        ]
    )
