"""Independent filtering and Benjamini-Hochberg adjustment exactly as DESeq2 ``results()``.

Bourgon, Gentleman & Huber (2010, PNAS 107:9546): genes with a low mean of normalized counts
cannot reach significance, so dropping them before the FDR adjustment gains power. DESeq2
(``pvalueAdjustment``) tries 50 quantiles ``theta`` of the filter statistic (baseMean) from the
fraction of zeros to 0.95; at each it BH-adjusts the p-values of genes at or above the quantile
(genefilter ``filtered_p``) and counts rejections at ``alpha``; it smooths those counts with
R's ``lowess(f = 1/5)`` and picks the first theta whose count exceeds the smoothed maximum
minus the root mean square of the residuals (of thetas with any rejection). Genes below that
quantile get ``padj`` NA.
"""

from __future__ import annotations

import numpy as np


def bh_adjust(pvalues: np.ndarray) -> np.ndarray:
    """R ``p.adjust(method = "BH")``: NAs stay NA and do not count in n."""
    adjusted = np.full(pvalues.shape, np.nan)
    present = np.flatnonzero(~np.isnan(pvalues))
    n = present.size
    if n == 0:
        return adjusted
    values = pvalues[present]
    order = np.argsort(-values, kind="stable")
    ranks = np.arange(n, 0, -1)
    cumulative = np.minimum.accumulate(n / ranks * values[order])
    result = np.empty(n)
    result[order] = np.minimum(cumulative, 1.0)
    adjusted[present] = result
    return adjusted


def _lowess_point(x, y, xs, n_left, n_right, robustness):
    """Local weighted linear fit at ``xs`` (R ``lowest`` in ``lowess.c``); None if no weight."""
    n = x.size
    span = x[n - 1] - x[0]
    h = max(xs - x[n_left], x[n_right] - xs)
    w = np.zeros(n)
    total = 0.0
    j = n_left
    while j < n:  # 50 points: plain loop, as R's C
        r = abs(x[j] - xs)
        if r <= 0.999 * h:
            w[j] = 1.0 if r <= 0.001 * h else (1.0 - (r / h) ** 3) ** 3
            if robustness is not None:
                w[j] *= robustness[j]
            total += w[j]
        elif x[j] > xs:
            break
        j += 1
    right = j - 1
    if total <= 0.0:
        return None
    window = slice(n_left, right + 1)
    w[window] /= total
    if h > 0.0:
        centre = np.sum(w[window] * x[window])
        slope = xs - centre
        spread = np.sum(w[window] * (x[window] - centre) ** 2)
        if np.sqrt(spread) > 0.001 * span:
            w[window] *= slope / spread * (x[window] - centre) + 1.0
    return float(np.sum(w[window] * y[window]))


def lowess(x: np.ndarray, y: np.ndarray, f: float = 2 / 3, iterations: int = 3) -> np.ndarray:
    """R ``lowess`` (Cleveland 1979, ``clowess``): fitted values at sorted ``x``."""
    order = np.argsort(x, kind="stable")
    x, y = np.asarray(x, float)[order], np.asarray(y, float)[order]
    n = x.size
    if n < 2:
        return y.copy()
    delta = 0.01 * (x[-1] - x[0])
    n_points = max(2, min(n, int(f * n + 1e-7)))
    fitted = np.zeros(n)
    robustness = None
    for iteration in range(iterations + 1):
        n_left, n_right, last, i = 0, n_points - 1, -1, 0
        while True:
            if n_right < n - 1 and x[i] - x[n_left] > x[n_right + 1] - x[i]:
                n_left += 1  # move the window right while that narrows it
                n_right += 1
                continue
            value = _lowess_point(x, y, x[i], n_left, n_right, robustness)
            fitted[i] = y[i] if value is None else value
            if last < i - 1:
                denominator = x[i] - x[last]
                for j in range(last + 1, i):
                    share = (x[j] - x[last]) / denominator
                    fitted[j] = share * fitted[i] + (1.0 - share) * fitted[last]
            last = i
            cut = x[last] + delta
            i = last + 1
            while i < n:
                if x[i] > cut:
                    break
                if x[i] == x[last]:
                    fitted[i] = fitted[last]
                    last = i
                i += 1
            i = max(last + 1, i - 1)
            if last >= n - 1:
                break
        residuals = y - fitted
        scale = np.mean(np.abs(residuals))
        if iteration == iterations:
            break
        absolute = np.abs(residuals)
        ordered = np.sort(absolute)
        m1 = n // 2
        cmad = 3.0 * (ordered[m1] + ordered[n - m1 - 1]) if n % 2 == 0 else 6.0 * ordered[m1]
        if cmad < 1e-7 * scale:
            break
        robustness = np.where(
            absolute <= 0.001 * cmad,
            1.0,
            np.where(absolute <= 0.999 * cmad, (1.0 - (absolute / cmad) ** 2) ** 2, 0.0),
        )
    return fitted


def independent_filtering(
    base_mean: np.ndarray, pvalues: np.ndarray, alpha: float
) -> tuple[np.ndarray, float]:
    """DESeq2 ``pvalueAdjustment``: adjusted p-values and the baseMean threshold used."""
    zero_fraction = float(np.mean(base_mean == 0))
    upper = 0.95 if zero_fraction < 0.95 else 1.0
    theta = np.linspace(zero_fraction, upper, 50)
    cutoffs = np.quantile(base_mean, theta)  # R quantile type 7
    adjusted = np.full((theta.size, base_mean.size), np.nan)
    for k, cutoff in enumerate(cutoffs):  # 50 thresholds, each one vectorized BH
        use = base_mean >= cutoff
        adjusted[k, use] = bh_adjust(pvalues[use])
    with np.errstate(invalid="ignore"):
        rejections = np.sum(adjusted < alpha, axis=1)
    fit = lowess(theta, rejections.astype(float), f=1 / 5)
    if rejections.max() <= 10:
        chosen = 0
    else:
        positive = rejections > 0
        residual = rejections[positive] - fit[positive] if positive.any() else np.zeros(1)
        threshold = fit.max() - np.sqrt(np.mean(residual**2))
        above = np.flatnonzero(rejections > threshold)
        chosen = int(above[0]) if above.size else 0
    return adjusted[chosen], float(cutoffs[chosen])
