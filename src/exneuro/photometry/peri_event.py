"""Bootstrapped confidence intervals and permutation tests of peri-event waveforms.

The waveforms are the recordings' binned traces around each event (:func:`binned_trace`: one
time axis for sessions of any rate), each trial a row of a trials x lags matrix.

Waveform statistics follow Jean-Richard-dit-Bressel, Clifford & McNally (2020, *Front. Mol.
Neurosci.* 13:14, doi:10.3389/fnmol.2020.00014; code philjrdb/ERTsimulation):

* **bootstrap CI** of the mean waveform: ``B`` resamples of the trials with replacement, the
  mean waveform of each (a counts matrix times the data matrix: vectorized over resamples),
  percentile CI from the sorted resample means (ranks ⌈Bα/2⌉+1 and ⌊B(1−α/2)⌋, 1-based: 26th
  and 975th of 1000), optionally widened for small n by ``√(n/(n−1))`` (their ``CIadjust``);
  a time point is significant where the CI excludes 0;
* **permutation test** per time point, ``p = (#{|T_perm| ≥ |T_obs|} + 1)/(P + 1)``: against the
  baseline by random sign flips of each trial's baseline-subtracted waveform (the paired
  design), or between two groups by random relabelling of the pooled trials (exact enumeration
  when there are fewer arrangements than ``P``);
* **consecutive threshold**: a time point counts only inside a run of at least ``min_duration_s
  · fs`` significant samples (they use fs / low-pass cutoff, e.g. 0.33 s); the significant
  intervals are returned as a table.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError, InputDataError


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _complete(matrix: np.ndarray, what: str) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"{what} needs a trials x lags matrix")
    if not np.all(np.isfinite(matrix)):
        raise InputDataError(f"{what} needs complete trials; drop edge events (edge='drop')")
    return matrix


def _bootstrap_means(matrix: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Mean waveform of each of ``n_boot`` resamples (B × lags): counts matrix @ data."""
    n = matrix.shape[0]
    draws = rng.integers(0, n, size=(n_boot, n))
    counts = np.bincount(
        (draws + n * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * n
    ).reshape(n_boot, n)
    return counts @ matrix / n


def _percentile_ranks(n_boot: int, level: float) -> tuple[int, int]:
    """0-based ranks of JRdB's percentile CI: ⌈Bα/2⌉+1 and ⌊B(1−α/2)⌋ (1-based)."""
    alpha = 1.0 - level
    eps = 1e-9  # 1 - 0.95 is 0.05000000000000004 in floating point
    low = int(math.ceil(n_boot * alpha / 2.0 - eps))
    return low, int(math.floor(n_boot * (1 - alpha / 2.0) + eps)) - 1


def _expand(low: np.ndarray, high: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Small-n widening (JRdB ``CIadjust`` type 2): by (UCI − LCI)(f − 1)/2, f = √(n/(n−1))."""
    f = math.sqrt(n / (n - 1))
    half = (high - low) * (f - 1.0) / 2.0
    return low - half, high + half


def bootstrap_ci(
    matrix: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
    expand: bool = True,
) -> pd.DataFrame:
    """Mean waveform and its bootstrap percentile CI per lag: ``mean``, ``ci_low``, ``ci_high``.

    Needs at least 3 complete trials (JRdB skip n < 3).
    """
    matrix = _complete(matrix, "bootstrap CI")
    n = matrix.shape[0]
    if n < 3:
        raise InputDataError(f"bootstrap CI needs at least 3 trials; got {n}")
    means = np.sort(_bootstrap_means(matrix, n_boot, _rng(seed)), axis=0)
    lo_rank, hi_rank = _percentile_ranks(n_boot, level)
    low, high = means[lo_rank], means[hi_rank]
    if expand:
        low, high = _expand(low, high, n)
    return pd.DataFrame({"mean": matrix.mean(axis=0), "ci_low": low, "ci_high": high})


def bootstrap_diff_ci(
    a: np.ndarray,
    b: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
    expand: bool = True,
) -> pd.DataFrame:
    """CI of the difference of mean waveforms ``mean(a) − mean(b)``: both groups resampled
    independently, difference per resample (JRdB ``boot_diffCI``); widened by the smaller n."""
    a, b = _complete(a, "bootstrap difference CI"), _complete(b, "bootstrap difference CI")
    if min(len(a), len(b)) < 3:
        raise InputDataError("bootstrap difference CI needs at least 3 trials per group")
    rng = _rng(seed)
    diff = np.sort(_bootstrap_means(a, n_boot, rng) - _bootstrap_means(b, n_boot, rng), axis=0)
    lo_rank, hi_rank = _percentile_ranks(n_boot, level)
    low, high = diff[lo_rank], diff[hi_rank]
    if expand:
        low, high = _expand(low, high, min(len(a), len(b)))
    return pd.DataFrame({"mean": a.mean(axis=0) - b.mean(axis=0), "ci_low": low, "ci_high": high})


def permutation_test_baseline(
    matrix: np.ndarray, n_perm: int = 1000, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """p per lag that the mean of baseline-subtracted trials is 0, by random sign flips.

    Under H0 each trial's deviation from its own baseline is symmetric about 0, so flipping its
    sign is exchangeable. ``T = mean over trials``; ``p = (#{|T_perm| ≥ |T_obs|} + 1)/(P + 1)``,
    or the exact proportion over all 2ⁿ sign patterns when 2ⁿ ≤ ``n_perm``. The smallest
    attainable p is 2/2ⁿ: with 5 trials (or mice) 0.0625, so use the bootstrap CI there.
    """
    matrix = _complete(matrix, "permutation test")
    n = matrix.shape[0]
    observed = np.abs(matrix.mean(axis=0))
    if 2**n <= n_perm:
        signs = 1.0 - 2.0 * ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1)
        null = np.abs(signs @ matrix / n)
        return (null >= observed - 1e-12 * np.abs(observed)).mean(axis=0)
    signs = _rng(seed).choice([-1.0, 1.0], size=(n_perm, n))
    null = np.abs(signs @ matrix / n)
    return ((null >= observed - 1e-12 * np.abs(observed)).sum(axis=0) + 1.0) / (n_perm + 1.0)


def permutation_test_groups(
    a: np.ndarray, b: np.ndarray, n_perm: int = 1000, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """p per lag for ``mean(a) − mean(b)`` by random relabelling of the pooled trials.

    ``p = (#{|d_perm| ≥ |d_obs|} + 1)/(P + 1)``, or exact over all C(n, n_a) labellings when
    there are at most ``n_perm`` of them (JRdB ``permTest_array``).
    """
    a, b = _complete(a, "permutation test"), _complete(b, "permutation test")
    pooled = np.vstack([a, b])
    n, n_a = len(pooled), len(a)
    observed = np.abs(a.mean(axis=0) - b.mean(axis=0))
    total = pooled.sum(axis=0)
    exact = math.comb(n, n_a) <= n_perm
    if exact:
        labels = np.zeros((math.comb(n, n_a), n))
        for row, chosen in enumerate(itertools.combinations(range(n), n_a)):
            labels[row, list(chosen)] = 1.0
    else:
        rng = _rng(seed)
        order = np.argsort(rng.random((n_perm, n)), axis=1)
        labels = (order < n_a).astype(float)
    sum_a = labels @ pooled
    null = np.abs(sum_a / n_a - (total - sum_a) / (n - n_a))
    hits = (null >= observed - 1e-12 * np.abs(observed)).sum(axis=0)
    return hits / len(labels) if exact else (hits + 1.0) / (n_perm + 1.0)


def consecutive_mask(significant: np.ndarray, min_samples: int) -> np.ndarray:
    """Keep only runs of at least ``min_samples`` consecutive True values."""
    sig = np.asarray(significant, dtype=bool)
    edges = np.diff(np.concatenate([[0], sig.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long = (ends - starts) >= max(1, int(min_samples))
    out = np.zeros_like(sig)
    if np.any(long):
        marks = np.zeros(sig.size + 1, dtype=np.int64)
        np.add.at(marks, starts[long], 1)
        np.add.at(marks, ends[long], -1)
        out = np.cumsum(marks[:-1]) > 0
    return out


def significant_intervals(
    significant: np.ndarray, lags_s: np.ndarray, fs_hz: float, min_duration_s: float
) -> pd.DataFrame:
    """Intervals where at least ``round(min_duration_s·fs)`` consecutive samples are significant:
    ``start_s``, ``end_s`` (first and last significant lag), ``duration_s`` (``n_samples / fs``,
    the time the significant samples stand for) and ``n_samples``."""
    min_samples = max(1, int(round(min_duration_s * fs_hz)))
    kept = consecutive_mask(significant, min_samples)
    edges = np.diff(np.concatenate([[0], kept.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lags_s = np.asarray(lags_s, dtype=float)
    return pd.DataFrame(
        {
            "start_s": lags_s[starts],
            "end_s": lags_s[ends - 1],
            "duration_s": (ends - starts) / fs_hz,
            "n_samples": ends - starts,
        }
    )


def waveform_test(
    matrix: np.ndarray,
    lags_s: np.ndarray,
    fs_hz: float,
    method: str = "permutation",
    alpha: float = 0.05,
    min_duration_s: float = 0.5,
    n_boot: int = 1000,
    n_perm: int = 1000,
    seed: int | np.random.Generator = 0,
    expand: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where does the mean of baseline-normalized trials differ from 0?

    ``method='permutation'`` (sign-flip test, significant where p < ``alpha``) or
    ``'bootstrap'`` (significant where the 1 − ``alpha`` CI excludes 0); then the consecutive
    threshold. Returns the per-lag table (``lag_s``, ``mean``, ``ci_low``, ``ci_high``, ``p``
    — NaN for the bootstrap —, ``significant``) and the intervals (:func:`significant_intervals`).
    """
    if method not in ("permutation", "bootstrap"):
        raise ConfigError(f"waveform test method {method!r}; choose permutation or bootstrap")
    rng = _rng(seed)
    table = bootstrap_ci(matrix, n_boot, 1.0 - alpha, rng, expand)
    p = permutation_test_baseline(matrix, n_perm, rng) if method == "permutation" else None
    return _mark_significant(table, p, lags_s, fs_hz, alpha, min_duration_s)


def _mark_significant(
    table: pd.DataFrame,
    p: np.ndarray | None,
    lags_s: np.ndarray,
    fs_hz: float,
    alpha: float,
    min_duration_s: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-lag significance (permutation p < alpha, or a bootstrap CI excluding 0) kept only in
    runs of at least ``min_duration_s`` (the consecutive-samples threshold), and the intervals."""
    table.insert(0, "lag_s", np.asarray(lags_s, dtype=float))
    if p is not None:
        table["p"] = p
        raw = table["p"].to_numpy() < alpha
    else:
        table["p"] = np.nan
        raw = (table["ci_low"].to_numpy() > 0) | (table["ci_high"].to_numpy() < 0)
    intervals = significant_intervals(raw, lags_s, fs_hz, min_duration_s)
    table["significant"] = consecutive_mask(raw, max(1, int(round(min_duration_s * fs_hz))))
    return table, intervals


def group_waveform_test(
    a: np.ndarray,
    b: np.ndarray,
    lags_s: np.ndarray,
    fs_hz: float,
    method: str = "permutation",
    alpha: float = 0.05,
    min_duration_s: float = 0.5,
    n_boot: int = 1000,
    n_perm: int = 1000,
    seed: int | np.random.Generator = 0,
    expand: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where do two groups' mean waveforms differ? As :func:`waveform_test` with the difference
    ``mean(a) − mean(b)``: relabelling permutation test or the bootstrap difference CI."""
    if method not in ("permutation", "bootstrap"):
        raise ConfigError(f"waveform test method {method!r}; choose permutation or bootstrap")
    rng = _rng(seed)
    table = bootstrap_diff_ci(a, b, n_boot, 1.0 - alpha, rng, expand)
    p = permutation_test_groups(a, b, n_perm, rng) if method == "permutation" else None
    return _mark_significant(table, p, lags_s, fs_hz, alpha, min_duration_s)


def binned_trace(
    time_s: np.ndarray,
    values: np.ndarray,
    ref_s: float,
    bin_s: float,
    window_s: tuple[float, float],
) -> pd.DataFrame:
    """Mean of ``values`` in bins of ``bin_s`` on a grid relative to ``ref_s`` (e.g. run onset),
    so that sessions of different rates and clocks share one time axis (figures, heatmaps).

    Returns ``time_s`` (bin centres, seconds from ``ref_s``) and ``value`` (NaN for empty bins;
    NaN samples — spans left out as disconnected or excluded — do not count).
    """
    edges_n = int(round((window_s[1] - window_s[0]) / bin_s))
    if edges_n < 1:
        raise ConfigError(f"trace window {window_s} is shorter than one {bin_s:g} s bin")
    rel = np.asarray(time_s, dtype=float) - ref_s
    index = np.floor((rel - window_s[0]) / bin_s).astype(np.int64)
    values = np.asarray(values, float)
    inside = (index >= 0) & (index < edges_n) & np.isfinite(values)
    sums = np.bincount(index[inside], weights=values[inside], minlength=edges_n)
    counts = np.bincount(index[inside], minlength=edges_n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    centres = window_s[0] + (np.arange(edges_n) + 0.5) * bin_s
    return pd.DataFrame({"time_s": centres, "value": mean})
