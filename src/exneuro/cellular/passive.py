"""Passive membrane properties of one cell from its hyperpolarizing epochs (F–I steps below zero
and pre-pulses alike): resting potential, input resistance, sag, time constant, capacitance.

Per epoch (:func:`epoch_responses`), with the sweep's baseline mean V_b (the protocol's clean
baseline window, :mod:`exneuro.cellular.protocol`):

* steady state V_ss: mean over the last ``steady_state_ms`` of the epoch; ΔV = V_ss − V_b;
* minimum V_min over the epoch; **sag ratio** (V_ss − V_min)/(V_b − V_min) (eFEL ``sag_ratio1``:
  the fraction of the peak hyperpolarization that Ih recovers; 0 without sag);
* **membrane time constant** τ: a single exponential V(t) = y₀ + a·e^(−t/τ) fitted (least squares)
  from the first sample where the response has fallen 10 % of its peak deflection up to (not
  including) the peak sample, IPFX ``time_constant`` / ``fit_membrane_time_constant`` (Allen
  Institute), which avoids the electrode's fast artefact at the onset and the sag after the peak.
  NaN, as IPFX's, when the peak deflection is under :data:`MIN_TAU_SNR` (20) times the standard
  deviation of the baseline window (a cell firing spontaneously in its baseline: fits of 22–64 ms
  on such sweeps of a reference recording where the clean sweep gives 56 ms), when the fit's RMSE
  exceeds :data:`MAX_TAU_RMSE_MV` (1 mV), or when the fit fails. Equal to IPFX 2.1.2 on the
  reference recordings given the same baseline window (IPFX: the 100 ms before the epoch).

Per cell (:func:`passive_properties`): **resting potential** = mean of the sweeps' baselines (with
no holding current; otherwise it is the holding potential); **input resistance** = least-squares
slope of ΔV on the injected current over every hyperpolarizing epoch (with intercept; ΔV/ΔI
averaged when all epochs inject the same current, as a train of identical pre-pulses does),
mV/pA = GΩ reported in MΩ — hyperpolarization avoids the conductances depolarization recruits;
**sag ratio** of the most hyperpolarizing current (mean over its epochs); **τ** the mean over the
hyperpolarizing epochs; **capacitance** C = τ/R_in (pF = ms / GΩ).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.optimize import OptimizeWarning, curve_fit

from exneuro.cellular.protocol import Epoch

#: IPFX ``time_constant``'s ``min_snr``: minimum peak deflection / baseline noise for a τ fit.
MIN_TAU_SNR = 20.0
#: IPFX ``fit_membrane_time_constant``'s ``rmse_max_tol``: largest RMSE (mV) of an accepted fit.
MAX_TAU_RMSE_MV = 1.0

#: Columns of :func:`epoch_responses`.
EPOCH_COLUMNS = [
    "sweep",
    "epoch",
    "current_pa",
    "baseline_mv",
    "steady_state_mv",
    "delta_mv",
    "min_mv",
    "sag_ratio",
    "tau_ms",
]


def _exponential(x: np.ndarray, y0: float, a: float, inv_tau: float) -> np.ndarray:
    return y0 + a * np.exp(-inv_tau * x)


def _time_constant_ms(
    trace: np.ndarray, fs_hz: float, baseline: float, noise: float, start: int
) -> float:
    """τ of one hyperpolarizing response starting at sample ``start`` (module docstring)."""
    peak = start + int(np.argmin(trace[start:]))
    deflection = baseline - trace[peak]
    if deflection <= 0 or deflection < MIN_TAU_SNR * noise or peak - start < 4:
        return np.nan
    fallen = np.flatnonzero(trace[start:peak] <= baseline - 0.1 * deflection)
    first = start + int(fallen[0]) if fallen.size else start
    y = trace[first:peak]
    x = np.arange(y.size) / fs_hz * 1000.0
    if y.size < 4:
        return np.nan
    guess = (y[-1], y[0] - y[-1], 3.0 / max(x[-1], 1e-9))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)  # covariance unused
            fitted, _ = curve_fit(_exponential, x, y, p0=guess, maxfev=2000)
    except (RuntimeError, ValueError):
        return np.nan
    rmse = np.sqrt(np.mean((_exponential(x, *fitted) - y) ** 2))
    inv_tau = fitted[2]
    return float(1.0 / inv_tau) if inv_tau > 0 and rmse <= MAX_TAU_RMSE_MV else np.nan


def epoch_responses(
    voltage_mv: np.ndarray,
    fs_hz: float,
    epoch: Epoch,
    baseline: tuple[int, int],
    steady_state_ms: float = 100.0,
    name: str = "step",
) -> pd.DataFrame:
    """One row per sweep of an epoch (:data:`EPOCH_COLUMNS`); τ and sag only where it
    hyperpolarizes. Means are vectorized over sweeps; the τ fit runs per sweep."""
    v = np.atleast_2d(np.asarray(voltage_mv, dtype=float))
    steady = max(1, int(round(steady_state_ms * fs_hz / 1000.0)))
    base = v[:, baseline[0] : baseline[1]].mean(axis=1)
    noise = v[:, baseline[0] : baseline[1]].std(axis=1)
    inside = v[:, epoch.start : epoch.end]
    steady_state = inside[:, max(0, inside.shape[1] - steady) :].mean(axis=1)
    minimum = inside.min(axis=1)
    hyper = epoch.current_pa < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        sag = np.where(hyper, (steady_state - minimum) / (base - minimum), np.nan)
    tau = np.full(v.shape[0], np.nan)
    for sweep in np.flatnonzero(hyper):  # a fit per hyperpolarizing sweep
        tau[sweep] = _time_constant_ms(
            v[sweep, : epoch.end], fs_hz, base[sweep], noise[sweep], epoch.start
        )
    return pd.DataFrame(
        {
            "sweep": np.arange(v.shape[0]),
            "epoch": name,
            "current_pa": epoch.current_pa,
            "baseline_mv": base,
            "steady_state_mv": steady_state,
            "delta_mv": steady_state - base,
            "min_mv": minimum,
            "sag_ratio": sag,
            "tau_ms": tau,
        }
    )[EPOCH_COLUMNS]


def input_resistance_mohm(current_pa: np.ndarray, delta_mv: np.ndarray) -> float:
    """Slope of ΔV on I (MΩ) with intercept; the mean ΔV/I when every current is the same."""
    current = np.asarray(current_pa, dtype=float)
    delta = np.asarray(delta_mv, dtype=float)
    if current.size == 0:
        return np.nan
    if current.size >= 2 and np.ptp(current) > 0:
        centred = current - current.mean()
        return float((centred * delta).sum() / (centred**2).sum() * 1000.0)
    return float(np.mean(delta / current) * 1000.0)


def passive_properties(responses: pd.DataFrame) -> dict[str, float]:
    """Resting potential, input resistance, sag, τ and capacitance of one cell from the
    :func:`epoch_responses` of all its epochs (module docstring)."""
    hyper = responses[responses["current_pa"] < 0]
    rin = input_resistance_mohm(hyper["current_pa"].to_numpy(), hyper["delta_mv"].to_numpy())
    strongest = hyper[hyper["current_pa"] == hyper["current_pa"].min()]
    tau = float(hyper["tau_ms"].mean()) if hyper["tau_ms"].notna().any() else np.nan
    baselines = responses.drop_duplicates("sweep")["baseline_mv"]
    return {
        "resting_potential_mv": float(baselines.mean()),
        "input_resistance_mohm": rin,
        "sag_ratio": float(strongest["sag_ratio"].mean()) if len(strongest) else np.nan,
        "membrane_tau_ms": tau,
        "capacitance_pf": tau / rin * 1000.0 if rin > 0 else np.nan,
        "n_hyperpolarizing_epochs": int(len(hyper)),
    }
