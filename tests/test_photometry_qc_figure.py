"""The per-session QC figure: units and missing numbers written sensibly, left-out spans marked."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

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
    texts = []
    draw_text = ImageDraw.ImageDraw.text

    def recorded(self, xy, text, *args, **kwargs):
        texts.append(text)
        return draw_text(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", recorded)
    image = photometry_qc.session_qc_figure(
        recording, table, row, tmp_path / "qc.png", faults=faults
    )
    assert "Raw (a.u.)" in texts
    title = " ".join(photometry_qc.qc_title(row, faults))
    assert title.split(" ")[0] in texts[0] and texts[1] == "disconnected 800-900 s"
    assert "SNR n/a" in title and "nan" not in title
    assert Image.open(tmp_path / "qc.png").tobytes() == image.tobytes()
    pixels = np.asarray(image)
    width, height = image.size
    left, right = round(0.07 * width), round(0.98 * width)

    def column(seconds: float) -> np.ndarray:
        """The lower half of the ΔF/F panel's pixel column at ``seconds`` (0-20 min drawn)."""
        x = round(left + seconds / 1200 * (right - left))
        return pixels[round(0.72 * height) : round(0.85 * height), x]

    left_out, grey = photometry_qc.INK["left out"], photometry_qc.INK["fit window"]
    assert (column(850) == left_out).sum() > 10  # the disconnection is shaded
    assert (column(1000) == left_out).sum() == 0 and (column(1000) == grey).sum() == 0
    assert (column(500) == grey).sum() > 10 and (column(500) == left_out).sum() == 0  # the run


def test_envelope_keeps_each_columns_extremes_and_skips_gaps():
    t = np.arange(100.0)
    values = np.where((t >= 40) & (t < 60), np.nan, np.sin(t))
    values[7] = 5.0
    columns, low, high = photometry_qc.envelope(t, values, 0.0, 100.0, 10)
    assert list(columns) == [0, 1, 2, 3, 6, 7, 8, 9]  # columns 4 and 5 hold only NaN
    assert high[0] == 5.0 and low[1] == np.sin(np.arange(10, 20)).min()
    shuffled = np.random.default_rng(0).permutation(100)  # time out of order: same envelope
    again = photometry_qc.envelope(t[shuffled], values[shuffled], 0.0, 100.0, 10)
    for expected, found in zip((columns, low, high), again, strict=True):
        np.testing.assert_array_equal(expected, found)


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

    from exneuro.figures.photometry_heatmap import plot_heatmap
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
