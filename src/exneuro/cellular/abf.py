"""Raw Axon ``.abf`` current-clamp recordings -> one row per sweep and one row per cell.

Each file is read with pyabf (ABF1 and ABF2). Its protocol — where the F–I step, any
hyperpolarizing pre-pulse and the clean baseline lie — comes from a ``protocols`` entry of the
config named as the file's protocol, else from the step window declared for every file, else
from the file's own command waveform (:mod:`exneuro.cellular.protocol`); so one study can hold
several protocols. Step currents are the command's (checked against a declared protocol) or,
in files without a command, the declared ones; the output says which.

Per sweep, inside the step: spikes, first-spike threshold and latency, inter-spike intervals,
adaptation and depolarization block (:mod:`exneuro.cellular.spikes`); baseline and steady state.
Per cell: resting potential, input resistance, sag, τ and capacitance from every hyperpolarizing
epoch (:mod:`exneuro.cellular.passive`); the shape of the first spike at rheobase (threshold,
amplitude, half-width, maximum up- and downstroke, fast AHP, latency); mean ISI and adaptation
index of the lowest step before block with at least ``adaptation_min_spikes`` (4) spikes.

Every failure is one line naming the file (and the sweep where one sweep is at fault).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyabf

from exneuro.cellular import passive, spikes
from exneuro.cellular.protocol import (
    Epoch,
    Protocol,
    declared_protocol,
    protocol_from_command,
)
from exneuro.errors import InputDataError, data_error

#: Settings of the route and their defaults (the config's ``ephys.abf`` keys).
DEFAULTS: dict = {
    "channel": 0,
    "step_start_s": None,
    "step_end_s": None,
    "first_step_pa": None,
    "step_increment_pa": None,
    "baseline_start_s": None,
    "baseline_end_s": None,
    "protocols": {},
    "steady_state_ms": 100.0,
    "command_tolerance_pa": 1.0,
    "name_pattern": "{mouse}_{cell}.abf",
    "adaptation_min_spikes": 4,
}
#: First-spike features of the rheobase sweep reported per cell (spike table column -> cell column).
FIRST_SPIKE_FEATURES = {
    "threshold_mv": "spike_threshold_mv",
    "amplitude_mv": "ap_amplitude_mv",
    "half_width_ms": "ap_half_width_ms",
    "max_upstroke_mv_per_ms": "ap_max_upstroke_mv_per_ms",
    "max_downstroke_mv_per_ms": "ap_max_downstroke_mv_per_ms",
    "fast_ahp_mv": "ap_fast_ahp_mv",
}
#: Columns of the per-cell table of :func:`read_abf_steps`.
ABF_CELL_COLUMNS = [
    "mouse",
    "cell",
    "resting_potential_mv",
    "input_resistance_mohm",
    "sag_ratio",
    "membrane_tau_ms",
    "capacitance_pf",
    *FIRST_SPIKE_FEATURES.values(),
    "first_spike_latency_ms",
    "mean_isi_ms",
    "adaptation_index",
    "n_sweeps",
    "n_hyperpolarizing_epochs",
    "protocol",
    "current_source",
    "passive_note",
    "source_file",
]


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


def _read(path: Path, channel: int) -> tuple[pyabf.ABF, np.ndarray, np.ndarray | None]:
    """pyabf's view of the file, its voltage (sweeps × samples, mV) and command (pA) or None."""
    where = str(path)
    try:
        abf = pyabf.ABF(where)
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
    n_points = int(abf.sweepPointCount)
    voltage = np.empty((abf.sweepCount, n_points))
    command = np.empty((abf.sweepCount, n_points))
    for sweep in range(abf.sweepCount):  # a loop over sweeps, to read them
        abf.setSweep(sweep, channel=channel)
        voltage[sweep] = abf.sweepY
        command[sweep] = abf.sweepC
    command_units = str(getattr(abf, "sweepUnitsC", "pA") or "pA").strip() or "pA"
    command = command * {"pa": 1.0, "na": 1000.0}.get(command_units.lower(), np.nan)
    has_command = bool(np.isfinite(command).all() and np.ptp(command) > 0)
    return abf, voltage, command if has_command else None


