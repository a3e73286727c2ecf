"""Exercise-epoch metrics, peri-event statistics, the planted training effect and the figure."""

from __future__ import annotations

import filecmp

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from exneuro.errors import ConfigError
from exneuro.paper.standard.activity import photometry_figure
from exneuro.photometry import peri_event as pe
from exneuro.photometry.epoch_stats import epoch_statistics
from exneuro.photometry.epochs import coverage_shortfalls, epoch_metrics, interval_integral
from exneuro.photometry.preprocess import preprocess_session
from exneuro.photometry.qc import qc_flags
from exneuro.simulate.photometry import PhotometryEffects, simulate_study_sessions

WINDOWS = [
    {"name": "baseline", "ref": "onset", "start_s": -600, "end_s": 0},
    {"name": "running", "ref": "onset", "start_s": 0, "end_s": "offset"},
    {"name": "post_0_15", "ref": "offset", "start_s": 0, "end_s": 900},
]


def _value(metrics: pd.DataFrame, window: str, metric: str) -> float:
    rows = metrics[(metrics["window"] == window) & (metrics["metric"] == metric)]
    assert len(rows) == 1
    return float(rows["value"].iloc[0])


# ----------------------------------------------------------------------------------------------
# epoch metrics
# ----------------------------------------------------------------------------------------------
def test_auc_is_in_units_times_seconds_whatever_the_sampling_rate():
    def trace(t):
        return 0.05 * np.sin(2 * np.pi * t / 300.0) + 2e-5 * t

    start, end = 100.37, 1234.5
    exact = 0.05 * 300 / (2 * np.pi) * (
        np.cos(2 * np.pi * start / 300) - np.cos(2 * np.pi * end / 300)
    ) + 1e-5 * (end**2 - start**2)
    aucs, sums = [], []
    for fs in (1000.0, 20.0):
        t = 0.013 + np.arange(int(1500 * fs)) / fs
        table = pd.DataFrame({"time_s": t, "dff": trace(t), "z": trace(t)})
        window = [{"name": "w", "ref": "session", "start_s": start, "end_s": end}]
        aucs.append(_value(epoch_metrics(table, 10.0, 20.0, window), "w", "auc_dff_s"))
        inside = (t >= start) & (t <= end)
        sums.append(trace(t[inside]).sum())  # GuPPy's historic 'samples' AUC
    assert aucs[0] == pytest.approx(exact, rel=1e-6)
    assert aucs[1] == pytest.approx(exact, rel=1e-4)
    assert sums[0] / sums[1] == pytest.approx(50, rel=0.01)  # what the time axis avoids


def test_epoch_windows_are_exact_on_a_hand_built_trace():
    onset, offset = 600.0, 1500.0
    t = np.arange(30_000) / 10.0
    dff = np.zeros_like(t)
    running = (t >= onset) & (t <= offset)
    dff[running] = 0.1 * (t[running] - onset) / (offset - onset)
    after = t - offset
    rise = (after > 0) & (after <= 300)
    fall = (after > 300) & (after <= 900)
    dff[rise] = 0.1 + 0.3 * after[rise] / 300
    dff[fall] = 0.4 - 0.3 * (after[fall] - 300) / 600
    dff[after > 900] = 0.1
    table = pd.DataFrame({"time_s": t, "dff": dff, "z": 2 * dff})
    windows = [
        *WINDOWS,
        {"name": "off_grid", "ref": "offset", "start_s": 0.05, "end_s": 300.05},
        {"name": "late", "ref": "offset", "start_s": 5000, "end_s": 6000},
    ]
    m = epoch_metrics(table, onset, offset, windows)
    assert _value(m, "baseline", "mean_dff") == 0
    assert _value(m, "baseline", "auc_dff_s") == 0
    assert _value(m, "running", "mean_dff") == pytest.approx(0.05, abs=1e-12)
    assert _value(m, "running", "auc_dff_s") == pytest.approx(45.0, abs=1e-9)
    assert _value(m, "running", "peak_dff") == pytest.approx(0.1)
    assert _value(m, "running", "peak_latency_dff_s") == pytest.approx(900.0)
    assert _value(m, "post_0_15", "auc_dff_s") == pytest.approx(90 + 135, abs=1e-9)
    assert _value(m, "post_0_15", "mean_dff") == pytest.approx(0.25, abs=1e-12)
    assert _value(m, "post_0_15", "peak_dff") == pytest.approx(0.4)
    assert _value(m, "post_0_15", "peak_latency_dff_s") == pytest.approx(300.0)
    assert _value(m, "post_0_15", "auc_z_s") == pytest.approx(2 * 225, abs=1e-9)
    # window edges between samples: ∫ 0.1 + 0.001 u over u in [0.05, 300], then the fall
    # 0.4 - 0.0005 (u - 300) over [300, 300.05]
    u0 = 0.05
    exact = 0.1 * (300 - u0) + 0.0005 * (300**2 - u0**2) + (0.4 * 0.05 - 0.0005 * 0.05**2 / 2)
    assert _value(m, "off_grid", "auc_dff_s") == pytest.approx(exact, abs=1e-9)
    late = m[m["window"] == "late"]
    assert (late["coverage"] == 0).all() and late["value"].isna().all()
    assert list(dict.fromkeys(m["window"])) == [w["name"] for w in windows]


