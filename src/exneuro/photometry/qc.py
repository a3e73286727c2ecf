"""Quality control of one photometry session: the numbers, and the rules that name what failed.

Metrics (:func:`exneuro.photometry.preprocess.preprocess_session` records them): saturation,
bleaching or brightening (:mod:`exneuro.photometry.faults` finds the signal faults and their
spans), the signal-to-noise ratio at any sampling rate, residual motion (correlation of ΔF/F with
the control) and the control fit's R². :func:`qc_flags` applies the thresholds; a session that
fails is flagged with the cause, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import fft
from scipy import signal as sps

from exneuro.errors import ConfigError

#: Default QC thresholds for :func:`qc_flags`.
#: The control-fit R² rule is off: with little shared motion R² is near 0 on healthy sessions
#: (0.03-0.06 on a real low-motion recording), and a fit that leaves motion in ΔF/F is caught by
#: ``max_artifact_correlation``. Signal-fault thresholds were set on a real Neurophotometrics
#: session (tests/test_photometry_faults.py): healthy regions 0.02-0.17 % spike samples, 0 %
#: disconnected, end/start level 0.71-0.86; unplugged regions 55-57 % disconnected; brightening
#: regions ×2.6-3.0.
DEFAULT_QC_THRESHOLDS: dict[str, Any] = {
    "min_fit_r2": None,
    "flag_negative_slope": True,
    "max_saturation_fraction": 0.001,
    "min_snr_db": 3.0,
    "max_bleaching_fraction": 0.6,
    "max_brightening_fraction": 0.5,
    "max_spike_fraction": 0.005,
    "max_disconnected_fraction": 0.01,
    "flag_dark": True,
    "max_rejected_fraction": 0.5,
    "max_artifact_correlation": 0.3,
    "flag_low_coverage": True,
}


# ----------------------------------------------------------------------------------------------
# QC
# ----------------------------------------------------------------------------------------------
def saturation_fraction(x: np.ndarray, limits: tuple[float, float]) -> float:
    """Fraction of samples at or beyond the detector's range ``limits = (low, high)`` (the ADC
    or camera range): samples ≤ low or ≥ high. Without a known range the fault checks look for
    clipped plateaus at the top instead (:func:`exneuro.photometry.faults.detect_faults`); the
    bottom of the range is the floor, where a dark or unplugged channel sits, not saturation."""
    x = np.asarray(x)
    low, high = limits
    return float(np.count_nonzero((x <= low) | (x >= high))) / x.size


def welch_psd(x: np.ndarray, fs_hz: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and one-sided PSD of ``x`` by Welch's method (Welch 1967): Hann segments
    of ``nperseg`` samples (at most ``x.size``), half overlapping, each less its mean, density
    scaling, the segments' mean.

    The same numbers as ``scipy.signal.welch(x, fs_hz, nperseg=nperseg)`` to the last bit (the
    same padding, detrend, window, FFT and averaging, in the same order), with every segment
    transformed in one call: SciPy's ``ShortTimeFFT`` transforms them one by one in a Python
    loop, which made this PSD a fifth of a recording's preprocessing.
    """
    x = np.asarray(x, dtype=float)
    noverlap = nperseg // 2
    stft = sps.ShortTimeFFT(
        sps.get_window("hann", nperseg),
        nperseg - noverlap,
        fs_hz,
        fft_mode="onesided",
        mfft=nperseg,
        scale_to="psd",
        phase_shift=None,
    )
    # the segments scipy.signal.csd cuts: first one starting at sample 0, zeros past the end
    span = (x.size - noverlap) // stft.hop * stft.hop
    first = nperseg // 2 - stft.m_num_mid
    last = first + span + stft.m_num
    padded = np.pad(x[max(first, 0) : min(last, x.size)], (-min(first, 0), max(last - x.size, 0)))
    segments = np.lib.stride_tricks.sliding_window_view(padded, stft.m_num)[: span : stft.hop]
    segments = segments - np.mean(segments, axis=-1, keepdims=True)
    spectra = fft.rfft(segments * stft.win, n=stft.mfft, axis=-1)
    power = np.ascontiguousarray((spectra.real**2 + spectra.imag**2).T)  # frequency x segment
    power[1 : -1 if stft.mfft % 2 == 0 else None] *= 2  # one-sided: both signs' power
    return stft.f, power.mean(axis=-1) if power.shape[-1] > 1 else power[:, 0]


def noise_density(x: np.ndarray, fs_hz: float, band_hz: tuple[float, float]) -> float:
    """Median one-sided PSD (units²/Hz) of ``x / mean(x)`` in ``band_hz`` (Welch, 4 s Hann
    segments, on at most the central 2²⁰ samples): the white-noise floor, in fractional units."""
    x = np.asarray(x, dtype=float)
    limit = 1 << 20
    if x.size > limit:
        start = (x.size - limit) // 2
        x = x[start : start + limit]
    nperseg = int(min(x.size, max(256, 2 ** math.ceil(math.log2(4 * fs_hz)))))
    freqs, psd = welch_psd(x / float(np.mean(x)), fs_hz, nperseg)
    inside = (freqs >= band_hz[0]) & (freqs <= band_hz[1])
    if not np.any(inside):
        return float("nan")
    return float(np.median(psd[inside]))


