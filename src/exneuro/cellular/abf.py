"""Raw Axon ``.abf`` current-clamp step recordings: spikes, F–I steps, resting potential, input
resistance and spike threshold, measured the same way for every file.

Spike detection rule (:func:`detect_spikes`)
--------------------------------------------
A spike is an **upward crossing of a voltage threshold** — by default 0 mV, the usual overshoot
criterion for healthy cortical and hypothalamic neurons — at least ``min_interval_ms`` after the
previous accepted spike. The refractory rule merges the double crossings noise makes when the
voltage hovers at the threshold (a spike "split" across it) into one spike; at 2 ms it is shorter
than any interspike interval a neuron fires at (500 Hz). Optionally a crossing also needs a
voltage slope of at least ``dvdt_threshold_mv_per_ms`` at the crossing, rejecting slow
depolarizations (e.g. a calcium plateau) that reach 0 mV without a spike. The crossings come from
one vectorized mask (``np.flatnonzero``); only the refractory filter loops, over crossings.

Spike threshold (:func:`spike_thresholds`)
------------------------------------------
Sekerli et al. 2004 (*IEEE Trans Biomed Eng* 51:1665-1672), "first-derivative" method: the
membrane potential where dV/dt first exceeds a fixed rate (20 mV/ms by default; 10 mV/ms is also
common) on the upstroke of the spike — the start of the run of samples with dV/dt above the rate
that contains the spike's threshold crossing, linearly interpolated between the two samples
around it. A cell's threshold is that of its first spike at rheobase.

Passive properties (:func:`analyse_step_sweeps`)
------------------------------------------------
Resting potential: the mean voltage before the step, averaged over sweeps (no holding current
assumed; with a holding current it is the holding potential). Input resistance: for each
hyperpolarizing step, the steady-state deflection ΔV = mean(V over the last
``steady_state_ms`` of the step) - mean(V before the step); R_in is the slope of ΔV on the step
current over the hyperpolarizing steps (least squares with intercept; ΔV/ΔI with a single step),
mV/pA = GOhm, reported in MOhm. Hyperpolarizing steps avoid the active conductances that
depolarization recruits; the steady state includes any Ih sag recovery.

Step currents come from the file's command waveform (``abf.sweepC``) when it has one, checked
against the configured protocol; files without a command (e.g. ABF1 files written by other
software) use the protocol, and the output says which.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyabf

from exneuro.errors import data_error

#: Columns of the per-cell table of :func:`read_abf_steps`.
ABF_CELL_COLUMNS = [
    "mouse",
    "cell",
    "resting_potential_mv",
    "input_resistance_mohm",
    "spike_threshold_mv",
    "n_sweeps",
    "n_hyperpolarizing_steps",
    "current_source",
    "source_file",
]


def detect_spikes(
    voltage_mv: np.ndarray,
    fs_hz: float,
    threshold_mv: float = 0.0,
    min_interval_ms: float = 2.0,
    dvdt_threshold_mv_per_ms: float | None = None,
) -> np.ndarray:
    """Sample indices of spikes in one voltage trace (see the module docstring for the rule).

    Each index is the first sample at or above ``threshold_mv`` after a sample below it. A
    crossing within ``min_interval_ms`` of the previous accepted spike is the same spike and is
    dropped. With ``dvdt_threshold_mv_per_ms``, a crossing counts only if the slope there
    (``np.gradient``, mV/ms) is at least that value. A trace that starts above threshold has no
    crossing at its first sample.
    """
    v = np.asarray(voltage_mv, dtype=float)
    if v.ndim != 1:
        raise ValueError("voltage_mv must be one trace (1-D); loop over sweeps")
    if fs_hz <= 0:
        raise ValueError("fs_hz must be positive")
    above = v >= threshold_mv
    crossings = np.flatnonzero(~above[:-1] & above[1:]) + 1
    if dvdt_threshold_mv_per_ms is not None and crossings.size:
        slope = np.gradient(v)[crossings] * fs_hz / 1000.0
        crossings = crossings[slope >= dvdt_threshold_mv_per_ms]
    min_gap = min_interval_ms * fs_hz / 1000.0
    kept: list[int] = []
    last = -np.inf
    for index in crossings.tolist():  # loops over crossings only, never over samples
        if index - last >= min_gap:
            kept.append(index)
            last = index
    return np.asarray(kept, dtype=np.intp)


def spike_thresholds(
    voltage_mv: np.ndarray,
    fs_hz: float,
    spikes: np.ndarray,
    dvdt_threshold_mv_per_ms: float = 20.0,
) -> np.ndarray:
    """Threshold voltage (mV) of each spike by the dV/dt criterion (Sekerli et al. 2004).

    For each spike index (a threshold crossing from :func:`detect_spikes`), the run of samples
    with dV/dt >= ``dvdt_threshold_mv_per_ms`` that contains the crossing is found; its start,
    interpolated linearly between the last sample below and the first above the rate, gives the
    threshold. NaN when the slope at the crossing is below the rate (no fast upstroke).
    """
    v = np.asarray(voltage_mv, dtype=float)
    spikes = np.asarray(spikes, dtype=np.intp)
    out = np.full(spikes.size, np.nan)
    if spikes.size == 0:
        return out
    dvdt = np.gradient(v) * fs_hz / 1000.0
    fast = dvdt >= dvdt_threshold_mv_per_ms
    starts = np.flatnonzero(fast & ~np.concatenate([[False], fast[:-1]]))
    run = np.searchsorted(starts, spikes, side="right") - 1
    valid = (run >= 0) & fast[spikes]
    start = starts[np.clip(run, 0, None)]
    before = np.clip(start - 1, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = (dvdt_threshold_mv_per_ms - dvdt[before]) / (dvdt[start] - dvdt[before])
    fraction = np.where((start > 0) & np.isfinite(fraction), np.clip(fraction, 0, 1), 1.0)
    interpolated = v[before] + fraction * (v[start] - v[before])
    out[valid] = interpolated[valid]
    return out


def command_steps(
    command_pa: np.ndarray, fs_hz: float, step_start_s: float, step_end_s: float
) -> np.ndarray:
    """Step amplitude of every sweep from the command waveform (sweeps × samples): the median
    command during the step minus the median before it (pA, relative to any holding current)."""
    command = np.atleast_2d(np.asarray(command_pa, dtype=float))
    start, end = int(round(step_start_s * fs_hz)), int(round(step_end_s * fs_hz))
    return np.median(command[:, start:end], axis=1) - np.median(command[:, :start], axis=1)


def analyse_step_sweeps(
    voltage_mv: np.ndarray,
    fs_hz: float,
    currents_pa: np.ndarray,
    step_start_s: float,
    step_end_s: float,
    threshold_mv: float = 0.0,
    min_interval_ms: float = 2.0,
    dvdt_threshold_mv_per_ms: float = 20.0,
    steady_state_ms: float = 100.0,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Spikes per step and passive properties of one cell's current-step sweeps.

    ``voltage_mv`` is sweeps × samples, ``currents_pa`` the step current of each sweep. Returns
    (1) one row per sweep: ``sweep``, ``current_pa``, ``n_spikes`` (spikes whose threshold
    crossing falls inside the step), ``step_duration_ms``, ``firing_rate_hz``, ``baseline_mv``,
    ``steady_state_mv``, ``first_spike_threshold_mv``; (2) the cell's ``resting_potential_mv``,
    ``input_resistance_mohm`` (NaN without a hyperpolarizing step), ``spike_threshold_mv``
    (first spike of the lowest depolarizing step that fires) and ``n_hyperpolarizing_steps``.
    Baseline and steady-state means are vectorized over sweeps; spike detection runs per sweep.
    """
    v = np.atleast_2d(np.asarray(voltage_mv, dtype=float))
    currents = np.asarray(currents_pa, dtype=float)
    if currents.shape != (v.shape[0],):
        raise ValueError("currents_pa needs one current per sweep")
    start, end = int(round(step_start_s * fs_hz)), int(round(step_end_s * fs_hz))
    if not 0 < start < end <= v.shape[1]:
        raise ValueError("the step window must lie inside the sweep, after some baseline")
    steady = max(1, int(round(steady_state_ms * fs_hz / 1000.0)))
    baseline = v[:, :start].mean(axis=1)
    steady_state = v[:, max(start, end - steady) : end].mean(axis=1)
    counts = np.zeros(v.shape[0], dtype=int)
    first_threshold = np.full(v.shape[0], np.nan)
    for sweep, trace in enumerate(v):  # per sweep; detection itself is vectorized
        spikes = detect_spikes(trace, fs_hz, threshold_mv, min_interval_ms)
        spikes = spikes[(spikes >= start) & (spikes < end)]
        counts[sweep] = spikes.size
        if spikes.size:
            first_threshold[sweep] = spike_thresholds(
                trace, fs_hz, spikes[:1], dvdt_threshold_mv_per_ms
            )[0]
    duration_ms = (end - start) / fs_hz * 1000.0
    steps = pd.DataFrame(
        {
            "sweep": np.arange(v.shape[0]),
            "current_pa": currents,
            "n_spikes": counts,
            "step_duration_ms": duration_ms,
            "firing_rate_hz": counts / (duration_ms / 1000.0),
            "baseline_mv": baseline,
            "steady_state_mv": steady_state,
            "first_spike_threshold_mv": first_threshold,
        }
    )
    negative = currents < 0
    delta_v = steady_state[negative] - baseline[negative]
    if negative.sum() >= 2 and np.ptp(currents[negative]) > 0:
        slope = np.polyfit(currents[negative], delta_v, 1)[0]
    elif negative.sum() >= 1:
        slope = float(np.mean(delta_v / currents[negative]))
    else:
        slope = np.nan
    firing = np.flatnonzero((currents > 0) & (counts > 0))
    threshold = first_threshold[firing[np.argmin(currents[firing])]] if firing.size else np.nan
    cell = {
        "resting_potential_mv": float(baseline.mean()),
        "input_resistance_mohm": float(slope) * 1000.0,
        "spike_threshold_mv": float(threshold),
        "n_hyperpolarizing_steps": int(negative.sum()),
    }
    return steps, cell


