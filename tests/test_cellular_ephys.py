"""Slice electrophysiology: step tables and F–I features, spike detection, the .abf route, sEPSC
summaries and equal-weight pooling, the nested statistics, the figure and the simulator."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyabf.abfWriter import writeABF1

from exneuro.cellular import abf, ephys, ephys_stats, spikes
from exneuro.cellular.protocol import declared_protocol, protocol_from_command
from exneuro.errors import InputDataError
from exneuro.figures.ephys import ephys_figure
from exneuro.simulate.ephys import (
    EVENT_HEADERS,
    FILES,
    PROPERTY_HEADERS,
    RECORDING_HEADERS,
    STEP_HEADERS,
    EphysEffects,
    ephys_mice,
    write_ephys,
)
from exneuro.simulate.ephys_recording import PlantedRecording, planted_recording

STEP_COLUMNS = {
    "mouse": "Mouse",
    "cell": "Cell",
    "current_pa": "I (pA)",
    "n_spikes": "APs",
    "step_duration_ms": "Dur (ms)",
}
GROUPS = [
    {"id": "sedentary", "label": "Sedentary", "color": "#4D4D4D"},
    {"id": "trained", "label": "Trained", "color": "#E69F00"},
]
STYLE = {"font_size_pt": 7, "full_width_mm": 174, "png_dpi": 120}


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def step_csv(tmp_path: Path, rows: str) -> Path:
    return write_csv(tmp_path / "steps.csv", "Mouse,Cell,I (pA),APs,Dur (ms)\n" + rows.strip())


# ------------------------------------------------------------------------------------------------
# Step table and F-I features
# ------------------------------------------------------------------------------------------------
def test_fi_features_give_exact_rheobase_rates_and_slope(tmp_path):
    path = step_csv(
        tmp_path,
        """