def _protocol(
    where: str, name: str, fs: float, voltage: np.ndarray, command: np.ndarray | None, s: Mapping
) -> tuple[Protocol, str]:
    """The file's protocol (module docstring) and how its step currents were obtained: the step
    window declared for its protocol name or for every file, else found in the command; the
    baseline declared, else the clean stretch at holding before the first epoch (or everything
    before the step in a file without a command)."""
    declared = {**{k: s[k] for k in ("step_start_s", "step_end_s")}, **s["protocols"].get(name, {})}
    tolerance = s["command_tolerance_pa"]
    n_sweeps, n_samples = voltage.shape
    window = (declared.get("step_start_s"), declared.get("step_end_s"))
    baseline = tuple(declared.get(k, s[k]) for k in ("baseline_start_s", "baseline_end_s"))
    found = protocol_from_command(command, tolerance) if command is not None else None
    if found is None:
        command = None  # a command that never leaves holding says nothing about the protocol
    first = declared.get("first_step_pa", s["first_step_pa"])
    increment = declared.get("step_increment_pa", s["step_increment_pa"])
    planned = None
    if first is not None and increment is not None:
        planned = first + increment * np.arange(n_sweeps)
    if None in window and found is None:
        raise data_error(
            where,
            f"protocol '{name}': no current step in the file's command waveform",
            f"declare the step under ephys.abf.protocols['{name}'] (step_start_s, "
            "step_end_s, first_step_pa, step_increment_pa)",
        )
    if None in window:
        window = (found.step.start / fs, found.step.end / fs)
    if command is None and planned is None:
        raise data_error(
            where,
            "the file has no current command waveform and the config gives no step currents",
            "set first_step_pa and step_increment_pa in the config",
        )
    try:
        protocol = declared_protocol(
            fs,
            n_samples,
            np.zeros(n_sweeps) if planned is None else planned,
            window,
            None if None in baseline else baseline,
            command,
            tolerance,
        )
    except ValueError as error:
        raise data_error(
            where, str(error), "check the step and baseline times in the config"
        ) from None
    if command is None:
        return protocol, "configured protocol (the file has no current command waveform)"
    a, b = protocol.step.start, protocol.step.end
    currents = np.median(command[:, a:b], axis=1) - command[:, 0]
    if planned is not None and np.abs(currents - planned).max() > tolerance:
        k = int(np.argmax(np.abs(currents - planned)))
        raise data_error(
            where,
            f"sweep {k} steps by {currents[k]:g} pA in the file's command waveform but "
            f"{planned[k]:g} pA in the configured protocol",
            "fix first_step_pa / step_increment_pa (or the step times) in the config",
        )
    clean = found.baseline if None in baseline else protocol.baseline
    prepulses = [pulse for pulse in found.prepulses if pulse.end <= a]
    protocol = Protocol(Epoch(a, b, currents), clean, prepulses, protocol.note)
    checked = " (checked against the protocol)" if planned is not None else ""
    return protocol, "abf command waveform" + checked


def _sweep(v: np.ndarray, fs: float, start: int, end: int, rule: spikes.SpikeRule):
    peaks = spikes.detect_spikes(v, fs, start, end, rule)
    table = spikes.spike_table(v, fs, peaks, start, end, rule)
    return table, spikes.sweep_firing(v, fs, table, start, end, rule)


