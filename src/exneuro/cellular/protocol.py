"""The current-clamp protocol of one recording: where the F–I step, any hyperpolarizing pre-pulse
and the clean baseline lie in each sweep, read from the file's command waveform or declared.

From the command waveform (:func:`protocol_from_command`)
---------------------------------------------------------
The command (sweeps × samples, pA) is cut into **epochs** at every sample where it changes in any
sweep. The holding current is the command's first sample. The **F–I step** is the first epoch
whose amplitude (median command in the epoch minus holding) differs between sweeps — the epoch the
protocol increments; a "dual" protocol's later test step is not it. Epochs before the step that
hyperpolarize every sweep are **pre-pulses**. The **baseline** is the stretch at holding before
the first epoch that leaves holding: with a pre-pulse, the stretch before the pre-pulse, not the
500 ms after it where the membrane still recovers (averaging that in put resting potentials 7–9 mV
off on the reference pre-pulse recording).

Declared (:func:`declared_protocol`)
------------------------------------
Step window and currents from the config, for files without a command waveform (ABF1 files other
software wrote) or to override what the command says; a declared baseline window is checked
against the command, and a sweep whose command is not at holding there is reported (``note``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Epoch:
    """Samples ``start``..``end`` (end exclusive) and the injected current of every sweep (pA)."""

    start: int
    end: int
    current_pa: np.ndarray


@dataclass(frozen=True)
class Protocol:
    """Where to measure in each sweep of one recording (sample indices)."""

    step: Epoch
    baseline: tuple[int, int]
    prepulses: list[Epoch] = field(default_factory=list)
    note: str = ""


def _epochs(command: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Holding current per sweep and the (start, end) of every stretch of constant command."""
    changes = np.flatnonzero((np.diff(command, axis=1) != 0).any(axis=0)) + 1
    edges = np.r_[0, changes, command.shape[1]]
    return command[:, 0], list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def protocol_from_command(command_pa: np.ndarray, tolerance_pa: float = 1.0) -> Protocol | None:
    """The protocol found in a command waveform (module docstring); None without any step."""
    command = np.atleast_2d(np.asarray(command_pa, dtype=float))
    holding, spans = _epochs(command)
    levels = [np.median(command[:, a:b], axis=1) - holding for a, b in spans]
    away = [bool((np.abs(level) > tolerance_pa).any()) for level in levels]
    varying = [np.ptp(level) > tolerance_pa for level in levels]
    if not any(away):
        return None
    index = varying.index(True) if any(varying) else away.index(True)
    first_away = away.index(True)
    prepulses = [
        Epoch(a, b, level)
        for (a, b), level, off in zip(spans[:index], levels[:index], away[:index], strict=True)
        if off and (level < -tolerance_pa).all()
    ]
    return Protocol(
        step=Epoch(*spans[index], levels[index]),
        baseline=(0, spans[first_away][0]),
        prepulses=prepulses,
    )


def declared_protocol(
    fs_hz: float,
    n_samples: int,
    currents_pa: np.ndarray,
    step_s: tuple[float, float],
    baseline_s: tuple[float, float] | None = None,
    command_pa: np.ndarray | None = None,
    tolerance_pa: float = 1.0,
) -> Protocol:
    """The protocol the config declares; the baseline defaults to everything before the step."""
    start, end = (int(round(x * fs_hz)) for x in step_s)
    if not 0 < start < end <= n_samples:
        raise ValueError(
            f"the step ({step_s[0]:g}-{step_s[1]:g} s) does not fit in the "
            f"{n_samples / fs_hz:g} s sweeps"
        )
    first, last = (0, start) if baseline_s is None else (int(round(x * fs_hz)) for x in baseline_s)
    if not 0 <= first < last <= n_samples:
        raise ValueError(f"the baseline window {baseline_s} does not fit in the sweeps")
    return Protocol(
        step=Epoch(start, end, np.asarray(currents_pa, dtype=float)),
        baseline=(first, last),
        note=baseline_note(command_pa, (first, last), tolerance_pa),
    )


def baseline_note(
    command_pa: np.ndarray | None, baseline: tuple[int, int], tolerance_pa: float = 1.0
) -> str:
    """'' when the command stays at holding over the baseline window in every sweep, else a
    note naming the sweeps where it does not (their resting potential includes injected
    current)."""
    if command_pa is None:
        return ""
    command = np.atleast_2d(np.asarray(command_pa, dtype=float))
    first, last = baseline
    off = np.abs(command[:, first:last] - command[:, :1]).max(axis=1) > tolerance_pa
    if not off.any():
        return ""
    sweeps = ", ".join(str(k) for k in np.flatnonzero(off))
    return f"command not at holding in the baseline window in sweeps {sweeps}"
