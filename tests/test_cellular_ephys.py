"""Slice electrophysiology: step tables and F–I features, sEPSC summaries and equal-weight
pooling, the simulated study's .abf and table routes, the nested statistics, the figure and the
simulator (spike detection and the .abf route's protocols: test_ephys_spikes.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exneuro.cellular import abf, ephys, ephys_stats, fi_curve, sepsc
from exneuro.cellular.ephys_pipeline import ephys_tables
from exneuro.errors import ConfigError, InputDataError
from exneuro.paper.standard.cellular import ephys_figure
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
    steps = fi_curve.read_step_table(path, STEP_COLUMNS)
    assert steps.loc[steps["cell"] == "c1", "firing_rate_hz"].tolist() == [0, 0, 0, 4, 12, 20]
    features = fi_curve.fi_features(steps).set_index("cell")
    assert features.loc["c1", "rheobase_pa"] == 40
    assert features.loc["c1", "max_rate_hz"] == 20
    assert features.loc["c1", "fi_slope_hz_per_pa"] == pytest.approx(0.4)  # (20 - 4) / 40
    assert features.loc["c1", "n_steps"] == 6
    assert features.loc["c2", "rheobase_pa"] == 20
    assert features.loc["c2", "fi_slope_hz_per_pa"] == pytest.approx(0.2)  # (6 - 2) / 20
    assert np.isnan(features.loc["c3", "rheobase_pa"])
    assert np.isnan(features.loc["c3", "fi_slope_hz_per_pa"])
    assert "tested up to 40 pA" in features.loc["c3", "rheobase_note"]
    first_two = fi_curve.fi_features(steps, fit_steps=2).set_index("cell")
    assert first_two.loc["c1", "fi_slope_hz_per_pa"] == pytest.approx(0.4)  # (12 - 4) / 20


def test_rheobase_ignores_spikes_at_hyperpolarizing_steps(tmp_path):
    # a rebound spike during a negative step is not a rheobase
    path = step_csv(tmp_path, "M1,c1,-40,1,500\nM1,c1,10,0,500\nM1,c1,20,1,500")
    features = fi_curve.fi_features(fi_curve.read_step_table(path, STEP_COLUMNS))
    assert features["rheobase_pa"].iloc[0] == 20


def test_step_duration_can_come_from_the_protocol(tmp_path):
    path = write_csv(tmp_path / "s.csv", "Mouse,Cell,I (pA),APs\nM1,c1,40,5")
    columns = {k: v for k, v in STEP_COLUMNS.items() if k != "step_duration_ms"}
    steps = fi_curve.read_step_table(path, columns, step_duration_ms=1000)
    assert steps["firing_rate_hz"].iloc[0] == 5
    with pytest.raises(InputDataError, match="no column configured for step_duration_ms"):
        fi_curve.read_step_table(path, columns)


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
        fi_curve.read_step_table(path, STEP_COLUMNS)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_cells_numbered_within_mice_are_allowed_when_declared(tmp_path):
    path = step_csv(tmp_path, "M1,1,20,1,500\nM2,1,20,0,500")
    steps = fi_curve.read_step_table(path, STEP_COLUMNS, cell_ids="mouse")
    assert len(fi_curve.fi_features(steps)) == 2


def test_a_missing_configured_column_is_named(tmp_path):
    path = step_csv(tmp_path, "M1,c1,20,1,500")
    with pytest.raises(InputDataError, match="no column 'Spikes' \\(configured for 'n_spikes'\\)"):
        fi_curve.read_step_table(path, {**STEP_COLUMNS, "n_spikes": "Spikes"})


def test_cell_properties_reject_a_dropped_minus_sign(tmp_path):
    path = write_csv(tmp_path / "p.csv", "Mouse,Cell,Vrest\nM1,c1,-60.1\nM1,c2,58.2")
    with pytest.raises(InputDataError, match=r"line 3, column 'Vrest': 58.2 is not a plausible"):
        ephys.read_cell_properties(
            path, {"mouse": "Mouse", "cell": "Cell", "resting_potential_mv": "Vrest"}
        )


# ------------------------------------------------------------------------------------------------
# sEPSC events and pooling
# ------------------------------------------------------------------------------------------------
EVENT_COLUMNS = {"mouse": "Mouse", "cell": "Cell", "time_s": "t", "amplitude_pa": "Amp"}


def test_sepsc_summary_counts_silent_cells_and_keeps_intervals_within_cells(tmp_path):
    events = sepsc.read_sepsc_events(
        write_csv(
            tmp_path / "e.csv",
            "Mouse,Cell,t,Amp\nM1,c1,1.0,-10\nM1,c1,3.0,-20\nM1,c1,4.0,-12\nM1,c2,0.5,-8",
        ),
        EVENT_COLUMNS,
    )
    durations = sepsc.read_recording_durations(
        write_csv(tmp_path / "d.csv", "Mouse,Cell,Dur\nM1,c1,10\nM1,c2,5\nM2,c3,20"),
        {"mouse": "Mouse", "cell": "Cell", "recording_duration_s": "Dur"},
    )
    per_cell = sepsc.sepsc_per_cell(events, durations).set_index("cell")
    assert per_cell["n_events"].tolist() == [3, 1, 0]
    assert per_cell["sepsc_frequency_hz"].tolist() == [0.3, 0.2, 0.0]
    assert per_cell.loc["c1", "sepsc_amplitude_median_pa"] == 12  # magnitudes of inward currents
    assert per_cell.loc["c1", "sepsc_iei_median_s"] == 1.5  # intervals 2.0 and 1.0
    assert np.isnan(per_cell.loc["c3", "sepsc_amplitude_median_pa"])
    assert sepsc.inter_event_intervals(events)["iei_s"].tolist() == [2.0, 1.0]


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
        sepsc.read_sepsc_events(path, EVENT_COLUMNS)


def test_events_without_a_recording_duration_or_after_its_end_are_errors(tmp_path):
    events = sepsc.read_sepsc_events(
        write_csv(tmp_path / "e.csv", "Mouse,Cell,t,Amp\nM1,c1,1.0,10\nM1,c2,8.0,9"),
        EVENT_COLUMNS,
    )
    durations = pd.DataFrame({"mouse": ["M1"], "cell": ["c1"], "recording_duration_s": [5.0]})
    with pytest.raises(InputDataError, match="cell c2 .* has sEPSC events but no recording"):
        sepsc.sepsc_per_cell(events, durations)
    durations = pd.DataFrame(
        {"mouse": ["M1", "M1"], "cell": ["c1", "c2"], "recording_duration_s": [5.0, 5.0]}
    )
    with pytest.raises(InputDataError, match="cell c2 has an event at 8 s, after the end"):
        sepsc.sepsc_per_cell(events, durations)


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
    pooled = sepsc.pooled_distribution(events, "amplitude_pa", min_values=10)
    assert pooled.groupby("cell").size().to_dict() == {"c1": 25, "c2": 25, "c3": 25}
    assert pooled.attrs["dropped_cells"] == ["M2/c4"]
    c2 = np.sort(events.loc[events["cell"] == "c2", "amplitude_pa"].to_numpy())
    assert np.allclose(np.sort(pooled.loc[pooled["cell"] == "c2", "amplitude_pa"]), c2)
    fixed = sepsc.pooled_distribution(events, "amplitude_pa", per_cell=7)
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
        fi_curve.read_step_table(folder / FILES["steps"], STEP_HEADERS), mice, "steps"
    )
    properties = ephys.read_cell_properties(folder / FILES["properties"], PROPERTY_HEADERS)
    events = ephys.attach_groups(
        sepsc.read_sepsc_events(folder / FILES["events"], EVENT_HEADERS), mice, "events"
    )
    durations = sepsc.read_recording_durations(folder / FILES["recordings"], RECORDING_HEADERS)
    cells = ephys.attach_groups(
        ephys.cell_table(
            fi_curve.fi_features(steps), properties, sepsc.sepsc_per_cell(events, durations)
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
    table_features = fi_curve.fi_features(study["steps"]).set_index("cell")
    for name, planted in study["truth"]["abf_cells"].items():
        steps, cell = abf.read_abf_steps(study["folder"] / "abf" / name, protocol)
        table = study["steps"][study["steps"]["cell"] == planted["cell"]]
        assert steps["n_spikes"].tolist() == table["n_spikes"].tolist() == planted["n_spikes"]
        assert steps["current_pa"].tolist() == table["current_pa"].tolist()
        features = fi_curve.fi_features(steps).iloc[0]
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
        # RC charging with the planted tau (25 ms) under every hyperpolarizing step
        assert row["membrane_tau_ms"] == pytest.approx(EphysEffects().membrane_tau_ms, rel=0.02)
        assert row["capacitance_pf"] == pytest.approx(
            row["membrane_tau_ms"] / row["input_resistance_mohm"] * 1000.0
        )
        assert row["sag_ratio"] < 0.05  # none planted
        assert row["current_source"].startswith("configured protocol")


def test_abf_cells_complete_the_table_and_disagreements_are_listed(study):
    protocol = study["truth"]["protocol"]
    name, planted = next(iter(study["truth"]["abf_cells"].items()))
    abf_steps, abf_cell = abf.read_abf_steps(study["folder"] / "abf" / name, protocol)
    table = study["steps"].drop(columns="group")
    steps, qc = fi_curve.combine_steps(table, abf_steps)
    assert qc.empty and len(steps) == len(table)
    edited = table.copy()
    edited.loc[(edited["cell"] == planted["cell"]) & (edited["current_pa"] == 130), "n_spikes"] += 1
    without = edited[edited["cell"] != planted["cell"]]
    steps, qc = fi_curve.combine_steps(edited, abf_steps)
    assert qc[["cell", "current_pa"]].values.tolist() == [[planted["cell"], 130]]
    assert qc["detail"].iloc[0].startswith("table ")
    steps, qc = fi_curve.combine_steps(without, abf_steps)
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


def test_an_ephys_section_without_steps_or_abf_files_is_refused():
    with pytest.raises(ConfigError, match="ephys needs a step_table or abf files"):
        ephys_tables({"cell_ids": "study", "cohort": "c"}, ephys_mice(EphysEffects()))
