"""Per-sweep eFEL 5.7.34 features of the real .abf reference recordings (the shared
``ephys_abf`` folder, read in place), written to ``efel_features.tsv``.

Run from the repository root with eFEL installed (it is not a dependency of the pipeline):
``python tests/reference/ephys_efel_features/efel_features.py ../shared/reference/ephys_abf``.
Settings as the folder's README: T in ms at the recorded rate, interp_step = the sampling interval
(no resampling), Threshold 0 mV, DerivativeThreshold 20 mV/ms, the step epoch from the command
waveform as stim_start/stim_end, strict_stiminterval (spikes inside the step only).
"""

import sys
from pathlib import Path

import efel
import numpy as np
import pandas as pd
import pyabf

FEATURES = [
    "Spikecount_stimint",
    "AP_begin_voltage",
    "AP_amplitude",
    "AP_duration_half_width",
    "AP_peak_upstroke",
    "AP_peak_downstroke",
    "fast_AHP",
    "time_to_first_spike",
    "all_ISI_values",
    "sag_ratio1",
    "time_constant",
    "voltage_base",
    "steady_state_voltage_stimend",
    "ohmic_input_resistance_vb_ssse",
]
FIRST = ["AP_begin_voltage", "AP_amplitude", "AP_duration_half_width", "AP_peak_upstroke"]
FIRST += ["AP_peak_downstroke", "fast_AHP"]


def sweeps(path: Path):
    abf = pyabf.ABF(str(path))
    for sweep in range(abf.sweepCount):
        abf.setSweep(sweep)
        yield abf, sweep, abf.sweepX * 1000.0, abf.sweepY.astype(float), abf.sweepC.astype(float)


def step_epoch(command: np.ndarray, t_ms: np.ndarray, reference: np.ndarray):
    """The F-I step: the first epoch whose level differs between sweeps (as the pipeline)."""
    changes = np.flatnonzero((np.diff(reference, axis=1) != 0).any(axis=0)) + 1
    edges = np.r_[0, changes, reference.shape[1]]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if np.ptp(np.median(reference[:, a:b], axis=1)) > 0:
            return t_ms[a], t_ms[b - 1] + (t_ms[1] - t_ms[0]), np.median(command[a:b]) - command[0]
    raise ValueError("no step")


def main(folder: Path) -> None:
    efel.set_setting("Threshold", 0.0)
    efel.set_setting("DerivativeThreshold", 20.0)
    efel.set_setting("strict_stiminterval", True)
    rows = []
    for path in sorted(folder.glob("*.abf")):
        abf = pyabf.ABF(str(path))
        commands = []
        for sweep in range(abf.sweepCount):
            abf.setSweep(sweep)
            commands.append(abf.sweepC.copy())
        reference = np.array(commands)
        for _, sweep, t, v, c in sweeps(path):
            start, end, current = step_epoch(c, t, reference)
            efel.set_setting("interp_step", float(t[1] - t[0]))
            trace = {
                "T": t,
                "V": v,
                "stim_start": [start],
                "stim_end": [end],
                "stimulus_current": [current / 1000.0],
            }
            values = efel.get_feature_values([trace], FEATURES, raise_warnings=False)[0]
            row = {"file": path.stem, "sweep": sweep, "current_pa": current}
            for name in FEATURES:
                value = values.get(name)
                if value is None or len(value) == 0:
                    row[name] = np.nan
                elif name in FIRST:
                    row[name] = float(value[0])
                elif name == "all_ISI_values":
                    isi = np.asarray(value, dtype=float)
                    row["mean_isi_ms"] = isi.mean()
                    row["adaptation_index"] = (
                        np.mean(np.diff(isi) / (isi[1:] + isi[:-1])) if isi.size >= 2 else np.nan
                    )
                else:
                    row[name] = float(value[0])
            rows.append(row)
    table = pd.DataFrame(rows).drop(columns="all_ISI_values", errors="ignore")
    out = Path(__file__).with_name("efel_features.tsv")
    table.to_csv(out, sep="\t", index=False, float_format="%.6g")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