def difference_noise_density(x: np.ndarray, fs_hz: float) -> float:
    """One-sided white-noise PSD (units²/Hz) of ``x / mean(x)`` from its first differences:
    ``σ² = (1.4826·MAD(Δx))² / 2`` (the difference of two independent samples has variance 2σ²;
    the MAD ignores the few large steps of real changes; the SD when most steps are 0, as on a
    quantised trace), spread over ``0 … fs/2``. Defined at
    any rate, so also at camera rates (15-20 Hz per wavelength) where no band lies above the
    analysis band."""
    x = np.asarray(x, dtype=float)
    steps = np.diff(x / float(np.mean(x)))
    sd = 1.482602218505602 * float(np.median(np.abs(steps - np.median(steps))))
    if sd == 0:  # a quantised trace that mostly repeats its value
        sd = float(np.std(steps))
    return sd**2 / 2.0 / (fs_hz / 2.0)


def signalto_noise_db(
    raw_signal: np.ndarray,
    fs_hz: float,
    dff: np.ndarray,
    cutoff_hz: float | None,
    order: int,
    noise_band_hz: tuple[float, float | None] | None = None,
) -> tuple[float, str]:
    """SNR (dB) of the processed trace, ``10 log10(var(ΔF/F) / σ²_noise)``, and how the noise
    was measured.

    ``σ²_noise`` is the white noise the raw signal channel carries into the analysis band: its
    fractional noise floor times the equivalent noise bandwidth of the zero-phase Butterworth,
    ``f_c·(π/4N)/sin(π/4N)`` (the whole band ``fs/2`` without a low-pass or when the cut-off is
    at or above Nyquist). The floor is the median Welch PSD in ``noise_band_hz`` (default from 3 ×
    the cut-off to 0.9 × Nyquist; method ``"band"``) when that band exists, else the
    first-difference estimate (:func:`difference_noise_density`; method ``"difference"``), so the
    SNR is defined at every sampling rate.
    """
    nyquist = fs_hz / 2.0
    if noise_band_hz is not None:
        low, high = noise_band_hz
    else:
        low, high = (3.0 * cutoff_hz if cutoff_hz is not None else nyquist, None)
    high = 0.9 * nyquist if high is None else high
    density, method = float("nan"), "band"
    if low < high:
        density = noise_density(raw_signal, fs_hz, (low, high))
    if not np.isfinite(density) or density <= 0:
        density, method = difference_noise_density(raw_signal, fs_hz), "difference"
    if cutoff_hz is None or cutoff_hz >= nyquist:
        bandwidth = nyquist
    else:
        angle = math.pi / (4 * order)
        bandwidth = cutoff_hz * angle / math.sin(angle)
    noise_var = density * bandwidth
    if not np.isfinite(noise_var) or noise_var <= 0:
        return float("nan"), method
    return 10.0 * math.log10(float(np.var(dff)) / noise_var), method


def _winsorise(x: np.ndarray, k: float = 5.0) -> np.ndarray:
    """``x`` clipped to ``median ± k·1.4826·MAD`` (unchanged when the MAD is 0)."""
    centre = float(np.median(x))
    spread = 1.482602218505602 * float(np.median(np.abs(x - centre)))
    return np.clip(x, centre - k * spread, centre + k * spread) if spread > 0 else x


