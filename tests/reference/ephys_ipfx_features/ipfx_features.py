"""Per-spike and per-epoch IPFX 2.1.2 features of the real .abf reference recordings (the shared
``ephys_abf`` folder, read in place), written to ``ipfx_spikes.tsv`` and ``ipfx_tau.tsv``.

Run from the repository root in a virtualenv holding IPFX (it is not a dependency of the
pipeline): ``python tests/reference/ephys_ipfx_features/ipfx_features.py
../shared/reference/ephys_abf``. Settings as the folder's README:

* spikes: ``SpikeFeatureExtractor(start, end, filter=None)`` on the F-I step epoch of the command
  waveform (IPFX's 10 kHz Bessel filter is refused at 10 and 20 kHz sampling), the other settings
  at IPFX's defaults; every spike's threshold, peak, ``fast_trough``, ``trough``, ``upstroke`` and
  ``downstroke`` (index from the sweep's start, time from the step start, value);
* time constant: ``subthresh_features.time_constant(t, v, i, start, end)`` (IPFX's
  ``fit_membrane_time_constant`` from 10 % of the peak deflection to the peak) on every
  hyperpolarizing epoch: the F-I step where it injects a negative current, and every pre-pulse
  (an epoch before the step that hyperpolarizes every sweep). Defaults (``frac`` 0.1,
  ``min_snr`` 20, fit RMSE at most 1 mV) except ``baseline_interval``: 100 ms before the epoch,
  or all of the time before it where that is shorter (a pre-pulse 23 ms into the sweep). The fit
  window (first and last sample) and the baseline are recorded beside tau.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyabf
from ipfx import subthresh_features
from ipfx.feature_extractor import SpikeFeatureExtractor

SPIKE_POINTS = ["threshold", "peak", "fast_trough", "trough", "upstroke", "downstroke"]


def recording(path: Path):
    """Time (s), voltage (mV, sweeps x samples) and command (pA) of one file."""
    abf = pyabf.ABF(str(path))
    voltage, command = [], []
    for sweep in range(abf.sweepCount):
        abf.setSweep(sweep)
        voltage.append(abf.sweepY.astype(np.float64))
        command.append(abf.sweepC.astype(np.float64))
    return abf.sweepX.astype(np.float64), np.array(voltage), np.array(command)


def epochs(command: np.ndarray):
    """The F-I step (the first epoch whose level differs between sweeps) and the pre-pulses
    before it (epochs that hyperpolarize every sweep), as (start, end-exclusive) samples."""
    changes = np.flatnonzero((np.diff(command, axis=1) != 0).any(axis=0)) + 1
    edges = np.r_[0, changes, command.shape[1]]
    holding = command[:, :1]
    prepulses = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        level = np.median(command[:, a:b] - holding, axis=1)
        if np.ptp(level) > 0:
            return (a, b, level), prepulses
        if (level < 0).all():
            prepulses.append((a, b, level))
    raise ValueError("no step")


def spike_rows(name, t, voltage, command, step):
    a, b, current = step
    rows = []
    for sweep, v in enumerate(voltage):
        extractor = SpikeFeatureExtractor(start=t[a], end=t[b], filter=None)
        found = extractor.process(t, v, command[sweep])
        for k, spike in enumerate(found.itertuples(index=False)):
            row = {"file": name, "sweep": sweep, "current_pa": current[sweep], "spike": k}
            for point in SPIKE_POINTS:
                index = getattr(spike, f"{point}_index")
                row[f"{point}_index"] = int(index) if np.isfinite(index) else -1
                row[f"{point}_time_ms"] = (getattr(spike, f"{point}_t") - t[a]) * 1000.0
                row[f"{point}_v"] = getattr(spike, f"{point}_v")
            row["upstroke_mv_per_ms"] = spike.upstroke
            row["downstroke_mv_per_ms"] = spike.downstroke
            row["width_ms"] = spike.width * 1000.0
            row["clipped"] = bool(spike.clipped)
            rows.append(row)
    return rows


def tau_rows(name, t, voltage, command, epoch, label):
    a, b, current = epoch
    interval = min(0.1, t[a] - t[0])
    baseline_start = int(np.argmin(np.abs(t - (t[a] - interval))))
    rows = []
    for sweep in np.flatnonzero(current < 0):
        v = voltage[sweep]
        tau_s = subthresh_features.time_constant(
            t, v, command[sweep], t[a], t[b], baseline_interval=interval
        )
        baseline = v[baseline_start:a].mean()
        peak = a + int(np.argmin(v[a:b]))
        fit_start = a + int(np.flatnonzero(v[a:] <= baseline + 0.1 * (v[peak] - baseline))[0])
        rows.append(
            {
                "file": name,
                "epoch": label,
                "sweep": int(sweep),
                "current_pa": current[sweep],
                "epoch_start_s": t[a],
                "epoch_end_s": t[b] if b < t.size else t[-1] + (t[1] - t[0]),
                "baseline_start_s": t[baseline_start],
                "baseline_mv": baseline,
                "fit_start_index": fit_start,
                "fit_end_index": peak,
                "tau_ms": tau_s * 1000.0,
            }
        )
    return rows


def main(folder: Path) -> None:
    spikes, taus = [], []
    for path in sorted(folder.glob("*.abf")):
        t, voltage, command = recording(path)
        step, prepulses = epochs(command)
        spikes += spike_rows(path.stem, t, voltage, command, step)
        taus += tau_rows(path.stem, t, voltage, command, step, "step")
        for pulse in prepulses:
            taus += tau_rows(path.stem, t, voltage, command, pulse, "pre-pulse")
    here = Path(__file__).parent
    pd.DataFrame(spikes).to_csv(
        here / "ipfx_spikes.tsv", sep="\t", index=False, float_format="%.8g"
    )
    pd.DataFrame(taus).to_csv(here / "ipfx_tau.tsv", sep="\t", index=False, float_format="%.8g")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
