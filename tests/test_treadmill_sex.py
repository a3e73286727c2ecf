"""Sex (or any sample-sheet column) as a fixed factor and cage as a random effect in the
treadmill models: numbers equal R (afex, lmerTest, emmeans; tests/reference/treadmill_sex), a
planted sex effect is recovered, and designs that cannot carry the factor give "not tested" rows.
"""

from __future__ import annotations

import re
import shutil

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from test_workflow import copy_project, snakemake

from exneuro.config import load_yaml
from exneuro.errors import InputDataError
from exneuro.figures.legend import describe_tests
from exneuro.model_factors import NO_FACTORS, declared_factors, usable_factors
from exneuro.paper.behaviour import treadmill_course
from exneuro.paper.panels import Study
from exneuro.paper.standard.behaviour import cohort_figure
from exneuro.treadmill.analysis import cohort_statistics, outcome_statistics

REFERENCE = REPO / "tests" / "reference" / "treadmill_sex"
SETTINGS = {
    "ci_level": 0.95,
    "posthoc_correction": "sidak",
    "sphericity_correction": "none",
    "gain_test": "welch",
}


def with_pct_change(long: pd.DataFrame, column: str, sessions: list[str]) -> pd.DataFrame:
    base = long[long["session"] == sessions[0]].set_index("mouse")[column]
    long[f"{column}_pct_change"] = (long[column] / long["mouse"].map(base) - 1) * 100
    long["session"] = pd.Categorical(long["session"], sessions, ordered=True)
    return long


def rat_vo2max() -> pd.DataFrame:
    """The rat study's VO2max table as the treadmill analysis sees its tests (long, per rat)."""
    wide = pd.read_csv(REPO / "tests/studies/rat_training/vo2max.csv", na_values=["nd"])
    wide["mouse"] = wide["sex"] + "_" + wide["group"] + "_" + wide["rat"].astype(str)
    long = wide.melt(
        id_vars=["mouse", "sex", "group"],
        value_vars=["vo2max_pre", "vo2max_post"],
        var_name="session",
        value_name="vo2max",
    )
    long["session"] = long["session"].str.removeprefix("vo2max_")
    long["group"] = pd.Categorical(long["group"], ["SED", "8W"], ordered=True)
    return with_pct_change(long, "vo2max", ["pre", "post"])


def caged() -> pd.DataFrame:
    long = pd.read_csv(REFERENCE / "cages.csv")
    long["group"] = pd.Categorical(long["group"], ["sedentary", "trained"], ordered=True)
    return with_pct_change(long, "distance_m", ["d0", "d14", "d28"])


def r_term(term: str) -> str:
    """lme4's coefficient name of one of ours: C(group, Treatment('SED'))[T.8W] -> group8W."""
    if term == "Intercept":
        return "(Intercept)"
    return re.sub(r"C\((\w+), Treatment\('[^']*'\)\)\[T\.([^\]]+)\]", r"\1\2", term)


def assert_equals_r(stats: pd.DataFrame, case: str, cohort: str) -> int:
    reference = pd.read_csv(REFERENCE / "reference.tsv", sep="\t", keep_default_na=False)
    reference = reference[reference["case"] == case]
    stats = stats.assign(
        term=np.where(stats["test"] == "lmm_coefficient", stats["term"].map(r_term), stats["term"]),
        subset=stats["subset"]
        .str.replace(f"cohort={cohort}; ", "")
        .replace(f"cohort={cohort}", ""),
    )
    for row in reference.to_dict("records"):
        got = stats[
            (stats["test"] == row["test"])
            & (stats["term"] == row["term"])
            & (stats["subset"] == row["subset"])
        ]
        assert len(got) == 1, row
        got = got.iloc[0]
        assert got["statistic"] == pytest.approx(float(row["statistic"]), rel=1e-4, abs=1e-8), row
        assert got["df_num"] == pytest.approx(float(row["df_num"]), rel=1e-4), row
        if row["df_den"] != "NA":
            assert got["df_den"] == pytest.approx(float(row["df_den"]), rel=1e-4), row
        assert got["p"] == pytest.approx(float(row["p"]), rel=1e-4, abs=1e-12), row
        if row["estimate"] != "NA":
            assert got["estimate"] == pytest.approx(float(row["estimate"]), rel=1e-4, abs=1e-8)
            assert got["se"] == pytest.approx(float(row["se"]), rel=1e-4), row
    return len(reference)


