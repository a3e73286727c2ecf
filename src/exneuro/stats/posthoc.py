"""Post-hoc families from a fitted mixed model, corrected for multiplicity as a family.

emmeans corrects the contrasts at each level of ``by`` as one family; GraphPad Prism corrects
all the contrasts of a two-way design together. Both are offered (``family='per_level'`` or
``'all'``). Sidak and Bonferroni families get simultaneous confidence intervals (per-comparison
level level^(1/m) and 1 - (1 - level)/m); step-wise methods (Holm, Benjamini-Hochberg) have no
such interval, so their CIs stay unadjusted and the notes say so.

``correction='dunnett'`` is the exact single-step correction of a family by the multivariate t
distribution of its t statistics — Dunnett's test for comparisons against a control, usable for
any family (for all pairwise comparisons it is the Tukey test). With L the family's contrast
rows, R = D^-1/2 (L Cov(beta) L') D^-1/2 their correlation matrix and T ~ multivariate t(R, df),
contrast i gets p_i = 1 - P(max_j |T_j| < |t_i|) and the simultaneous CI estimate +- q SE, with q
the two-sided equicoordinate ``level`` quantile of max_j |T_j|. This is R's emmeans with
``adjust = "mvt"`` (mvtnorm ``pmvt``/``qmvt``), including its choice of df when the contrasts'
Satterthwaite df differ: there is no single df — each contrast uses its own df, made an integer
as emmeans' ``.fix.df`` does for mvtnorm (floor(df + 0.25), at least 1; above 9999 the normal
distribution; :func:`emmeans_mvt_df`), with the family's R; the quantile of each contrast's CI
likewise uses its own df. ``mvt_df='satterthwaite'`` keeps the unrounded df instead (mvtnorm
needs integers, this module does not): rounding a df down raises p, so under emmeans' rule a
small Dunnett p can exceed the Sidak p computed with the unrounded df (e.g. 2.12e-4 vs 2.09e-4
with df 33.63 rounded to 33), which cannot happen with ``'satterthwaite'``. A family of one
contrast is the plain t test (unrounded df), as in emmeans.

The probabilities are computed deterministically (the same bytes on every run with the same
numpy/scipy; other versions may differ within the stated error): families of two
contrasts by quadrature (trapezoid rule in log s over the chi scale s, exact bivariate normal
inside), accurate to ~1e-12; larger families by the Genz-Bretz separation-of-variables integral
on a randomly shifted rank-1 lattice (:data:`MVT_POINTS` points x :data:`MVT_SHIFTS` shifts from
the fixed seed :data:`MVT_SEED`; the rank of R is respected, so singular families such as all
pairwise comparisons are handled exactly), with an absolute error below 1e-4 (3.5 standard
errors of the shifted estimates, equicorrelated families: ~3e-6 for 3-4 contrasts, 1e-5 for 6,
3e-5 for 8, 7e-5 for 12; the actual errors against exact values are several times smaller).
Adjusted p values are kept within their exact bounds, the unadjusted and the Sidak p at the same
df, so tiny p values stay meaningful.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from exneuro.stats import compare, lmm_inference, mixed
from exneuro.stats.multiplicity import MULTIVARIATE_T, correction_label
from exneuro.stats.table import subset_label

SIMULTANEOUS = {"sidak": "Sidak", "bonferroni": "Bonferroni"}
CORRECTIONS = (*compare.PADJUST_METHODS, *MULTIVARIATE_T)

MVT_SEED = 20240611
MVT_POINTS = 16381  # lattice points per shift (a prime)
MVT_SHIFTS = 10
_SINGULAR_TOL = 1e-10  # conditional variance (of a correlation) below which a contrast is redundant


def family_ci_level(method: str, n_tests: int, level: float) -> float:
    """Per-comparison confidence level that makes a family of ``n_tests`` CIs simultaneous."""
    if method == "sidak":
        return level ** (1.0 / n_tests)
    if method == "bonferroni":
        return 1.0 - (1.0 - level) / n_tests
    return level


# ------------------------------------------------------------------------------------------------
# The distribution of max_j |T_j| for T multivariate t
# ------------------------------------------------------------------------------------------------
def emmeans_mvt_df(df: float) -> float:
    """The df emmeans gives mvtnorm for a contrast (``emmeans:::.fix.df``): the Satterthwaite df
    made an integer, floor(df + 0.25), at least 1; infinite (normal) above 9999 or if missing."""
    if not np.isfinite(df) or df > 9999:
        return math.inf
    value = math.floor(max(1.0, df) + 0.25) if df > 0 else math.floor(df + 0.25)
    return float(value) if value > 0 else math.inf


@functools.lru_cache(maxsize=64)
def _chi_nodes(df: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes s and weights w with sum_q w_q f(s_q) = E f(S), S = sqrt(chi2_df / df).

    Trapezoid rule in t = log S, whose density is proportional to exp(df (t - (e^2t - 1) / 2)):
    smooth and decaying fast at both ends, so the rule converges geometrically (step a half of
    the sd 1/sqrt(2 df), at most 0.2; range where the density exceeds e^-45 of its mode).
    """
    if not np.isfinite(df):
        return np.ones(1), np.ones(1)

    def log_density(t: float) -> float:
        return df * (t - math.expm1(2.0 * t) / 2.0)

    lo = optimize.brentq(lambda t: log_density(t) + 45.0, -45.0 / df - 10.0, 0.0)
    hi = optimize.brentq(lambda t: log_density(t) + 45.0, 0.0, 10.0)
    step = min(0.5 / math.sqrt(2.0 * df), 0.2)
    t = np.linspace(lo, hi, int(math.ceil((hi - lo) / step)) + 1)
    log_w = df * (t - np.expm1(2.0 * t) / 2.0)
    w = np.exp(log_w - log_w.max())
    return np.exp(t), w / w.sum()


