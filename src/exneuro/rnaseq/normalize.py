"""Normalization and sample-level QC of a genes x samples count matrix.

- Median-of-ratios size factors, DESeq2's ``estimateSizeFactors`` (Anders & Huber 2010, eq. 5):
  ``s_j = median_i(k_ij / (prod_v k_iv)^(1/m))`` over the genes with no zero count (the
  geometric mean of a gene with a zero is 0). ``poscounts`` is DESeq2's variant for sparse data.
- Counts per million and TMM factors: edgeR's ``cpm`` and ``calcNormFactors(method="TMM")``
  (Robinson & Oshlack 2010, Genome Biol 11:R25), defaults logratioTrim 0.3, sumTrim 0.05,
  precision weighting, and the edgeR 3.x reference: the sample whose upper-quartile/library size
  is closest to the mean of them.
- Variance-stabilizing transformation (Anders & Huber 2010; DESeq2 ``vst``): blind to the design,
  the parametric dispersion trend ``a0 + a1/mu`` is fitted with pydeseq2 on ``nsub`` (1,000)
  genes spread over the range of mean expression, exactly as DESeq2's ``vst`` subsamples, then
  applied to every gene (closed form of the integral of 1/sqrt(mu + a(mu) mu^2)).
- PCA of samples on the 500 most variable VST genes (DESeq2 ``plotPCA``: centred, not scaled;
  % variance of each component among those genes), Euclidean sample distances on the VST matrix.
- Outlier samples (flagged, never removed): the modified z-score of Iglewicz & Hoaglin (1993),
  ``z = (x - median(x)) / (1.4826 MAD(x))``, of (a) each sample's median Pearson correlation (VST,
  all genes) with the other samples of its group (low is bad) and (b) its distance in the PC1-PC2
  plane from the median position of its group (far is bad). Both are measured within the group so
  that a real treatment effect is not called an outlier; without groups, against all samples. A
  sample is flagged when either z exceeds ``threshold`` (3.5 by default).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from exneuro.errors import ConfigError, InputDataError

VST_MIN_BASE_MEAN = 5.0


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run numerical libraries on one thread inside the block.

    pydeseq2 fits one small GLM per gene; multi-threaded BLAS on such tiny matrices costs far
    more in thread hand-offs than it gains (5x slower on a 2-core machine) and can change the
    last bits of sums: one thread is faster and bit-reproducible.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _as_matrix(counts: pd.DataFrame) -> np.ndarray:
    return counts.to_numpy(dtype=float)


def size_factors(counts: pd.DataFrame, method: str = "ratio") -> pd.Series:
    """DESeq2 size factors of a genes x samples count matrix.

    ``ratio`` (DESeq2's default): median over genes with no zero of the ratio of a sample's count
    to the gene's geometric mean across samples. ``poscounts``: geometric means over positive
    counts (divided by the number of samples, as DESeq2), medians over each sample's positive
    counts, then scaled to a geometric mean of 1 — for matrices where every gene has a zero.
    """
    values = _as_matrix(counts)
    with np.errstate(divide="ignore"):
        logs = np.log(values)
    if method == "ratio":
        log_geo_means = logs.mean(axis=1)
        usable = np.isfinite(log_geo_means)
        if not usable.any():
            raise InputDataError(
                "counts: every gene has a zero in some sample, so median-of-ratios size factors "
                "are undefined — use size_factor_method: poscounts"
            )
        ratios = logs[usable] - log_geo_means[usable, None]
        factors = np.exp(np.median(ratios, axis=0))
    elif method == "poscounts":
        positive_logs = np.where(values > 0, logs, 0.0)
        log_geo_means = positive_logs.sum(axis=1) / values.shape[1]
        usable = (values > 0) & (log_geo_means[:, None] > 0)
        ratios = np.where(usable, logs - log_geo_means[:, None], np.nan)
        factors = np.exp(np.nanmedian(ratios, axis=0))
        factors = factors / np.exp(np.mean(np.log(factors)))
    else:
        raise ConfigError(f"unknown size factor method '{method}': use ratio or poscounts")
    return pd.Series(factors, index=counts.columns, name="size_factor")


def normalized_counts(counts: pd.DataFrame, factors: pd.Series | None = None) -> pd.DataFrame:
    """Counts divided by each sample's size factor (DESeq2 ``counts(dds, normalized=TRUE)``)."""
    factors = size_factors(counts) if factors is None else factors.reindex(counts.columns)
    return counts.astype(float) / factors.to_numpy()[None, :]


def _upper_quartile_ratio(values: np.ndarray, library_size: np.ndarray) -> np.ndarray:
    return np.quantile(values, 0.75, axis=0) / library_size  # R quantile type 7 = numpy linear


def _tmm_pair(
    obs: np.ndarray,
    ref: np.ndarray,
    n_obs: float,
    n_ref: float,
    logratio_trim: float,
    sum_trim: float,
    do_weighting: bool,
    a_cutoff: float,
) -> float:
    """edgeR's ``.calcFactorTMM`` for one sample against the reference (line for line)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log2((obs / n_obs) / (ref / n_ref))
        abs_expr = (np.log2(obs / n_obs) + np.log2(ref / n_ref)) / 2
        variance = (n_obs - obs) / n_obs / obs + (n_ref - ref) / n_ref / ref
    finite = np.isfinite(log_ratio) & np.isfinite(abs_expr) & (abs_expr > a_cutoff)
    log_ratio, abs_expr, variance = log_ratio[finite], abs_expr[finite], variance[finite]
    if log_ratio.size == 0 or np.max(np.abs(log_ratio)) < 1e-6:
        return 1.0
    n = log_ratio.size
    low_l = np.floor(n * logratio_trim) + 1
    high_l = n + 1 - low_l
    low_s = np.floor(n * sum_trim) + 1
    high_s = n + 1 - low_s
    rank_l, rank_s = rankdata(log_ratio), rankdata(abs_expr)  # average ranks, as R's rank()
    keep = (rank_l >= low_l) & (rank_l <= high_l) & (rank_s >= low_s) & (rank_s <= high_s)
    if do_weighting:
        factor = np.nansum(log_ratio[keep] / variance[keep]) / np.nansum(1 / variance[keep])
    else:
        factor = np.nanmean(log_ratio[keep])
    return float(2**factor) if np.isfinite(factor) else 1.0


def tmm_factors(
    counts: pd.DataFrame,
    logratio_trim: float = 0.3,
    sum_trim: float = 0.05,
    do_weighting: bool = True,
    a_cutoff: float = -1e10,
    reference: str | None = None,
) -> pd.Series:
    """TMM normalization factors (edgeR ``calcNormFactors``, method "TMM", edgeR 3.x).

    For each sample, the weighted mean of gene log-ratios against a reference sample after
    trimming 30% of log-ratios and 5% of mean expression at each end; factors are scaled to a
    geometric mean of 1. Library sizes are the column sums (genes with no count anywhere are
    dropped first, as edgeR does). The effective library size is library size x factor.
    """
    values = _as_matrix(counts)
    library_size = values.sum(axis=0)
    values = values[(values > 0).any(axis=1)]
    if reference is None:
        quartiles = _upper_quartile_ratio(values, library_size)
        if np.median(quartiles) < 1e-20:
            ref = int(np.argmax(np.sqrt(values).sum(axis=0)))
        else:
            ref = int(np.argmin(np.abs(quartiles - quartiles.mean())))
    else:
        ref = list(counts.columns).index(reference)
    factors = np.array(
        [
            _tmm_pair(
                values[:, j],
                values[:, ref],
                library_size[j],
                library_size[ref],
                logratio_trim,
                sum_trim,
                do_weighting,
                a_cutoff,
            )
            for j in range(values.shape[1])  # one weighted trimmed mean per sample pair
        ]
    )
    factors = factors / np.exp(np.mean(np.log(factors)))
    return pd.Series(factors, index=counts.columns, name="tmm_factor")


def cpm(
    counts: pd.DataFrame,
    norm_factors: pd.Series | None = None,
    log: bool = False,
    prior_count: float = 2.0,
) -> pd.DataFrame:
    """Counts per million of the effective library size (edgeR ``cpm``).

    With ``norm_factors`` (e.g. :func:`tmm_factors`) the library size is multiplied by them. With
    ``log``, edgeR's log2-CPM: a prior count scaled to each library's size is added to the counts
    (and twice to the library size) so that zeros have a finite log.
    """
    values = _as_matrix(counts)
    library_size = values.sum(axis=0)
    if norm_factors is not None:
        library_size = library_size * norm_factors.reindex(counts.columns).to_numpy()
    if log:
        prior = prior_count * library_size / library_size.mean()
        result = np.log2((values + prior[None, :]) / (library_size + 2 * prior)[None, :] * 1e6)
    else:
        result = values / library_size[None, :] * 1e6
    return pd.DataFrame(result, index=counts.index, columns=counts.columns)


def library_sizes(counts: pd.DataFrame) -> pd.DataFrame:
    """Per sample: total counts, genes detected (count > 0), DESeq2 size factor, TMM factor."""
    values = _as_matrix(counts)
    return pd.DataFrame(
        {
            "sample": counts.columns.astype(str),
            "library_size": values.sum(axis=0).astype(np.int64),
            "genes_detected": (values > 0).sum(axis=0),
            "size_factor": size_factors(counts).to_numpy(),
            "tmm_factor": tmm_factors(counts).to_numpy(),
        }
    )


def _vst_subset(base_mean: np.ndarray, nsub: int) -> np.ndarray:
    """Row positions of DESeq2 ``vst``'s subsample: ``nsub`` genes with mean > 5 at equally
    spaced ranks of their mean (``o[round(seq(1, length(o), length = nsub))]``)."""
    candidates = np.flatnonzero(base_mean > VST_MIN_BASE_MEAN)
    order = candidates[np.argsort(base_mean[candidates], kind="stable")]
    ranks = np.round(np.linspace(1, len(order), nsub)).astype(int) - 1
    return order[ranks]


def vst(
    counts: pd.DataFrame,
    fit_type: str = "parametric",
    nsub: int = 1000,
    factors: pd.Series | None = None,
) -> pd.DataFrame:
    """Variance-stabilized log2-scale matrix (DESeq2 ``vst(dds, blind = TRUE)``).

    Size factors by median of ratios (or ``factors``); gene-wise dispersions and their trend are
    fitted by pydeseq2 (``DeseqDataSet.fit_genewise_dispersions`` / ``fit_dispersion_trend`` with
    ``vst=True``, intercept-only design) on ``nsub`` genes as DESeq2 does — on all genes when fewer
    than ``nsub`` have mean > 5 (DESeq2's ``varianceStabilizingTransformation``). If the
    parametric trend does not converge, pydeseq2 falls back to the mean dispersion ('mean' VST).
    """
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference

    factors = size_factors(counts) if factors is None else factors.reindex(counts.columns)
    values = _as_matrix(counts)
    normed = values / factors.to_numpy()[None, :]
    base_mean = normed.mean(axis=1)
    rows = (
        _vst_subset(base_mean, nsub)
        if (base_mean > VST_MIN_BASE_MEAN).sum() >= nsub
        else np.flatnonzero(base_mean > 0)
    )
    samples = pd.DataFrame(index=pd.Index(counts.columns.astype(str), name="sample"))
    with single_threaded_blas():
        fit = DeseqDataSet(
            counts=pd.DataFrame(
                values[rows].T.astype(np.int64),
                index=samples.index,
                columns=counts.index[rows].astype(str),
            ),
            metadata=samples,
            design="~1",
            fit_type=fit_type,
            inference=DefaultInference(n_cpus=1),
            quiet=True,
        )
        fit.obs["size_factors"] = factors.to_numpy()
        fit.layers["normed_counts"] = normed[rows].T
        fit.var["_normed_means"] = base_mean[rows]
        fit.vst_fit_type = fit_type
        fit.fit_genewise_dispersions(vst=True)
        fit.fit_dispersion_trend(vst=True)
    if fit.vst_fit_type == "parametric":
        a0, a1 = (float(v) for v in fit.uns["vst_trend_coeffs"])
        transformed = np.log2(
            (1 + a1 + 2 * a0 * normed + 2 * np.sqrt(a0 * normed * (1 + a1 + a0 * normed)))
            / (4 * a0)
        )
    else:
        alpha = float(fit.uns["mean_disp"])
        transformed = (
            2 * np.arcsinh(np.sqrt(alpha * normed)) - np.log(alpha) - np.log(4)
        ) / np.log(2)
    return pd.DataFrame(transformed, index=counts.index, columns=counts.columns)


def most_variable(matrix: pd.DataFrame, n_top: int = 500) -> pd.DataFrame:
    """The ``n_top`` rows of highest variance (ties keep file order), as DESeq2 ``plotPCA``."""
    variance = matrix.to_numpy(float).var(axis=1, ddof=1)
    order = np.argsort(-variance, kind="stable")[: min(n_top, len(variance))]
    return matrix.iloc[order]


def pca(
    matrix: pd.DataFrame, n_top: int = 500, n_components: int = 4
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PCA of samples (columns) on the ``n_top`` most variable rows of a VST matrix.

    Returns (scores: sample, PC1..PCk; variance: component, variance_explained as a fraction of
    the total over those genes, as DESeq2 ``plotPCA`` labels its axes). Each component's sign is
    fixed so that its largest gene loading is positive: the same data always give the same
    picture.
    """
    top = most_variable(matrix, n_top).to_numpy(float).T
    centred = top - top.mean(axis=0)
    left, singular, right = np.linalg.svd(centred, full_matrices=False)
    signs = np.sign(right[np.arange(len(right)), np.argmax(np.abs(right), axis=1)])
    signs[signs == 0] = 1
    k = min(n_components, len(singular))
    scores = left[:, :k] * singular[:k] * signs[:k]
    names = [f"PC{i + 1}" for i in range(k)]
    score_table = pd.DataFrame(scores, columns=names)
    score_table.insert(0, "sample", matrix.columns.astype(str))
    explained = singular**2 / np.sum(singular**2)
    variance = pd.DataFrame({"component": names, "variance_explained": explained[:k]})
    return score_table, variance


def sample_distances(matrix: pd.DataFrame) -> pd.DataFrame:
    """Euclidean distances between samples on a VST matrix (DESeq2 vignette: ``dist(t(vsd))``)."""
    values = matrix.to_numpy(float).T
    squared = (values**2).sum(axis=1)
    distance = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * values @ values.T, 0))
    np.fill_diagonal(distance, 0.0)
    names = matrix.columns.astype(str)
    return pd.DataFrame(distance, index=names, columns=names)


