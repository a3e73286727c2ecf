"""Signal faults: found on a real Neurophotometrics session with the right cause and time span,
and on simulated sessions with planted spikes, disconnections and brightening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exneuro.photometry.faults import detect_faults, running_median5
from exneuro.photometry.preprocess import preprocess_session
from exneuro.photometry.qc import qc_flags
from exneuro.photometry.readers_npm import read_neurophotometrics
from exneuro.simulate.photometry import PhotometryEffects, simulate_session
from exneuro.simulate.photometry_faults import plant_faults

REAL = Path(__file__).resolve().parents[2] / "shared" / "reference" / "photometry_ibl_npm"
RAW = REAL / "_neurophotometrics_fpData.raw.pqt"
TTL = REAL / "_neurophotometrics_fpData.digitalInputs.pqt"

#: Preprocessing of the real 15 Hz session (no run: whole-session fit and z-score).
REAL_SETTINGS = {"control_fit": {"window": "session"}, "zscore": "session"}


@pytest.fixture(scope="module")
def real():
    if not RAW.is_file():
        pytest.skip(f"the real IBL Neurophotometrics session is not at {REAL} (read in place)")
    recordings = read_neurophotometrics(RAW, ttl={"trial": TTL})
    out = {}
    for name, rec in recordings.items():
        table, qc = preprocess_session(
            rec.time_s, rec.signal, rec.control, rec.fs_hz, REAL_SETTINGS, None, (), rec.metadata
        )
        faults = pd.DataFrame(qc.pop("faults"))
        out[name] = {"recording": rec, "table": table, "qc": qc_flags(qc).iloc[0], "faults": faults}
    return out


def test_real_parquet_is_read_with_leds_inferred_from_the_flags(real):
    assert sorted(real) == [f"Region{i}{c}" for i, c in enumerate("RGRRGRG")]
    for name, session in real.items():
        meta = session["recording"].metadata
        # only the 415 and 470 nm LEDs were lit: red-camera ROIs saw 470 nm, not 560 nm
        assert meta["led_nm"] == {"signal": 470, "control": 415}
        expected = "inferred from the LED states" if name.endswith("R") else "green camera: 470 nm"
        assert meta["signal_nm_source"] == expected
        assert meta["detector_floor"] == pytest.approx(1 / 255, abs=1e-6)
        assert meta["detector_full_scale"] == 1.0
        assert session["recording"].fs_hz == pytest.approx(15.0, abs=0.01)
        assert len(session["recording"].anomalies) == 0  # continuous frames: no false alarm
        events = session["recording"].events
        assert len(events) == 179
        assert events["time_s"].min() == pytest.approx(5388.657 - 5355.35856, abs=0.04)
    region1 = real["Region1G"]["recording"]
    assert region1.control.mean() == pytest.approx(0.0265, abs=0.0003)
    assert region1.signal.mean() == pytest.approx(0.0102, abs=0.0003)


def test_real_healthy_regions_pass_qc(real):
    for name in ("Region0R", "Region1G"):
        qc = real[name]["qc"]
        assert qc["qc_pass"], (name, qc["qc_reasons"])
        assert qc["disconnected_fraction"] == 0.0
        assert qc["spike_fraction"] < 0.001
        assert 0.6 < qc["level_ratio_signal"] < 0.9  # ordinary bleaching, 14-29 % lost
        assert np.isfinite(qc["snr_db"]) and qc["snr_method"] == "difference"
        assert not real[name]["table"]["excluded"].any()


def test_real_dark_region_is_called_dark_not_saturated(real):
    qc = real["Region2R"]["qc"]
    assert not qc["qc_pass"]
    assert qc["qc_reasons"] == "dark channel: at the detector floor all session"
    faults = real["Region2R"]["faults"]
    assert set(faults["fault"]) == {"dark"}
    assert set(faults["channel"]) == {"signal", "control"}
    assert qc["saturation_fraction"] == 0.0


@pytest.mark.parametrize("name", ["Region4G", "Region6G"])
def test_real_unplugged_fibres_are_disconnections_with_their_spans(real, name):
    session = real[name]
    qc = session["qc"]
    assert "disconnected" in qc["qc_reasons"] and "motion" not in qc["qc_reasons"]
    spans = session["faults"].query("fault == 'disconnected'")
    # checked by hand on the ROI levels (470 nm at 0.0040 vs 0.0039 floor; 415 nm at 0.006):
    # unplugged until the fibres went in at 250-290 s, and again from 1546 s to the end
    assert len(spans) == 2
    first, second = spans.iloc[0], spans.iloc[1]
    assert first["start_s"] == pytest.approx(10.2, abs=0.1)  # the end of the warm-up trim
    assert 245 < first["end_s"] < 295
    assert second["start_s"] == pytest.approx(1546, abs=4)
    assert second["end_s"] == pytest.approx(real[name]["recording"].time_s[-1], abs=0.1)
    assert 0.54 < qc["disconnected_fraction"] < 0.58
    table = session["table"]
    gone = table["excluded"].to_numpy()
    assert np.isnan(table.loc[gone, "dff"]).all() and np.isfinite(table.loc[~gone, "dff"]).all()


@pytest.mark.parametrize(("name", "ratio"), [("Region3R", 2.61), ("Region5R", 2.97)])
def test_real_brightening_regions_are_found(real, name, ratio):
    qc = real[name]["qc"]
    assert f"brightening (x{ratio:.2f})" in qc["qc_reasons"]
    assert qc["level_ratio_signal"] == pytest.approx(ratio, abs=0.01)
    # the fibres were plugged in at 250-290 s, as in the other regions
    spans = real[name]["faults"].query("fault == 'disconnected'")
    assert len(spans) == 1 and 245 < spans["end_s"].iloc[0] < 295


def test_running_median5_equals_the_sorted_median():
    x = np.random.default_rng(3).normal(size=2001)
    padded = np.pad(x, 2, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 5)
    np.testing.assert_array_equal(running_median5(x), np.median(windows, axis=1))


def _flagged(faults):
    return faults.disconnected | np.logical_or.reduce(
        [faults.spike[c] | faults.saturated[c] for c in faults.spike]
    )


@pytest.mark.parametrize("fs", [15.0, 100.0, 1000.0])
def test_planted_faults_are_found_and_clean_traces_are_not_flagged(fs):
    for seed in range(2):
        sim = simulate_session(
            PhotometryEffects(), np.random.default_rng(seed), fs, 1800, 300, 1200, 0.05
        )
        channels = {"signal": sim["signal"], "control": sim["control"]}
        clean = detect_faults(sim["time_s"], channels, fs, {"floor": 0.0})
        assert _flagged(clean).mean() <= 0.01
        assert 0.6 < clean.level_ratio["signal"] < 0.9
        planted = plant_faults(
            sim,
            np.random.default_rng(seed + 10),
            n_spikes=40,
            spike_size=1.0,
            disconnections_s=[(400.0, 520.0), (1500.0, 1530.0)],
            brightening=2.5,
        )
        truth = planted["truth"]
        found = detect_faults(
            planted["time_s"],
            {"signal": planted["signal"], "control": planted["control"]},
            fs,
            {"floor": 0.0},
        )
        assert found.spike["signal"][truth["spike"]].mean() >= 0.95
        assert found.disconnected[truth["disconnected"]].mean() >= 0.95
        assert (found.disconnected & ~truth["disconnected"]).mean() <= 0.01
        assert (found.spike["signal"] & ~truth["spike"]).mean() <= 0.01
        spans = found.spans.query("fault == 'disconnected'")
        # within 5 s: deep motion dips (to 20 % of the level) next to a span may join it
        np.testing.assert_allclose(spans["start_s"], [400.0, 1500.0], atol=5.0)
        np.testing.assert_allclose(spans["end_s"], [520.0, 1530.0], atol=5.0)
        assert found.level_ratio["signal"] > 1.5  # planted 2.5x less the bleaching


def test_spike_removal_is_reported_and_restores_the_trace():
    fs = 100.0
    sim = simulate_session(PhotometryEffects(), np.random.default_rng(5), fs, 900, 300, 600, 0.05)
    planted = plant_faults(sim, np.random.default_rng(6), n_spikes=30, spike_size=1.0)
    window = (0.0, 300.0)
    _, kept = preprocess_session(
        planted["time_s"], planted["signal"], planted["control"], fs, {}, window
    )
    table, removed = preprocess_session(
        planted["time_s"],
        planted["signal"],
        planted["control"],
        fs,
        {"faults": {"remove_spikes": True}},
        window,
    )
    clean, _ = preprocess_session(sim["time_s"], sim["signal"], sim["control"], fs, {}, window)
    after_warmup = planted["time_s"] >= 10.0  # the default warm-up trim
    n_planted = int(planted["truth"]["spike"][after_warmup].sum())
    n_found = removed["spike_fraction_signal"] * int(after_warmup.sum())
    assert n_planted <= round(n_found) <= n_planted + 3  # every planted one, ~0.003 % more
    assert kept["spike_fraction_signal"] == removed["spike_fraction_signal"]
    assert "spikes" in qc_flags(removed, {"max_spike_fraction": 0.0001})["qc_reasons"].iloc[0]
    error = np.abs(table["dff"] - clean["dff"]).max()
    assert error < 0.2 * np.abs(clean["dff"]).max()


def test_excluded_segment_leaves_no_dff_and_does_not_bias_the_fit():
    fs = 20.0
    sim = simulate_session(PhotometryEffects(), np.random.default_rng(8), fs, 1800, 600, 1200, 0.05)
    damaged = plant_faults(sim, np.random.default_rng(9), disconnections_s=[(1300.0, 1400.0)])
    args = (damaged["time_s"], damaged["signal"], damaged["control"], fs)
    options = {"control_fit": {"window": "session"}, "faults": {"mask_disconnected": False}}
    table, qc = preprocess_session(*args, options, (0.0, 600.0), [(1290.0, 1410.0)])
    inside = (table["time_s"] >= 1290.0) & (table["time_s"] <= 1410.0)
    assert table.loc[inside, "excluded"].all() and table.loc[inside, "dff"].isna().all()
    assert qc["excluded_fraction"] == pytest.approx(120.0 / 1790.0, abs=0.005)
    assert qc["fit_slope"] == pytest.approx(sim["truth"]["isosbestic_slope"], rel=0.05)
    faults = pd.DataFrame(qc["faults"])
    assert faults.query("fault == 'excluded'")[["start_s", "end_s"]].iloc[0].tolist() == [
        pytest.approx(1290.0, abs=0.05),
        pytest.approx(1410.0, abs=0.05),
    ]


def test_snr_is_defined_at_camera_rates():
    fs = 15.0
    snr = []
    for density in (0.001, 0.004):
        effects = PhotometryEffects(noise_density_per_sqrt_hz=density)
        sim = simulate_session(effects, np.random.default_rng(4), fs, 1800, 600, 1200, 0.05)
        _, qc = preprocess_session(
            sim["time_s"], sim["signal"], sim["control"], fs, {}, (0.0, 600.0)
        )
        assert qc["snr_method"] == "difference"
        snr.append(qc["snr_db"])
    assert np.isfinite(snr).all()
    assert snr[0] > snr[1] + 6  # 4x the noise amplitude: 12 dB less, minus estimation slack