def test_window_definitions_are_checked():
    table = pd.DataFrame({"time_s": np.arange(100.0), "dff": 0.0, "z": 0.0})
    # a ref that is not the run's or the session's is an event: none in the session, NaN values
    none = epoch_metrics(table, 10, 20, [{"name": "x", "ref": "cue", "start_s": 0, "end_s": 1}])
    assert none["value"].isna().all() and (none["coverage"] == 0).all()
    with pytest.raises(ConfigError, match="seconds from the event"):
        epoch_metrics(table, 10, 20, [{"name": "x", "ref": "cue", "start_s": 0, "end_s": "offset"}])
    with pytest.raises(ConfigError, match="ends"):
        epoch_metrics(table, 10, 20, [{"name": "x", "ref": "onset", "start_s": 5, "end_s": 1}])
    with pytest.raises(ConfigError, match="seconds"):
        epoch_metrics(table, 10, 20, [{"name": "x", "ref": "onset", "start_s": 0, "end_s": "end"}])


def test_windows_around_each_event_average_the_planted_responses():
    t = np.arange(0.0, 100.0, 0.1)
    cues = [20.0, 50.0, 97.5]  # the last cue's 0-5 s window leaves the recording half-way
    response = np.zeros_like(t)
    for k, cue in enumerate(cues):
        response[(t >= cue) & (t < cue + 5)] = k + 1.0  # 1, 2 and 3 after the three cues
    table = pd.DataFrame({"time_s": t, "dff": response, "z": response})
    windows = [
        {"name": "cue_0_5", "ref": "cue", "start_s": 0, "end_s": 4.9},
        {"name": "cue_5_10", "ref": "cue", "start_s": 5, "end_s": 10},
        {"name": "whole", "ref": "session", "start_s": 0, "end_s": 99.9},
    ]
    out = epoch_metrics(table, np.nan, np.nan, windows, events={"cue": cues})
    value = out.set_index(["window", "metric"])["value"]
    assert value[("cue_0_5", "mean_dff")] == pytest.approx((1 + 2 + 3) / 3)
    assert value[("cue_0_5", "peak_dff")] == pytest.approx(2.0)
    assert value[("cue_0_5", "auc_dff_s")] == pytest.approx((4.9 + 9.8 + 3 * 2.4) / 3)
    assert value[("cue_5_10", "mean_dff")] == pytest.approx(0.0, abs=1e-12)
    rows = out[out["metric"] == "mean_dff"].set_index("window")
    assert rows.loc["cue_0_5", ["ref", "start_s", "end_s"]].tolist() == ["cue", 0.0, 4.9]
    assert rows.loc["cue_0_5", "coverage"] == pytest.approx((1 + 1 + 2.4 / 4.9) / 3)
    assert list(rows.index) == ["cue_0_5", "cue_5_10", "whole"]


def test_interval_integral_is_exact_for_piecewise_linear_traces():
    t = np.array([0.0, 1.0, 3.0, 4.0])
    x = np.array([0.0, 2.0, 2.0, -2.0])
    got = interval_integral(t, x, np.array([0.5, 0.0, 3.5]), np.array([2.0, 4.0, 10.0]))
    assert np.allclose(got, [0.75 + 2.0, 1.0 + 4.0 + 0.0, -0.5])  # last one clipped at t = 4


