"""Simulated fiber-photometry sessions of SF1 neurons around a treadmill run, with planted truth.

Model of one session (time t from the first sample, run from ``run_onset_s`` to ``run_offset_s``):

* true activity ``ΔF/F_true(t) = running_dff·g_run(t) + post_activation·g_post(t) + transients``,
  where ``g_run`` is the run period with exponential edges (``running_tau_s``), ``g_post`` rises
  after the run (``post_rise_s``) and ends smoothly after ``post_duration_s`` (about an hour,
  Kindel et al. 2026), and transients are GCaMP-like events (difference of exponentials, rise
  ``transient_rise_s``, decay ``transient_decay_s``) at a Poisson rate that rises while running;
* bleaching, the same double exponential on both channels
  ``b(t) = 1 − a_f − a_s + a_f e^(−t/τ_f) + a_s e^(−t/τ_s)`` (the control's fractions times
  ``control_bleach_scale``);
* motion while running, a fractional change ``m(t)`` (band-limited noise plus a mean drop) shared
  by both channels, scaled so its RMS over the run is ``motion_to_signal`` (5) times the RMS of
  the true ΔF/F over the run;
* white detector noise of density ``noise_density_per_sqrt_hz`` (fraction of the baseline per
  √Hz), so the noise after a given low-pass does not depend on the sampling rate.

The channels are ``control = F_c·b(t)·(1 + m) + ε_c`` and ``signal = k·F_c·b(t)·(1 + m)·(1 +
ΔF/F_true) + ε_s``: the artifact reaches the signal through the isosbestic relation (slope
``k = isosbestic_slope``, intercept 0), so ``(S − k·C)/(k·C) = ΔF/F_true`` up to noise.

Across training days the post-run activation of each session is
``post_first_day + post_growth_per_day[group]·(day − first day) + mouse effect + session noise``:
it grows in control mice and grows less in a silenced group (planted, returned as truth).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import signal


@dataclass(frozen=True)
class PhotometryEffects:
    """Planted photometry model: see the module docstring. ΔF/F values are fractions."""

    control_baseline_v: float = 0.8
    isosbestic_slope: float = 1.5
    bleach_fast_fraction: float = 0.12
    bleach_fast_tau_s: float = 240.0
    bleach_slow_fraction: float = 0.25
    bleach_slow_tau_s: float = 5400.0
    control_bleach_scale: float = 1.0
    noise_density_per_sqrt_hz: float = 0.001
    running_dff: float = 0.04
    running_tau_s: float = 15.0
    post_rise_s: float = 60.0
    post_duration_s: float = 3600.0
    post_fall_s: float = 300.0
    transient_rate_rest_hz: float = 0.05
    transient_rate_running_hz: float = 0.2
    transient_amplitude: float = 0.03
    transient_amplitude_cv: float = 0.4
    transient_rise_s: float = 0.1
    transient_decay_s: float = 0.8
    motion_to_signal: float = 5.0
    motion_band_hz: tuple[float, float] = (0.05, 2.0)
    motion_mean_sd: float = -0.5
    motion_edge_s: float = 1.0
    post_first_day: float = 0.03
    post_growth_per_day: dict[str, float] = field(
        default_factory=lambda: {"control": 0.004, "silenced": 0.001}
    )
    post_mouse_sd: float = 0.006
    post_session_sd: float = 0.003
    fs_hz: float = 20.0
    baseline_s: float = 600.0
    run_s: float = 1800.0
    recovery_s: float = 3600.0


def _smooth_box(t: np.ndarray, start: float, end: float, tau: float) -> np.ndarray:
    """0 before ``start``; rises as 1 − e^(−(t−start)/τ); after ``end`` decays from its level."""
    rise = np.where(t >= start, 1.0 - np.exp(-np.clip(t - start, 0, None) / tau), 0.0)
    level_at_end = 1.0 - np.exp(-(end - start) / tau)
    fall = level_at_end * np.exp(-np.clip(t - end, 0, None) / tau)
    return np.where(t < end, rise, fall)


def post_run_shape(
    t: np.ndarray, run_offset_s: float, rise_s: float, duration_s: float, fall_s: float
) -> np.ndarray:
    """``g_post``: 0 before the run ends, rises with τ = ``rise_s``, falls to 0 around
    ``duration_s`` after the run (logistic edge of width ``fall_s``); peak 1."""
    after = np.clip(t - run_offset_s, 0, None)
    rise = np.where(t >= run_offset_s, 1.0 - np.exp(-after / rise_s), 0.0)
    return rise * 0.5 * (1.0 - np.tanh((after - duration_s) / (2.0 * fall_s)))


def _transients(
    effects: PhotometryEffects, rate_hz: np.ndarray, fs_hz: float, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """GCaMP-like events: Poisson onsets at ``rate_hz`` (per sample), lognormal amplitudes,
    kernel e^(−t/τ_d) − e^(−t/τ_r) scaled to peak 1, applied by two first-order IIR filters."""
    n = rate_hz.size
    onsets = rng.random(n) < rate_hz / fs_hz
    sigma = np.sqrt(np.log(1.0 + effects.transient_amplitude_cv**2))
    amps = effects.transient_amplitude * rng.lognormal(-(sigma**2) / 2, sigma, n) * onsets
    tau_d, tau_r = effects.transient_decay_s, effects.transient_rise_s
    decay = signal.lfilter([1.0], [1.0, -np.exp(-1.0 / (tau_d * fs_hz))], amps)
    rise = signal.lfilter([1.0], [1.0, -np.exp(-1.0 / (tau_r * fs_hz))], amps)
    t_peak = np.log(tau_d / tau_r) * tau_d * tau_r / (tau_d - tau_r)
    peak = np.exp(-t_peak / tau_d) - np.exp(-t_peak / tau_r)
    return (decay - rise) / peak, int(np.count_nonzero(onsets))


def _motion(
    effects: PhotometryEffects,
    t: np.ndarray,
    fs_hz: float,
    run_onset_s: float,
    run_offset_s: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Unscaled motion term: band-limited Gaussian noise plus a mean drop, only while running."""
    low, high = effects.motion_band_hz
    high = min(high, 0.45 * fs_hz)
    sos = signal.butter(2, [low, high], btype="band", fs=fs_hz, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(t.size))
    running = (t >= run_onset_s) & (t < run_offset_s)
    if np.any(running):
        noise /= noise[running].std()
    envelope = _smooth_box(t, run_onset_s, run_offset_s, effects.motion_edge_s)
    return envelope * (noise + effects.motion_mean_sd)