M1,c1,-20,0,500
M1,c1,0,0,500
M1,c1,20,0,500
M1,c1,40,2,500
M1,c1,60,6,500
M1,c1,80,10,500
M1,c2,20,1,500
M1,c2,40,3,500
M2,c3,20,0,250
M2,c3,40,0,250
""",
    )
    steps = ephys.read_step_table(path, STEP_COLUMNS)
    assert steps.loc[steps["cell"] == "c1", "firing_rate_hz"].tolist() == [0, 0, 0, 4, 12, 20]
    features = ephys.fi_features(steps).set_index("cell")
    assert features.loc["c1", "rheobase_pa"] == 40
    assert features.loc["c1", "max_rate_hz"] == 20
    assert features.loc["c1", "fi_slope_hz_per_pa"] == pytest.approx(0.4)  # (20 - 4) / 40
    assert features.loc["c1", "n_steps"] == 6
    assert features.loc["c2", "rheobase_pa"] == 20
    assert features.loc["c2", "fi_slope_hz_per_pa"] == pytest.approx(0.2)  # (6 - 2) / 20
    assert np.isnan(features.loc["c3", "rheobase_pa"])
    assert np.isnan(features.loc["c3", "fi_slope_hz_per_pa"])
    assert "tested up to 40 pA" in features.loc["c3", "rheobase_note"]
    first_two = ephys.fi_features(steps, fit_steps=2).set_index("cell")
    assert first_two.loc["c1", "fi_slope_hz_per_pa"] == pytest.approx(0.4)  # (12 - 4) / 20


def test_rheobase_ignores_spikes_at_hyperpolarizing_steps(tmp_path):
    # a rebound spike during a negative step is not a rheobase
    path = step_csv(tmp_path, "M1,c1,-40,1,500\nM1,c1,10,0,500\nM1,c1,20,1,500")
    features = ephys.fi_features(ephys.read_step_table(path, STEP_COLUMNS))
    assert features["rheobase_pa"].iloc[0] == 20


def test_step_duration_can_come_from_the_protocol(tmp_path):
    path = write_csv(tmp_path / "s.csv", "Mouse,Cell,I (pA),APs\nM1,c1,40,5")
    columns = {k: v for k, v in STEP_COLUMNS.items() if k != "step_duration_ms"}
    steps = ephys.read_step_table(path, columns, step_duration_ms=1000)
    assert steps["firing_rate_hz"].iloc[0] == 5
    with pytest.raises(InputDataError, match="no column configured for step_duration_ms"):
        ephys.read_step_table(path, columns)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("M1,c1,20,1,500\nM2,c1,40,2,500", r"cell c1 is listed under two mice: M1 \(line 2\), M2"),
        ("M1,c1,20,1,500\nM1,c1,20,2,500", r"listed twice .*current_pa 20; lines 2, 3"),
        ("M1,c1,20,1,500\nM1,c1,40,-2,500", r"line 3, column 'APs': negative spike count"),
        ("M1,c1,20,1,500\nM1,c1,40,2.5,500", r"line 3, column 'APs': spike count 2.5 is not"),
        ("M1,c1,20,1,500\nM1,c1,4O,2,500", r"line 3, column 'I \(pA\)': '4O' is not a number"),
        ("M1,c1,20,1,0", r"line 2, column 'Dur \(ms\)': step duration 0 ms is not positive"),
        (",c1,20,1,500", r"line 2, column 'Mouse': empty mouse id"),
    ],
)
def test_bad_step_tables_stop_with_one_clear_line(tmp_path, rows, message):
    path = step_csv(tmp_path, rows)
    with pytest.raises(InputDataError, match=message) as caught:
        ephys.read_step_table(path, STEP_COLUMNS)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_cells_numbered_within_mice_are_allowed_when_declared(tmp_path):
    path = step_csv(tmp_path, "M1,1,20,1,500\nM2,1,20,0,500")
    steps = ephys.read_step_table(path, STEP_COLUMNS, cell_ids="mouse")
    assert len(ephys.fi_features(steps)) == 2


def test_a_missing_configured_column_is_named(tmp_path):
    path = step_csv(tmp_path, "M1,c1,20,1,500")
    with pytest.raises(InputDataError, match="no column 'Spikes' \\(configured for 'n_spikes'\\)"):
        ephys.read_step_table(path, {**STEP_COLUMNS, "n_spikes": "Spikes"})


def test_cell_properties_reject_a_dropped_minus_sign(tmp_path):
    path = write_csv(tmp_path / "p.csv", "Mouse,Cell,Vrest\nM1,c1,-60.1\nM1,c2,58.2")
    with pytest.raises(InputDataError, match=r"line 3, column 'Vrest': 58.2 is not a plausible"):
        ephys.read_cell_properties(
            path, {"mouse": "Mouse", "cell": "Cell", "resting_potential_mv": "Vrest"}
        )


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
    features = ephys.fi_features(steps).iloc[0]
    assert features["block_from_pa"] == 400
    assert features["max_rate_hz"] == 30
    assert features["fi_slope_hz_per_pa"] == pytest.approx(0.1)
    assert features["n_suprathreshold_steps"] == 3
    blind = ephys.fi_features(steps.drop(columns="depolarization_block")).iloc[0]
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
# sEPSC events and pooling
# ------------------------------------------------------------------------------------------------
EVENT_COLUMNS = {"mouse": "Mouse", "cell": "Cell", "time_s": "t", "amplitude_pa": "Amp"}


def test_sepsc_summary_counts_silent_cells_and_keeps_intervals_within_cells(tmp_path):
    events = ephys.read_sepsc_events(
        write_csv(
            tmp_path / "e.csv",
            "Mouse,Cell,t,Amp\nM1,c1,1.0,-10\nM1,c1,3.0,-20\nM1,c1,4.0,-12\nM1,c2,0.5,-8",
        ),
        EVENT_COLUMNS,
    )
    durations = ephys.read_recording_durations(
        write_csv(tmp_path / "d.csv", "Mouse,Cell,Dur\nM1,c1,10\nM1,c2,5\nM2,c3,20"),
        {"mouse": "Mouse", "cell": "Cell", "recording_duration_s": "Dur"},
    )
    per_cell = ephys.sepsc_per_cell(events, durations).set_index("cell")
    assert per_cell["n_events"].tolist() == [3, 1, 0]
    assert per_cell["sepsc_frequency_hz"].tolist() == [0.3, 0.2, 0.0]
    assert per_cell.loc["c1", "sepsc_amplitude_median_pa"] == 12  # magnitudes of inward currents
    assert per_cell.loc["c1", "sepsc_iei_median_s"] == 1.5  # intervals 2.0 and 1.0
    assert np.isnan(per_cell.loc["c3", "sepsc_amplitude_median_pa"])
    assert ephys.inter_event_intervals(events)["iei_s"].tolist() == [2.0, 1.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("M1,c1,1.0,-10\nM1,c1,2.0,11", r"line 3, column 'Amp': amplitudes have both signs"),
        ("M1,c1,1.0,-10\nM1,c1,1.0,-11", r"the same event is listed twice"),
        ("M1,c1,-1.0,-10", r"line 2, column 't': negative event time"),
    ],
)
def test_bad_event_tables_stop_with_one_clear_line(tmp_path, text, message):
    path = write_csv(tmp_path / "e.csv", "Mouse,Cell,t,Amp\n" + text)
    with pytest.raises(InputDataError, match=message):
        ephys.read_sepsc_events(path, EVENT_COLUMNS)


def test_events_without_a_recording_duration_or_after_its_end_are_errors(tmp_path):
    events = ephys.read_sepsc_events(
        write_csv(tmp_path / "e.csv", "Mouse,Cell,t,Amp\nM1,c1,1.0,10\nM1,c2,8.0,9"),
        EVENT_COLUMNS,
    )
    durations = pd.DataFrame({"mouse": ["M1"], "cell": ["c1"], "recording_duration_s": [5.0]})
    with pytest.raises(InputDataError, match="cell c2 .* has sEPSC events but no recording"):
        ephys.sepsc_per_cell(events, durations)
    durations = pd.DataFrame(
        {"mouse": ["M1", "M1"], "cell": ["c1", "c2"], "recording_duration_s": [5.0, 5.0]}
    )
    with pytest.raises(InputDataError, match="cell c2 has an event at 8 s, after the end"):
        ephys.sepsc_per_cell(events, durations)


def test_equal_weight_pool_gives_every_cell_the_same_number_of_values():
    rng = np.random.default_rng(3)
    sizes = {"c1": 200, "c2": 25, "c3": 60, "c4": 4}
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "mouse": "M1" if cell in ("c1", "c2") else "M2",
                    "cell": cell,
                    "group": "sedentary" if cell in ("c1", "c2") else "trained",
                    "amplitude_pa": rng.lognormal(2.5, 0.4, n),
                }
            )
            for cell, n in sizes.items()
        ]
    )
    pooled = ephys.pooled_distribution(events, "amplitude_pa", min_values=10)
    assert pooled.groupby("cell").size().to_dict() == {"c1": 25, "c2": 25, "c3": 25}
    assert pooled.attrs["dropped_cells"] == ["M2/c4"]
    c2 = np.sort(events.loc[events["cell"] == "c2", "amplitude_pa"].to_numpy())
    assert np.allclose(np.sort(pooled.loc[pooled["cell"] == "c2", "amplitude_pa"]), c2)
    fixed = ephys.pooled_distribution(events, "amplitude_pa", per_cell=7)
    assert set(fixed.groupby("cell").size()) == {7}
    assert fixed.groupby("group")["ecdf"].max().tolist() == [1.0, 1.0]


# ------------------------------------------------------------------------------------------------
# Simulated study: .abf vs table route, planted effects, figure
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def study(tmp_path_factory):
    effects = EphysEffects()
    mice = ephys_mice(effects)
    folder = tmp_path_factory.mktemp("ephys")
    truth = write_ephys(effects, mice, folder, np.random.default_rng(20260212))
    steps = ephys.attach_groups(
        ephys.read_step_table(folder / FILES["steps"], STEP_HEADERS), mice, "steps"
    )
    properties = ephys.read_cell_properties(folder / FILES["properties"], PROPERTY_HEADERS)
    events = ephys.attach_groups(
        ephys.read_sepsc_events(folder / FILES["events"], EVENT_HEADERS), mice, "events"
    )
    durations = ephys.read_recording_durations(folder / FILES["recordings"], RECORDING_HEADERS)
    cells = ephys.attach_groups(
        ephys.cell_table(
            ephys.fi_features(steps), properties, ephys.sepsc_per_cell(events, durations)
        ),
        mice,
        "cells",
    )
    statistics = ephys_stats.ephys_statistics(
        steps, cells, events, "sedentary", context={"cohort": "ephys"}
    )
    return {
        "folder": folder,
        "truth": truth,
        "steps": steps,
        "cells": cells,
        "events": events,
        "statistics": statistics,
    }


def test_simulated_files_are_small_and_the_same_for_a_seed(study, tmp_path):
    folder = study["folder"]
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert sum(p.stat().st_size for p in files) < 3_000_000
    assert len(list((folder / "abf").glob("*.abf"))) == 3
    again = tmp_path / "again"
    write_ephys(EphysEffects(), ephys_mice(EphysEffects()), again, np.random.default_rng(20260212))
    for path in files:
        twin = again / path.relative_to(folder)
        assert (
            hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(twin.read_bytes()).digest()
        )


def test_abf_route_agrees_with_the_exported_table(study):
    protocol = study["truth"]["protocol"]
    table_features = ephys.fi_features(study["steps"]).set_index("cell")
    for name, planted in study["truth"]["abf_cells"].items():
        steps, cell = abf.read_abf_steps(study["folder"] / "abf" / name, protocol)
        table = study["steps"][study["steps"]["cell"] == planted["cell"]]
        assert steps["n_spikes"].tolist() == table["n_spikes"].tolist() == planted["n_spikes"]
        assert steps["current_pa"].tolist() == table["current_pa"].tolist()
        features = ephys.fi_features(steps).iloc[0]
        assert features["rheobase_pa"] == table_features.loc[planted["cell"], "rheobase_pa"]
        assert features["fi_slope_hz_per_pa"] == pytest.approx(
            table_features.loc[planted["cell"], "fi_slope_hz_per_pa"]
        )
        row = cell.iloc[0]
        assert (row["mouse"], row["cell"]) == (planted["mouse"], planted["cell"])
        assert row["input_resistance_mohm"] == pytest.approx(
            planted["input_resistance_mohm"], rel=0.01
        )
        assert row["resting_potential_mv"] == pytest.approx(
            planted["resting_potential_mv"], abs=0.1
        )
        # the planted threshold is the continuous-time 20 mV/ms point; eFEL's AP_begin is the first
        # sample past it (no interpolation), up to one 0.1 ms sample (~3 mV of upstroke) later
        assert 0 <= row["spike_threshold_mv"] - planted["spike_threshold_mv"] < 3.0
        assert row["current_source"].startswith("configured protocol")


def test_abf_cells_complete_the_table_and_disagreements_are_listed(study):
    protocol = study["truth"]["protocol"]
    name, planted = next(iter(study["truth"]["abf_cells"].items()))
    abf_steps, abf_cell = abf.read_abf_steps(study["folder"] / "abf" / name, protocol)
    table = study["steps"].drop(columns="group")
    steps, qc = ephys.combine_steps(table, abf_steps)
    assert qc.empty and len(steps) == len(table)
    edited = table.copy()
    edited.loc[(edited["cell"] == planted["cell"]) & (edited["current_pa"] == 130), "n_spikes"] += 1
    without = edited[edited["cell"] != planted["cell"]]
    steps, qc = ephys.combine_steps(edited, abf_steps)
    assert qc[["cell", "current_pa"]].values.tolist() == [[planted["cell"], 130]]
    assert qc["detail"].iloc[0].startswith("table ")
    steps, qc = ephys.combine_steps(without, abf_steps)
    assert qc.empty and len(steps) == len(table)  # the abf cell fills the gap
    exported = study["cells"][["mouse", "cell", "input_resistance_mohm"]].copy()
    exported.loc[exported["cell"] == planted["cell"], "input_resistance_mohm"] = np.nan
    merged = ephys.cell_table(exported, abf_cell).set_index("cell")
    assert merged.loc[planted["cell"], "input_resistance_mohm"] == pytest.approx(
        abf_cell["input_resistance_mohm"].iloc[0]
    )
    assert len(merged) == len(exported)


def test_mice_excluded_in_the_sheet_are_dropped_and_unknown_mice_named(study):
    sheet = ephys_mice(EphysEffects()).assign(excluded_reason="")
    sheet.loc[0, "excluded_reason"] = "virus off target"
    kept = ephys.attach_groups(study["steps"].drop(columns="group"), sheet, "steps.csv")
    assert kept.attrs["excluded_mice"] == [sheet.loc[0, "mouse_id"]]
    assert sheet.loc[0, "mouse_id"] not in set(kept["mouse"])
    with pytest.raises(InputDataError, match=r"steps.csv line \d+: mouse M001 is not in"):
        ephys.attach_groups(study["steps"], sheet.iloc[1:], "steps.csv")


def _contrast(statistics: pd.DataFrame, outcome: str) -> pd.Series:
    rows = statistics[(statistics["outcome"] == outcome) & (statistics["test"] == "emm_contrast")]
    assert len(rows) == 1
    return rows.iloc[0]


def test_planted_effects_are_recovered_with_the_mouse_as_unit(study):
    statistics, cells = study["statistics"], study["cells"]
    assert statistics["n_mice"].notna().all() and statistics["n_cells"].notna().all()
    assert set(statistics["n_mice"]) == {12}
    fi = statistics[statistics["outcome"] == "firing_rate_hz"]
    interaction = fi[(fi["test"] == "lmm") & (fi["term"] == "group:current_pa")].iloc[0]
    assert interaction["p"] < 1e-6
    at = fi[fi["test"] == "emm_contrast"].set_index("subset")
    assert at.loc["cohort=ephys; current_pa=100", "estimate"] > 5
    assert at.loc["cohort=ephys; current_pa=100", "p_adj"] < 0.01
    assert at.loc["cohort=ephys; current_pa=10", "p_adj"] > 0.05  # below every rheobase
    control = cells[cells["group"] == "sedentary"]
    rheobase = _contrast(statistics, "rheobase_pa")
    assert rheobase["p_adj"] < 0.01
    assert 0.6 < 1 + rheobase["estimate"] / control["rheobase_pa"].mean() < 0.85  # ~30 % lower
    frequency = _contrast(statistics, "sepsc_frequency_hz")
    assert frequency["p_adj"] < 0.05
    ratio = 1 + frequency["estimate"] / control["sepsc_frequency_hz"].mean()
    assert 1.4 < ratio < 2.6  # planted 1.8
    for outcome in ("sepsc_amplitude_median_pa", "input_resistance_mohm"):
        assert _contrast(statistics, outcome)["p_adj"] > 0.05  # planted: no difference
    naive = statistics[statistics["test"] == "welch_t_cells_as_n"]
    assert len(naive) == 8 and naive["notes"].str.startswith("NAIVE").all()
    means = statistics[statistics["test"] == "welch_t_mouse_means"]
    assert (means["n_by_group"] == "sedentary=6; trained=6").all()
    ks = statistics[statistics["test"] == "ks_2samp"].set_index("outcome")
    assert ks.loc["sepsc_iei_s", "p"] < 0.05 and ks["notes"].str.startswith("DESCRIPTIVE").all()
    assert cells["rheobase_pa"].isna().sum() == len(study["truth"]["silent_cells"]) == 1


def test_ephys_figure_is_byte_identical_when_drawn_twice(study, tmp_path):
    outputs = []
    for run in ("one", "two"):
        paths = [str(tmp_path / run / f"ephys.{fmt}") for fmt in ("png", "svg", "pdf")]
        ephys_figure(
            study["steps"],
            study["cells"],
            study["events"],
            study["statistics"],
            GROUPS,
            "sedentary",
            STYLE,
            paths,
            str(tmp_path / run / "source"),
            context={"cohort": "ephys"},
        )
        outputs.append({Path(p).suffix: Path(p).read_bytes() for p in paths})
    assert outputs[0] == outputs[1]
    panels = sorted(p.name for p in (tmp_path / "one" / "source").glob("panel_*.tsv"))
    assert panels == [f"panel_{c}.tsv" for c in "ABCDEFGHIJK"]
    fi = pd.read_csv(tmp_path / "one" / "source" / "panel_A.tsv", sep="\t")
    assert set(fi.loc[fi["kind"] == "group", "sem_over"]) == {"mice"}
    assert set(fi.loc[fi["kind"] == "group", "n_mice"]) == {6}


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
    features = ephys.fi_features(sweeps.assign(mouse="M1", cell="c1")).iloc[0]
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