def ids_from_name(path: str | Path, pattern: str) -> dict[str, str]:
    """``mouse`` and ``cell`` from a file name under a pattern such as ``'{mouse}_{cell}.abf'``."""
    name = Path(path).name
    regex = re.escape(pattern)
    for field in ("mouse", "cell"):
        regex = regex.replace(re.escape("{" + field + "}"), f"(?P<{field}>.+?)", 1)
    match = re.fullmatch(regex, name)
    if match is None or not {"mouse", "cell"} <= set(match.groupdict()):
        raise data_error(
            str(path),
            f"the file name does not fit the pattern '{pattern}'",
            "rename the file, change the pattern, or give the mouse and cell in the config",
        )
    return match.groupdict()


def read_abf_steps(
    path: str | Path,
    step_start_s: float,
    step_end_s: float,
    first_step_pa: float,
    step_increment_pa: float,
    threshold_mv: float = 0.0,
    *,
    min_interval_ms: float = 2.0,
    dvdt_threshold_mv_per_ms: float = 20.0,
    steady_state_ms: float = 100.0,
    mouse: str | None = None,
    cell: str | None = None,
    name_pattern: str = "{mouse}_{cell}.abf",
    channel: int = 0,
    command_tolerance_pa: float = 1.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read one cell's current-clamp step recording (``.abf``, via pyabf) into tidy tables.

    The protocol: sweep k injects ``first_step_pa + k * step_increment_pa`` from ``step_start_s``
    to ``step_end_s`` (seconds from the start of the sweep). Mouse and cell ids are given, or read
    from the file name with ``name_pattern``. Returns

    1. the step table of :func:`exneuro.cellular.ephys.read_step_table` (``mouse``, ``cell``,
       ``current_pa``, ``n_spikes``, ``step_duration_ms``, ``firing_rate_hz``) plus ``sweep``,
       ``baseline_mv``, ``steady_state_mv``, ``first_spike_threshold_mv``, ``source_file``;
    2. one row of :data:`ABF_CELL_COLUMNS`: resting potential, input resistance, spike
       threshold, how the step currents were obtained.

    Errors naming the file: not a readable ABF, a channel that is not in mV (a voltage-clamp
    recording), a step window outside the sweep, a command waveform whose steps differ from the
    configured protocol by more than ``command_tolerance_pa``.
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise data_error(where, "file not found", "check the path in the config")
    ids = {"mouse": mouse, "cell": cell}
    if mouse is None or cell is None:
        found = ids_from_name(path, name_pattern)
        ids = {key: ids[key] if ids[key] is not None else found[key] for key in ids}
    try:
        abf = pyabf.ABF(str(path))
    except Exception as error:  # pyabf raises bare exceptions for damaged files
        raise data_error(where, f"not a readable Axon ABF file ({error})", "re-export it") from None
    if channel >= abf.channelCount:
        raise data_error(
            where,
            f"no channel {channel} (the file has {abf.channelCount})",
            "set the voltage channel in the config",
        )
    units = str(abf.adcUnits[channel]).strip()
    if units.lower() != "mv":
        raise data_error(
            where,
            f"channel {channel} is in {units}, not mV",
            "give a current-clamp recording, or the channel that records the membrane potential",
        )
    fs = float(abf.sampleRate)
    n_points = int(abf.sweepPointCount)
    if not 0 < step_start_s < step_end_s <= n_points / fs:
        raise data_error(
            where,
            f"the step ({step_start_s:g}-{step_end_s:g} s) does not fit in the "
            f"{n_points / fs:g} s sweeps",
            "check step_start_s and step_end_s in the config",
        )
    voltage = np.empty((abf.sweepCount, n_points))
    command = np.empty((abf.sweepCount, n_points))
    for sweep in range(abf.sweepCount):  # a loop over sweeps, to read them
        abf.setSweep(sweep, channel=channel)
        voltage[sweep] = abf.sweepY
        command[sweep] = abf.sweepC
    protocol = first_step_pa + step_increment_pa * np.arange(abf.sweepCount)
    command_units = str(getattr(abf, "sweepUnitsC", "pA") or "pA").strip() or "pA"
    command = command * {"pa": 1.0, "na": 1000.0}.get(command_units.lower(), np.nan)
    has_command = bool(np.isfinite(command).all() and np.ptp(command) > 0)
    if has_command:
        currents = command_steps(command, fs, step_start_s, step_end_s)
        off = np.abs(currents - protocol)
        if off.max() > command_tolerance_pa:
            k = int(np.argmax(off))
            raise data_error(
                where,
                f"sweep {k + 1} steps by {currents[k]:g} pA in the file's command waveform but "
                f"{protocol[k]:g} pA in the configured protocol",
                "fix first_step_pa / step_increment_pa (or the step times) in the config",
            )
        source = "abf command waveform (checked against the protocol)"
    else:
        currents = protocol
        source = "configured protocol (the file has no current command waveform)"
    steps, properties = analyse_step_sweeps(
        voltage,
        fs,
        currents,
        step_start_s,
        step_end_s,
        threshold_mv,
        min_interval_ms,
        dvdt_threshold_mv_per_ms,
        steady_state_ms,
    )
    steps.insert(0, "cell", ids["cell"])
    steps.insert(0, "mouse", ids["mouse"])
    steps["source_file"] = path.name
    cell_row = pd.DataFrame(
        [
            {
                **ids,
                **properties,
                "n_sweeps": int(abf.sweepCount),
                "current_source": source,
                "source_file": path.name,
            }
        ]
    )[ABF_CELL_COLUMNS]
    return steps, cell_row
