"""Trimming, zero-phase filtering and decimation of photometry channels (steps 1-3 of
:mod:`exneuro.photometry.preprocess`)."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from exneuro.errors import ConfigError, InputDataError

#: The anti-alias filter must attenuate the new Nyquist frequency at least this much (amplitude).
ANTIALIAS_ATTENUATION = 0.01  # −40 dB


def check_arrays(time_s: np.ndarray, *channels: np.ndarray) -> None:
    """Equal lengths and at least 4 samples, or a clear error."""
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
    check_arrays(time_s, signal, control)
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
