"""The analysis recovers what the simulator planted: effects, flaws and their handling."""

from __future__ import annotations

import copy
import glob
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO

from exneuro.config import read_sample_sheet
from exneuro.simulate.design import EXAMPLE, Nuisances, TreadmillEffects
from exneuro.simulate.study import write_study
from exneuro.treadmill.analysis import cohort_statistics
from exneuro.treadmill.pipeline import test_metrics as treadmill_test_metrics

TRUTH = yaml.safe_load((REPO / "data" / "example" / "ground_truth.yaml").read_text())["treadmill"]


@pytest.fixture(scope="module")
def example(request):
    """Tests and QC of the bundled example study, computed from its raw files."""
    config = request.getfixturevalue("example_config")
    treadmill = {
        **config["treadmill"],
        "summary_table": str(REPO / config["treadmill"]["summary_table"]),
        "stage_logs": str(REPO / config["treadmill"]["stage_logs"]),
    }
    sheet = read_sample_sheet(
        REPO / config["samples"], request.getfixturevalue("sheet_schema"), config
    )
    logs = sorted(glob.glob(str(REPO / "data/example/treadmill/stage_logs/*.csv")))
    tests, qc = treadmill_test_metrics(treadmill["summary_table"], logs, sheet, treadmill)
    return config, tests, qc


@pytest.fixture(scope="module")
def example_config(raw_example_config, config_schema):
    from exneuro.config import validate_config

    return validate_config(copy.deepcopy(raw_example_config), config_schema, "config/config.yaml")


def _qc(qc, mouse, session, check):
    return qc[(qc["mouse"] == mouse) & (qc["session"] == session) & (qc["check"] == check)]


def test_planted_outlier_is_flagged_and_kept(example):
    _, tests, qc = example
    mouse, session, _ = TRUTH["nuisances"]["outlier_test"]
    assert len(_qc(qc, mouse, session, "possible outlier")) == 1
    assert (qc["check"] == "possible outlier").sum() == 1  # and nothing else
    row = tests[(tests["mouse"] == mouse) & (tests["session"] == session)]
    assert not row["excluded"].iloc[0]


def test_summary_typo_is_caught_by_the_stage_log(example):
    _, tests, qc = example
    mouse, session, factor = TRUTH["nuisances"]["summary_typo"]
    flagged = _qc(qc, mouse, session, "summary differs from stage log")
    assert len(flagged) == 1 and f"{100 * (factor - 1):.1f}% apart" in flagged["detail"].iloc[0]
    assert (qc["check"] == "summary differs from stage log").sum() == 1


def test_missed_and_removed_tests_are_reported_as_such(example):
    _, _, qc = example
    mouse, session = TRUTH["nuisances"]["missed_test"]
    assert _qc(qc, mouse, session, "missing test")["action"].tolist() == ["analysed as missing"]
    removed, last = TRUTH["nuisances"]["removed_after"]
    after = qc[(qc["mouse"] == removed) & (qc["check"] == "missing test")]
    assert after["session"].tolist() == ["d9", "d12", "d15"] and set(after["action"]) == {
        "expected"
    }


def test_excluded_mouse_stays_in_the_table_but_not_in_statistics(example):
    config, tests, _ = example
    mouse, reason = TRUTH["nuisances"]["excluded_mouse"]
    assert tests.loc[tests["mouse"] == mouse, "excluded"].all()
    cohort = next(c for c in config["cohorts"] if c["id"] == "post_inhibition")
    stats = cohort_statistics(tests, cohort, config["treadmill"])["statistics"]
    lmm = stats[(stats["test"] == "lmm") & (stats["outcome"] == "distance_m")]
    assert lmm["n_mice"].eq(15).all()  # 16 mice minus the excluded one


def test_group_gains_match_the_planted_gains(example):
    """Mean % change at the last test per group lies within 3 SE of the planted expectation."""
    _, tests, _ = example
    final = tests[
        (tests["session"] == "d15")
        & ~tests["excluded"]
        & (tests["mouse"] != TRUTH["nuisances"]["outlier_test"][0])
    ]
    expected = TRUTH["expected_percent_change_of_a_typical_mouse"]
    for (cohort, group), values in final.groupby(["cohort", "group"])["distance_m_pct_change"]:
        se = values.std(ddof=1) / np.sqrt(len(values))
        assert abs(values.mean() - expected[group]["d15"]) < 3 * se + 3, (cohort, group)


