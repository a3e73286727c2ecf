"""Spikes and passive properties of raw current-clamp sweeps: detection robust to depolarization
block, thresholds searched back from the peak, block and the F–I fit, the .abf route's protocols
and errors, and a simulated recording with a pre-pulse, small fast spikes and block."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyabf.abfWriter import writeABF1

from exneuro.cellular import abf, fi_curve, spikes
from exneuro.cellular.protocol import declared_protocol, protocol_from_command
from exneuro.errors import InputDataError
from exneuro.simulate.ephys_recording import PlantedRecording, planted_recording

# ------------------------------------------------------------------------------------------------
# Spike detection
# ------------------------------------------------------------------------------------------------
FS = 20000.0


def synthetic_trace(onsets: list[int], n: int = 4000) -> np.ndarray:
    """-60 mV with triangular spikes rising 1 sample/0.05 ms from -45 to +30 mV at known onsets."""
    v = np.full(n, -60.0)
    up = np.linspace(-45.0, 30.0, 16)  # 15 samples rising 5 mV each = 100 mV/ms at 20 kHz
    down = np.linspace(30.0, -65.0, 30)[1:]
    for onset in onsets:
        v[onset : onset + up.size] = up
        v[onset + up.size : onset + up.size + down.size] = down
    return v


def test_spikes_are_found_at_their_peaks_exactly():
    onsets = [500, 1400, 2600]
    v = synthetic_trace(onsets)
    assert spikes.detect_spikes(v, FS, 0, v.size).tolist() == [o + 15 for o in onsets]
    assert spikes.detect_spikes(v, FS, 1000, v.size).tolist() == [1415, 2615]


def test_noise_on_a_depolarized_plateau_is_not_a_spike():
    v = synthetic_trace([500])
    rng = np.random.default_rng(1)
    v[600:3000] = -2.0 + rng.normal(0.0, 1.5, 2400)  # block until the step ends at 3000
    crossings = np.flatnonzero((v[:-1] < 0) & (v[1:] >= 0)).size
    assert crossings > 100
    assert spikes.detect_spikes(v, FS, 0, 3000).tolist() == [515]


def test_slow_depolarization_through_zero_is_not_a_spike_and_an_upstroke_rule_is_optional():
    v = synthetic_trace([500])
    v[544:2000] = -65.0
    v[2000:3000] = np.linspace(-65.0, 20.0, 1000)  # 1.7 mV/ms ramp through 0 mV, then a drop
    assert spikes.detect_spikes(v, FS, 0, v.size).tolist() == [515, 2999]
    rule = spikes.SpikeRule(min_upstroke_mv_per_ms=20.0)
    assert spikes.detect_spikes(v, FS, 0, v.size, rule).tolist() == [515]
    assert spikes.detect_spikes(v, FS, 0, 2990).tolist() == [515]  # a ramp inside the step


def test_threshold_is_the_start_of_the_fast_upstroke_searched_back_from_the_peak():
    v = np.full(2000, -60.0)
    v[400:480] = -60.0 + 0.25 * np.arange(80)  # 5 mV/ms ramp from -60 to -40.25 mV
    v[480:500] = -40.0 + 5.0 * np.arange(20)  # 100 mV/ms upstroke from -40 mV
    v[500:] = 55.0 - 0.5 * np.arange(1500)
    peaks = spikes.detect_spikes(v, FS, 0, v.size)
    # central dV/dt: 5 mV/ms at 479, (v[481] - v[479]) / 2 * 20 = 52.5 mV/ms at 480: the run
    # above 20 mV/ms starts at sample 480, whose voltage is the threshold (eFEL AP_begin)
    assert peaks.tolist() == [499]
    assert spikes.spike_thresholds(v, FS, peaks).tolist() == [480]
    table = spikes.spike_table(v, FS, peaks, 0, v.size)
    assert table["threshold_mv"].iloc[0] == -40.0
    assert table["amplitude_mv"].iloc[0] == pytest.approx(95.0)
    assert table["max_upstroke_mv_per_ms"].iloc[0] == pytest.approx(100.0)


def test_a_small_spike_whose_rate_at_zero_is_slow_still_has_a_threshold():
    # the spike rises at 60 mV/ms from -30 mV, then slows to 15 mV/ms near its +3 mV peak
    v = np.full(2000, -65.0)
    v[500:560] = np.linspace(-65.0, -30.0, 60)  # 11.7 mV/ms approach
    v[560:580] = -30.0 + 3.0 * np.arange(20)  # 60 mV/ms
    v[580:588] = np.linspace(-0.5, 3.0, 8)  # slows down near the peak
    v[588:700] = np.linspace(3.0, -60.0, 112)
    table = spikes.spike_table(v, FS, spikes.detect_spikes(v, FS, 0, v.size), 0, v.size)
    assert len(table) == 1 and table["threshold_mv"].iloc[0] == pytest.approx(-30.0)


def test_fast_ahp_ends_at_the_end_of_the_fast_repolarization_and_clipped_spikes_have_none():
    # a spike falling at 100 mV/ms to -65 mV, then a slow AHP at -0.4 mV/ms for 10 ms: IPFX's fast
    # trough is the first sample where dV/dt is back above 1 % of the steepest fall (-1 mV/ms),
    # the -65 mV sample (the minimum within 5 ms of the peak would read -67 mV)
    v = synthetic_trace([500], n=3000)
    fall_end = 500 + 15 + 28  # the last sample of the fast fall (-65 mV)
    v[fall_end : fall_end + 201] = -65.0 - 0.02 * np.arange(201)
    v[fall_end + 201 :] = -60.0
    peaks = spikes.detect_spikes(v, FS, 0, 2500)
    table = spikes.spike_table(v, FS, peaks, 0, 2500)
    assert table["fast_trough_index"].tolist() == [fall_end]
    assert v[fall_end] == -65.0
    assert table["fast_ahp_mv"].iloc[0] == pytest.approx(table["threshold_mv"].iloc[0] + 65.0)
    # a last spike the step cuts off (never back within 1 mV of its threshold): no fast trough
    v[fall_end - 20 :] = 0.0
    table = spikes.spike_table(v, FS, spikes.detect_spikes(v, FS, 0, 2500), 0, 2500)
    assert table["fast_trough_index"].tolist() == [-1] and np.isnan(table["fast_ahp_mv"].iloc[0])


def test_depolarization_block_is_flagged_and_adapting_cells_are_not():
    fs = 10000.0
    v = np.full(8000, -65.0)
    start, end = 1000, 6000
    rng = np.random.default_rng(2)
    v[start:end] = -45.0
    for onset in (1100, 1300):
        v[onset : onset + 10] = np.linspace(-45.0, 25.0, 10)
        v[onset + 10 : onset + 30] = np.linspace(25.0, -50.0, 20)
    blocked = v.copy()
    blocked[1500:end] = -5.0 + rng.normal(0.0, 1.0, end - 1500)  # plateau 35 mV above threshold
    for trace, expected in ((v, False), (blocked, True)):
        peaks = spikes.detect_spikes(trace, fs, start, end)
        table = spikes.spike_table(trace, fs, peaks, start, end)
        firing = spikes.sweep_firing(trace, fs, table, start, end)
        assert firing["n_spikes"] == 2
        assert firing["depolarization_block"] is expected


def test_fi_fit_and_maximum_rate_stop_at_block():
    steps = pd.DataFrame(
        {
            "mouse": "M1",
            "cell": "c1",
            "current_pa": [0, 100, 200, 300, 400, 500],
            "n_spikes": [0, 5, 10, 15, 2, 2],
            "firing_rate_hz": [0, 10, 20, 30, 4, 4],
            "depolarization_block": [False, False, False, False, True, True],
        }
    )
    features = fi_curve.fi_features(steps).iloc[0]
    assert features["block_from_pa"] == 400
    assert features["max_rate_hz"] == 30
    assert features["fi_slope_hz_per_pa"] == pytest.approx(0.1)
    assert features["n_suprathreshold_steps"] == 3
    blind = fi_curve.fi_features(steps.drop(columns="depolarization_block")).iloc[0]
    assert np.isnan(blind["block_from_pa"]) and blind["fi_slope_hz_per_pa"] < 0.05


# ------------------------------------------------------------------------------------------------
# .abf route
# ------------------------------------------------------------------------------------------------
PROTOCOL = {"step_start_s": 0.1, "step_end_s": 0.3, "first_step_pa": -10, "step_increment_pa": 10}


def test_abf_recorded_in_voltage_clamp_is_refused(tmp_path):
    path = tmp_path / "M1_c1.abf"
    writeABF1(np.zeros((2, 4000)), str(path), 10000, units="pA")
    with pytest.raises(InputDataError, match="channel 0 is in pA, not mV"):
        abf.read_abf_steps(path, PROTOCOL)


def test_abf_step_window_outside_the_sweep_is_refused(tmp_path):
    path = tmp_path / "M1_c1.abf"
    writeABF1(np.full((2, 4000), -60.0), str(path), 10000, units="mV")
    with pytest.raises(InputDataError, match=r"does not fit in the 0.4 s sweeps"):
        abf.read_abf_steps(path, {**PROTOCOL, "step_end_s": 0.6})


def test_abf_without_command_or_declared_step_is_refused_naming_the_setting(tmp_path):
    path = tmp_path / "M1_c1.abf"
    writeABF1(np.full((2, 4000), -60.0), str(path), 10000, units="mV")
    with pytest.raises(InputDataError, match=r"M1_c1.abf: protocol .* declare the step"):
        abf.read_abf_steps(path)


def test_abf_file_name_must_fit_the_pattern(tmp_path):
    path = tmp_path / "recording7.abf"
    writeABF1(np.full((2, 4000), -60.0), str(path), 10000, units="mV")
    with pytest.raises(InputDataError, match="does not fit the pattern '{mouse}_{cell}.abf'"):
        abf.read_abf_steps(path, PROTOCOL)
    steps, _ = abf.read_abf_steps(path, PROTOCOL, mouse="M9", cell="c9")
    assert set(steps["mouse"]) == {"M9"} and steps["current_pa"].tolist() == [-10, 0]


class _FakeAbf:
    """What pyabf.ABF exposes, for a file whose command waveform steps by 25 pA (not 10)."""

    protocol = "steps by 25"

    def __init__(self, path: str) -> None:
        self.channelCount, self.adcUnits, self.sampleRate = 1, ["mV"], 10000
        self.sweepCount, self.sweepPointCount = 3, 4000

    def setSweep(self, sweep: int, channel: int = 0) -> None:  # noqa: N802 (pyabf's name)
        self.sweepY = np.full(4000, -60.0)
        self.sweepC = np.zeros(4000)
        self.sweepC[1000:3000] = -25.0 + 25.0 * sweep


def test_abf_command_waveform_must_match_the_configured_protocol(tmp_path, monkeypatch):
    path = tmp_path / "M1_c1.abf"
    path.write_bytes(b"")
    monkeypatch.setattr(abf.pyabf, "ABF", _FakeAbf)
    with pytest.raises(InputDataError, match="sweep 0 steps by -25 pA .* but -10 pA"):
        abf.read_abf_steps(path, PROTOCOL)
    declared = {**PROTOCOL, "first_step_pa": -25, "step_increment_pa": 25}
    steps, cell = abf.read_abf_steps(path, declared)
    assert steps["current_pa"].tolist() == [-25, 0, 25]
    assert cell["current_source"].iloc[0].startswith("abf command waveform")
    found, cell = abf.read_abf_steps(path)  # no declaration: the command waveform's protocol
    assert found["current_pa"].tolist() == [-25, 0, 25]
    assert found["step_duration_ms"].iloc[0] == 200


def test_a_declared_baseline_with_current_injected_is_noted(tmp_path, monkeypatch):
    path = tmp_path / "M1_c1.abf"
    path.write_bytes(b"")
    monkeypatch.setattr(abf.pyabf, "ABF", _FakeAbf)
    _, cell = abf.read_abf_steps(path, {"baseline_start_s": 0.05, "baseline_end_s": 0.15})
    assert cell["passive_note"].iloc[0] == (
        "command not at holding in the baseline window in sweeps 0, 2"
    )


def test_a_sweep_that_breaks_the_analysis_is_named(tmp_path, monkeypatch):
    path = tmp_path / "M1_c1.abf"
    writeABF1(np.full((3, 4000), -60.0), str(path), 10000, units="mV")

    def broken(*args, **kwargs):
        raise IndexError("index 4000 is out of bounds")

    monkeypatch.setattr(abf.spikes, "spike_table", broken)
    with pytest.raises(InputDataError, match=r"M1_c1.abf, sweep 0: spike analysis failed"):
        abf.read_abf_steps(path, PROTOCOL)


# ------------------------------------------------------------------------------------------------
# Simulated recording with a pre-pulse, small fast spikes and depolarization block
# ------------------------------------------------------------------------------------------------
def test_planted_block_small_spikes_and_prepulse_are_measured_right():
    planted = PlantedRecording()
    voltage, command, truth = planted_recording(planted, np.random.default_rng(5))
    protocol = protocol_from_command(command)
    assert (protocol.step.start, protocol.step.end) == (12000, 22000)
    assert protocol.baseline == (0, 1000) and len(protocol.prepulses) == 1
    sweeps, spike_rows, cell = abf.analyse_sweeps(voltage, planted.fs_hz, protocol)
    assert sweeps["n_spikes"].tolist() == truth["n_spikes"] == [0, 0, 1, 3, 6, 2, 2]
    assert sweeps["depolarization_block"].tolist() == [False] * 5 + [True] * 2
    features = fi_curve.fi_features(sweeps.assign(mouse="M1", cell="c1")).iloc[0]
    assert features["block_from_pa"] == truth["block_from_pa"]
    assert features["max_rate_hz"] == 12.0 and features["n_suprathreshold_steps"] == 3
    # small spikes: they peak at +2 mV and pass 0 mV at under 20 mV/ms, yet rise at ~40 mV/ms
    # lower down; the planted threshold is the continuous 20 mV/ms point, eFEL's AP_begin the
    # first sample past it (at most 0.05 ms x 40 mV/ms = 2 mV later)
    assert spike_rows["peak_mv"].max() < 3.0
    assert spike_rows["threshold_mv"].notna().all()
    offset = spike_rows["threshold_mv"] - truth["spike_threshold_mv"]
    assert offset.between(-0.5, 2.0).all()
    # the pre-pulse: resting potential from the clean baseline before it, Rin and tau from it
    assert cell["resting_potential_mv"] == pytest.approx(truth["resting_potential_mv"], abs=0.02)
    assert cell["input_resistance_mohm"] == pytest.approx(truth["input_resistance_mohm"], rel=1e-3)
    assert cell["membrane_tau_ms"] == pytest.approx(truth["membrane_tau_ms"], rel=0.01)
    assert cell["n_hyperpolarizing_epochs"] == 7


def test_a_baseline_window_over_the_prepulse_is_flagged_and_biased():
    planted = PlantedRecording()
    voltage, command, _ = planted_recording(planted, np.random.default_rng(5))
    currents = np.asarray(planted.currents_pa)
    declared = declared_protocol(
        planted.fs_hz, voltage.shape[1], currents, planted.step_s, (0.0, 0.6), command
    )
    assert declared.note.startswith("command not at holding in the baseline window in sweeps 0,")
    _, _, cell = abf.analyse_sweeps(voltage, planted.fs_hz, declared)
    assert cell["resting_potential_mv"] < -75.0  # the pre-pulse averaged in


def test_library_defaults_are_the_config_schemas(config_schema):
    schema = config_schema["properties"]["ephys"]["properties"]["abf"]["properties"]
    rule = spikes.SpikeRule()
    for name in spikes.SpikeRule.__dataclass_fields__:
        assert schema[name]["default"] == getattr(rule, name), name
    for name, value in abf.DEFAULTS.items():
        if name != "name_pattern":  # from the 'files' pattern
            assert schema[name]["default"] == value, name


def test_a_slow_spike_without_a_fast_upstroke_has_no_threshold_and_no_crash():
    v = np.full(4000, -60.0)
    v[1000:2000] = np.linspace(-60.0, 10.0, 1000)  # 1.4 mV/ms, prominent, peaks above 0 mV
    v[2000:3000] = np.linspace(10.0, -60.0, 1000)
    peaks = spikes.detect_spikes(v, FS, 0, v.size)
    table = spikes.spike_table(v, FS, peaks, 0, v.size)
    assert len(table) == 1 and np.isnan(table["threshold_mv"].iloc[0])
    assert np.isnan(table["max_upstroke_mv_per_ms"].iloc[0])
    firing = spikes.sweep_firing(v, FS, table, 0, v.size)
    assert firing["n_spikes"] == 1 and np.isnan(firing["first_spike_latency_ms"])
    fraction = spikes.SpikeRule(threshold_method="fraction")
    assert spikes.spike_thresholds(v, FS, peaks, 0, fraction)[0] >= 0