def test_group_by_sex_models_of_the_rat_study_equal_r():
    data = rat_vo2max()
    cohort = {"id": "training", "groups": ["SED", "8W"], "control_group": "SED"}
    factors = usable_factors(data, {"fixed": ["sex"]}, "cohort=training")
    stats = outcome_statistics(data, "vo2max", cohort, ["pre", "post"], SETTINGS, "pre", factors)
    assert assert_equals_r(stats, "vo2max", "training") == 27
    models = set(stats["model"].dropna())
    assert "vo2max ~ group * sex * session + (1 | mouse); REML; Satterthwaite df" in models
    assert "vo2max at post ~ vo2max at pre + group + sex" in models
    lmm = stats[stats["test"] == "lmm"]
    assert lmm["notes"].str.startswith("sex as fixed factor(s) crossed with group").all()
    # Sidak over the family of both sessions, from R's unadjusted p
    post = stats[(stats["test"] == "emm_contrast") & (stats["subset"].str.endswith("post"))]
    assert post["p_adj"].iloc[0] == pytest.approx(1 - (1 - post["p"].iloc[0]) ** 2, rel=1e-12)


def test_cage_as_random_effect_above_the_mouse_equals_r():
    data = caged()
    cohort = {"id": "housing", "groups": ["sedentary", "trained"], "control_group": "sedentary"}
    factors = usable_factors(data, {"fixed": ["sex"], "random": "cage"}, "cohort=housing")
    sessions = ["d0", "d14", "d28"]
    stats = outcome_statistics(data, "distance_m", cohort, sessions, SETTINGS, "d0", factors)
    assert assert_equals_r(stats, "cages", "housing") == 29
    lmm = stats[stats["test"] == "lmm"]
    assert lmm["model"].iloc[0] == (
        "distance_m ~ group * sex * session + (1 | cage) + (1 | cage:mouse); REML; Satterthwaite df"
    )
    assert (lmm["n_mice"] == 24).all()  # animals counted, not cages
    # the cage level is in the model: between-animal terms are tested on cages (8 - 4 = 4 df)
    assert lmm.set_index("term").loc["group", "df_den"] == pytest.approx(4.0, abs=1e-3)


def simulated_two_sex_study(seed: int, female_offset: float) -> pd.DataFrame:
    """Two groups x two sexes, 8 mice per cell, three sessions; females run ``female_offset``
    metres more at every session, trained mice gain 60 m per session."""
    rng = np.random.default_rng(seed)
    cells = [(g, s) for g in ("sedentary", "trained") for s in ("male", "female")]
    mice = pd.DataFrame(
        [(f"{g[0]}{s[0]}{i}", g, s) for g, s in cells for i in range(8)],
        columns=["mouse", "group", "sex"],
    )
    mice["mouse_effect"] = rng.normal(0, 30, len(mice))
    long = mice.merge(pd.DataFrame({"session": ["d0", "d14", "d28"], "k": [0, 1, 2]}), "cross")
    long["distance_m"] = (
        500
        + female_offset * (long["sex"] == "female")
        + 60 * long["k"] * (long["group"] == "trained")
        + long["mouse_effect"]
        + rng.normal(0, 20, len(long))
    )
    long["group"] = pd.Categorical(long["group"], ["sedentary", "trained"], ordered=True)
    long = long.assign(cohort="c", excluded=False, day=14.0 * long["k"])
    return with_pct_change(long, "distance_m", ["d0", "d14", "d28"])


def test_planted_sex_effect_is_recovered_and_sharpens_the_group_test():
    data = simulated_two_sex_study(7, female_offset=150.0)
    cohort = {"id": "c", "groups": ["sedentary", "trained"], "control_group": "sedentary"}
    sessions = ["d0", "d14", "d28"]
    factors = usable_factors(data, {"fixed": ["sex"]}, "cohort=c")
    with_sex = outcome_statistics(data, "distance_m", cohort, sessions, SETTINGS, "d0", factors)
    without = outcome_statistics(data, "distance_m", cohort, sessions, SETTINGS, "d0", NO_FACTORS)
    coefficients = with_sex[with_sex["test"] == "lmm_coefficient"].set_index("term")
    female = coefficients.loc["C(sex, Treatment('male'))[T.female]"]
    assert female["ci_low"] < 150 < female["ci_high"]
    assert female["estimate"] == pytest.approx(150, abs=40)
    f_sex = with_sex[(with_sex["test"] == "lmm") & (with_sex["term"] == "sex")]
    assert f_sex["p"].iloc[0] < 1e-6
    # the group contrast at d28 (planted +120 m) is estimated alike, with a smaller SE once the
    # sex variance leaves the error
    contrast, plain = (
        table[
            (table["test"] == "emm_contrast") & (table["subset"] == "cohort=c; session=d28")
        ].iloc[0]
        for table in (with_sex, without)
    )
    assert contrast["estimate"] == pytest.approx(120, abs=40)
    assert contrast["se"] < 0.5 * plain["se"]