def artifact_correlation(
    dff: np.ndarray,
    control: np.ndarray,
    fs_hz: float,
    highpass_hz: float = 0.05,
    max_rate_hz: float = 20.0,
) -> float:
    """Correlation of ΔF/F with the control's fluctuations: residual motion artifact.

    Both traces are block-averaged to at most ``max_rate_hz`` and high-passed at ``highpass_hz``
    (zero-phase Butterworth N = 2, removing bleaching and slow neural changes); neural activity
    does not follow the isosbestic channel, so a correlation far from 0 means the control fit
    did not remove the artifact (e.g. a baseline-epoch fit without leverage, after the channels
    were detrended). Each high-passed trace is winsorised at its median ± 5 robust SDs (1.4826 ×
    MAD) first, so that one brief shared flash (a fibre touched, room light) does not decide the
    correlation of a whole session. NaN when the rate is too low for the high-pass.
    """
    q = max(1, int(math.ceil(fs_hz / max_rate_hz)))
    n = (len(dff) // q) * q
    a = np.asarray(dff[:n], dtype=float).reshape(-1, q).mean(axis=1)
    b = np.asarray(control[:n], dtype=float).reshape(-1, q).mean(axis=1)
    rate = fs_hz / q
    if not 0 < highpass_hz < rate / 2 or a.size < 16:
        return float("nan")
    sos = sps.butter(2, highpass_hz, btype="high", fs=rate, output="sos")
    a = _winsorise(sps.sosfiltfilt(sos, a))
    b = _winsorise(sps.sosfiltfilt(sos, b))
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def r_squared(observed: np.ndarray, fitted: np.ndarray) -> float:
    """``1 − Σ(S − Ŝ)²/Σ(S − mean S)²``."""
    observed = np.asarray(observed, dtype=float)
    total = float(np.sum((observed - observed.mean()) ** 2))
    if total == 0:
        return float("nan")
    return 1.0 - float(np.sum((observed - fitted) ** 2)) / total


#: QC threshold key, metric column, test (``max``: value > limit fails; ``min``: value < limit;
#: ``true``: a true value fails; ``negative``: value < 0; ``above_one``: value > 1 + limit;
#: ``text``: a non-empty text fails), the cause named.
QC_RULES = (
    ("flag_dark", "dark", "true", "dark channel: at the detector floor all session"),
    (
        "max_disconnected_fraction",
        "disconnected_fraction",
        "max",
        "disconnected (level at the detector floor) over {value:.1%} of the session",
    ),
    (
        "max_spike_fraction",
        "spike_fraction",
        "max",
        "electrical-noise spikes in {value:.2%} of samples",
    ),
    ("max_saturation_fraction", "saturation_fraction", "max", "saturated ({value:.2%} samples)"),
    ("max_bleaching_fraction", "bleaching_fraction", "max", "bleaching ({value:.0%} lost)"),
    ("max_brightening_fraction", "level_ratio_max", "above_one", "brightening (x{value:.2f})"),
    ("min_fit_r2", "fit_r2", "min", "control fit R2 {value:.2f} < {limit:g}"),
    ("flag_negative_slope", "fit_slope", "negative", "negative control-fit slope"),
    ("min_snr_db", "snr_db", "min", "SNR {value:.1f} dB < {limit:g} dB"),
    (
        "max_rejected_fraction",
        "fit_rejected_fraction",
        "max",
        "robust fit rejected {value:.0%} of the samples",
    ),
    (
        "max_artifact_correlation",
        "artifact_correlation",
        "max",
        "residual motion artifact (|r| {value:.2f} with the control)",
    ),
    (
        "flag_low_coverage",
        "low_coverage_windows",
        "text",
        "window(s) not computed, the recording covers too little of them: {value}",
    ),
)


def qc_flags(
    qc: pd.DataFrame | Mapping[str, Any], thresholds: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Flag sessions whose QC breaks a threshold, naming the cause; nothing is dropped.

    ``qc``: one QC record (a mapping from
    :func:`~exneuro.photometry.preprocess.preprocess_session`) or a table of them (other columns
    such as mouse and day are kept). ``thresholds`` over :data:`DEFAULT_QC_THRESHOLDS` (None or
    False disables one; :data:`QC_RULES` lists them). Returns the table with ``qc_pass`` (bool)
    and ``qc_reasons`` ('; '-joined causes with their values, empty when passing). A NaN metric
    never flags.
    """
    limits = dict(DEFAULT_QC_THRESHOLDS)
    for key, value in (thresholds or {}).items():
        if key not in limits:
            raise ConfigError(
                f"photometry QC threshold {key!r} is unknown; known: {sorted(limits)}"
            )
        limits[key] = value
    table = pd.DataFrame([dict(qc)]) if isinstance(qc, Mapping) else qc.copy()
    reasons = pd.DataFrame(index=table.index)
    for key, column, test, label in QC_RULES:
        limit = limits[key]
        if limit is None or limit is False:
            continue
        if column not in table.columns and test == "text":
            continue  # a preprocessing record without window metrics: no window to name
        if column not in table.columns:
            raise KeyError(f"QC table lacks column {column!r} needed by the photometry QC flags")
        raw = table[column]
        if test == "true":
            values = raw.astype("boolean").fillna(False).astype(float)
            bad = values > 0
        elif test == "text":
            values = raw.fillna("").astype(str).str.strip()
            bad = values != ""
        else:
            values = pd.to_numeric(raw, errors="coerce")
            values = values.abs() if column == "artifact_correlation" else values
            bad = {
                "max": values > limit,
                "min": values < limit,
                "negative": values < 0,
                "above_one": values > 1.0 + float(limit),
            }[test]
        bad = bad.fillna(False).astype(bool)
        reasons[column] = [
            label.format(value=value, limit=limit) if flagged else ""
            for value, flagged in zip(values, bad, strict=True)
        ]
    text = reasons.apply(lambda row: "; ".join(r for r in row if r), axis=1)
    table["qc_reasons"] = text.astype(str) if len(table) else pd.Series(dtype=str)
    table["qc_pass"] = table["qc_reasons"] == ""
    return table
