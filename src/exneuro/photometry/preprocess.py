"""Fiber-photometry preprocessing: raw signal and isosbestic control to artifact-corrected ΔF/F.

The chain is the best-accepted one (project notes ``photometry.md`` §2; Simpson et al. 2024,
*Neuron* primer; Keevers & Jean-Richard-dit-Bressel 2025, *Neurophotonics* 12:025003), every
step a function with its parameters so that the workflow can record them with the outputs:

1. :func:`trim_warmup` — drop the first ``warmup_s`` seconds (LED and detector warm-up).
2. :func:`lowpass` — zero-phase Butterworth low-pass (``sosfiltfilt``) of both channels. The
   forward-backward pass squares the magnitude response: −6 dB at ``cutoff_hz``, roll-off of order
   ``2 * order``, no phase shift (transient latencies are not delayed).
3. :func:`decimate` — optional reduction to ``target_hz`` after an anti-alias low-pass. When the
   step-2 filter already attenuates the new Nyquist frequency by ≥ 40 dB it is the anti-alias
   filter and no second filter is run (:func:`zero_phase_gain`).
4. :func:`correct_bleaching` — ``none`` (default: the fitted control tracks the shared bleaching
   and the ΔF/F denominator normalises it, as GuPPy and Keevers & JRdB do), ``double_exponential``
   (Akam: ``F(t) = C + A_slow e^(−t/τ_slow) + A_fast e^(−t/(m τ_slow))``, fitted on a copy
   block-averaged to ``fit_hz`` and evaluated at the full rate) or ``highpass`` (trend = the part
   a Butterworth high-pass at ``highpass_hz`` removes, computed at ``fit_hz``). Both trends are
   divided out (``x · mean(F̂)/F̂``): fluorescence and its changes scale with the remaining
   fluorophore, so a ΔF/F computed afterwards is unbiased — a subtracted trend would leave
   ``Ŝ ≈ 0`` in the denominator. Detrended channels suit a whole-session fit (Akam). They do
   not suit a baseline-epoch fit: a flat control over 10 min of rest gives the fit no leverage,
   the slope is estimated from noise and the motion artifacts stay in ΔF/F (the QC metric
   ``artifact_correlation`` catches it, |r| ≈ 0.97 in simulations vs ≈ 0.02 with ``none``).
   For treadmill sessions keep ``none`` with the baseline fit: the control's own bleaching
   during the rest supplies the leverage.
5. :func:`fit_control` — ``Ŝ = β₀ + β₁·control`` by OLS or by robust IRLS with Tukey's bisquare
   (tuning constant ``k``, MAD scale), over the whole session or over a baseline epoch only. A
   run on the treadmill is a sustained step of activity: a whole-session fit absorbs part of it
   into β₀ and β₁ (GuPPy issue #200), a fit on the pre-run rest does not.
6. :func:`delta_f_over_f` — ``ΔF/F = (S − Ŝ)/Ŝ``.
7. :func:`zscore` — whole session, baseline window, or robust (median/MAD).

:func:`preprocess_session` runs the chain from a settings mapping (keys: :data:`DEFAULT_SETTINGS`)
and returns the processed table and one QC record; :func:`qc_flags` turns QC records into flags
with reasons. A session that fails QC is flagged, never dropped.

The IRLS is written out in vectorized NumPy (closed-form 2-parameter weighted least squares per
iteration, exact median by partial selection): on one-hour 1 kHz traces it is more than 20× faster
than ``statsmodels.RLM`` and gives the same coefficients (see ``bench/photometry_bench.py`` and
the tests).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import signal as sps

from exneuro.errors import ConfigError, InputDataError

#: Φ⁻¹(3/4): MAD / 0.6745 estimates σ of a Gaussian (statsmodels ``Gaussian.ppf(0.75)``).
MAD_TO_SD = 0.6744897501960817

#: Every preprocessing parameter, with its default. :func:`resolve_settings` fills a partial
#: mapping from these and rejects unknown keys.
DEFAULT_SETTINGS: dict[str, Any] = {
    "warmup_s": 10.0,
    "lowpass": {"cutoff_hz": 3.0, "order": 2},
    "decimate_hz": 20.0,
    "bleaching": {
        "method": "none",
        "fit_hz": 1.0,
        "highpass_hz": 0.001,
        "highpass_order": 2,
    },
    "control_fit": {
        "method": "irls",
        "tuning": 4.685,
        "window": "baseline",
        "max_iter": 50,
        "tol": 1e-6,
        "criterion": "fitted",
    },
    "zscore": "baseline",
    "qc": {
        "saturation_limits": None,
        "bleaching_edge_s": 60.0,
        "snr_noise_band_hz": None,
        "artifact_highpass_hz": 0.05,
    },
}

#: Default QC thresholds for :func:`qc_flags`.
DEFAULT_QC_THRESHOLDS: dict[str, Any] = {
    "min_fit_r2": 0.5,
    "flag_negative_slope": True,
    "max_saturation_fraction": 0.001,
    "min_snr_db": 3.0,
    "max_bleaching_fraction": 0.6,
    "max_rejected_fraction": 0.5,
    "max_artifact_correlation": 0.3,
}

BLEACHING_METHODS = ("none", "double_exponential", "highpass")
FIT_METHODS = ("ols", "irls")
FIT_WINDOWS = ("session", "baseline")
ZSCORE_METHODS = ("session", "baseline", "robust")
IRLS_CRITERIA = ("fitted", "deviance")

#: The anti-alias filter must attenuate the new Nyquist frequency at least this much (amplitude).
ANTIALIAS_ATTENUATION = 0.01  # −40 dB


# ----------------------------------------------------------------------------------------------
# settings
# ----------------------------------------------------------------------------------------------
def _merge(defaults: Mapping, given: Mapping, path: str) -> dict:
    out = copy.deepcopy(dict(defaults))
    for key, value in given.items():
        if key not in defaults:
            raise ConfigError(
                f"photometry preprocessing setting {path}{key!r} is unknown; "
                f"known: {sorted(defaults)}"
            )
        if isinstance(defaults[key], Mapping) and value is not None:
            if not isinstance(value, Mapping):
                raise ConfigError(f"photometry setting {path}{key!r} must be a mapping")
            out[key] = _merge(defaults[key], value, f"{path}{key}.")
        else:
            out[key] = value
    return out


def resolve_settings(settings: Mapping | None = None) -> dict[str, Any]:
    """The full preprocessing settings: ``settings`` over :data:`DEFAULT_SETTINGS`, checked.

    ``lowpass: null`` skips the low-pass and ``decimate_hz: null`` the decimation. Raises
    :class:`~exneuro.errors.ConfigError` naming the key for an unknown key or a bad value.
    """
    out = _merge(DEFAULT_SETTINGS, settings or {}, "")
    choices = [
        ("bleaching.method", out["bleaching"]["method"], BLEACHING_METHODS),
        ("control_fit.method", out["control_fit"]["method"], FIT_METHODS),
        ("control_fit.window", out["control_fit"]["window"], FIT_WINDOWS),
        ("control_fit.criterion", out["control_fit"]["criterion"], IRLS_CRITERIA),
        ("zscore", out["zscore"], ZSCORE_METHODS),
    ]
    for key, value, allowed in choices:
        if value not in allowed:
            raise ConfigError(f"photometry setting {key} = {value!r}; choose one of {allowed}")
    if out["warmup_s"] is None or out["warmup_s"] < 0:
        raise ConfigError(f"photometry setting warmup_s must be >= 0, not {out['warmup_s']!r}")
    if out["lowpass"] is not None and not (
        out["lowpass"]["cutoff_hz"] and out["lowpass"]["cutoff_hz"] > 0
    ):
        raise ConfigError("photometry setting lowpass.cutoff_hz must be > 0 (or lowpass: null)")
    if out["control_fit"]["tuning"] <= 0:
        raise ConfigError("photometry setting control_fit.tuning must be > 0 (e.g. 1.4 or 4.685)")
    if out["decimate_hz"] is not None and out["decimate_hz"] <= 0:
        raise ConfigError("photometry setting decimate_hz must be > 0 (or null to keep the rate)")
    return out


# ----------------------------------------------------------------------------------------------
# 1-3: trimming, filtering, decimation
# ----------------------------------------------------------------------------------------------
def _check_arrays(time_s: np.ndarray, *channels: np.ndarray) -> None:
    n = len(time_s)
    for channel in channels:
        if len(channel) != n:
            raise InputDataError(
                f"photometry arrays differ in length ({n} time points, {len(channel)} samples)"
            )
    if n < 4:
        raise InputDataError(f"photometry session has {n} samples; at least 4 are needed")


def trim_warmup(
    time_s: np.ndarray, signal: np.ndarray, control: np.ndarray, warmup_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop the samples of the first ``warmup_s`` seconds (``t < t₀ + warmup_s``), as views.

    LEDs and photodetectors drift for the first seconds after switching on (GuPPy
    ``timeForLightsTurnOn``, default 1 s; Martianova et al. 2019 drop 200 samples).
    """
    time_s = np.asarray(time_s, dtype=float)
    _check_arrays(time_s, signal, control)
    start = int(np.searchsorted(time_s, time_s[0] + warmup_s, side="left"))
    if len(time_s) - start < 4:
        raise InputDataError(
            f"warm-up trim of {warmup_s} s leaves {len(time_s) - start} samples; "
            "lower photometry warmup_s"
        )
    return time_s[start:], np.asarray(signal)[start:], np.asarray(control)[start:]