def simulate_session(
    effects: PhotometryEffects,
    rng: np.random.Generator,
    fs_hz: float,
    duration_s: float,
    run_onset_s: float,
    run_offset_s: float,
    post_activation: float,
) -> dict[str, Any]:
    """One two-channel session: ``time_s``, ``signal``, ``control``, ``true_dff`` and ``truth``.

    ``truth`` holds the planted values: ``run_onset_s``, ``run_offset_s``, ``running_dff``,
    ``post_activation`` (plateau ΔF/F of the post-run activation), ``post_duration_s``,
    ``isosbestic_slope`` and ``isosbestic_intercept`` (the exact control-to-signal relation),
    ``motion_rms_ratio`` (realized RMS of the motion term over the run ÷ RMS of the true ΔF/F
    over the run), ``n_transients``, ``noise_sd`` (per-sample fractional noise), and the
    bleaching fractions and time constants.
    """
    if not 0 <= run_onset_s < run_offset_s <= duration_s:
        raise ValueError(
            f"run must lie inside the session: 0 <= onset {run_onset_s} < offset {run_offset_s} "
            f"<= duration {duration_s}"
        )
    n = int(round(duration_s * fs_hz))
    t = np.arange(n) / fs_hz
    running = (t >= run_onset_s) & (t < run_offset_s)
    g_run = _smooth_box(t, run_onset_s, run_offset_s, effects.running_tau_s)
    g_post = post_run_shape(
        t, run_offset_s, effects.post_rise_s, effects.post_duration_s, effects.post_fall_s
    )
    rate = effects.transient_rate_rest_hz + (
        effects.transient_rate_running_hz - effects.transient_rate_rest_hz
    ) * np.clip(g_run, 0, 1)
    transients, n_transients = _transients(effects, rate, fs_hz, rng)
    true_dff = effects.running_dff * g_run + post_activation * g_post + transients

    motion = _motion(effects, t, fs_hz, run_onset_s, run_offset_s, rng)
    rms_signal = float(np.sqrt(np.mean(true_dff[running] ** 2)))
    rms_motion = float(np.sqrt(np.mean(motion[running] ** 2)))
    motion *= effects.motion_to_signal * rms_signal / rms_motion
    np.clip(motion, -0.8, None, out=motion)
    realized_ratio = float(np.sqrt(np.mean(motion[running] ** 2))) / rms_signal

    def bleach(scale: float) -> np.ndarray:
        a_f = effects.bleach_fast_fraction * scale
        a_s = effects.bleach_slow_fraction * scale
        return (
            1.0
            - a_f
            - a_s
            + a_f * np.exp(-t / effects.bleach_fast_tau_s)
            + a_s * np.exp(-t / effects.bleach_slow_tau_s)
        )

    f_control = effects.control_baseline_v * bleach(effects.control_bleach_scale)
    f_signal_base = effects.isosbestic_slope * effects.control_baseline_v * bleach(1.0)
    noise_sd = effects.noise_density_per_sqrt_hz * np.sqrt(fs_hz / 2.0)
    control = f_control * (1.0 + motion) + rng.normal(0, noise_sd * effects.control_baseline_v, n)
    signal_ = f_signal_base * (1.0 + motion) * (1.0 + true_dff) + rng.normal(
        0, noise_sd * effects.isosbestic_slope * effects.control_baseline_v, n
    )
    truth = {
        "run_onset_s": float(run_onset_s),
        "run_offset_s": float(run_offset_s),
        "running_dff": effects.running_dff,
        "post_activation": float(post_activation),
        "post_duration_s": effects.post_duration_s,
        "isosbestic_slope": effects.isosbestic_slope,
        "isosbestic_intercept": 0.0,
        "motion_rms_ratio": realized_ratio,
        "n_transients": n_transients,
        "noise_sd": float(noise_sd),
        "bleach_fast_fraction": effects.bleach_fast_fraction,
        "bleach_fast_tau_s": effects.bleach_fast_tau_s,
        "bleach_slow_fraction": effects.bleach_slow_fraction,
        "bleach_slow_tau_s": effects.bleach_slow_tau_s,
    }
    return {
        "time_s": t,
        "signal": signal_,
        "control": control,
        "true_dff": true_dff,
        "truth": truth,
    }