def robust_z(values: np.ndarray) -> np.ndarray:
    """Modified z-score (Iglewicz & Hoaglin 1993): (x - median) / (1.4826 * MAD)."""
    values = np.asarray(values, float)
    centre = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - centre))
    if mad == 0:
        return np.where(values == centre, 0.0, np.inf * np.sign(values - centre))
    return (values - centre) / mad


def sample_outliers(
    matrix: pd.DataFrame,
    groups: pd.Series | None = None,
    threshold: float = 3.5,
    n_top: int = 500,
) -> pd.DataFrame:
    """Flag outlier samples of a VST matrix (the rule is in the module docstring).

    ``groups`` maps sample -> group (correlations with the group's other samples, PC distance
    from the group's median position). Returns one row per sample: median correlation and its
    robust z (positive = lower than the others), PC1-PC2 distance from the group median and its
    robust z, ``outlier`` and ``reason``. Nothing is removed: exclusion is a decision for the
    config.
    """
    names = matrix.columns.astype(str)
    group = (
        groups.reindex(names).astype(str).to_numpy()
        if groups is not None
        else np.full(len(names), "all")
    )
    correlation = np.corrcoef(matrix.to_numpy(float).T)
    np.fill_diagonal(correlation, np.nan)
    same_group = group[:, None] == group[None, :]
    alone = same_group.sum(axis=1) < 2  # a sample alone in its group: compare with all
    peers = np.where(same_group | alone[:, None], correlation, np.nan)
    median_correlation = np.nanmedian(peers, axis=1)
    scores, _ = pca(matrix, n_top=n_top, n_components=2)
    xy = scores[["PC1", "PC2"]].to_numpy(float)
    centre = pd.DataFrame(xy, columns=["x", "y"]).groupby(group).transform("median").to_numpy()
    distance = np.sqrt(((xy - centre) ** 2).sum(axis=1))
    z_correlation = -robust_z(median_correlation)
    z_distance = robust_z(distance)
    reasons = [
        "; ".join(
            text
            for flagged, text in (
                (zc > threshold, f"low median correlation (z {zc:.1f})"),
                (zd > threshold, f"far from its group on PC1-PC2 (z {zd:.1f})"),
            )
            if flagged
        )
        for zc, zd in zip(z_correlation, z_distance, strict=True)
    ]
    return pd.DataFrame(
        {
            "sample": names,
            "group": group,
            "median_correlation": median_correlation,
            "correlation_robust_z": z_correlation,
            "pc_distance_from_group": distance,
            "pc_distance_robust_z": z_distance,
            "outlier": (z_correlation > threshold) | (z_distance > threshold),
            "reason": reasons,
            "threshold": threshold,
        }
    )
