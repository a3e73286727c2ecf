"""DESeq2's ``DESeq()`` and ``results()`` on all genes at once (NumPy; R DESeq2 1.38 defaults).

``fit_deseq``: size factors (median of ratios), dispersions (:mod:`exneuro.rnaseq.dispersion`:
gene-wise Cox-Reid, parametric or mean trend, MAP), the negative binomial GLM with DESeq2's
ridge (:mod:`exneuro.rnaseq.nbglm`), Cook's distances with DESeq2's robust moments dispersion,
and — when a cell of the design has >= 7 samples — DESeq2's outlier replacement: counts with
Cook's distance above the 99% quantile of F(p, m - p) in those samples are replaced by the
gene's 20%-trimmed mean of normalized counts times the size factor, and the genes refitted
(dispersion trend and prior kept).

``wald_results``: one contrast ``c``: log2 fold change ``c'beta``, SE ``sqrt(c' Sigma c)``,
Wald p; then as ``results()``: LFC 0 / p 1 where every sample of the compared groups has zero
counts, p NA for Cook's outliers (max Cook's distance over samples of cells with >= 3 samples
above the F cutoff; in a two-group design not when three or more counts exceed the outlier),
LFC 0 / p 1 for genes that became all zero by replacement, and independent filtering + BH
(:mod:`exneuro.rnaseq.filtering`). Genes with no count at all get baseMean 0 and NA elsewhere.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr
from scipy.stats import f as f_distribution

from exneuro.errors import InputDataError
from exneuro.rnaseq import dispersion as disp
from exneuro.rnaseq.filtering import bh_adjust, independent_filtering
from exneuro.rnaseq.nbglm import LOG2E, fit_glm

MIN_REPLICATES_FOR_REPLACE = 7
REPLACE_TRIM = 0.2


def _cells(design: np.ndarray) -> np.ndarray:
    """Cell number of each sample: samples with identical design rows share a cell."""
    return np.unique(design, axis=0, return_inverse=True)[1].ravel()


def _in_cells_of_at_least(design: np.ndarray, n: int) -> np.ndarray:
    """DESeq2 ``nOrMoreInCell``: samples whose design row occurs >= n times."""
    cells = _cells(design)
    return np.bincount(cells)[cells] >= n


def trimmed_mean(values: np.ndarray, trim: float) -> np.ndarray:
    """Row-wise R ``mean(x, trim = trim)``: drop ``floor(n trim)`` values at each end."""
    n = values.shape[1]
    if trim >= 0.5:
        return np.median(values, axis=1)
    low = int(np.floor(n * trim))
    return np.sort(values, axis=1)[:, low : n - low].mean(axis=1)


def _cell_trim(n: int) -> tuple[float, float]:
    """DESeq2 ``trimmedCellVariance``'s trim ratio and scale for a cell of n samples."""
    if n <= 3.5:
        return 1 / 3, 2.04
    if n <= 23.5:
        return 1 / 4, 1.86
    return 1 / 8, 1.51


def robust_moments_dispersion(normalized: np.ndarray, design: np.ndarray) -> np.ndarray:
    """DESeq2 ``robustMethodOfMomentsDisp``: trimmed within-cell variance (largest over cells
    with >= 3 samples, else over all samples), ``(v - mean) / mean^2``, at least 0.04."""
    in_big_cells = _in_cells_of_at_least(design, 3)
    if in_big_cells.any():
        cells = _cells(design)
        variances = []
        for cell in np.unique(cells[in_big_cells]):  # a handful of design cells
            values = normalized[:, cells == cell]
            trim, scale = _cell_trim(values.shape[1])
            centre = trimmed_mean(values, trim)
            variances.append(scale * trimmed_mean((values - centre[:, None]) ** 2, trim))
        variance = np.max(variances, axis=0)
    else:
        centre = trimmed_mean(normalized, 1 / 8)
        variance = 1.51 * trimmed_mean((normalized - centre[:, None]) ** 2, 1 / 8)
    mean = normalized.mean(axis=1)
    return np.maximum((variance - mean) / mean**2, 0.04)


def cooks_distances(counts, normalized, design, mu, hat) -> np.ndarray:
    """DESeq2 ``calculateCooksDistance``: Pearson residual^2 / p x h / (1 - h)^2."""
    alpha = robust_moments_dispersion(normalized, design)
    variance = mu + alpha[:, None] * mu**2
    return (counts - mu) ** 2 / variance / design.shape[1] * hat / (1.0 - hat) ** 2