def post_activation_by_day(
    effects: PhotometryEffects, group: str, days: Sequence[int]
) -> np.ndarray:
    """Planted mean post-run activation of a group at each day (no mouse or session noise)."""
    if group not in effects.post_growth_per_day:
        raise KeyError(
            f"no planted post-run growth for group {group!r}; "
            f"known: {sorted(effects.post_growth_per_day)}"
        )
    day = np.asarray(days, dtype=float)
    return effects.post_first_day + effects.post_growth_per_day[group] * (day - day[0])


def session_plan(
    effects: PhotometryEffects,
    mice: pd.DataFrame,
    days: Sequence[int],
    rng: np.random.Generator,
    overrides: Mapping[tuple[str, int], Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """What each session of every mouse (``mice``: ``mouse_id``, ``group``) on every training
    day will plant, drawn in a fixed order so that a seed gives the same study every time:
    mouse effects first, then per session its post-run amplitude and its own random seed (so
    that sessions can be simulated in any order or in parallel, :func:`simulate_planned`).
    ``overrides`` replaces fields of ``effects`` in single sessions, ``{(mouse, day): {field:
    value}}`` (e.g. a damaged patch cord's noise)."""
    missing = {"mouse_id", "group"} - set(mice.columns)
    if missing:
        raise KeyError(f"mice table lacks column(s) {sorted(missing)}")
    mouse_effect = rng.normal(0, effects.post_mouse_sd, len(mice))
    plan = []
    for (mouse, group), u in zip(
        mice[["mouse_id", "group"]].itertuples(index=False, name=None), mouse_effect, strict=True
    ):
        means = post_activation_by_day(effects, group, days)
        for day, mean in zip(days, means, strict=True):
            changed = (overrides or {}).get((mouse, day))
            plan.append(
                {
                    "mouse": mouse,
                    "group": group,
                    "day": day,
                    "amplitude": float(mean + u + rng.normal(0, effects.post_session_sd)),
                    "post_mean": float(mean),
                    "post_mouse_effect": float(u),
                    "effects": replace(effects, **changed) if changed else effects,
                    "seed": int(rng.integers(2**63)),
                }
            )
    return plan


def simulate_planned(entry: Mapping[str, Any]) -> tuple[str, int, dict[str, Any], dict[str, Any]]:
    """One planned session (:func:`session_plan`): ``(mouse, day, session, truth)``.

    Each session has ``baseline_s`` of rest, a run of ``run_s`` and ``recovery_s`` of recovery,
    sampled at ``fs_hz``. ``session`` holds ``time_s``, ``signal``, ``control``, ``true_dff``,
    ``fs_hz``, ``run_onset_s`` and ``run_offset_s``; ``truth`` the planted values of
    :func:`simulate_session` plus ``mouse``, ``group``, ``day``, ``post_mean`` (the group's
    planted mean at that day) and ``post_mouse_effect``.
    """
    effects = entry["effects"]
    onset = effects.baseline_s
    offset = onset + effects.run_s
    session = simulate_session(
        effects,
        np.random.default_rng(entry["seed"]),
        effects.fs_hz,
        offset + effects.recovery_s,
        onset,
        offset,
        entry["amplitude"],
    )
    truth = {
        **session.pop("truth"),
        **{key: entry[key] for key in ("mouse", "group", "day", "post_mean", "post_mouse_effect")},
    }
    session.update(fs_hz=effects.fs_hz, run_onset_s=onset, run_offset_s=offset)
    return entry["mouse"], entry["day"], session, truth


def simulate_study_sessions(
    effects: PhotometryEffects,
    mice: pd.DataFrame,
    days: Sequence[int],
    rng: np.random.Generator,
    overrides: Mapping[tuple[str, int], Mapping[str, Any]] | None = None,
) -> Iterator[tuple[str, int, dict[str, Any], dict[str, Any]]]:
    """Every session of :func:`session_plan`, simulated in order (:func:`simulate_planned`)."""
    for entry in session_plan(effects, mice, days, rng, overrides):
        yield simulate_planned(entry)