def lowpass(x: np.ndarray, fs_hz: float, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth low-pass along the last axis (``scipy.signal.sosfiltfilt``).

    Effective response ``|H(f)|² = 1 / (1 + (f/f_c)^(2N))``: −6 dB at ``cutoff_hz``, no phase
    shift. Keevers & JRdB low-pass both channels at 3 Hz before the control fit; Akam uses N = 2
    at 10 Hz (notes §2.2).
    """
    nyquist = fs_hz / 2.0
    if not 0 < cutoff_hz < nyquist:
        raise ConfigError(
            f"low-pass cutoff {cutoff_hz} Hz must lie between 0 and the Nyquist frequency "
            f"{nyquist:g} Hz of a {fs_hz:g} Hz recording"
        )
    sos = sps.butter(order, cutoff_hz, btype="low", fs=fs_hz, output="sos")
    return sps.sosfiltfilt(sos, np.asarray(x, dtype=float), axis=-1)


def zero_phase_gain(f_hz: float, cutoff_hz: float, order: int) -> float:
    """Amplitude gain at ``f_hz`` of the zero-phase Butterworth of :func:`lowpass`:
    ``1 / (1 + (f/f_c)^(2N))``."""
    return 1.0 / (1.0 + (f_hz / cutoff_hz) ** (2 * order))


def decimate(
    time_s: np.ndarray,
    x: np.ndarray,
    fs_hz: float,
    target_hz: float,
    antialias: bool = True,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Keep every ``q = round(fs/target)``-th sample after an anti-alias low-pass.

    The anti-alias filter is a zero-phase Butterworth of order 8 at 0.8 × the new Nyquist
    frequency (``antialias=False`` skips it when the data are already low-passed well below the
    new Nyquist frequency). Returns the decimated times, values (last axis) and the new rate
    ``fs/q``. ``q = 1`` returns the inputs unchanged.
    """
    q = int(round(fs_hz / target_hz))
    if q < 1:
        raise ConfigError(
            f"cannot decimate a {fs_hz:g} Hz recording to {target_hz:g} Hz (higher rate)"
        )
    if q == 1:
        return np.asarray(time_s), np.asarray(x), float(fs_hz)
    if antialias:
        x = lowpass(x, fs_hz, 0.8 * fs_hz / q / 2.0, order=8)
    return np.asarray(time_s)[::q], np.asarray(x)[..., ::q], fs_hz / q


def _block_mean(
    time_s: np.ndarray, x: np.ndarray, fs_hz: float, fit_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """Means of consecutive blocks of ``round(fs/fit_hz)`` samples (a cheap copy for slow fits)."""
    q = max(1, int(round(fs_hz / fit_hz)))
    n = (len(x) // q) * q
    if n < 2 * q:
        return np.asarray(time_s, dtype=float), np.asarray(x, dtype=float)
    t = np.asarray(time_s[:n], dtype=float).reshape(-1, q).mean(axis=1)
    y = np.asarray(x[:n], dtype=float).reshape(-1, q).mean(axis=1)
    return t, y


# ----------------------------------------------------------------------------------------------
# 4: bleaching
# ----------------------------------------------------------------------------------------------
def double_exponential(t_s: np.ndarray, params: np.ndarray) -> np.ndarray:
    """``C + A_slow·exp(−t/τ_slow) + A_fast·exp(−t/(m·τ_slow))`` with ``params =
    (C, A_slow, A_fast, τ_slow, m)`` and ``t`` from the first sample (Akam, notes §2.3)."""
    c0, a_slow, a_fast, tau_slow, m = params
    return c0 + a_slow * np.exp(-t_s / tau_slow) + a_fast * np.exp(-t_s / (tau_slow * m))


def fit_double_exponential(
    time_s: np.ndarray, x: np.ndarray, fs_hz: float, fit_hz: float = 1.0
) -> np.ndarray:
    """Fit :func:`double_exponential` by ``curve_fit`` to a copy block-averaged to ``fit_hz``.

    Start and bounds as Akam's notebook: ``p0 = [max/2, max/4, max/4, 3600, 0.1]``, ``C, A ∈
    [0, max]``, ``τ_slow ∈ [600, 36000]`` s, ``m ∈ [1e-4, 1]`` (Akam allows m = 0, where the fast
    term is undefined at t = 0). Fitting a 1 Hz copy of an hour (3,600 points) instead of 3.6 M
    samples changes the slow curve negligibly and takes milliseconds.
    """
    t, y = _block_mean(time_s, x, fs_hz, fit_hz)
    t = t - float(time_s[0])
    top = float(np.max(y))
    if not np.isfinite(top) or top <= 0:
        raise InputDataError(
            "double-exponential bleaching fit needs a positive trace; use bleaching.method none"
        )
    p0 = [top / 2, top / 4, top / 4, 3600.0, 0.1]
    bounds = ([0, 0, 0, 600, 1e-4], [top, top, top, 36000, 1])
    try:
        params, _ = optimize.curve_fit(
            lambda tt, *p: double_exponential(tt, np.asarray(p)), t, y, p0=p0, bounds=bounds
        )
    except (RuntimeError, ValueError) as error:
        raise InputDataError(
            f"double-exponential bleaching fit failed ({error}); use bleaching.method highpass "
            "or none"
        ) from None
    return params


def bleaching_trend(
    time_s: np.ndarray,
    x: np.ndarray,
    fs_hz: float,
    method: str,
    fit_hz: float = 1.0,
    highpass_hz: float = 0.001,
    highpass_order: int = 2,
) -> np.ndarray | None:
    """The slow bleaching curve F̂(t) at the full rate (None for ``method='none'``).

    ``double_exponential``: :func:`fit_double_exponential`, evaluated at every sample.
    ``highpass``: on the ``fit_hz`` copy, the part a zero-phase Butterworth high-pass at
    ``highpass_hz`` (default N = 2 at 0.001 Hz, ≈ 16 min period; ``padtype='even'``, Akam)
    removes, linearly interpolated to every sample. Slow neural changes (a post-run activation
    of an hour) are partly removed with it: prefer ``none`` with a baseline-epoch fit for them.
    """
    if method == "none":
        return None
    if method == "double_exponential":
        params = fit_double_exponential(time_s, x, fs_hz, fit_hz)
        return double_exponential(np.asarray(time_s) - float(time_s[0]), params)
    if method == "highpass":
        t, y = _block_mean(time_s, x, fs_hz, fit_hz)
        rate = fs_hz / max(1, int(round(fs_hz / fit_hz)))
        if not 0 < highpass_hz < rate / 2:
            raise ConfigError(
                f"bleaching.highpass_hz {highpass_hz} must lie below {rate / 2:g} Hz (fit_hz / 2)"
            )
        sos = sps.butter(highpass_order, highpass_hz, btype="high", fs=rate, output="sos")
        slow = y - sps.sosfiltfilt(sos, y, padtype="even")
        return np.interp(time_s, t, slow)
    raise ConfigError(f"bleaching.method {method!r}; choose one of {BLEACHING_METHODS}")


def correct_bleaching(
    time_s: np.ndarray,
    x: np.ndarray,
    fs_hz: float,
    method: str = "none",
    fit_hz: float = 1.0,
    highpass_hz: float = 0.001,
    highpass_order: int = 2,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Divide the bleaching trend out: ``x · mean(F̂) / F̂`` (see the module docstring).

    Returns the corrected trace and the trend (None, and ``x`` unchanged, for ``'none'``).
    """
    trend = bleaching_trend(time_s, x, fs_hz, method, fit_hz, highpass_hz, highpass_order)
    if trend is None:
        return np.asarray(x, dtype=float), None
    if np.any(trend <= 0):
        raise InputDataError(
            "the bleaching trend reaches zero or below; use bleaching.method none for this session"
        )
    return x * (float(np.mean(trend)) / trend), trend


# ----------------------------------------------------------------------------------------------
# 5: control fit
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControlFit:
    """Coefficients of ``Ŝ = intercept + slope · control`` and how they were found.

    ``scale`` is the final MAD residual scale (IRLS) or the residual SD (OLS); ``rejected`` the
    fraction of fitted samples with weight 0 (|r| ≥ k·scale); ``n_fit`` the samples fitted.
    """

    intercept: float
    slope: float
    method: str
    tuning: float
    n_iter: int
    converged: bool
    scale: float
    rejected: float
    n_fit: int

    def predict(self, control: np.ndarray) -> np.ndarray:
        """The fitted control ``Ŝ = β₀ + β₁·control``."""
        return self.intercept + self.slope * np.asarray(control, dtype=float)


def fit_ols(control: np.ndarray, signal: np.ndarray) -> ControlFit:
    """Ordinary least squares ``β₁ = cov(c, s)/var(c)``, ``β₀ = mean(s) − β₁·mean(c)``."""
    c = np.asarray(control, dtype=float)
    s = np.asarray(signal, dtype=float)
    mc, ms = float(c.mean()), float(s.mean())
    c0 = c - mc
    s0 = s - ms
    sxx = float(c0 @ c0)
    if sxx == 0:
        raise InputDataError("the control channel is constant over the fit window; cannot fit it")
    slope = float(c0 @ s0) / sxx
    resid_ss = float(s0 @ s0) - slope * float(c0 @ s0)
    scale = math.sqrt(max(resid_ss, 0.0) / max(len(c) - 2, 1))
    return ControlFit(ms - slope * mc, slope, "ols", float("nan"), 0, True, scale, 0.0, len(c))


def _median_abs(
    r2: np.ndarray, guess: float | None, work: np.ndarray, half_width: float = 0.1
) -> float:
    """Exact ``median(|r|)`` from squared residuals ``r2``.

    The median of |r| is the average of the two middle order statistics of |r| (odd n: the middle
    one), and |r| = sqrt(r²) is monotone, so the order statistics of r² give it exactly. With a
    ``guess`` of the median (the previous iteration's, or that of a 20,000-sample stride) only the
    samples inside a band of relative ``half_width`` around it are partitioned; the rank of the
    band is found by counting, and the full partition is the fallback when the median leaves the
    band. ``work`` is a scratch buffer of r2's size.
    """
    n = r2.size
    ranks = (n // 2 - 1, n // 2) if n % 2 == 0 else (n // 2, n // 2)
    if guess is None and n > 50_000:
        guess = math.sqrt(float(np.median(r2[:: max(1, n // 20_000)])))
    if guess is not None and guess > 0 and n > 50_000:
        lo, hi = (guess * (1 - half_width)) ** 2, (guess * (1 + half_width)) ** 2
        below = int(np.count_nonzero(r2 < lo))
        inside = r2[(r2 >= lo) & (r2 <= hi)]
        k0, k1 = ranks[0] - below, ranks[1] - below
        if k0 >= 0 and k1 < inside.size:
            inside.partition((k0, k1))
            return 0.5 * (math.sqrt(inside[k0]) + math.sqrt(inside[k1]))
    np.copyto(work, r2)
    work.partition(ranks)
    return 0.5 * (math.sqrt(work[ranks[0]]) + math.sqrt(work[ranks[1]]))


def fit_irls(
    control: np.ndarray,
    signal: np.ndarray,
    tuning: float = 4.685,
    max_iter: int = 50,
    tol: float = 1e-6,
    criterion: str = "fitted",
) -> ControlFit:
    """Robust regression of the signal on the control by IRLS with Tukey's bisquare.

    Iteration (Keevers & Jean-Richard-dit-Bressel 2025; statsmodels ``RLM`` with
    ``TukeyBiweight(c=tuning)`` and ``scale_est='mad'``, which this reproduces step by step):

    1. start from OLS; residuals ``r = s − β₀ − β₁·c``; scale ``σ̂ = median(|r|)/0.6745``;
    2. weights ``w = (1 − (r/(k σ̂))²)²`` for ``|r| < k σ̂``, else 0;
    3. weighted least squares for (β₀, β₁) in closed form from the five weighted sums;
    4. new residuals and σ̂; repeat 2-4.

    ``tuning`` k: 4.685 (95 % Gaussian efficiency; statsmodels, MATLAB ``robustfit``, GuPPy) or
    1.4 (suggested by Keevers & JRdB: more aggressive down-weighting of transients).

    Convergence: ``criterion='fitted'`` (default) stops when the fitted control moves by at most
    ``tol × σ̂`` anywhere in the control's range between iterations; ``'deviance'`` is
    statsmodels' rule (absolute change of the sum of ρ(r / weighted residual variance) ≤ ``tol``;
    use ``tol=1e-8`` to reproduce ``RLM.fit()`` iteration for iteration). The absolute deviance
    rule does not scale with n: on 3.6 M samples it keeps iterating long after the coefficients
    have settled, which is why it is not the default.
    """
    if criterion not in IRLS_CRITERIA:
        raise ConfigError(f"IRLS criterion {criterion!r}; choose one of {IRLS_CRITERIA}")
    c = np.asarray(control, dtype=float)
    s = np.asarray(signal, dtype=float)
    n = c.size
    if n < 3:
        raise InputDataError(f"the control fit window holds {n} samples; at least 3 are needed")
    # Centre once (the weighted sums then need no cancellation-prone corrections) and keep the
    # rows 1, c0, s0, c0², c0·s0: the five weighted sums of an iteration are one matrix-vector
    # product (one BLAS pass over the weights instead of eleven NumPy passes).
    mc, ms = float(c.mean()), float(s.mean())
    rows = np.empty((5, n))
    rows[0] = 1.0
    c0, s0 = rows[1], rows[2]
    np.subtract(c, mc, out=c0)
    np.subtract(s, ms, out=s0)
    np.multiply(c0, c0, out=rows[3])
    np.multiply(c0, s0, out=rows[4])
    sxx = float(rows[3].sum())
    if sxx == 0:
        raise InputDataError("the control channel is constant over the fit window; cannot fit it")
    b1 = float(rows[4].sum()) / sxx
    b0 = 0.0
    r = np.empty(n)
    r2 = np.empty(n)
    v = np.empty(n)
    work = np.empty(n)
    span = float(np.max(np.abs(c0)))

    def residuals(b0_: float, b1_: float) -> None:
        np.multiply(c0, -b1_, out=r)
        np.add(r, s0, out=r)
        np.subtract(r, b0_, out=r)
        np.square(r, out=r2)

    residuals(b0, b1)
    sigma = _median_abs(r2, None, work) / MAD_TO_SD
    deviance = _deviance(r2, None, n, tuning, v, work) if criterion == "deviance" else np.inf
    converged = False
    n_iter = 0
    step = 0.025
    # statsmodels counts the OLS start as iteration 1, so its rule allows max_iter - 1 refits
    last = max_iter - 1 if criterion == "deviance" else max_iter
    for _ in range(last):
        if sigma == 0:
            break
        n_iter += 1
        # weights v = (1 - (r / (k sigma))^2)^2, 0 beyond k sigma
        np.multiply(r2, -1.0 / (tuning * sigma) ** 2, out=v)
        np.add(v, 1.0, out=v)
        np.maximum(v, 0.0, out=v)
        np.square(v, out=v)
        sw, swc, sws, swcc, swcs = (float(value) for value in rows @ v)
        det = sw * swcc - swc * swc
        if sw <= 0 or det <= 0:
            raise InputDataError(
                "robust control fit left fewer than two effective samples; use control_fit "
                "method ols or a larger tuning constant"
            )
        new_b1 = (sw * swcs - swc * sws) / det
        new_b0 = (sws - new_b1 * swc) / sw
        change = abs(new_b0 - b0) + abs(new_b1 - b1) * span
        b0, b1 = new_b0, new_b1
        residuals(b0, b1)
        # the scale settles as the fit does: search the next median in a band of 4x its last
        # relative change (0.2 % to 10 %), exact either way
        width = min(0.1, max(0.002, 4.0 * step))
        previous, sigma = sigma, _median_abs(r2, sigma * MAD_TO_SD, work, width) / MAD_TO_SD
        step = abs(sigma - previous) / previous
        if criterion == "deviance":
            new_dev = _deviance(r2, v, n, tuning, work, r)
            converged = abs(new_dev - deviance) <= tol
            deviance = new_dev
        else:
            converged = change <= tol * sigma
        if converged:
            break
    rejected = float(np.count_nonzero(r2 >= (tuning * sigma) ** 2)) / n if sigma > 0 else 0.0
    return ControlFit(
        intercept=b0 + ms - b1 * mc,
        slope=b1,
        method="irls",
        tuning=float(tuning),
        n_iter=n_iter,
        converged=bool(converged or sigma == 0),
        scale=float(sigma),
        rejected=rejected,
        n_fit=n,
    )


def _deviance(
    r2: np.ndarray, w: np.ndarray | None, n: int, k: float, buf: np.ndarray, buf2: np.ndarray
) -> float:
    """statsmodels' RLM convergence quantity: ``Σ ρ(r / s²_w)``, ``s²_w = Σ w r² / (n − 2)``
    (the weighted residual variance of the last WLS fit; w = 1 for the OLS start), with Tukey's
    ``ρ(z) = k²/6 · (1 − (1 − (z/k)²)³)`` for |z| ≤ k, else k²/6. ``buf``, ``buf2``: scratch
    (``buf2`` may be overwritten; it is the residual buffer, no longer needed by then)."""
    var_w = (float(r2.sum()) if w is None else float(w @ r2)) / (n - 2)
    np.multiply(r2, -1.0 / (k * var_w) ** 2, out=buf)
    np.add(buf, 1.0, out=buf)
    np.maximum(buf, 0.0, out=buf)
    np.square(buf, out=buf2)
    cube = float(buf2 @ buf)
    return k * k / 6.0 * (n - cube)


def fit_control(
    control: np.ndarray,
    signal: np.ndarray,
    method: str = "irls",
    tuning: float = 4.685,
    mask: np.ndarray | None = None,
    max_iter: int = 50,
    tol: float = 1e-6,
    criterion: str = "fitted",
) -> ControlFit:
    """Fit ``Ŝ = β₀ + β₁·control`` on the samples of ``mask`` (all when None) by ``method``
    (``'ols'`` or ``'irls'``, :func:`fit_irls`). Apply it to the whole session with
    :meth:`ControlFit.predict`."""
    c = np.asarray(control, dtype=float)
    s = np.asarray(signal, dtype=float)
    if mask is not None:
        c, s = c[mask], s[mask]
    if method == "ols":
        return fit_ols(c, s)
    if method == "irls":
        return fit_irls(c, s, tuning, max_iter, tol, criterion)
    raise ConfigError(f"control_fit.method {method!r}; choose one of {FIT_METHODS}")


# ----------------------------------------------------------------------------------------------
# 6-7: dF/F and z-scores
# ----------------------------------------------------------------------------------------------
def delta_f_over_f(signal: np.ndarray, fitted_control: np.ndarray) -> np.ndarray:
    """``ΔF/F = (S − Ŝ)/Ŝ`` (fraction; × 100 for %), Ŝ the fitted control (notes §2.5)."""
    fitted_control = np.asarray(fitted_control, dtype=float)
    if np.any(fitted_control <= 0):
        raise InputDataError(
            "the fitted control is zero or negative somewhere, so ΔF/F is undefined; check the "
            "channels (offset-subtracted or inverted data?) and the control fit"
        )
    return (np.asarray(signal, dtype=float) - fitted_control) / fitted_control


def zscore(x: np.ndarray, method: str = "session", mask: np.ndarray | None = None) -> np.ndarray:
    """z-score of ``x`` (notes §2.6; NumPy's population SD, ddof = 0, as GuPPy).

    ``session``: ``(x − mean(x))/sd(x)``; ``baseline``: ``(x − mean(x_B))/sd(x_B)`` over the
    samples of ``mask``; ``robust``: ``0.6745·(x − median(x))/MAD(x)``, MAD = median(|x −
    median(x)|).
    """
    x = np.asarray(x, dtype=float)
    if method == "session":
        ref = x
    elif method == "baseline":
        if mask is None or not np.any(mask):
            raise ConfigError("zscore 'baseline' needs a baseline window with samples")
        ref = x[mask]
    elif method == "robust":
        med = float(np.median(x))
        mad = float(np.median(np.abs(x - med)))
        if mad == 0:
            raise InputDataError("robust z-score: the MAD of the trace is 0")
        return MAD_TO_SD * (x - med) / mad
    else:
        raise ConfigError(f"zscore {method!r}; choose one of {ZSCORE_METHODS}")
    sd = float(ref.std())
    if sd == 0:
        raise InputDataError(f"z-score ({method}): the reference samples have SD 0")
    return (x - float(ref.mean())) / sd


# ----------------------------------------------------------------------------------------------
# QC
# ----------------------------------------------------------------------------------------------
def saturation_fraction(x: np.ndarray, limits: tuple[float, float] | None = None) -> float:
    """Fraction of samples at the detector's limits.

    With ``limits = (low, high)`` (the ADC or camera range): samples ≤ low or ≥ high. Without:
    samples repeating the trace's exact extreme values (a clipped analog trace sits on its
    maximum or minimum; an unclipped one reaches each once).
    """
    x = np.asarray(x)
    if limits is not None:
        low, high = limits
        return float(np.count_nonzero((x <= low) | (x >= high))) / x.size
    at_max = int(np.count_nonzero(x == x.max())) - 1
    at_min = int(np.count_nonzero(x == x.min())) - 1
    return float(at_max + at_min) / x.size


def bleaching_fraction(time_s: np.ndarray, x: np.ndarray, edge_s: float = 60.0) -> float:
    """``1 − median(last edge_s)/median(first edge_s)``: the fraction of fluorescence lost over
    the session (model-free; neural activity affects it less on the control channel)."""
    time_s = np.asarray(time_s)
    first = x[time_s < time_s[0] + edge_s]
    last = x[time_s > time_s[-1] - edge_s]
    start = float(np.median(first))
    if start == 0:
        return float("nan")
    return 1.0 - float(np.median(last)) / start


def noise_density(x: np.ndarray, fs_hz: float, band_hz: tuple[float, float]) -> float:
    """Median one-sided PSD (units²/Hz) of ``x / mean(x)`` in ``band_hz`` (Welch, 4 s Hann
    segments, on at most the central 2²⁰ samples): the white-noise floor, in fractional units."""
    x = np.asarray(x, dtype=float)
    limit = 1 << 20
    if x.size > limit:
        start = (x.size - limit) // 2
        x = x[start : start + limit]
    nperseg = int(min(x.size, max(256, 2 ** math.ceil(math.log2(4 * fs_hz)))))
    freqs, psd = sps.welch(x / float(np.mean(x)), fs=fs_hz, nperseg=nperseg)
    inside = (freqs >= band_hz[0]) & (freqs <= band_hz[1])
    if not np.any(inside):
        return float("nan")
    return float(np.median(psd[inside]))


def signalto_noise_db(
    raw_signal: np.ndarray,
    fs_hz: float,
    dff: np.ndarray,
    cutoff_hz: float | None,
    order: int,
    noise_band_hz: tuple[float, float | None] | None = None,
) -> float:
    """SNR (dB) of the processed trace: ``10 log10(var(ΔF/F) / σ²_noise)``.

    ``σ²_noise`` is the white noise the raw signal channel carries into the analysis band: its
    fractional noise floor (:func:`noise_density` in ``noise_band_hz``, default from 3 × the
    low-pass cutoff to 0.9 × Nyquist) times the equivalent noise bandwidth of the zero-phase
    Butterworth, ``f_c·(π/4N)/sin(π/4N)``. NaN when the recording has no band above the
    analysis band (e.g. a 20 Hz camera system with no low-pass).
    """
    nyquist = fs_hz / 2.0
    if cutoff_hz is None:
        return float("nan")
    low, high = noise_band_hz if noise_band_hz is not None else (3.0 * cutoff_hz, None)
    high = 0.9 * nyquist if high is None else high
    if not low < high:
        return float("nan")
    density = noise_density(raw_signal, fs_hz, (low, high))
    angle = math.pi / (4 * order)
    noise_var = density * cutoff_hz * angle / math.sin(angle)
    if not np.isfinite(noise_var) or noise_var <= 0:
        return float("nan")
    return 10.0 * math.log10(float(np.var(dff)) / noise_var)


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
    were detrended). NaN when the rate is too low for the high-pass.
    """
    q = max(1, int(math.ceil(fs_hz / max_rate_hz)))
    n = (len(dff) // q) * q
    a = np.asarray(dff[:n], dtype=float).reshape(-1, q).mean(axis=1)
    b = np.asarray(control[:n], dtype=float).reshape(-1, q).mean(axis=1)
    rate = fs_hz / q
    if not 0 < highpass_hz < rate / 2 or a.size < 16:
        return float("nan")
    sos = sps.butter(2, highpass_hz, btype="high", fs=rate, output="sos")
    a = sps.sosfiltfilt(sos, a)
    b = sps.sosfiltfilt(sos, b)
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


# ----------------------------------------------------------------------------------------------
# the chain
# ----------------------------------------------------------------------------------------------
def _window_mask(time_s: np.ndarray, window_s: tuple[float, float] | None, what: str) -> np.ndarray:
    if window_s is None:
        raise ConfigError(f"{what} needs baseline_window_s (start, end) in session seconds")
    start, end = window_s
    mask = (time_s >= start) & (time_s < end)
    if np.count_nonzero(mask) < 10:
        raise InputDataError(
            f"baseline window {start:g}-{end:g} s holds {np.count_nonzero(mask)} samples after "
            f"trimming (recording {time_s[0]:g}-{time_s[-1]:g} s); {what} needs at least 10"
        )
    return mask


def preprocess_session(
    time_s: np.ndarray,
    signal: np.ndarray,
    control: np.ndarray,
    fs_hz: float,
    settings: Mapping | None = None,
    baseline_window_s: tuple[float, float] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Raw channels of one fibre and session → processed table and QC record.

    ``settings`` is resolved over :data:`DEFAULT_SETTINGS` (:func:`resolve_settings`);
    ``baseline_window_s = (start, end)`` in session seconds (e.g. the 10 min of rest before the
    run) is needed when the control fit or the z-score uses the baseline.

    Returns
    -------
    table
        ``time_s``, ``signal`` and ``control`` (filtered, decimated, bleach-corrected),
        ``fitted_control`` (Ŝ), ``dff`` ((S − Ŝ)/Ŝ), ``z`` (z-scored ΔF/F), ``in_baseline``.
    qc
        Rates and sizes, the fit (``fit_intercept``, ``fit_slope``, ``fit_r2`` over the fit
        window, ``fit_r2_session``, ``negative_slope``, ``fit_rejected_fraction``, iterations),
        ``saturation_fraction`` of the raw channels, ``snr_db`` (:func:`signalto_noise_db`),
        ``artifact_correlation`` (:func:`artifact_correlation`),
        ``bleaching_fraction_signal``/``_control`` (:func:`bleaching_fraction`, before any
        correction), whether the anti-alias filter ran. Flag with :func:`qc_flags`.
    """
    cfg = resolve_settings(settings)
    time_s = np.asarray(time_s, dtype=float)
    _check_arrays(time_s, signal, control)
    raw_s = np.asarray(signal, dtype=float)
    raw_c = np.asarray(control, dtype=float)
    for name, values in (("time_s", time_s), ("signal", raw_s), ("control", raw_c)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise InputDataError(
                f"photometry {name} has {bad} missing or non-finite samples; the reader reports "
                "where (anomalies table) — cut or repair the session first"
            )
    t, s, c = trim_warmup(time_s, raw_s, raw_c, cfg["warmup_s"])
    qc: dict[str, Any] = {
        "fs_hz_raw": float(fs_hz),
        "n_samples_raw": int(len(time_s)),
        "duration_s": float(t[-1] - t[0]),
    }
    limits = cfg["qc"]["saturation_limits"]
    qc["saturation_fraction_signal"] = saturation_fraction(s, limits)
    qc["saturation_fraction_control"] = saturation_fraction(c, limits)
    qc["saturation_fraction"] = max(
        qc["saturation_fraction_signal"], qc["saturation_fraction_control"]
    )

    lp = cfg["lowpass"]
    fs = float(fs_hz)
    raw_for_snr = s
    if lp is not None:
        s = lowpass(s, fs, lp["cutoff_hz"], lp["order"])
        c = lowpass(c, fs, lp["cutoff_hz"], lp["order"])
    antialias_run = False
    if cfg["decimate_hz"] is not None and round(fs / cfg["decimate_hz"]) > 1:
        q = int(round(fs / cfg["decimate_hz"]))
        new_nyquist = fs / q / 2.0
        antialias_run = lp is None or (
            zero_phase_gain(new_nyquist, lp["cutoff_hz"], lp["order"]) > ANTIALIAS_ATTENUATION
        )
        t_dec, s, _ = decimate(t, s, fs, cfg["decimate_hz"], antialias=antialias_run)
        _, c, fs_out = decimate(t, c, fs, cfg["decimate_hz"], antialias=antialias_run)
        t = t_dec
    else:
        fs_out = fs
    qc["fs_hz"] = fs_out
    qc["n_samples"] = int(len(t))
    qc["antialias_filter"] = bool(antialias_run)

    edge = cfg["qc"]["bleaching_edge_s"]
    qc["bleaching_fraction_signal"] = bleaching_fraction(t, s, edge)
    qc["bleaching_fraction_control"] = bleaching_fraction(t, c, edge)
    qc["bleaching_fraction"] = max(
        qc["bleaching_fraction_signal"], qc["bleaching_fraction_control"]
    )
    bl = cfg["bleaching"]
    if bl["method"] != "none":
        s, _ = correct_bleaching(
            t, s, fs_out, bl["method"], bl["fit_hz"], bl["highpass_hz"], bl["highpass_order"]
        )
        c, _ = correct_bleaching(
            t, c, fs_out, bl["method"], bl["fit_hz"], bl["highpass_hz"], bl["highpass_order"]
        )

    fit_cfg = cfg["control_fit"]
    needs_baseline = fit_cfg["window"] == "baseline" or cfg["zscore"] == "baseline"
    in_baseline = (
        _window_mask(t, baseline_window_s, "the baseline control fit or z-score")
        if needs_baseline
        else (
            (t >= baseline_window_s[0]) & (t < baseline_window_s[1])
            if baseline_window_s is not None
            else np.zeros(len(t), dtype=bool)
        )
    )
    fit_mask = in_baseline if fit_cfg["window"] == "baseline" else None
    fit = fit_control(
        c,
        s,
        fit_cfg["method"],
        fit_cfg["tuning"],
        fit_mask,
        fit_cfg["max_iter"],
        fit_cfg["tol"],
        fit_cfg["criterion"],
    )
    fitted = fit.predict(c)
    dff = delta_f_over_f(s, fitted)
    z = zscore(dff, cfg["zscore"], in_baseline if cfg["zscore"] == "baseline" else None)

    window = np.ones(len(t), dtype=bool) if fit_mask is None else fit_mask
    qc.update(
        {
            "fit_method": fit.method,
            "fit_window": fit_cfg["window"],
            "fit_tuning": fit.tuning,
            "fit_intercept": fit.intercept,
            "fit_slope": fit.slope,
            "fit_r2": r_squared(s[window], fitted[window]),
            "fit_r2_session": r_squared(s, fitted),
            "negative_slope": bool(fit.slope < 0),
            "fit_scale": fit.scale,
            "fit_rejected_fraction": fit.rejected,
            "fit_iterations": fit.n_iter,
            "fit_converged": fit.converged,
            "fit_n_samples": fit.n_fit,
            "artifact_correlation": artifact_correlation(
                dff, c, fs_out, cfg["qc"]["artifact_highpass_hz"]
            ),
            "snr_db": signalto_noise_db(
                raw_for_snr,
                fs,
                dff,
                None if lp is None else lp["cutoff_hz"],
                1 if lp is None else lp["order"],
                cfg["qc"]["snr_noise_band_hz"],
            ),
        }
    )
    table = pd.DataFrame(
        {
            "time_s": t,
            "signal": s,
            "control": c,
            "fitted_control": fitted,
            "dff": dff,
            "z": z,
            "in_baseline": in_baseline,
        }
    )
    return table, qc


#: QC threshold key, metric column, whether values *below* the threshold fail, reason text.
QC_RULES = (
    ("min_fit_r2", "fit_r2", True, "control fit R2 < {:g}"),
    ("flag_negative_slope", "fit_slope", True, "negative control-fit slope"),
    ("max_saturation_fraction", "saturation_fraction", False, "saturated samples > {:g}"),
    ("min_snr_db", "snr_db", True, "SNR < {:g} dB"),
    ("max_bleaching_fraction", "bleaching_fraction", False, "bleaching > {:g} of the start"),
    (
        "max_rejected_fraction",
        "fit_rejected_fraction",
        False,
        "robust fit rejected > {:g} of the samples",
    ),
    (
        "max_artifact_correlation",
        "artifact_correlation",
        False,
        "residual motion artifact (|r| with the control > {:g})",
    ),
)


def qc_flags(
    qc: pd.DataFrame | Mapping[str, Any], thresholds: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Flag sessions whose QC breaks a threshold; nothing is dropped.

    ``qc``: one QC record (a mapping from :func:`preprocess_session`) or a table of them (other
    columns such as mouse and day are kept). ``thresholds`` over :data:`DEFAULT_QC_THRESHOLDS`:
    ``min_fit_r2``, ``flag_negative_slope``, ``max_saturation_fraction``, ``min_snr_db``,
    ``max_bleaching_fraction``, ``max_rejected_fraction``, ``max_artifact_correlation`` (None
    disables one). Returns the table
    with ``qc_pass`` (bool) and ``qc_reasons`` ('; '-joined, empty when passing). A NaN metric
    (e.g. SNR of a recording without a noise band) never flags.
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

    for key, column, below, label in QC_RULES:
        limit = limits[key]
        if limit is None or limit is False:
            continue
        if column not in table.columns:
            raise KeyError(f"QC table lacks column {column!r} needed by the photometry QC flags")
        values = table[column].abs() if column == "artifact_correlation" else table[column]
        threshold = 0.0 if limit is True else limit
        bad = values < threshold if below else values > threshold
        reasons[column] = np.where(bad.fillna(False).astype(bool), label.format(threshold), "")
    text = reasons.apply(lambda row: "; ".join(r for r in row if r), axis=1)
    table["qc_reasons"] = text.astype(str) if len(table) else pd.Series(dtype=str)
    table["qc_pass"] = table["qc_reasons"] == ""
    return table
