"""Bleaching correction of photometry channels (step 4 of :mod:`exneuro.photometry.preprocess`).

Methods: ``none``; ``double_exponential`` (Akam: ``F(t) = C + A_slow e^(−t/τ_slow) + A_fast
e^(−t/(m τ_slow))``, fitted on a copy block-averaged to ``fit_hz``); ``highpass`` (the part a
Butterworth high-pass at ``highpass_hz`` removes, computed at ``fit_hz``); ``airpls`` / ``arpls``
(the asymmetric least-squares baselines of :mod:`exneuro.photometry.baselines`, at ``fit_hz``).
Every trend is divided out (``x · mean(F̂)/F̂``): fluorescence and its changes scale with the
remaining fluorophore, so a ΔF/F computed afterwards is unbiased.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import optimize
from scipy import signal as sps

from exneuro.errors import ConfigError, InputDataError
from exneuro.photometry.baselines import asymmetric_baseline

BLEACHING_METHODS = ("none", "double_exponential", "highpass", "airpls", "arpls")


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
    baseline_options: Mapping[str, Any] | None = None,
) -> np.ndarray | None:
    """The slow bleaching curve F̂(t) at the full rate (None for ``method='none'``).

    ``airpls`` / ``arpls``: the asymmetric penalized least-squares baseline
    (:func:`exneuro.photometry.baselines.asymmetric_baseline`; ``baseline_options``: ``lam``,
    ``diff_order``, ``max_iter``) of the ``fit_hz`` copy, interpolated to every sample.

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
    if method in ("airpls", "arpls"):
        t, y = _block_mean(time_s, x, fs_hz, fit_hz)
        return np.interp(time_s, t, asymmetric_baseline(y, method, **(baseline_options or {})))
    raise ConfigError(f"bleaching.method {method!r}; choose one of {BLEACHING_METHODS}")


def correct_bleaching(
    time_s: np.ndarray,
    x: np.ndarray,
    fs_hz: float,
    method: str = "none",
    fit_hz: float = 1.0,
    highpass_hz: float = 0.001,
    highpass_order: int = 2,
    baseline_options: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Divide the bleaching trend out: ``x · mean(F̂) / F̂`` (see the module docstring).

    Returns the corrected trace and the trend (None, and ``x`` unchanged, for ``'none'``).
    """
    trend = bleaching_trend(
        time_s, x, fs_hz, method, fit_hz, highpass_hz, highpass_order, baseline_options
    )
    if trend is None:
        return np.asarray(x, dtype=float), None
    if np.any(trend <= 0):
        raise InputDataError(
            "the bleaching trend reaches zero or below; use bleaching.method none for this session"
        )
    return x * (float(np.mean(trend)) / trend), trend