def test_one_sex_only_is_a_not_tested_row_and_the_rest_runs():
    data = simulated_two_sex_study(3, female_offset=0.0)
    data = data[data["sex"] == "male"]
    cohort = {"id": "c", "groups": ["sedentary", "trained"], "control_group": "sedentary"}
    treadmill = {
        "sessions": [{"id": s} for s in ["d0", "d14", "d28"]],
        "work_definition": "vertical",
        "baseline_session": "d0",
        "statistics": {**SETTINGS, "metrics": ["distance_m"], "model_factors": {"fixed": ["sex"]}},
        "adaptation": {"metric": "distance_m", "plateau_fraction": 0.9, "fit_plateau": False},
        "responders": {"metric": "distance_m", "session": "d28", "min_percent_change": 10},
    }
    stats = cohort_statistics(data, cohort, treadmill)["statistics"]
    untested = stats[stats["term"] == "sex"]
    assert untested["notes"].tolist() == [
        "not tested: sex has one level in the data (male): sex is not in the model"
    ]
    assert untested["p"].isna().all()
    lmm = stats[(stats["test"] == "lmm") & stats["p"].notna()]
    assert lmm["term"].tolist() == ["group", "session", "group:session"]


def test_too_few_animals_per_cell_and_cage_problems():
    data = simulated_two_sex_study(3, female_offset=0.0)
    lonely = data[
        ~((data["sex"] == "female") & (data["group"] == "trained")) | (data["mouse"] == "tf0")
    ]
    factors = usable_factors(lonely, {"fixed": ["sex"]}, "cohort=c")
    assert factors.fixed == ()
    assert factors.untested["notes"].iloc[0] == (
        "not tested: too few animals per group x sex cell (need 2; trained/female=1): "
        "sex is not in the model"
    )
    one_cage = data.assign(cage="K1")
    factors = usable_factors(one_cage, {"random": "cage"}, "cohort=c")
    assert factors.random is None and factors.untested["term"].tolist() == ["(1 | cage)"]
    moved = data.assign(cage=np.where(data["session"] == "d0", "K1", "K2"))
    with pytest.raises(InputDataError, match=r"animal \w+ is in more than one cage"):
        usable_factors(moved, {"random": "cage"}, "cohort=c", where="samples.tsv")
    blank = data.assign(sex=data["sex"].where(data["mouse"] != "sm0", ""))
    with pytest.raises(
        InputDataError,
        match=r"^samples.tsv: animal sm0 has no value in column 'sex', a declared model factor",
    ):
        usable_factors(blank, {"fixed": ["sex"]}, "cohort=c", where="samples.tsv")


def test_the_modality_declaration_replaces_the_cohorts():
    cohort = {"model_factors": {"fixed": ["sex"], "random": "cage"}}
    assert declared_factors(cohort) == {"fixed": ["sex"], "random": "cage"}
    assert declared_factors(cohort, {"model_factors": {"fixed": ["batch"]}}) == {
        "fixed": ["batch"],
        "random": None,
    }
    assert declared_factors({}, {}) == {"fixed": [], "random": None}


def test_figure_splits_every_mean_by_sex_and_every_star_has_its_row(tmp_path):
    data = simulated_two_sex_study(11, female_offset=150.0)
    cohort = {
        "id": "c",
        "groups": ["sedentary", "trained"],
        "control_group": "sedentary",
        "model_factors": {"fixed": ["sex"]},
    }
    treadmill = {
        "sessions": [{"id": s, "label": s.upper()} for s in ["d0", "d14", "d28"]],
        "work_definition": "vertical",
        "baseline_session": "d0",
        "statistics": {**SETTINGS, "metrics": ["distance_m"], "primary_metric": "distance_m"},
        "adaptation": {"metric": "distance_m", "plateau_fraction": 0.9, "fit_plateau": False},
        "responders": {"metric": "distance_m", "session": "d28", "min_percent_change": 10},
    }
    results = cohort_statistics(data, cohort, treadmill)
    stats = results["statistics"].assign(analysis="treadmill")
    summary = results["summary"].query("outcome == 'distance_m'")
    assert set(summary["sex"]) == {"male", "female"}  # the summary is per group x sex
    groups = [
        {"id": "sedentary", "label": "Sedentary", "color": "#4D4D4D"},
        {"id": "trained", "label": "Trained", "color": "#D55E00"},
    ]
    style = {"font_size_pt": 7, "full_width_mm": 180, "png_dpi": 100}
    source = tmp_path / "source"
    cohort_figure(
        data,
        stats,
        results["adaptation"],
        cohort,
        groups,
        treadmill,
        style,
        [str(tmp_path / "figure.png")],
        str(source),
    )
    assert pd.read_csv(source / "checks.tsv", sep="\t")["problem"].tolist() == []
    course = pd.read_csv(source / "panel_A.tsv", sep="\t").query("kind == 'group'")
    assert len(course) == 2 * 2 * 3  # group x sex x session: no mean over both sexes
    last = course[course["session"] == "d28"].set_index(["group", "sex"])["mean"]
    assert last[("sedentary", "female")] - last[("sedentary", "male")] == pytest.approx(150, abs=60)
    gain = pd.read_csv(source / "panel_B.tsv", sep="\t").query("kind == 'group'")
    assert sorted(zip(gain["group"], gain["sex"], strict=True)) == sorted(
        [(g, s) for g in ("sedentary", "trained") for s in ("male", "female")]
    )