def _max_cooks(cooks: np.ndarray, design: np.ndarray) -> np.ndarray:
    """DESeq2 ``recordMaxCooks``: max over samples in cells of >= 3 (NaN if there are none)."""
    columns = _in_cells_of_at_least(design, 3)
    if design.shape[0] > design.shape[1] and columns.any():
        return cooks[:, columns].max(axis=1)
    return np.full(cooks.shape[0], np.nan)


@dataclass
class DeseqFit:
    """Everything ``results()`` needs, genes in input order (rows with no count are NaN)."""

    counts: np.ndarray
    design: np.ndarray
    size_factors: np.ndarray
    base_mean: np.ndarray
    all_zero: np.ndarray
    replaced: np.ndarray
    beta: np.ndarray
    sigma: np.ndarray
    dispersion: np.ndarray
    cooks: np.ndarray
    max_cooks: np.ndarray
    two_group_design: bool


@dataclass(frozen=True)
class _Prior:
    """The dispersion trend (baseMean -> alpha), the prior variance of log dispersions and the
    variance of the log residuals, fixed by the first fit and reused for refitted genes."""

    trend_of: object
    prior_var: float
    residual_var: float


def _trend_function(base_mean: np.ndarray, genewise: np.ndarray, fit_type: str):
    """baseMean -> trend: parametric ``a0 + a1 / mean``, or the mean dispersion (also when the
    parametric fit fails, with a warning: R DESeq2 would switch to a local fit there)."""
    if fit_type == "parametric":
        try:
            a0, a1 = disp.parametric_trend(base_mean, genewise)
        except InputDataError as error:
            warnings.warn(f"{error}; using the mean dispersion as trend", stacklevel=3)
        else:
            return lambda means: a0 + a1 / means
    value = disp.mean_trend(genewise)
    return lambda means: np.full(means.shape, value)


def _dispersions_and_glm(counts, design, size_factors, fit_type, prior=None):
    """Gene-wise and MAP dispersions and the GLM for rows with a count (``prior`` None: fit
    the trend and prior here). Returns the final dispersions, the GLM and the prior."""
    base_mean = (counts / size_factors[None, :]).mean(axis=1)
    genewise, mu = disp.genewise_dispersions(counts, design, size_factors)
    if prior is None:
        if not np.any(genewise > 100 * disp.MIN_DISPERSION):
            raise InputDataError(
                "rnaseq: every gene-wise dispersion is within 100x of the minimum (counts with "
                "no overdispersion), so DESeq2's dispersion trend cannot be fitted — check that "
                "the count table holds raw read counts, not normalized or simulated Poisson values"
            )
        trend_of = _trend_function(base_mean, genewise, fit_type)
        trend = trend_of(base_mean)
        prior = _Prior(
            trend_of,
            disp.prior_variance(genewise, trend, *design.shape),
            disp.residual_variance(genewise, trend),
        )
    trend = prior.trend_of(base_mean)
    final = disp.map_dispersions(
        counts, mu, design, genewise, trend, prior.prior_var, prior.residual_var
    )
    return final, fit_glm(counts, design, size_factors, final), prior


