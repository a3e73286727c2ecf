"""An .abf-only slice study with two step protocols, run end to end from its own small config
(``snakemake --configfile``) in a temporary copy of the project. Its recordings are the real
reference files, linked (never copied) from the shared folder beside the project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from test_workflow import copy_project

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
FOLDER = REPO.parent / "shared" / "reference" / "ephys_abf"
pytestmark = pytest.mark.skipif(
    not (FOLDER / "README.md").exists(),
    reason=f"the real .abf reference recordings are not at {FOLDER}",
)
#: mouse, cell, group, recording: two protocols found from the command waveform
#: (steps with a later test step; pre-pulse then F-I step) and one declared in the config.
CELLS = [
    ("M01", "c1", "sedentary", "171116sh_0019"),
    ("M01", "c2", "sedentary", "File_axon_5"),
    ("M02", "c3", "sedentary", "18711001"),
    ("M02", "c4", "sedentary", "File_axon_5"),
    ("M03", "c5", "trained", "18711001"),
    ("M03", "c6", "trained", "171116sh_0019"),
    ("M04", "c7", "trained", "File_axon_5"),
    ("M04", "c8", "trained", "18711001"),
]
CONFIG = {
    "study": {"id": "abf_only", "title": "Slice recordings as .abf files only"},
    "samples": "config/abf_only/samples.tsv",
    "output_dir": "results/abf_only",
    "groups": [
        {"id": "sedentary", "label": "Sedentary", "color": "#4D4D4D"},
        {"id": "trained", "label": "Trained", "color": "#E69F00"},
    ],
    "cohorts": [
        {
            "id": "slices",
            "description": "Intrinsic excitability after training",
            "groups": ["sedentary", "trained"],
            "control_group": "sedentary",
        }
    ],
    "ephys": {
        "cohort": "slices",
        "abf": {
            "files": "data/abf_only/{mouse}_{cell}.abf",
            "protocols": {
                "step cclamp": {
                    "step_start_s": 0.2156,
                    "step_end_s": 0.7156,
                    "first_step_pa": -100,
                    "step_increment_pa": 50,
                }
            },
            "min_prominence_mv": 20,
            "block_margin_mv": 10,
        },
        "statistics": {
            "outcomes": [
                "rheobase_pa",
                "input_resistance_mohm",
                "resting_potential_mv",
                "ap_half_width_ms",
                "sag_ratio",
            ],
        },
    },
}


@pytest.fixture(scope="module")
def abf_study(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("abf_study"))
    data = root / "data" / "abf_only"
    data.mkdir(parents=True)
    for mouse, cell, _, recording in CELLS:
        (data / f"{mouse}_{cell}.abf").symlink_to(FOLDER / f"{recording}.abf")
    (root / "config" / "abf_only").mkdir()
    mice = sorted({(mouse, group) for mouse, _, group, _ in CELLS})
    pd.DataFrame(
        {
            "mouse_id": [mouse for mouse, _ in mice],
            "cohort": "slices",
            "sex": "female",
            "group": [group for _, group in mice],
        }
    ).to_csv(root / "config" / "abf_only" / "samples.tsv", sep="\t", index=False)
    config = root / "config" / "abf_only" / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [SNAKEMAKE, "--cores", "2", "--configfile", str(config)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "results" / "abf_only"


@pytest.mark.slow
def test_an_abf_only_study_with_two_protocols_runs_end_to_end(abf_study):
    cells = pd.read_csv(abf_study / "ephys" / "cells.tsv", sep="\t").set_index("cell")
    assert len(cells) == len(CELLS)
    recording = {cell: name for _, cell, _, name in CELLS}
    protocol = cells["protocol"].to_dict()
    assert {protocol[c] for c in cells.index if recording[c] == "18711001"} == {
        "FICurve_Hyperpolarizing_KL"
    }
    assert {protocol[c] for c in cells.index if recording[c] == "File_axon_5"} == {"step cclamp"}
    block = cells.loc[[c for c in cells.index if recording[c] == "171116sh_0019"]]
    assert (block["block_from_pa"] == 1500).all() and (block["max_rate_hz"] == 32).all()
    prepulse = cells.loc[[c for c in cells.index if recording[c] == "18711001"]]
    assert prepulse["resting_potential_mv"].between(-68.5, -67.5).all()  # clean baseline
    assert prepulse["n_hyperpolarizing_epochs"].eq(30).all()
    declared = cells.loc[[c for c in cells.index if recording[c] == "File_axon_5"]]
    assert declared["current_source"].str.startswith("abf command waveform (checked").all()
    assert (declared["rheobase_pa"] == 200).all()
    steps = pd.read_parquet(abf_study / "ephys" / "steps.parquet")
    assert steps.groupby("cell").size().to_dict() == {
        cell: {"171116sh_0019": 22, "File_axon_5": 9, "18711001": 30}[name]
        for _, cell, _, name in CELLS
    }
    statistics = pd.read_csv(abf_study / "ephys" / "statistics.tsv", sep="\t")
    tested = {"rheobase_pa", "input_resistance_mohm", "ap_half_width_ms", "sag_ratio"}
    assert tested | {"firing_rate_hz"} <= set(statistics["outcome"])
    mouse_means = statistics[statistics["test"] == "welch_t_mouse_means"]
    assert set(mouse_means["outcome"]) >= tested
    assert set(mouse_means["n_mice"]) == {4}
    assert (abf_study / "figures" / "ephys" / "ephys.pdf").exists()
