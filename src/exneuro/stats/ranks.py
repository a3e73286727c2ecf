"""Rank tests as R 4.2 ``stats::wilcox.test.default`` computes them.

Exact null distributions of the rank-sum and signed-rank statistics (R's ``cwilcox`` /
``csignrank``), the exact/normal choice R makes (exact when n < 50 without ties or zeros), the
Hodges-Lehmann estimates with their CIs, and rank-biserial effect sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import stats

from exneuro.stats.effect_sizes import _fisher_z_interval

_EPS = np.finfo(float).eps

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
