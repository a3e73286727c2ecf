"""A simulated current-clamp recording with what real cells do and simple simulations do not:
a hyperpolarizing pre-pulse before every F–I step (so the window before the step is not a clean
baseline), small spikes that peak a few mV above 0 mV and pass it slowly though they rise fast
lower down, and depolarization block at the largest steps (two spikes, then a plateau near 0 mV
on which noise crosses 0 mV again and again). Its command waveform is returned with it, so the
protocol can be read from it as from a real ``.abf`` file."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlantedRecording:
    """One cell's current-clamp recording with what real cells do and simple simulations do not:
    a hyperpolarizing pre-pulse before every F–I step, small spikes (peak a few mV above 0 mV,
    slow at 0 mV, fast lower down) and depolarization block at the largest steps."""

    fs_hz: float = 20000.0
    sweep_s: float = 1.2
    prepulse_s: tuple[float, float] = (0.05, 0.25)
    prepulse_pa: float = -100.0
    step_s: tuple[float, float] = (0.6, 1.1)
    currents_pa: tuple[float, ...] = (0.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0)
    rheobase_pa: float = 100.0
    rate_hz_per_pa: float = 0.1
    block_from_pa: float = 250.0
    resting_potential_mv: float = -68.0
    input_resistance_mohm: float = 250.0
    membrane_tau_ms: float = 12.0
    spike_threshold_mv: float = -32.0
    spike_peak_mv: float = 2.0
    spike_sigma_ms: float = 0.6
    plateau_mv: float = -4.0
    noise_mv: float = 0.1


def small_spike_kernel(recording: PlantedRecording) -> tuple[np.ndarray, float]:
    """A spike from its base to ``spike_peak_mv`` and back (Gaussian, width ``spike_sigma_ms``),
    and the height above its base where its upstroke reaches 20 mV/ms (the planted threshold)."""
    sigma = recording.spike_sigma_ms
    centre = 4 * sigma
    u = (centre - np.linspace(0.0, centre, 400001)) / sigma
    offset = 0.0
    for _ in range(50):  # the base sits `offset` below the threshold; the peak stays planted
        amplitude = recording.spike_peak_mv - recording.spike_threshold_mv + offset
        height = amplitude * np.exp(-0.5 * u**2)
        offset = float(height[np.argmax(height * u / sigma >= 20.0)])
    s = np.arange(int(round(8 * sigma * recording.fs_hz / 1000.0))) / recording.fs_hz * 1000.0
    return amplitude * np.exp(-0.5 * ((s - centre) / sigma) ** 2), offset


def planted_recording(
    recording: PlantedRecording, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Voltage (mV) and command (pA), sweeps × samples, and the planted truth: spike counts per
    sweep (regular spikes at ``rate_hz_per_pa`` × (I − rheobase) + 2 Hz from rheobase; two
    spikes then a plateau at ``plateau_mv`` from ``block_from_pa``), the threshold, the resting
    potential (the baseline before the pre-pulse), input resistance and τ (RC pre-pulse)."""
    fs = recording.fs_hz
    n = int(round(recording.sweep_s * fs))
    t = np.arange(n) / fs
    currents = np.asarray(recording.currents_pa, dtype=float)
    command = np.zeros((currents.size, n))
    p0, p1 = (int(round(x * fs)) for x in recording.prepulse_s)
    s0, s1 = (int(round(x * fs)) for x in recording.step_s)
    command[:, p0:p1] = recording.prepulse_pa
    command[:, s0:s1] = currents[:, None]
    tau = recording.membrane_tau_ms / 1000.0
    rin = recording.input_resistance_mohm / 1000.0

    def rc(start: float, end: float) -> np.ndarray:
        on = 1.0 - np.exp(-np.clip(np.minimum(t, end) - start, 0, None) / tau)
        return on * np.exp(-np.clip(t - end, 0, None) / tau)

    kernel, offset = small_spike_kernel(recording)
    base = recording.spike_threshold_mv - offset
    rest = recording.resting_potential_mv + recording.prepulse_pa * rin * rc(*recording.prepulse_s)
    voltage = np.repeat(rest[None, :], currents.size, axis=0)
    counts = []
    for sweep, current in enumerate(currents):  # per sweep: its spike times
        if current < recording.rheobase_pa:
            voltage[sweep] += current * rin * rc(*recording.step_s)
            counts.append(0)
            continue
        drive = max(current, 1.2 * (base - recording.resting_potential_mv) / rin)
        voltage[sweep] = np.minimum(voltage[sweep] + drive * rin * rc(*recording.step_s), base)
        blocked = current >= recording.block_from_pa
        rate = 2.0 + recording.rate_hz_per_pa * (current - recording.rheobase_pa)
        n_spikes = 2 if blocked else int(rate * (s1 - s0) / fs)
        spacing = int((s1 - s0 - 0.03 * fs) / n_spikes)
        onsets = s0 + int(0.02 * fs) + np.arange(n_spikes) * spacing
        if blocked:
            onsets = s0 + int(0.01 * fs) + np.arange(2) * int(0.01 * fs)
            voltage[sweep, onsets[-1] + kernel.size : s1] = recording.plateau_mv
        for onset in onsets:
            voltage[sweep, onset : onset + kernel.size] = base + kernel
        counts.append(n_spikes)
    voltage = voltage + rng.normal(0.0, recording.noise_mv, voltage.shape)
    return (
        voltage,
        command,
        {
            "n_spikes": counts,
            "block_from_pa": recording.block_from_pa,
            "spike_threshold_mv": recording.spike_threshold_mv,
            "resting_potential_mv": recording.resting_potential_mv,
            "input_resistance_mohm": recording.input_resistance_mohm,
            "membrane_tau_ms": recording.membrane_tau_ms,
        },
    )