def fit_deseq(
    counts: np.ndarray,
    design: np.ndarray,
    size_factors: np.ndarray,
    fit_type: str = "parametric",
    two_group_design: bool = False,
) -> DeseqFit:
    """DESeq2 ``DESeq(dds)`` (Wald test, no beta prior) on a genes x samples count matrix."""
    counts = np.asarray(counts, float)
    design = np.asarray(design, float)
    n_genes, n_samples = counts.shape
    n_coefficients = design.shape[1]
    nonzero = np.flatnonzero(counts.sum(axis=1) > 0)
    sub = counts[nonzero]
    final, glm, prior = _dispersions_and_glm(sub, design, size_factors, fit_type)
    beta = np.full((n_genes, n_coefficients), np.nan)
    sigma = np.full((n_genes, n_coefficients, n_coefficients), np.nan)
    dispersion = np.full(n_genes, np.nan)
    cooks = np.full((n_genes, n_samples), np.nan)
    beta[nonzero], sigma[nonzero], dispersion[nonzero] = glm.beta, glm.sigma, final
    normalized = counts / size_factors[None, :]
    cooks[nonzero] = cooks_distances(sub, normalized[nonzero], design, glm.mu, glm.hat)
    max_cooks = np.full(n_genes, np.nan)
    max_cooks[nonzero] = _max_cooks(cooks[nonzero], design)
    fit_counts = counts
    replaced = np.zeros(n_genes, bool)
    replaceable = _in_cells_of_at_least(design, MIN_REPLICATES_FOR_REPLACE)
    if replaceable.any() and n_samples > n_coefficients:
        cutoff = f_distribution.ppf(0.99, n_coefficients, n_samples - n_coefficients)
        with np.errstate(invalid="ignore"):
            outlying = cooks > cutoff
        replaced = outlying.any(axis=1)
        replacement = np.trunc(
            trimmed_mean(normalized, REPLACE_TRIM)[:, None] * size_factors[None, :]
        )
        fit_counts = counts.copy()
        swap = outlying & replaceable[None, :]
        fit_counts[swap] = replacement[swap]
        now_zero = replaced & (fit_counts.sum(axis=1) == 0)
        refit = np.flatnonzero(replaced & ~now_zero)
        if refit.size:
            final, glm, _ = _dispersions_and_glm(
                fit_counts[refit], design, size_factors, fit_type, prior
            )
            beta[refit], sigma[refit], dispersion[refit] = glm.beta, glm.sigma, final
            beta[now_zero], sigma[now_zero], dispersion[now_zero] = np.nan, np.nan, np.nan
            if replaceable.all():
                max_cooks = np.full(n_genes, np.nan)
            else:
                kept = np.where(replaceable[None, :], 0.0, cooks)
                max_cooks = _max_cooks(kept, design)
    base_mean = (fit_counts / size_factors[None, :]).mean(axis=1)
    return DeseqFit(
        counts=counts,
        design=design,
        size_factors=size_factors,
        base_mean=base_mean,
        all_zero=fit_counts.sum(axis=1) == 0,
        replaced=replaced,
        beta=beta,
        sigma=sigma,
        dispersion=dispersion,
        cooks=cooks,
        max_cooks=max_cooks,
        two_group_design=two_group_design,
    )


def _compared_samples(design: np.ndarray, contrast: np.ndarray) -> np.ndarray:
    """DESeq2 ``contrastAllZeroNumeric``: samples whose fitted value involves the contrast's
    coefficients (none when all weights have one sign)."""
    if np.all(contrast >= 0) or np.all(contrast <= 0):
        return np.zeros(design.shape[0], bool)
    return design @ (contrast != 0).astype(float) != 0


def wald_results(
    fit: DeseqFit,
    contrast: np.ndarray,
    alpha: float = 0.1,
    cooks_filter: bool = True,
    independent_filter: bool = True,
    compared_samples: np.ndarray | None = None,
) -> pd.DataFrame:
    """DESeq2 ``results(dds, contrast = ...)`` for a numeric contrast on the coefficients.

    ``compared_samples``: the samples of the two compared groups for a level-vs-level contrast
    (DESeq2's character contrasts: genes with zero counts in all of them get LFC 0, p 1);
    None = DESeq2's rule for numeric contrasts.
    """
    contrast = np.asarray(contrast, float)
    with np.errstate(invalid="ignore"):
        lfc = LOG2E * (fit.beta @ contrast)
        se = LOG2E * np.sqrt(np.einsum("i,gij,j->g", contrast, fit.sigma, contrast))
        stat = lfc / se
    pvalue = 2.0 * ndtr(-np.abs(stat))
    samples = (
        _compared_samples(fit.design, contrast)
        if compared_samples is None
        else np.asarray(compared_samples, bool)
    )
    if samples.any():
        zero = (fit.counts[:, samples].sum(axis=1) == 0) & ~fit.all_zero
        lfc[zero], stat[zero], pvalue[zero] = 0.0, 0.0, 1.0
    if cooks_filter:
        n_samples, n_coefficients = fit.design.shape
        cutoff = f_distribution.ppf(0.99, n_coefficients, n_samples - n_coefficients)
        with np.errstate(invalid="ignore"):
            outlier = fit.max_cooks > cutoff
        if fit.two_group_design and outlier.any():
            rows = np.flatnonzero(outlier)
            worst = np.nanargmax(fit.cooks[rows], axis=1)
            outlier_count = fit.counts[rows, worst]
            above = (fit.counts[rows] > outlier_count[:, None]).sum(axis=1)
            outlier[rows[above >= 3]] = False
        pvalue[outlier] = np.nan
    now_zero = fit.replaced & (fit.base_mean == 0)
    lfc[now_zero], se[now_zero], stat[now_zero], pvalue[now_zero] = 0.0, 0.0, 0.0, 1.0
    if independent_filter:
        padj, _ = independent_filtering(fit.base_mean, pvalue, alpha)
    else:
        padj = bh_adjust(pvalue)
    return pd.DataFrame(
        {
            "baseMean": fit.base_mean,
            "log2FoldChange": lfc,
            "lfcSE": se,
            "stat": stat,
            "pvalue": pvalue,
            "padj": padj,
        }
    )
