"""The cellular sections of the example config, run on the bundled raw files as the workflow
runs them: .abf and table routes agree, classified spines agree with the counts, and the planted
effects of the ground truth come out of the nested analyses."""

from __future__ import annotations

import copy
import glob

import pytest
import yaml
from conftest import REPO

from exneuro.cellular.ephys_pipeline import ephys_tables
from exneuro.cellular.ephys_stats import ephys_statistics
from exneuro.cellular.morphology_pipeline import histology_tables, spine_tables
from exneuro.cellular.morphology_stats import histology_statistics, spine_statistics
from exneuro.config import read_sample_sheet, validate_config

TRUTH = yaml.safe_load((REPO / "data" / "example" / "ground_truth.yaml").read_text())


@pytest.fixture(scope="module")
def example(raw_example_config, config_schema, sheet_schema):
    config = validate_config(copy.deepcopy(raw_example_config), config_schema, "config.yaml")
    sheet = read_sample_sheet(REPO / config["samples"], sheet_schema, config)
    for section in ("ephys", "spines", "histology"):
        for key, value in config[section].items():
            if key.endswith(("_table", "_events", "_recordings", "_properties")) and value:
                config[section][key] = str(REPO / value)
    config["ephys"]["abf"]["files"] = str(REPO / config["ephys"]["abf"]["files"])
    return config, sheet


def test_abf_sweeps_agree_with_the_exported_step_table(example):
    config, sheet = example
    abf = sorted(glob.glob(str(REPO / "data/example/ephys/abf/*.abf")))
    tables = ephys_tables(config["ephys"], sheet, abf)
    assert len(abf) == 3 and tables["qc"].empty
    statistics = ephys_statistics(tables["steps"], tables["cells"], tables["events"], "sedentary")
    rheobase = statistics[
        (statistics["outcome"] == "rheobase_pa") & (statistics["test"] == "emm_contrast")
    ].iloc[0]
    assert rheobase["estimate"] < 0 and rheobase["p"] < 0.05  # trained cells fire earlier
    assert rheobase["n_mice"] == 12 and rheobase["n_cells"] > 50


def test_classified_spines_reproduce_the_segment_counts_and_density_doubles(example):
    config, sheet = example
    tables = spine_tables(config["spines"], sheet)
    assert len(tables["classified"]) > 1000 and tables["qc"].empty
    stats = spine_statistics(tables["density"], labels=("sedentary", "trained"), n_boot=2000)
    total = stats[stats["subset"].str.contains("spine_type=total")].set_index("test")
    mice = tables["mice"][tables["mice"]["spine_type"] == "total"]
    ratio = mice.groupby("group")["density_per_10um"].mean()
    planted = TRUTH["spines"]["total_density_ratio"]
    assert ratio["trained"] / ratio["sedentary"] == pytest.approx(planted, rel=0.25)
    assert total.loc["lmm", "p"] < 1e-3
    # the counts as counts: NB GLMM with offset log(length), mouse and neuron random intercepts
    wald = total.loc["glmm_nb"].set_index("statistic_name").loc["t"]
    assert wald["term"] == "trained / sedentary" and wald["effect_size_name"] == "rate ratio"
    assert wald["ci_low"] < planted < wald["ci_high"] and wald["p"] < 1e-3
    assert wald["n_mice"] == 12
    naive = total.loc[[t for t in total.index if t.endswith("naive")][0]]
    assert naive["p"] < total.loc["welch_t_mouse_means", "p"]  # pseudoreplication is optimistic


def test_one_session_raises_fos_in_sf1_neurons(example):
    config, sheet = example
    tables = histology_tables(config["histology"], sheet)
    stats = histology_statistics(tables["mice"], labels=("sedentary", "exercised"))
    fos = stats[stats["subset"].str.contains("marker=Fos")].iloc[0]
    planted = TRUTH["histology"]["expected_difference_percentage_points"]["Fos"]
    assert fos["ci_low"] < planted < fos["ci_high"] and fos["p"] < 0.01
    assert fos["n_mice"] == 12
    # the binomial GLMM of positive among labelled cells per section, beside it
    stats = histology_statistics(
        tables["mice"], labels=("sedentary", "exercised"), sections=tables["sections"]
    )
    fos = stats[stats["subset"].str.contains("marker=Fos")].set_index("test")
    wald = fos.loc["glmm_binomial"].set_index("statistic_name").loc["t"]
    assert wald["effect_size_name"] == "odds ratio" and wald["estimate"] > 1
    assert wald["p"] < 0.01 and wald["n_mice"] == 12
    assert "welch_t" in fos.index  # the per-mouse test stays beside the GLMM
