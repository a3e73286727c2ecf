"""Signal faults planted in a simulated photometry session, with the truth of where they are.

The faults real rigs show (tested on a real Neurophotometrics session in the tests), each with a
known span, so that the fault checks (:mod:`exneuro.photometry.faults`) can be scored sample by
sample:

- electrical spikes: ``n_spikes`` excursions of 1 or 2 samples in the signal channel only, down by
  ``spike_size`` × the channel's level (pyPhotometry rigs show drops to −0.4 V);
- disconnections: in every channel the level falls to ``floor`` plus a little noise over each
  ``(start_s, end_s)`` (a fibre unplugged: only the camera's black level remains);
- brightening: every channel multiplied by a ramp from 1 to ``brightening`` over the session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def plant_faults(
    session: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    n_spikes: int = 0,
    spike_size: float = 0.5,
    disconnections_s: Sequence[tuple[float, float]] = (),
    floor: float = 0.0,
    floor_noise: float = 1e-4,
    brightening: float = 1.0,
) -> dict[str, Any]:
    """A copy of ``session`` (from :func:`exneuro.simulate.photometry.simulate_session`) with
    faults planted; ``truth`` gains ``spike`` and ``disconnected`` (boolean masks on
    ``time_s``)."""
    t = np.asarray(session["time_s"], dtype=float)
    n = t.size
    signal = np.array(session["signal"], dtype=float)
    control = np.array(session["control"], dtype=float)
    if brightening != 1.0:
        ramp = 1.0 + (brightening - 1.0) * (t - t[0]) / (t[-1] - t[0])
        signal = floor + (signal - floor) * ramp
        control = floor + (control - floor) * ramp
    disconnected = np.zeros(n, bool)
    for start, end in disconnections_s:
        disconnected |= (t >= start) & (t < end)
    k = int(np.count_nonzero(disconnected))
    signal[disconnected] = floor + np.abs(rng.normal(0.0, floor_noise, k))
    control[disconnected] = floor + np.abs(rng.normal(0.0, floor_noise, k))
    spike = np.zeros(n, bool)
    if n_spikes:
        # spikes at least 10 samples apart, away from the disconnections and the ends
        candidates = np.flatnonzero(~disconnected[10:-10]) + 10
        starts = np.sort(rng.choice(candidates[::10], size=n_spikes, replace=False))
        widths = rng.integers(1, 3, size=n_spikes)
        for offset in (0, 1):
            index = starts[widths > offset] + offset
            spike[index] = True
        signal[spike] -= spike_size * np.abs(signal[spike])
    truth = {**session["truth"], "spike": spike, "disconnected": disconnected}
    return {**session, "signal": signal, "control": control, "truth": truth}