# ----------------------------------------------------------------------------------------------
# peri-event matrices and waveform statistics
# ----------------------------------------------------------------------------------------------
def test_window_cut_by_truncation_or_gap_is_not_computed_and_named():
    # a trace of 1 at 10 Hz from -600 s; run 0-300 s; post_0_15 = 300-1200 s
    t = np.arange(-600.0, 1200.0, 0.1)
    trace = pd.DataFrame({"time_s": t, "dff": np.ones_like(t), "z": np.ones_like(t)})
    full = epoch_metrics(trace, 0.0, 300.0, WINDOWS, min_coverage=0.9)
    assert _value(full, "post_0_15", "mean_dff") == pytest.approx(1.0)
    # truncated: the recording stops 333 s into the 900-s window (37 %)
    cut = trace[trace["time_s"] <= 633.0]
    metrics = epoch_metrics(cut, 0.0, 300.0, WINDOWS, min_coverage=0.9)
    post = metrics[metrics["window"] == "post_0_15"]
    assert post["coverage"].iloc[0] == pytest.approx(333.0 / 900.0, abs=1e-3)
    assert post["value"].isna().all()
    assert metrics[metrics["window"] == "running"]["value"].notna().all()
    # without a minimum the old behaviour: the mean over the covered part
    assert _value(epoch_metrics(cut, 0.0, 300.0, WINDOWS), "post_0_15", "mean_dff") == 1.0
    # a gap of 300 s inside the window (samples lost, not NaN): covered 600 of 900 s; the
    # trace jumps across the gap, and the gap is not interpolated into the mean either
    gapped = trace[(trace["time_s"] < 500.0) | (trace["time_s"] > 800.0)].copy()
    gapped.loc[gapped["time_s"] > 800.0, "dff"] = 3.0
    loose = epoch_metrics(gapped, 0.0, 300.0, WINDOWS, min_coverage=0.5)
    assert loose[loose["window"] == "post_0_15"]["coverage"].iloc[0] == pytest.approx(
        600.0 / 900.0, abs=1e-3
    )
    # 200 s of 1 and 400 s of 3 (the interval across the gap excluded)
    assert _value(loose, "post_0_15", "mean_dff") == pytest.approx(
        (200 * 1.0 + 400 * 3.0) / 600.0, abs=1e-3
    )
    strict = epoch_metrics(gapped, 0.0, 300.0, WINDOWS, min_coverage=0.9)
    assert np.isnan(_value(strict, "post_0_15", "mean_dff"))
    lowest, text = coverage_shortfalls(strict, 0.9)
    assert lowest == pytest.approx(2 / 3, abs=1e-3)
    assert text == "post_0_15 covered 67% of 300-1200 s (< 90%)"
    flagged = qc_flags({"low_coverage_windows": text, "dark": False}, _only_coverage())
    assert not flagged["qc_pass"].iloc[0]
    assert flagged["qc_reasons"].iloc[0] == (
        "window(s) not computed, the recording covers too little of them: " + text
    )


def _only_coverage() -> dict:
    from exneuro.photometry.qc import DEFAULT_QC_THRESHOLDS

    return {key: None for key in DEFAULT_QC_THRESHOLDS if key != "flag_low_coverage"} | {
        "flag_dark": False
    }


