"""The per-session QC figure: units and missing numbers written sensibly, left-out spans marked."""

from __future__ import annotations

import numpy as np
import pandas as pd

from exneuro.figures import photometry_qc
from exneuro.photometry.epochs import epoch_metrics
from exneuro.photometry.preprocess import preprocess_session
from exneuro.photometry.readers_core import Recording
from exneuro.simulate.photometry import PhotometryEffects, simulate_session
from exneuro.simulate.photometry_faults import plant_faults


def test_qc_figure_names_faults_and_never_prints_empty_units_or_nan(tmp_path, monkeypatch):
    fs = 15.0
    sim = simulate_session(PhotometryEffects(), np.random.default_rng(1), fs, 1200, 300, 700, 0.05)
    sim = plant_faults(sim, np.random.default_rng(2), disconnections_s=[(800.0, 900.0)])
    table, qc = preprocess_session(sim["time_s"], sim["signal"], sim["control"], fs, {}, (0, 300))
    faults = pd.DataFrame(qc.pop("faults"))
    row = {**qc, "snr_db": float("nan"), "session": "M1_d1", "group": "control", "day": 1}
    row.update(run_onset_s=300.0, run_offset_s=700.0, n_anomalies=0)
    recording = Recording(
        region="r",
        time_s=sim["time_s"],
        signal=sim["signal"],
        control=sim["control"],
        fs_hz=fs,
        events=pd.DataFrame(columns=["name", "time_s", "duration_s", "source"]),
        anomalies=pd.DataFrame(),
        metadata={"units": ""},
    )
    drawn = {}
    monkeypatch.setattr(
        photometry_qc, "save_figure", lambda figure, *args: drawn.setdefault("figure", figure)
    )
    photometry_qc.session_qc_figure(recording, table, row, tmp_path / "qc.png", faults=faults)
    figure = drawn["figure"]
    title = figure._suptitle.get_text()
    assert figure.axes[0].get_ylabel() == "Raw (a.u.)"
    assert "SNR n/a" in title and "nan" not in title
    assert "disconnected 800-900 s" in title
    shaded = [p for p in figure.axes[2].patches if p.get_facecolor()[:3] != (0.9, 0.9, 0.9)]
    assert len(shaded) == 1  # the disconnection, beside the grey run


def test_window_metrics_skip_left_out_samples():
    t = np.arange(0, 100, 0.5)
    trace = pd.DataFrame({"time_s": t, "dff": np.where(t < 50, 1.0, 3.0), "z": 0.0})
    trace.loc[(trace["time_s"] >= 60) & (trace["time_s"] < 80), "dff"] = np.nan
    windows = [{"name": "late", "ref": "session", "start_s": 50, "end_s": 99.5}]
    metrics = epoch_metrics(trace, 0.0, 10.0, windows, columns=("dff",)).set_index("metric")
    assert metrics.loc["mean_dff", "value"] == 3.0
    assert metrics.loc["auc_dff_s", "value"] == 3.0 * 49.5
    assert metrics.loc["peak_dff", "value"] == 3.0
    assert 0.55 < metrics.loc["mean_dff", "coverage"] < 0.62  # 20 of 49.5 s left out


def test_heatmap_marks_sessions_that_failed_qc():
    import matplotlib.pyplot as plt

    from exneuro.figures.photometry import plot_heatmap
    from exneuro.figures.photometry_metric import QC_FAILED

    times = np.arange(-300.0, 600.0, 10.0)
    traces = pd.DataFrame(
        [
            {"mouse": m, "group": g, "day": 8, "time_s": t, "dff": 0.01}
            for m, g in (("A", "control"), ("B", "control"), ("C", "silenced"))
            for t in times
        ]
    )
    figure, axis = plt.subplots()
    source = plot_heatmap(
        axis, traces, 8, ["control", "silenced"], {}, 600.0, {"B": "dark channel"}
    )
    marks = [line for line in axis.lines if line.get_color() == QC_FAILED]
    assert len(marks) == 1 and list(marks[0].get_ydata()) == [1.5]  # the second row: mouse B
    flagged = source.groupby("mouse")["qc_failed"].first()
    assert flagged.to_dict() == {"A": "", "B": "dark channel", "C": ""}
    plain = plot_heatmap(axis, traces, 8, ["control", "silenced"], {}, 600.0)
    assert "qc_failed" not in plain.columns
    plt.close(figure)


def test_window_metric_marks_kept_sessions_that_failed_qc_at_their_values():
    import matplotlib.pyplot as plt

    from exneuro.figures.photometry_metric import QC_FAILED, plot_window_metric

    metrics = pd.DataFrame(
        [
            {"mouse": m, "group": g, "day": d, "window": "post", "metric": "mean_z", "value": v}
            for m, g, base in (("A", "control", 1.0), ("B", "control", 2.0), ("C", "silenced", 0.5))
            for d, v in ((1, base), (8, base + 1.0))
        ]
    )
    failed = pd.DataFrame({"mouse": ["B"], "day": [8], "qc_reasons": ["brightening (x2.61)"]})
    figure, axis = plt.subplots()
    colours = {"control": "#000000", "silenced": "#D55E00"}
    source = plot_window_metric(
        axis, metrics, "post", "mean_z", ["control", "silenced"], colours, {}, failed_qc=failed
    )
    crosses = [c for c in axis.collections if c.get_label() == "failed QC"]
    assert len(crosses) == 1
    assert crosses[0].get_offsets().tolist() == [[1 - 0.06, 3.0]]  # day 8 of B, control's shift
    assert crosses[0].get_edgecolor()[0].tolist()[:3] == list(matplotlib_rgb(QC_FAILED))
    mice = source[source["kind"] == "mouse"].set_index(["mouse", "day"])["qc_failed"]
    assert mice.dropna().to_dict() == {("B", 8): "brightening (x2.61)"}
    plt.close(figure)


def matplotlib_rgb(colour: str) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(colour)