def test_every_cohort_shows_its_planted_interaction(example):
    config, tests, _ = example
    runners = config["treadmill"]["cohorts"]
    for cohort in (c for c in config["cohorts"] if c["id"] in runners):
        stats = cohort_statistics(tests, cohort, config["treadmill"])["statistics"]
        lmm = stats[
            (stats["test"] == "lmm")
            & (stats["outcome"] == "distance_m")
            & (stats["term"] == "group:session")
        ]
        gain = stats[(stats["test"] == "welch_t") & (stats["outcome"] == "distance_m_pct_change")]
        assert lmm["p"].iloc[0] < 1e-3, cohort["id"]
        assert gain["p"].iloc[0] < 0.01, cohort["id"]
        # blocked gains are lower than control, enhanced gains higher
        direction = 1 if cohort["id"] == "post_stimulation" else -1
        assert np.sign(gain["estimate"].iloc[0]) == direction
        # the default gain test: follow-up adjusted for baseline, the % change test descriptive
        ancova = stats[(stats["test"] == "ancova") & (stats["outcome"] == "distance_m")]
        assert (
            len(ancova) == 1 and ancova["subset"].iloc[0] == f"cohort={cohort['id']}; session=d15"
        )
        assert ancova["p"].iloc[0] < 0.01, cohort["id"]
        assert np.sign(ancova["estimate"].iloc[0]) == direction
        assert gain["notes"].iloc[0].startswith("descriptive")
        # and per session: the mixed model of later sessions with the baseline as covariate
        adjusted = stats[
            (stats["test"] == "emm_contrast_baseline_adjusted")
            & (stats["outcome"] == "distance_m")
            & (stats["subset"] == f"cohort={cohort['id']}; session=d15")
        ]
        assert len(adjusted) == 1 and np.sign(adjusted["estimate"].iloc[0]) == direction
        assert adjusted["p_adj"].iloc[0] < 0.05, cohort["id"]
        course = stats[
            (stats["test"] == "lmm_baseline_adjusted") & (stats["outcome"] == "distance_m")
        ]
        assert list(course["term"]) == ["group", "session", "group:session"]
        coefficients = stats[
            (stats["test"] == "lmm_coefficient") & (stats["outcome"] == "distance_m")
        ]
        assert len(coefficients) == 12 and coefficients["se"].gt(0).all()  # 2 groups x 6 tests


def test_declared_log_transform_is_used_by_every_test_of_the_outcome(example):
    config, tests, _ = example
    cohort = next(c for c in config["cohorts"] if c["id"] == "silencing")
    settings = {
        **config["treadmill"]["statistics"],
        "transforms": {"distance_m": "log"},
        "df_method": "kenward-roger",
    }
    treadmill = {**config["treadmill"], "statistics": settings}
    stats = cohort_statistics(tests, cohort, treadmill)["statistics"]
    distance = stats[stats["outcome"] == "distance_m"]
    assert distance["model"].str.contains("log(distance_m)", regex=False).all()
    assert distance["notes"].str.startswith("outcome natural log").all()
    ancova = distance[distance["test"] == "ancova"].iloc[0]
    assert -1.5 < ancova["estimate"] < 0  # a log ratio: silenced mice gain less
    percent = stats[stats["outcome"] == "distance_m_pct_change"]
    assert not percent["model"].str.contains("log(", regex=False).any()
    lmm = distance[distance["test"] == "lmm"]
    assert set(lmm["df_method"]) == {"Kenward-Roger"} and len(lmm) == 3


@pytest.fixture(scope="module")
def large_cohort(tmp_path_factory, example_config):
    """A 40-mice-per-group study with no flaws: enough mice to estimate effects precisely."""
    root = tmp_path_factory.mktemp("large")
    design = replace(
        EXAMPLE,
        cohorts={"post_stimulation": {"control": 40, "stimulated_post": 40}},
        nuisances=Nuisances(),
        seed=11,
        ephys=None,
        spines=None,
        histology=None,
        rnaseq=None,
        photometry=None,
        treadmill=TreadmillEffects(gain_by_group={"control": 0.6, "stimulated_post": 1.1}),
    )
    config = copy.deepcopy(example_config)
    config["samples"] = str(root / "samples.tsv")
    config["cohorts"] = [c for c in config["cohorts"] if c["id"] == "post_stimulation"]
    config["treadmill"]["summary_table"] = str(root / "treadmill" / "tests.csv")
    config["treadmill"]["stage_logs"] = str(root / "treadmill" / "logs" / "{mouse}_{session}.csv")
    write_study(design, config)
    sheet = pd.read_csv(config["samples"], sep="\t", dtype=str, keep_default_na=False)
    logs = sorted(glob.glob(str(root / "treadmill" / "logs" / "*.csv")))
    tests, _ = treadmill_test_metrics(
        config["treadmill"]["summary_table"], logs, sheet, config["treadmill"]
    )
    return config, tests, design


