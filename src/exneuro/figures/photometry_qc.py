"""One photometry session at a glance: raw channels, the control fit, ΔF/F, with the QC verdict.

Drawn by every session's job so that a failing session can be judged by eye before a decision
to exclude it is written in the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from exneuro.figures.style import apply_style, mm, save_figure
from exneuro.photometry.readers import Recording

#: Colours of the channels (Okabe-Ito): signal, control, fit.
SIGNAL, CONTROL, FIT = "#009E73", "#7F3C8D", "#000000"


#: Raw traces are drawn as a min/max envelope of at most this many points per channel, so that
#: an hour at 1 kHz draws as fast as a minute and looks the same.
MAX_POINTS = 4000


def envelope(time_s: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every block's minimum and maximum, in time order: what a dense line plot shows."""
    per_block = max(1, int(np.ceil(len(values) / (MAX_POINTS / 2))))
    if per_block == 1:
        return time_s, values
    n = len(values) // per_block * per_block
    blocks = values[:n].reshape(-1, per_block)
    times = time_s[:n].reshape(-1, per_block).mean(axis=1)
    return np.repeat(times, 2), np.column_stack([blocks.min(axis=1), blocks.max(axis=1)]).ravel()


#: Colour of the spans the analysis leaves out (disconnected, excluded in the config) and of the
#: spike marks (Okabe-Ito vermillion).
FAULT = "#D55E00"


def _number(value: float, template: str, missing: str = "n/a") -> str:
    """``template`` filled with ``value``, or ``missing`` when it is NaN or None."""
    return missing if value is None or not np.isfinite(value) else template.format(value)


def fault_summary(faults: pd.DataFrame) -> str:
    """One line naming the faults found: kinds with their spans (s) or counts."""
    parts = []
    for kind, rows in faults.groupby("fault", sort=False):
        if kind == "spike":
            parts.append(f"{len(rows)} spikes")
        elif kind == "dark":
            parts.append(f"dark ({', '.join(sorted(set(rows['channel'])))})")
        else:
            spans = ", ".join(
                f"{a:.0f}-{b:.0f} s" for a, b in zip(rows["start_s"], rows["end_s"], strict=True)
            )
            parts.append(f"{kind} {spans}")
    return "; ".join(parts) if parts else "no signal fault"


def session_qc_figure(
    recording: Recording,
    trace: pd.DataFrame,
    qc: Mapping,
    path: str | Path,
    dpi: int = 200,
    faults: pd.DataFrame | None = None,
) -> None:
    """Three stacked panels over the session (minutes; lines as min/max envelopes,
    :func:`envelope`): raw signal and control; processed
    signal with the fitted control (the fit window shaded); ΔF/F with the run shaded. The spans
    left out (``faults`` rows ``disconnected`` and ``excluded``) are shaded in every panel and
    spikes marked on the raw panel. The title carries the fit and QC numbers and the faults."""
    apply_style(6.0)
    faults = faults if faults is not None else pd.DataFrame(columns=["fault", "start_s", "end_s"])
    figure, axes = plt.subplots(3, 1, figsize=(mm(174), mm(110)), sharex=True)
    for values, colour, label in (
        (recording.signal, SIGNAL, "signal"),
        (recording.control, CONTROL, "control"),
    ):
        x, y = envelope(recording.time_s / 60.0, np.asarray(values, float))
        axes[0].plot(x, y, color=colour, lw=0.4, label=label)
    axes[0].set_ylabel(f"Raw ({recording.metadata.get('units') or 'a.u.'})")
    left_out = faults[faults["fault"].isin(["disconnected", "excluded"])]
    for axis in axes:
        for row in left_out.itertuples(index=False):
            axis.axvspan(row.start_s / 60.0, row.end_s / 60.0, color=FAULT, alpha=0.15, lw=0)
    spikes = faults.loc[faults["fault"] == "spike", "start_s"].to_numpy(float) / 60.0
    if spikes.size:
        axes[0].plot(
            spikes,
            np.full(spikes.size, np.nanmax(recording.signal)),
            "v",
            color=FAULT,
            ms=2,
            label="spike",
        )
    axes[0].legend(loc="upper right", ncols=2)
    t = trace["time_s"].to_numpy() / 60.0
    for column, colour, label in (("signal", SIGNAL, "signal"), ("fitted_control", FIT, "fit")):
        axes[1].plot(*envelope(t, trace[column].to_numpy()), color=colour, lw=0.4, label=label)
    in_fit = trace["in_baseline"].to_numpy(bool)
    if in_fit.any() and qc["fit_window"] == "baseline":
        axes[1].axvspan(t[in_fit][0], t[in_fit][-1], color="0.9", lw=0, zorder=0)
    axes[1].set_ylabel("Filtered")
    axes[1].legend(loc="upper right", ncols=2)
    axes[2].axvspan(qc["run_onset_s"] / 60.0, qc["run_offset_s"] / 60.0, color="0.9", lw=0)
    axes[2].plot(*envelope(t, trace["dff"].to_numpy() * 100), color="black", lw=0.4)
    axes[2].axhline(0, color="0.5", lw=0.4)
    axes[2].set_ylabel("ΔF/F (%)")
    axes[2].set_xlabel("Time (min)")
    figure.suptitle(
        f"{qc['session']} ({qc['group']}, day {qc['day']}): fit {qc['fit_method']} over "
        f"{qc['fit_window']}, slope {qc['fit_slope']:.3g}, "
        f"R² {_number(qc['fit_r2'], '{:.2f}')}, SNR {_number(qc['snr_db'], '{:.1f} dB')}, "
        f"artifact r {_number(qc['artifact_correlation'], '{:.2f}')}, "
        f"{qc['n_anomalies']} anomalies\n{fault_summary(faults)}",
        fontsize=6,
        color=FAULT if len(left_out) or (faults["fault"] == "dark").any() else "black",
    )
    figure.subplots_adjust(left=0.07, right=0.98, top=0.91, bottom=0.09, hspace=0.15)
    path = Path(path)
    save_figure(figure, path.with_suffix(""), [path.suffix[1:]], dpi)