def _trials(n: int, fs: float, planted: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth noise (3 Hz low-pass, SD 1) with an optional step of 1.5 from 2 to 5 s."""
    rng = np.random.default_rng(seed)
    lags = np.arange(-5 * fs, 10 * fs + 1) / fs
    sos = signal.butter(2, 3.0, fs=fs, output="sos")
    noise = signal.sosfiltfilt(sos, rng.standard_normal((n, lags.size + 200)), axis=1)[:, 100:-100]
    noise /= noise.std()
    if planted:
        noise = noise + 1.5 * ((lags >= 2) & (lags <= 5))[None, :]
    return noise - noise[:, lags < 0].mean(axis=1, keepdims=True), lags


@pytest.mark.parametrize("method", ["permutation", "bootstrap"])
def test_consecutive_threshold_finds_the_planted_interval_and_nothing_in_noise(method):
    fs = 20.0
    trials, lags = _trials(12, fs, True, seed=8)
    _, intervals = pe.waveform_test(trials, lags, fs, method, min_duration_s=0.5, seed=1)
    assert len(intervals) >= 1
    assert intervals["start_s"].min() >= 1.5 and intervals["end_s"].max() <= 5.5
    assert intervals["duration_s"].sum() >= 0.8 * 3.0  # most of the planted 2-5 s
    for seed in range(3):
        null, lags = _trials(12, fs, False, seed=100 + seed)
        table, intervals = pe.waveform_test(null, lags, fs, method, min_duration_s=0.5, seed=1)
        assert intervals.empty and not table["significant"].any()


def test_group_waveform_test_finds_the_group_difference_only():
    fs = 20.0
    a, lags = _trials(10, fs, True, seed=21)
    b, _ = _trials(10, fs, False, seed=22)
    c, _ = _trials(10, fs, False, seed=23)
    _, found = pe.group_waveform_test(a, b, lags, fs, seed=2)
    assert len(found) == 1 and found["start_s"].iloc[0] == pytest.approx(2.0, abs=0.6)
    _, none = pe.group_waveform_test(c, b, lags, fs, seed=2)
    assert none.empty


def test_permutation_tests_enumerate_small_designs_exactly():
    trials = np.abs(np.random.default_rng(0).standard_normal((5, 4))) + 1
    assert np.allclose(pe.permutation_test_baseline(trials), 2 / 32)
    a, b = trials[:3] + 10, trials[3:]
    assert np.allclose(pe.permutation_test_groups(a, b), 1 / 10)  # C(5, 3) labellings


def test_bootstrap_ci_uses_jrdb_ranks_and_is_seeded():
    x = np.random.default_rng(3).standard_normal((15, 30))
    first = pe.bootstrap_ci(x, seed=7)
    again = pe.bootstrap_ci(x, seed=7)
    pd.testing.assert_frame_equal(first, again)
    assert (first["ci_low"] < first["mean"]).all() and (first["mean"] < first["ci_high"]).all()
    assert pe._percentile_ranks(1000, 0.95) == (25, 974)  # 26th and 975th of 1000
    plain = pe.bootstrap_ci(x, seed=7, expand=False)
    widened = (first["ci_high"] - first["ci_low"]) / (plain["ci_high"] - plain["ci_low"])
    assert np.allclose(widened, np.sqrt(15 / 14))


def test_consecutive_mask_keeps_only_long_runs():
    sig = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1], dtype=bool)
    assert pe.consecutive_mask(sig, 3).tolist() == [0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1]
    assert not pe.consecutive_mask(sig, 5).any()


# ----------------------------------------------------------------------------------------------
# a small simulated study: planted training effect, statistics and figure
# ----------------------------------------------------------------------------------------------
DAYS = [1, 8, 15]


@pytest.fixture(scope="module")
def study() -> dict:
    """2 groups x 5 mice x 3 days; 5 min rest, 10 min run, 20 min recovery at 10 Hz."""
    effects = PhotometryEffects(fs_hz=10.0, baseline_s=300, run_s=600, recovery_s=1200)
    mice = pd.DataFrame(
        {"mouse_id": [f"M{i:02d}" for i in range(10)], "group": ["control"] * 5 + ["silenced"] * 5}
    )
    windows = [dict(w) for w in WINDOWS]
    windows[0]["start_s"] = -300
    metrics, traces, truths, onset_trials = [], [], [], []
    for mouse, day, s, truth in simulate_study_sessions(
        effects, mice, DAYS, np.random.default_rng(20260212)
    ):
        onset, offset = s["run_onset_s"], s["run_offset_s"]
        table, _ = preprocess_session(
            s["time_s"],
            s["signal"],
            s["control"],
            s["fs_hz"],
            {"decimate_hz": 2.0},
            (onset - 300, onset),
        )
        labels = {"mouse": mouse, "group": truth["group"], "day": day}
        metrics.append(epoch_metrics(table, onset, offset, windows).assign(**labels))
        trace = pe.binned_trace(table["time_s"], table["dff"], onset, 10.0, (-300, 1800))
        traces.append(trace.rename(columns={"value": "dff"}).assign(**labels))
        # the onset trial at 2 Hz, minus its mean before onset
        peri = pe.binned_trace(table["time_s"], table["dff"], onset, 0.5, (-120, 300))
        peri["value"] -= peri.loc[peri["time_s"] < 0, "value"].mean()
        onset_trials.append((truth["group"], day, peri))
        truths.append(truth)
    return {
        "metrics": pd.concat(metrics, ignore_index=True),
        "traces": pd.concat(traces, ignore_index=True),
        "truth": pd.DataFrame(truths),
        "onset": onset_trials,
        "effects": effects,
    }


def test_planted_training_effect_is_recovered_by_epoch_statistics(study):
    table = epoch_statistics(study["metrics"], "control", ["mean_dff"], windows=["post_0_15"])
    assert set(table["analysis"]) == {"photometry"} and set(table["outcome"]) == {"mean_dff"}
    lmm = table[table["test"] == "lmm"].set_index("term")
    assert lmm.loc["group:day", "p"] < 1e-3
    assert {"mixed_anova"} <= set(table["test"])  # complete data: the RM ANOVA too
    anova = table[table["test"] == "mixed_anova"].set_index("term")
    assert anova.loc["group:day", "p_adj"] < 1e-3

    def contrast(term: str, subset: str) -> pd.Series:
        rows = table[(table["term"] == term) & (table["subset"] == subset)]
        assert len(rows) == 1, (term, subset)
        return rows.iloc[0]

    last = contrast("silenced - control", "window=post_0_15; day=15")
    assert last["estimate"] < 0 and last["p_adj"] < 0.01
    growth = {
        group: contrast("15 - 1", f"window=post_0_15; group={group}")["estimate"]
        for group in ("control", "silenced")
    }
    planted = {
        group: rate * (DAYS[-1] - DAYS[0])
        for group, rate in study["effects"].post_growth_per_day.items()
    }
    assert growth["control"] == pytest.approx(planted["control"], rel=0.3)
    assert growth["silenced"] == pytest.approx(planted["silenced"], abs=0.01)
    assert growth["control"] > growth["silenced"] + 0.02
    running = epoch_statistics(study["metrics"], "control", ["mean_dff"], windows=["running"])
    lmm_running = running[running["test"] == "lmm"].set_index("term")
    assert lmm_running.loc["group:day", "p"] > 0.01  # nothing planted during the run


def _figure_inputs(study: dict) -> dict:
    summaries, intervals = [], []
    for group in ("control", "silenced"):
        rows = [p["value"] for g, day, p in study["onset"] if g == group and day == DAYS[-1]]
        lags = study["onset"][0][2]["time_s"].to_numpy()
        table, found = pe.waveform_test(
            np.vstack(rows), lags, 2.0, "bootstrap", seed=5, min_duration_s=10
        )
        summaries.append(table.assign(group=group))
        intervals.append(found.assign(group=group))
    statistics = epoch_statistics(study["metrics"], "control", ["mean_dff"], ["post_0_15"])
    traces = study["traces"]
    sessions = traces[["mouse", "group", "day"]].drop_duplicates()
    onset = {"event": "onset", "day": DAYS[-1]}
    # the tables as the workflow writes them: every session included, the run 10 min long
    return {
        "aligned": traces.rename(columns={"dff": "value"}).assign(
            alignment="run_onset", column="dff", included=True
        ),
        "metrics": study["metrics"].assign(included=True),
        "qc": sessions.assign(
            included=True, qc_pass=True, qc_reasons="", run_onset_s=0.0, run_offset_s=600.0
        ),
        "waveforms": pd.concat(summaries, ignore_index=True).assign(**onset),
        "intervals": pd.concat(intervals, ignore_index=True).assign(**onset),
        "statistics": statistics,
    }


def test_photometry_figure_is_byte_identical_across_runs(study, tmp_path):
    inputs = _figure_inputs(study)
    assert not inputs["intervals"].empty  # the running response is significant after onset
    groups = [
        {"id": "control", "label": "Control", "color": "#4D4D4D"},
        {"id": "silenced", "label": "SF1 silenced", "color": "#D55E00"},
    ]
    style = {"font_size_pt": 7, "png_dpi": 150, "full_width_mm": 174}
    outputs = []
    for run in ("a", "b"):
        folder = tmp_path / run
        paths = [str(folder / f"photometry.{ext}") for ext in ("pdf", "svg", "png")]
        source = photometry_figure(
            **inputs,
            cohort={"id": "c", "groups": ["control", "silenced"], "control_group": "control"},
            settings={
                "run_event": "run",
                "peri_event": {"events": ["onset"], "method": "bootstrap", "min_duration_s": 10},
                "figure": {"window": "post_0_15", "metric": "mean_dff", "days": None},
                "statistics": {},
            },
            groups=groups,
            style=style,
            figure_paths=paths,
            source_data_dir=str(folder / "source_data"),
        )
        outputs.append(folder)
    assert sorted(source) == ["A", "B", "C", "D", "E"]
    names = [
        *(f"photometry.{ext}" for ext in ("pdf", "svg", "png")),
        *(f"source_data/panel_{p}.tsv" for p in "ABCDE"),
    ]
    for name in names:
        assert filecmp.cmp(outputs[0] / name, outputs[1] / name, shallow=False), name
    panel_d = source["D"]
    stars = panel_d.dropna(subset=["stars"])
    assert set(stars["day"]) == set(DAYS)  # stars read from the statistics table