def test_large_cohort_recovers_planted_gain_difference(large_cohort):
    config, tests, design = large_cohort
    stats = cohort_statistics(tests, config["cohorts"][0], config["treadmill"])["statistics"]
    gain = stats[(stats["test"] == "welch_t") & (stats["outcome"] == "distance_m_pct_change")].iloc[
        0
    ]
    effects = design.treadmill
    planted = 100 * (1.1 - 0.6) * (1 - np.exp(-15 / effects.tau_days))
    assert gain["ci_low"] < planted < gain["ci_high"]
    assert gain["estimate"] == pytest.approx(planted, abs=12)


def test_large_cohort_recovers_planted_adaptation_time(large_cohort):
    config, tests, design = large_cohort
    adaptation = cohort_statistics(tests, config["cohorts"][0], config["treadmill"])["adaptation"]
    fitted = adaptation[adaptation["fit_status"] == "ok"]
    assert len(fitted) >= 60
    assert np.median(fitted["tau_days"]) == pytest.approx(design.treadmill.tau_days, rel=0.3)
    rise = fitted.groupby("group")["rise_percent"].median()
    assert rise["control"] == pytest.approx(60, abs=12)
    assert rise["stimulated_post"] == pytest.approx(110, abs=15)


PHYSIOLOGY = yaml.safe_load((REPO / "data" / "example" / "ground_truth.yaml").read_text())[
    "physiology"
]


@pytest.fixture(scope="module")
def declared_example(example_config, request):
    """Statistics of every table the example config declares, read from the bundled files."""
    from exneuro.tables.statistics import declared_statistics, read_declared_table

    sheet = read_sample_sheet(
        REPO / example_config["samples"], request.getfixturevalue("sheet_schema"), example_config
    )
    results = {}
    for key, declaration in example_config["tables"].items():
        declaration = {**declaration, "file": str(REPO / declaration["file"])}
        results[key] = declared_statistics(
            read_declared_table(declaration, sheet, key), declaration, key
        )
    return results


def test_body_mass_rises_alike_in_every_group(declared_example):
    stats = declared_example["body_mass"]
    lmm = stats[stats["test"] == "lmm"]
    assert lmm.loc[lmm["term"] == "Week", "p"].max() < 1e-3
    # the simulator plants no group effect on body mass (ground_truth.yaml: 0 g): none is found
    assert lmm.loc[lmm["term"].isin(["group", "group:Week"]), "p"].min() > 0.01


def test_glucose_mobilization_is_blunted_by_inhibition(declared_example):
    stats = declared_example["glucose"]
    interaction = stats[(stats["test"] == "lmm") & (stats["term"] == "group:minutes_after_run")]
    assert interaction["p"].iloc[0] < 1e-4
    contrasts = stats[stats["test"] == "emm_contrast"].set_index("subset")
    rise = PHYSIOLOGY["glucose_peak_rise_mg_dl_by_group"]
    planted = rise["inhibited_post"] - rise["control"]  # at the 30-min peak
    peak = contrasts.loc["minutes_after_run=30"]
    assert peak["ci_low"] < planted < peak["ci_high"]
    assert peak["p_adj"] < 0.05 and contrasts.loc["minutes_after_run=0", "p_adj"] > 0.05


def test_serum_bdnf_differs_and_igf1_does_not(declared_example):
    stats = declared_example["serum"].set_index("outcome")
    bdnf = PHYSIOLOGY["bdnf_pg_ml_by_group"]
    planted = bdnf["silenced"] - bdnf["control"]
    assert stats.loc["BDNF (pg/mL)", "ci_low"] < planted < stats.loc["BDNF (pg/mL)", "ci_high"]
    assert stats.loc["BDNF (pg/mL)", "p"] < 0.01
    assert stats.loc["IGF-1 (ng/mL)", "p"] > 0.05
    assert stats.loc["BDNF (pg/mL)", "effect_size_name"] == "Hedges g"


@pytest.mark.parametrize(
    ("tau_days", "status"), [(3.0, "ok"), (60.0, "plateau reached only after the tests")]
)
def test_a_plateau_the_tests_never_reach_is_not_called_a_fit(tau_days, status):
    from exneuro.treadmill.adaptation import fit_mouse_curve, rise_to_plateau

    day = np.array([0.0, 3.0, 6.0, 9.0, 12.0, 15.0])
    curve = fit_mouse_curve(day, rise_to_plateau(day, 400.0, 250.0, tau_days), 0.9)
    assert curve["fit_status"] == status
    assert curve["tau_days"] == pytest.approx(tau_days, rel=1e-3)  # the numbers stay