def analyse_sweeps(
    voltage_mv: np.ndarray,
    fs_hz: float,
    protocol: Protocol,
    rule: spikes.SpikeRule = spikes.DEFAULT_RULE,
    steady_state_ms: float = 100.0,
    where: str = "recording",
    adaptation_min_spikes: int = 4,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Per-sweep rows, per-spike rows and the per-cell properties of one recording."""
    v = np.atleast_2d(np.asarray(voltage_mv, dtype=float))
    start, end = protocol.step.start, protocol.step.end
    rows, spike_rows = [], []
    for sweep, trace in enumerate(v):  # per sweep; the work inside is vectorized
        try:
            table, firing = _sweep(trace, fs_hz, start, end, rule)
        except Exception as error:  # one line naming file and sweep, never a traceback
            raise InputDataError(
                f"{where}, sweep {sweep}: spike analysis failed ({type(error).__name__}: "
                f"{error}); check the recording or the spike settings in the config"
            ) from None
        rows.append({"sweep": sweep, **firing})
        spike_rows.append(table.assign(sweep=sweep))
    sweeps = pd.DataFrame(rows)
    try:
        epochs = [
            passive.epoch_responses(v, fs_hz, epoch, protocol.baseline, steady_state_ms, name)
            for epoch, name in [(protocol.step, "step")]
            + [(pulse, "pre-pulse") for pulse in protocol.prepulses]
        ]
    except Exception as error:  # one line naming the file, never a traceback
        raise InputDataError(
            f"{where}: passive properties failed ({type(error).__name__}: {error}); check the "
            "baseline and steady-state windows in the config"
        ) from None
    step = epochs[0]
    duration_ms = (end - start) / fs_hz * 1000.0
    sweeps.insert(1, "current_pa", protocol.step.current_pa)
    sweeps.insert(3, "step_duration_ms", duration_ms)
    sweeps.insert(4, "firing_rate_hz", sweeps["n_spikes"] / (duration_ms / 1000.0))
    sweeps["baseline_mv"] = step["baseline_mv"].to_numpy()
    sweeps["steady_state_mv"] = step["steady_state_mv"].to_numpy()
    cell = passive.passive_properties(pd.concat(epochs, ignore_index=True))
    found = [table for table in spike_rows if len(table)]
    spike_table = pd.concat(found, ignore_index=True) if found else spike_rows[0].iloc[:0].copy()
    cell.update(_spiking_features(sweeps, spike_table, adaptation_min_spikes))
    return sweeps, spike_table, cell


def _spiking_features(
    sweeps: pd.DataFrame, spike_rows: pd.DataFrame, adaptation_min_spikes: int = 4
) -> dict:
    """First spike at rheobase, and ISI/adaptation of the lowest sweep with enough spikes."""
    out = {column: np.nan for column in FIRST_SPIKE_FEATURES.values()}
    out.update(first_spike_latency_ms=np.nan, mean_isi_ms=np.nan, adaptation_index=np.nan)
    blocked = sweeps.loc[sweeps["depolarization_block"], "current_pa"]
    before_block = sweeps[sweeps["current_pa"] < (blocked.min() if len(blocked) else np.inf)]
    firing = before_block[(before_block["current_pa"] > 0) & (before_block["n_spikes"] > 0)]
    if len(firing):
        rheobase = firing.loc[firing["current_pa"].idxmin()]
        first = spike_rows[(spike_rows["sweep"] == rheobase["sweep"]) & (spike_rows["spike"] == 0)]
        out.update({new: first[old].iloc[0] for old, new in FIRST_SPIKE_FEATURES.items()})
        out["first_spike_latency_ms"] = rheobase["first_spike_latency_ms"]
    enough = firing[firing["n_spikes"] >= adaptation_min_spikes]
    if len(enough):
        sweep = enough.loc[enough["current_pa"].idxmin()]
        out["mean_isi_ms"] = sweep["mean_isi_ms"]
        out["adaptation_index"] = sweep["adaptation_index"]
    return out


def read_abf_steps(
    path: str | Path,
    settings: Mapping | None = None,
    *,
    mouse: str | None = None,
    cell: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-sweep and per-cell tables of :func:`analyse_abf`."""
    sweeps, _, cell_row = analyse_abf(path, settings, mouse=mouse, cell=cell)
    return sweeps, cell_row


def analyse_abf(
    path: str | Path,
    settings: Mapping | None = None,
    *,
    mouse: str | None = None,
    cell: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read one cell's current-clamp recording (``.abf``) into tidy tables.

    ``settings``: the config's ``ephys.abf`` keys (:data:`DEFAULTS` and
    :class:`exneuro.cellular.spikes.SpikeRule`; missing keys at their defaults). Mouse and cell
    ids are given, or read from the file name with ``name_pattern``. Returns

    1. one row per sweep: ``mouse``, ``cell``, ``sweep``, ``current_pa``, ``n_spikes``,
       ``step_duration_ms``, ``firing_rate_hz`` (the columns of
       :func:`exneuro.cellular.fi_curve.read_step_table`), the firing pattern,
       ``depolarization_block``, ``baseline_mv``, ``steady_state_mv``, ``protocol`` and
       ``source_file``;
    2. one row per spike inside the step (``sweep`` and
       :data:`exneuro.cellular.spikes.SPIKE_COLUMNS`);
    3. one row of :data:`ABF_CELL_COLUMNS`.

    Errors naming the file (and sweep): not a readable ABF, a channel not in mV (a voltage-clamp
    recording), a step window outside the sweep, a command waveform that differs from the
    configured protocol, a protocol neither declared nor found in the command, a sweep whose
    analysis fails.
    """
    s = {**DEFAULTS, **(settings or {})}
    s["protocols"] = s["protocols"] or {}
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise data_error(where, "file not found", "check the path in the config")
    ids = {"mouse": mouse, "cell": cell}
    if mouse is None or cell is None:
        found = ids_from_name(path, s["name_pattern"])
        ids = {key: ids[key] if ids[key] is not None else found[key] for key in ids}
    abf, voltage, command = _read(path, int(s["channel"]))
    fs = float(abf.sampleRate)
    name = str(getattr(abf, "protocol", "") or "").strip() or "unnamed"
    protocol, source = _protocol(where, name, fs, voltage, command, s)
    rule = spikes.SpikeRule.from_settings(s)
    sweeps, spike_rows, properties = analyse_sweeps(
        voltage, fs, protocol, rule, s["steady_state_ms"], where, s["adaptation_min_spikes"]
    )
    sweeps.insert(0, "cell", ids["cell"])
    sweeps.insert(0, "mouse", ids["mouse"])
    sweeps["protocol"] = name
    sweeps["source_file"] = path.name
    cell_row = pd.DataFrame(
        [
            {
                **ids,
                **properties,
                "n_sweeps": int(abf.sweepCount),
                "protocol": name,
                "current_source": source,
                "passive_note": protocol.note,
                "source_file": path.name,
            }
        ]
    )[ABF_CELL_COLUMNS]
    return sweeps, spike_rows, cell_row