@pytest.mark.slow
def test_a_study_declaring_sex_runs_end_to_end_with_sex_in_models_and_figures(tmp_path):
    copy_project(tmp_path)
    study = tmp_path / "tests" / "studies" / "pre_post_treadmill"
    shutil.copytree(REPO / "tests" / "studies" / "pre_post_treadmill", study)
    config = load_yaml(study / "config.yaml")
    config["treadmill"]["statistics"]["model_factors"] = {"fixed": ["sex"]}
    config["output_dir"] = "results/with_sex"
    (study / "sex.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--cores", "2", "--configfile", str(study / "sex.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results" / "with_sex"
    stats = pd.read_csv(results / "statistics" / "statistics.tsv", sep="\t")
    training = stats[stats["subset"].str.startswith("cohort=training", na=False)]
    lmm = training[(training["test"] == "lmm") & (training["outcome"] == "distance_m")]
    assert lmm["term"].tolist() == [
        "group",
        "sex",
        "session",
        "group:sex",
        "group:session",
        "sex:session",
        "group:sex:session",
    ]
    # the pilot cohort has one female: sex cannot enter its models, said in a row
    pilot = stats[(stats["subset"] == "cohort=pilot") & (stats["term"] == "sex")]
    assert pilot["notes"].str.contains("too few animals per sex cell").all()
    checks = [
        pd.read_csv(path, sep="\t")["problem"].tolist()
        for path in (results / "figures" / "treadmill").rglob("checks.tsv")
    ]
    assert checks and all(problems == [] for problems in checks)
    course = pd.read_csv(
        results / "figures" / "treadmill" / "training_source_data" / "panel_A.tsv", sep="\t"
    ).query("kind == 'group'")
    assert len(course) == 2 * 2 * 2  # group x sex x session


def test_legend_names_the_factor_terms_and_the_averaging():
    data = simulated_two_sex_study(7, female_offset=150.0)
    cohort = {"id": "c", "groups": ["sedentary", "trained"], "control_group": "sedentary"}
    factors = usable_factors(data, {"fixed": ["sex"]}, "cohort=c")
    stats = outcome_statistics(
        data, "distance_m", cohort, ["d0", "d14", "d28"], SETTINGS, "d0", factors
    )
    panel = stats[stats["test"].isin(["lmm", "emm_contrast"])]
    text = describe_tests(panel, {"trained": "Trained", "sedentary": "Sedentary"})
    assert "group × sex: F(1, " in text and "group × sex × session: F(2, " in text
    assert "d28 − d0), averaged over sex, Šidák-corrected" in text


def test_paper_course_panel_draws_each_sex_apart():
    data = simulated_two_sex_study(11, female_offset=150.0)
    cohort = {
        "id": "c",
        "groups": ["sedentary", "trained"],
        "control_group": "sedentary",
        "model_factors": {"fixed": ["sex"]},
    }
    treadmill = {
        "sessions": [{"id": s, "label": s.upper()} for s in ["d0", "d14", "d28"]],
        "work_definition": "vertical",
        "baseline_session": "d0",
        "statistics": {**SETTINGS, "metrics": ["distance_m"], "primary_metric": "distance_m"},
        "adaptation": {"metric": "distance_m", "plateau_fraction": 0.9, "fit_plateau": False},
        "responders": {"metric": "distance_m", "session": "d28", "min_percent_change": 10},
    }
    stats = cohort_statistics(data, cohort, treadmill)["statistics"].assign(analysis="treadmill")
    settings = {
        "groups": [
            {"id": "sedentary", "label": "Sedentary", "color": "#4D4D4D"},
            {"id": "trained", "label": "Trained", "color": "#D55E00"},
        ],
        "cohorts": [cohort],
        "treadmill": treadmill,
    }
    study = Study({"treadmill/tests.parquet": data}, stats, settings)
    figure, axis = plt.subplots()
    panel = treadmill_course(axis, {"cohort": "c"}, study)
    plt.close(figure)
    means = panel.source[panel.source["kind"] == "group"]
    assert len(means) == 2 * 2 * 3
    assert "each sex apart (marker shape and line style)" in panel.plotted