def _prime_at_most(n: int) -> int:
    def is_prime(k: int) -> bool:
        return k >= 2 and all(k % d for d in range(2, math.isqrt(k) + 1))

    while not is_prime(n):
        n -= 1
    return n


def _primitive_root(p: int) -> int:
    """Smallest generator of the multiplicative group modulo the prime ``p``."""
    factors, rest, d = [], p - 1, 2
    while d * d <= rest:
        if rest % d == 0:
            factors.append(d)
            while rest % d == 0:
                rest //= d
        d += 1
    if rest > 1:
        factors.append(rest)
    return next(g for g in range(2, p) if all(pow(g, (p - 1) // f, p) != 1 for f in factors))


@functools.lru_cache(maxsize=16)
def _lattice(dim: int, n: int) -> np.ndarray:
    """Generating vector of an n-point rank-1 lattice rule in ``dim`` dimensions (n prime).

    Fast component-by-component construction (Nuyens & Cools 2006) for the weighted Korobov
    space of smoothness 2, kernel B2(x) = x^2 - x + 1/6 and weights 0.8^j; the first component is 1.
    """
    m = (n - 1) // 2
    g = _primitive_root(n)
    perm = np.empty(m, dtype=np.int64)
    perm[0] = 1
    for j in range(1, m):
        perm[j] = perm[j - 1] * g % n
    perm = np.minimum(perm, n - perm)  # z and n - z give the same rule
    x = perm / n
    kernel = x * x - x + 1.0 / 6.0
    fft_kernel = np.fft.fft(kernel)
    z = np.ones(dim, dtype=np.int64)
    product = np.ones(m)
    w = 0
    for d in range(1, dim):
        # the kernel at k z_(d-1) / n, for k = g^-a in the order of `product`
        shifted = np.concatenate([kernel[: w + 1][::-1], kernel[w + 1 :][::-1]])
        product = product * (1.0 + 0.8 ** (d - 1) * shifted)
        w = int(np.argmin(np.fft.ifft(fft_kernel * np.fft.fft(product)).real))
        z[d] = perm[w]
    return z / n


@functools.lru_cache(maxsize=64)
def _chi_points(df: float, n: int, shifts: int, seed: int) -> np.ndarray:
    """S = sqrt(chi2_df / df) at the first (tent-transformed) lattice coordinate of each shift."""
    rng = np.random.default_rng(seed)
    u = (np.arange(n)[None, :] / n + rng.random(shifts)[:, None]) % 1.0
    u = np.clip(1.0 - np.abs(2.0 * u - 1.0), 0.0, 1.0 - 1e-16)
    return np.sqrt(2.0 * special.gammaincinv(df / 2.0, u) / df)


def _pivoted_cholesky(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pivoted Cholesky factor of a correlation matrix, largest conditional variance first.

    Returns ``factor`` (k x r for rank r: rows in pivot order, then the redundant rows, which
    load on the pivots only) and ``order`` (the original index of each row).
    """
    k = corr.shape[0]
    a = np.array(corr, dtype=float)
    order = np.arange(k)
    factor = np.zeros((k, k))
    rank = 0
    for i in range(k):
        residual = np.diag(a)[i:] - np.sum(factor[i:, :i] ** 2, axis=1)
        j = i + int(np.argmax(residual))
        if residual[j - i] <= _SINGULAR_TOL:
            break
        for m in (a, factor):
            m[[i, j]] = m[[j, i]]
        a[:, [i, j]] = a[:, [j, i]]
        order[[i, j]] = order[[j, i]]
        factor[i, i] = math.sqrt(residual[j - i])
        factor[i + 1 :, i] = (a[i + 1 :, i] - factor[i + 1 :, :i] @ factor[i, :i]) / factor[i, i]
        rank += 1
    return factor[:, :rank], order


def _lattice_cdf(c: np.ndarray, corr: np.ndarray, df: float) -> tuple[np.ndarray, np.ndarray]:
    """P(max_j |T_j| < c) for each bound in ``c`` and 3.5 standard errors, by lattice rule.

    Genz & Bretz (2002) separation of variables: with Z = C Y (C the pivoted Cholesky factor of
    R, Y standard normal) and T = Z / S, the box {|T_j| < c} is {|Z_j| < c S}; Y_1..Y_(r-1) are
    drawn in turn from their truncated normals and Y_r is integrated exactly; the chi scale S is
    the first lattice coordinate. A redundant contrast (singular R) bounds the last pivot
    variable it loads on. Every coordinate gets the tent transform (periodization).
    """
    factor, _ = _pivoted_cholesky(corr)
    k, rank = factor.shape
    last = np.array([np.flatnonzero(np.abs(row) > 1e-12).max() for row in factor])
    finite = bool(np.isfinite(df))
    dim = rank - 1 + int(finite)  # lattice coordinates: the chi scale, then Y_1..Y_(r-1)
    bounds = np.asarray(c, dtype=float)
    if dim == 0:  # normal, rank 1: a single exact evaluation
        shifts, n = 1, 1
        scale = np.ones((1, 1))
        w = np.zeros((1, 1, 0))
    else:
        shifts, n = MVT_SHIFTS, _prime_at_most(MVT_POINTS)
        rng = np.random.default_rng(MVT_SEED)
        rng.random(shifts)  # the chi coordinate's shifts, as _chi_points draws them
        z = _lattice(dim, n)[int(finite) :]
        u = (np.arange(n)[None, :, None] * z + rng.random((shifts, 1, z.size))) % 1.0
        w = 1.0 - np.abs(2.0 * u - 1.0)
        scale = _chi_points(float(df), n, shifts, MVT_SEED) if finite else np.ones((shifts, n))
    steps = [
        [(j, factor[j, i], math.copysign(1.0, factor[j, i])) for j in np.flatnonzero(last == i)]
        for i in range(rank)
    ]
    estimates = np.empty((shifts, bounds.size))
    for q in range(shifts):
        b = bounds[:, None] * scale[q][None, :]  # (bounds, points)
        prob = np.ones_like(b)
        mean = np.zeros((k, *b.shape))  # conditional means of Z given Y_1..Y_i
        for i, rows in enumerate(steps):
            lo = np.full_like(b, -np.inf)
            hi = np.full_like(b, np.inf)
            for j, f, sign in rows:  # -b <= mean_j + f Y_i <= b
                lo = np.maximum(lo, (-sign * b - mean[j]) / f)
                hi = np.minimum(hi, (sign * b - mean[j]) / f)
            d = special.ndtr(lo)
            width = np.maximum(special.ndtr(hi) - d, 0.0)
            prob *= width
            if i < rank - 1:
                y = special.ndtri(np.clip(d + w[q, :, i] * width, 1e-300, 1.0 - 1e-16))
                mean += factor[:, i, None, None] * y
        estimates[q] = prob.mean(axis=1)
    if shifts == 1:
        return estimates[0], np.zeros(bounds.size)
    return estimates.mean(axis=0), 3.5 * estimates.std(axis=0, ddof=1) / math.sqrt(shifts)


def max_abs_t_cdf(c: float | np.ndarray, corr: np.ndarray, df: float) -> np.ndarray:
    """P(max_j |T_j| < c) for T multivariate t with correlation ``corr`` and ``df`` (inf: normal).

    One contrast: the t distribution. Two: quadrature over the chi scale of exact bivariate
    normal probabilities (~1e-12). More: the lattice rule of :func:`_lattice_cdf` (~1e-5).
    Deterministic. ``c`` may be a vector of bounds.
    """
    corr = np.atleast_2d(np.asarray(corr, dtype=float))
    bounds = np.atleast_1d(np.asarray(c, dtype=float))
    if np.any(bounds < 0) or np.any(~np.isfinite(bounds)):
        raise ValueError("bounds must be finite and non-negative")
    k = corr.shape[0]
    if k == 1:
        dist = stats.norm if not np.isfinite(df) else stats.t(df)
        return 1.0 - 2.0 * dist.sf(bounds)
    if k == 2:
        s, weight = _chi_nodes(float(df))
        rho = float(np.clip(corr[0, 1], -1.0, 1.0))
        cov = np.array([[1.0, rho], [rho, 1.0]])
        out = np.empty(bounds.size)
        for i, value in enumerate(bounds):
            edge = np.repeat((value * s)[:, None], 2, axis=1)
            box = stats.multivariate_normal.cdf(
                edge, cov=cov, lower_limit=-edge, allow_singular=True
            )
            out[i] = weight @ np.atleast_1d(box)
        return np.clip(out, 0.0, 1.0)
    return np.clip(_lattice_cdf(bounds, corr, df)[0], 0.0, 1.0)


def dunnett_pvalues(t: np.ndarray, corr: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Single-step multivariate t adjusted p values: p_i = 1 - P(max_j |T_j| < |t_i|; df_i).

    Each contrast uses its own ``df`` (already in the form wanted, e.g. :func:`emmeans_mvt_df`)
    with the family's correlation ``corr``. Results are held within the exact bounds at that df
    (unadjusted p <= p_i <= Sidak p, Sidak 1967/1968), which absorbs integration error for tiny p.
    """
    corr = np.atleast_2d(np.asarray(corr, dtype=float))
    t = np.abs(np.asarray(t, dtype=float))
    df = np.broadcast_to(np.asarray(df, dtype=float), t.shape)
    k = corr.shape[0]  # the family's size (t may hold some of its members only)
    out = np.full(t.shape, np.nan)
    for nu in np.unique(df[np.isfinite(t)]):
        rows = np.flatnonzero((df == nu) & np.isfinite(t))
        raw = 2.0 * (stats.norm.sf(t[rows]) if not np.isfinite(nu) else stats.t.sf(t[rows], nu))
        if k == 1:
            out[rows] = raw
            continue
        p = 1.0 - max_abs_t_cdf(t[rows], corr, nu)
        out[rows] = np.clip(p, raw, -np.expm1(k * np.log1p(-raw)))
    return out


def dunnett_quantile(level: float, corr: np.ndarray, df: float) -> float:
    """Two-sided equicoordinate quantile q: P(max_j |T_j| < q) = ``level`` (root to 1e-9).

    The root lies between the unadjusted and the Sidak critical values (exact bounds); it is
    found by the secant method on the probit scale from the Sidak value, with a bracketing
    fallback.
    """
    corr = np.atleast_2d(np.asarray(corr, dtype=float))
    k = corr.shape[0]
    dist = stats.norm if not np.isfinite(df) else stats.t(df)
    lo = float(dist.ppf(0.5 + level / 2.0))
    if k == 1:
        return lo
    hi = float(dist.ppf(0.5 + level ** (1.0 / k) / 2.0))
    target = float(special.ndtri(level))

    def gap(q: float) -> float:
        return float(special.ndtri(max_abs_t_cdf(q, corr, df)[0])) - target

    lo, hi = lo * (1 - 1e-6), hi * (1 + 1e-6)  # a margin for integration error
    root = optimize.root_scalar(
        gap, x0=hi, x1=hi - 0.1 * (hi - lo), method="secant", xtol=1e-9, rtol=1e-12
    )
    if root.converged and lo <= root.root <= hi:
        return float(root.root)
    g_lo, g_hi = gap(lo), gap(hi)
    if g_lo >= 0:
        return lo
    if g_hi <= 0:
        return hi
    return float(optimize.brentq(gap, lo, hi, xtol=1e-9, rtol=1e-12))


def _contrast_rows(
    fit: mixed.MixedModelFit, factor: str, by: str | None, method: str, ref: str | None
) -> np.ndarray:
    """Rows of L (fixed effects -> contrast) in :func:`exneuro.stats.mixed.emm_contrasts`' order."""
    keys, basis, categorical = lmm_inference._emm_basis(
        fit, [factor] + ([by] if by is not None else [])
    )
    levels = categorical[factor]
    pairs = lmm_inference._contrast_pairs(levels, method, ref)
    rows = []
    for b in categorical[by] if by is not None else [None]:
        index = {key[0]: i for i, key in enumerate(keys) if by is None or key[1] == b}
        rows += [basis[index[levels[i]]] - basis[index[levels[j]]] for i, j in pairs]
    return np.array(rows)


def _dunnett(
    fit: mixed.MixedModelFit,
    rows: pd.DataFrame,
    keys: pd.Series,
    L: np.ndarray,
    level: float,
    mvt_df: str,
) -> pd.DataFrame:
    """``rows`` with multivariate-t adjusted p values and simultaneous CIs, family by family."""
    rows = rows.copy()
    cov = L @ fit.cov_beta @ L.T
    for key in keys.unique():
        members = np.flatnonzero((keys == key).to_numpy())
        ok = members[np.isfinite(rows["t"].to_numpy()[members]) & (np.diag(cov)[members] > 0)]
        if ok.size == 0:
            continue
        block = cov[np.ix_(ok, ok)]
        sd = np.sqrt(np.diag(block))
        corr = block / np.outer(sd, sd)
        df = rows["df"].to_numpy()[ok].astype(float)
        if mvt_df == "emmeans":
            df = np.array([emmeans_mvt_df(v) for v in df])
        df[~np.isfinite(df) | (df <= 0)] = np.inf
        t = rows["t"].to_numpy()[ok]
        if ok.size == 1:  # one contrast: the t test itself, with its own (unrounded) df
            rows.loc[rows.index[ok], "p_adj"] = rows["p"].to_numpy()[ok]
            continue
        rows.loc[rows.index[ok], "p_adj"] = dunnett_pvalues(t, corr, df)
        quantile = {nu: dunnett_quantile(level, corr, nu) for nu in np.unique(df)}
        q = np.array([quantile[nu] for nu in df])
        estimate, se = rows["estimate"].to_numpy()[ok], rows["se"].to_numpy()[ok]
        rows.loc[rows.index[ok], "ci_low"] = estimate - q * se
        rows.loc[rows.index[ok], "ci_high"] = estimate + q * se
    return rows


def contrast_family(
    fit: mixed.MixedModelFit,
    factor: str,
    by: str | None,
    method: str,
    ref: str | None,
    correction: str,
    level: float = 0.95,
    family: str = "all",
    context: dict[str, str] | None = None,
    mvt_df: str = "emmeans",
) -> pd.DataFrame:
    """Contrasts of ``factor`` (at every level of ``by``) as statistics-table rows.

    ``method`` is an emmeans method ('trt.vs.ctrl' against ``ref``, 'pairwise', 'consec');
    ``correction`` one of :func:`exneuro.stats.compare.adjust_pvalues`'s methods or
    ``'dunnett'`` (single-step multivariate t, emmeans' ``adjust = "mvt"``; see the module
    docstring), whose df per contrast ``mvt_df`` chooses: 'emmeans' (its Satterthwaite df
    rounded as emmeans rounds it, R's numbers) or 'satterthwaite' (unrounded). Each row's
    ``subset`` holds ``context`` (e.g. the cohort) and the ``by`` level; ``term`` the contrast.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; choose from {list(CORRECTIONS)}")
    if mvt_df not in ("emmeans", "satterthwaite"):
        raise ValueError(f"mvt_df must be 'emmeans' or 'satterthwaite', not {mvt_df!r}")

    def contrasts(ci_level: float) -> pd.DataFrame:
        return mixed.emm_contrasts(
            fit, factor=factor, by=by, method=method, ref=ref, adjust="none", level=ci_level
        )

    rows = contrasts(level)
    if by and family == "per_level":
        keys = rows["by_level"].astype(str)
    else:
        keys = pd.Series("all", index=rows.index)
    sizes = keys.map(keys.value_counts())
    if correction in MULTIVARIATE_T:
        L = _contrast_rows(fit, factor, by, method, ref)
        if not np.allclose(L @ fit.beta, rows["estimate"].to_numpy(), rtol=1e-10, atol=1e-12):
            raise RuntimeError("contrast rows do not reproduce emm_contrasts' estimates")
        rows = _dunnett(fit, rows, keys, L, level, mvt_df)
    else:
        for size in sorted(sizes.unique()) if correction in SIMULTANEOUS else []:
            wider = contrasts(family_ci_level(correction, int(size), level))
            chosen = sizes == size
            rows.loc[chosen, ["ci_low", "ci_high"]] = wider.loc[chosen, ["ci_low", "ci_high"]]
        rows["p_adj"] = rows.groupby(keys)["p"].transform(
            lambda p: compare.adjust_pvalues(p, correction)
        )
    table = mixed.to_stats(fit, contrasts=rows, include_anova=False)
    table["term"] = rows["contrast"].to_numpy()
    table["subset"] = [
        subset_label(**(context or {}), **({by: value} if by else {})) or pd.NA
        for value in rows["by_level"]
    ]
    table["correction"] = [correction_label(correction, int(n)) for n in sizes]
    if correction in SIMULTANEOUS:
        interval = f"{SIMULTANEOUS[correction]}-adjusted {level:g} CI"
    elif correction in MULTIVARIATE_T:
        rounded = " rounded as emmeans does" if mvt_df == "emmeans" else ""
        interval = (
            f"{MULTIVARIATE_T[correction]}-adjusted (multivariate t) {level:g} CI"
            f"; multivariate t with each contrast's Satterthwaite df{rounded}"
        )
    else:
        interval = f"unadjusted {level:g} CI"
    scope = f"at each {by}" if by and family == "per_level" else "all together"
    table["notes"] = (
        f"estimated marginal means of the mixed model; {factor} contrasts ({method})"
        f", corrected {scope}; {interval}; d = estimate / total SD"
        + (f"; {mixed.singular_note(fit)}" if fit.singular else "")
    )
    return table
