"""Simulated slice electrophysiology of VMH SF1 neurons, sedentary vs. treadmill-trained mice.

What is planted (written to the ground truth; after Kindel et al. 2026, where ~3 weeks of training
made SF1 neurons more excitable and increased their excitatory synaptic input):

* **F–I.** Each cell has a threshold current r (lognormal around ``rheobase_pa[group]``, with a
  mouse and a cell random effect on the log scale) and a gain g (Hz/pA, likewise). At a step of
  current I >= r it fires n = max(1, floor((f0 + g (I - r)) T)) spikes in the step of duration T
  (f0 = ``rate_at_rheobase_hz``), none below r. Trained cells: r about 30 % lower and g higher,
  so they fire more at every suprathreshold step. The observed rheobase is r rounded up to the
  protocol's next step.
* **Passive properties**: input resistance, resting potential and spike threshold vary between
  mice and cells but not between groups (negative controls).
* **sEPSCs**: per cell a Poisson process (with a 2 ms dead time, as event detection has) at rate
  ``sepsc_frequency_hz[group]`` (×1.8 in trained mice) times mouse and cell lognormal effects;
  amplitudes lognormal around ``sepsc_amplitude_pa`` in both groups (unchanged), written as
  negative inward currents as Easy Electrophysiology exports them.
* One sedentary cell never fires up to the largest step (``silent_cell``): its rheobase is
  missing, as happens in real recordings, and it stays in the F–I curve as zeros.
* **Raw sweeps** of a few cells as ABF1 files (``pyabf.abfWriter.writeABF1``): passive RC response
  to each step (clipped just below threshold), a spike waveform (Gaussian upstroke and
  repolarization, 70 mV, then an afterhyperpolarization) at exactly the spike times whose counts
  the step table lists, and white noise. The dV/dt = 20 mV/ms point of the waveform lies at the
  cell's planted spike threshold, so the ``.abf`` route and the table route must agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pyabf.abfWriter import writeABF1
from scipy.signal import fftconvolve

#: Lab column headers of the files written here (the workflow's column mappings).
STEP_HEADERS = {
    "mouse": "Mouse ID",
    "cell": "Cell",
    "current_pa": "Current (pA)",
    "n_spikes": "Spike count",
    "step_duration_ms": "Step duration (ms)",
}
PROPERTY_HEADERS = {
    "mouse": "Mouse ID",
    "cell": "Cell",
    "input_resistance_mohm": "Rin (MOhm)",
    "resting_potential_mv": "Vrest (mV)",
    "spike_threshold_mv": "AP threshold (mV)",
}
EVENT_HEADERS = {
    "mouse": "Mouse ID",
    "cell": "Cell",
    "time_s": "Event time (s)",
    "amplitude_pa": "Amplitude (pA)",
}
RECORDING_HEADERS = {
    "mouse": "Mouse ID",
    "cell": "Cell",
    "recording_duration_s": "Recording duration (s)",
}
FILES = {
    "steps": "current_steps.csv",
    "properties": "cell_properties.csv",
    "events": "sepsc_events.csv",
    "recordings": "sepsc_recordings.csv",
    "abf_dir": "abf",
}

SPIKE_AMPLITUDE_MV = 70.0
SPIKE_PEAK_MS = 1.0
SPIKE_SIGMA_MS = 0.3
AHP_MV = 10.0
AHP_START_MS = 1.2
AHP_TAU_MS = 2.5
KERNEL_MS = 20.0
DEAD_TIME_S = 0.002


@dataclass(frozen=True)
class EphysEffects:
    """Planted slice electrophysiology; medians are per group, CVs are log-scale SDs."""

    groups: tuple[str, str] = ("sedentary", "trained")
    mice_per_group: int = 6
    cells_per_mouse: tuple[int, int] = (4, 8)
    # current-step protocol (what the lab's config states)
    first_step_pa: float = -30.0
    step_increment_pa: float = 10.0
    n_steps: int = 17
    step_start_s: float = 0.1
    step_duration_s: float = 0.5
    sweep_duration_s: float = 0.8
    sampling_rate_hz: float = 10000.0
    # intrinsic excitability
    rheobase_pa: dict[str, float] = field(
        default_factory=lambda: {"sedentary": 42.0, "trained": 29.0}
    )
    rheobase_mouse_cv: float = 0.12
    rheobase_cell_cv: float = 0.22
    fi_gain_hz_per_pa: dict[str, float] = field(
        default_factory=lambda: {"sedentary": 0.32, "trained": 0.42}
    )
    gain_mouse_cv: float = 0.10
    gain_cell_cv: float = 0.20
    rate_at_rheobase_hz: float = 2.0
    max_rate_hz: float = 110.0
    # passive and active properties (no group difference)
    input_resistance_mohm: float = 600.0
    input_resistance_mouse_cv: float = 0.10
    input_resistance_cell_cv: float = 0.20
    resting_potential_mv: float = -58.0
    resting_potential_mouse_sd: float = 1.5
    resting_potential_cell_sd: float = 3.0
    spike_threshold_mv: float = -38.0
    spike_threshold_mouse_sd: float = 1.0
    spike_threshold_cell_sd: float = 2.0
    membrane_tau_ms: float = 25.0
    noise_mv: float = 0.15
    # sEPSCs
    sepsc_frequency_hz: dict[str, float] = field(
        default_factory=lambda: {"sedentary": 2.0, "trained": 3.6}
    )
    sepsc_mouse_cv: float = 0.25
    sepsc_cell_cv: float = 0.40
    sepsc_amplitude_pa: float = 12.0
    amplitude_mouse_cv: float = 0.08
    amplitude_cell_cv: float = 0.18
    amplitude_event_cv: float = 0.45
    recording_duration_s: float = 90.0
    # files and nuisances
    n_abf_cells: int = 3
    silent_cell: bool = True

    @property
    def currents_pa(self) -> np.ndarray:
        """The step currents of the protocol, pA."""
        return self.first_step_pa + self.step_increment_pa * np.arange(self.n_steps)


def ephys_mice(effects: EphysEffects, first_number: int = 1, prefix: str = "M") -> pd.DataFrame:
    """A minimal sample sheet for an ephys cohort: ``mouse_id``, ``group`` (groups alternate)."""
    numbers = first_number + np.arange(effects.mice_per_group * len(effects.groups))
    groups = np.tile(effects.groups, effects.mice_per_group)
    return pd.DataFrame({"mouse_id": [f"{prefix}{n:03d}" for n in numbers], "group": groups})


def spike_kernel(fs_hz: float) -> np.ndarray:
    """The action-potential waveform added at each spike onset (mV, from the onset sample)."""
    s = np.arange(int(round(KERNEL_MS * fs_hz / 1000.0))) / fs_hz * 1000.0
    spike = SPIKE_AMPLITUDE_MV * np.exp(-0.5 * ((s - SPIKE_PEAK_MS) / SPIKE_SIGMA_MS) ** 2)
    x = np.clip(s - AHP_START_MS, 0, None) / AHP_TAU_MS
    return spike - AHP_MV * x * np.exp(1.0 - x)


def kernel_threshold_offset(dvdt_mv_per_ms: float = 20.0) -> float:
    """Height of the waveform (mV above its base) where its upstroke first reaches the dV/dt
    criterion, in continuous time: the base is set this far below the planted threshold."""
    s = np.linspace(0.0, SPIKE_PEAK_MS, 200001)
    u = (SPIKE_PEAK_MS - s) / SPIKE_SIGMA_MS
    height = SPIKE_AMPLITUDE_MV * np.exp(-0.5 * u**2)
    slope = height * u / SPIKE_SIGMA_MS
    return float(height[np.argmax(slope >= dvdt_mv_per_ms)])


def simulate_cells(
    effects: EphysEffects, mice: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """One row per simulated cell with its planted parameters (mouse and cell random effects)."""
    mice = mice[mice["group"].isin(effects.groups)].reset_index(drop=True)
    if mice.empty:
        raise ValueError(f"no mouse in the groups {effects.groups}")
    low, high = effects.cells_per_mouse
    n_cells = rng.integers(low, high + 1, size=len(mice))
    mouse_effects = {
        name: rng.normal(0.0, sd, len(mice))
        for name, sd in (
            ("rheobase", effects.rheobase_mouse_cv),
            ("gain", effects.gain_mouse_cv),
            ("rin", effects.input_resistance_mouse_cv),
            ("vrest", effects.resting_potential_mouse_sd),
            ("threshold", effects.spike_threshold_mouse_sd),
            ("sepsc", effects.sepsc_mouse_cv),
            ("amplitude", effects.amplitude_mouse_cv),
        )
    }
    index = np.repeat(np.arange(len(mice)), n_cells)
    group = mice["group"].to_numpy()[index]
    total = int(n_cells.sum())

    def per_cell(name: str) -> np.ndarray:
        return mouse_effects[name][index]

    cells = pd.DataFrame(
        {
            "mouse": mice["mouse_id"].to_numpy()[index],
            "cell": [f"c{k + 1:03d}" for k in range(total)],
            "group": group,
            "rheobase_true_pa": pd.Series(group).map(effects.rheobase_pa).to_numpy()
            * np.exp(per_cell("rheobase") + rng.normal(0, effects.rheobase_cell_cv, total)),
            "fi_gain_hz_per_pa": pd.Series(group).map(effects.fi_gain_hz_per_pa).to_numpy()
            * np.exp(per_cell("gain") + rng.normal(0, effects.gain_cell_cv, total)),
            "input_resistance_mohm": effects.input_resistance_mohm
            * np.exp(per_cell("rin") + rng.normal(0, effects.input_resistance_cell_cv, total)),
            "resting_potential_mv": effects.resting_potential_mv
            + per_cell("vrest")
            + rng.normal(0, effects.resting_potential_cell_sd, total),
            "spike_threshold_mv": effects.spike_threshold_mv
            + per_cell("threshold")
            + rng.normal(0, effects.spike_threshold_cell_sd, total),
            "sepsc_rate_hz": pd.Series(group).map(effects.sepsc_frequency_hz).to_numpy()
            * np.exp(per_cell("sepsc") + rng.normal(0, effects.sepsc_cell_cv, total)),
            "amplitude_median_pa": effects.sepsc_amplitude_pa
            * np.exp(per_cell("amplitude") + rng.normal(0, effects.amplitude_cell_cv, total)),
        }
    )
    if effects.silent_cell:
        first_mouse = mice.loc[mice["group"] == effects.groups[0], "mouse_id"].iloc[0]
        last = cells.index[cells["mouse"] == first_mouse][-1]
        cells.loc[last, "rheobase_true_pa"] = effects.currents_pa.max() + 50.0
    return cells


def spike_times(
    rheobase_pa: float,
    gain_hz_per_pa: float,
    current_pa: float,
    effects: EphysEffects,
    rng: np.random.Generator,
) -> np.ndarray:
    """Spike onset times (s from the step onset) of one cell at one step (see module docstring):
    first-spike latency shortening with the current, then near-regular intervals with jitter."""
    if current_pa < rheobase_pa:
        return np.zeros(0)
    duration = effects.step_duration_s
    rate = min(
        effects.rate_at_rheobase_hz + gain_hz_per_pa * (current_pa - rheobase_pa),
        effects.max_rate_hz,
    )
    n = max(1, int(np.floor(rate * duration)))
    latency = 0.06 + 0.2 * np.exp(-(current_pa - rheobase_pa) / 15.0)
    available = duration - latency - 0.012
    n = min(n, int(available / 0.008) + 1)
    spacing = available / n
    jitter = rng.uniform(-0.15, 0.15, n) * spacing
    jitter[0] = 0.0
    return latency + np.arange(n) * spacing + jitter


def cell_sweeps(
    cell: pd.Series, times: list[np.ndarray], effects: EphysEffects, rng: np.random.Generator
) -> np.ndarray:
    """Membrane potential (mV), sweeps × samples, of one cell for the whole protocol."""
    fs = effects.sampling_rate_hz
    n_samples = int(round(effects.sweep_duration_s * fs))
    t = np.arange(n_samples) / fs
    t0, t1 = effects.step_start_s, effects.step_start_s + effects.step_duration_s
    currents = effects.currents_pa
    rin_gohm = cell["input_resistance_mohm"] / 1000.0
    base = cell["spike_threshold_mv"] - kernel_threshold_offset()
    fires = np.array([len(x) > 0 for x in times])
    drive = np.where(
        fires,
        np.maximum(currents, 1.2 * (base - cell["resting_potential_mv"]) / rin_gohm),
        currents,
    )
    tau = effects.membrane_tau_ms / 1000.0
    rise = np.clip(t - t0, 0, None)
    during = 1.0 - np.exp(-np.minimum(rise, t1 - t0) / tau)
    after = np.exp(-np.clip(t - t1, 0, None) / tau)
    passive = cell["resting_potential_mv"] + drive[:, None] * rin_gohm * (during * after)[None, :]
    voltage = np.minimum(passive, base)
    impulses = np.zeros_like(voltage)
    for sweep, onsets in enumerate(times):
        impulses[sweep, np.round((t0 + onsets) * fs).astype(int)] = 1.0
    kernel = spike_kernel(fs)
    spikes = fftconvolve(impulses, kernel[None, :], axes=1)[:, :n_samples]
    return voltage + spikes + rng.normal(0.0, effects.noise_mv, voltage.shape)


def sepsc_events(
    cells: pd.DataFrame, effects: EphysEffects, rng: np.random.Generator
) -> pd.DataFrame:
    """Event times and amplitudes of every cell: a dead-time Poisson process, lognormal
    amplitudes (positive magnitudes here; written as negative inward currents)."""
    frames = []
    duration = effects.recording_duration_s
    for row in cells.itertuples(index=False):  # per cell, vectorized within
        n_max = int(row.sepsc_rate_hz * duration * 1.5 + 30)
        intervals = DEAD_TIME_S + rng.exponential(1.0 / row.sepsc_rate_hz, n_max)
        times = np.cumsum(intervals)
        times = times[times < duration]
        amplitudes = row.amplitude_median_pa * np.exp(
            rng.normal(0.0, effects.amplitude_event_cv, times.size)
        )
        frames.append(
            pd.DataFrame(
                {"mouse": row.mouse, "cell": row.cell, "time_s": times, "amplitude_pa": amplitudes}
            )
        )
    return pd.concat(frames, ignore_index=True)


def write_ephys(
    effects: EphysEffects, mice: pd.DataFrame, folder: Path, rng: np.random.Generator
) -> dict:
    """Write the ephys cohort's raw files into ``folder`` and return the planted truth.

    Files (:data:`FILES`): ``current_steps.csv`` (:data:`STEP_HEADERS`), ``cell_properties.csv``
    (:data:`PROPERTY_HEADERS`), ``sepsc_events.csv`` (:data:`EVENT_HEADERS`),
    ``sepsc_recordings.csv`` (:data:`RECORDING_HEADERS`) and ``abf/<mouse>_<cell>.abf`` for
    ``n_abf_cells`` cells. ``mice`` needs ``mouse_id`` and ``group``; mice of other groups are
    ignored. The same ``rng`` state gives the same bytes.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cells = simulate_cells(effects, mice, rng)
    currents = effects.currents_pa
    times = [
        [
            spike_times(row.rheobase_true_pa, row.fi_gain_hz_per_pa, current, effects, rng)
            for current in currents
        ]
        for row in cells.itertuples(index=False)
    ]
    counts = np.array([[len(x) for x in cell_times] for cell_times in times])
    pd.DataFrame(
        {
            STEP_HEADERS["mouse"]: np.repeat(cells["mouse"].to_numpy(), len(currents)),
            STEP_HEADERS["cell"]: np.repeat(cells["cell"].to_numpy(), len(currents)),
            STEP_HEADERS["current_pa"]: np.tile(currents, len(cells)).astype(int),
            STEP_HEADERS["n_spikes"]: counts.ravel(),
            STEP_HEADERS["step_duration_ms"]: int(round(effects.step_duration_s * 1000)),
        }
    ).to_csv(folder / FILES["steps"], index=False, lineterminator="\n")
    pd.DataFrame(
        {
            PROPERTY_HEADERS["mouse"]: cells["mouse"],
            PROPERTY_HEADERS["cell"]: cells["cell"],
            PROPERTY_HEADERS["input_resistance_mohm"]: cells["input_resistance_mohm"].round(1),
            PROPERTY_HEADERS["resting_potential_mv"]: cells["resting_potential_mv"].round(1),
            PROPERTY_HEADERS["spike_threshold_mv"]: cells["spike_threshold_mv"].round(1),
        }
    ).to_csv(folder / FILES["properties"], index=False, lineterminator="\n")
    events = sepsc_events(cells, effects, rng)
    pd.DataFrame(
        {
            EVENT_HEADERS["mouse"]: events["mouse"],
            EVENT_HEADERS["cell"]: events["cell"],
            EVENT_HEADERS["time_s"]: events["time_s"].map("{:.4f}".format),
            EVENT_HEADERS["amplitude_pa"]: (-events["amplitude_pa"]).map("{:.2f}".format),
        }
    ).to_csv(folder / FILES["events"], index=False, lineterminator="\n")
    pd.DataFrame(
        {
            RECORDING_HEADERS["mouse"]: cells["mouse"],
            RECORDING_HEADERS["cell"]: cells["cell"],
            RECORDING_HEADERS["recording_duration_s"]: effects.recording_duration_s,
        }
    ).to_csv(folder / FILES["recordings"], index=False, lineterminator="\n")

    abf_dir = folder / FILES["abf_dir"]
    abf_dir.mkdir(exist_ok=True)
    abf_cells = {}
    for k in range(effects.n_abf_cells):
        group = effects.groups[k % len(effects.groups)]
        group_mice = cells.loc[cells["group"] == group, "mouse"].unique()
        mouse = group_mice[k // len(effects.groups)]
        index = int(cells.index[cells["mouse"] == mouse][0])
        cell = cells.loc[index]
        sweeps = cell_sweeps(cell, times[index], effects, rng)
        name = f"{cell['mouse']}_{cell['cell']}.abf"
        writeABF1(sweeps, str(abf_dir / name), effects.sampling_rate_hz, units="mV")
        abf_cells[name] = {
            "mouse": cell["mouse"],
            "cell": cell["cell"],
            "group": group,
            "n_spikes": counts[index].tolist(),
            "input_resistance_mohm": round(float(cell["input_resistance_mohm"]), 3),
            "resting_potential_mv": round(float(cell["resting_potential_mv"]), 3),
            "spike_threshold_mv": round(float(cell["spike_threshold_mv"]), 3),
        }
    observed = np.where(counts[:, currents > 0].any(axis=1), 0.0, np.nan)
    first_firing = np.argmax((counts > 0) & (currents > 0)[None, :], axis=1)
    observed = observed + currents[first_firing]
    cells["rheobase_observed_pa"] = observed
    control, treated = effects.groups
    by_group = cells.groupby("group")
    realized = {
        column: {g: round(float(v), 4) for g, v in by_group[column].mean().items()}
        for column in ("rheobase_observed_pa", "fi_gain_hz_per_pa", "sepsc_rate_hz")
    }
    return {
        "groups": list(effects.groups),
        "control_group": control,
        "n_mice_by_group": {g: int(n) for g, n in by_group["mouse"].nunique().items()},
        "n_cells_by_group": {g: int(n) for g, n in by_group.size().items()},
        "protocol": {
            "first_step_pa": effects.first_step_pa,
            "step_increment_pa": effects.step_increment_pa,
            "n_steps": effects.n_steps,
            "step_start_s": effects.step_start_s,
            "step_end_s": effects.step_start_s + effects.step_duration_s,
            "sampling_rate_hz": effects.sampling_rate_hz,
        },
        "rheobase_median_pa_by_group": dict(effects.rheobase_pa),
        "rheobase_ratio": effects.rheobase_pa[treated] / effects.rheobase_pa[control],
        "fi_gain_median_hz_per_pa_by_group": dict(effects.fi_gain_hz_per_pa),
        "sepsc_frequency_median_hz_by_group": dict(effects.sepsc_frequency_hz),
        "sepsc_frequency_ratio": effects.sepsc_frequency_hz[treated]
        / effects.sepsc_frequency_hz[control],
        "sepsc_amplitude_ratio": 1.0,
        "group_difference_input_resistance_mohm": 0.0,
        "group_difference_resting_potential_mv": 0.0,
        "group_difference_spike_threshold_mv": 0.0,
        "realized_cell_means": realized,
        "silent_cells": cells.loc[np.isnan(observed), "cell"].tolist(),
        "abf_cells": abf_cells,
        "files": {key: value for key, value in FILES.items()},
    }
