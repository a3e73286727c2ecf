"""Reference cases through the path a lab uses: a table declared in the config.

Each public dataset of tests/reference is declared as a lab would declare its own table; the
numbers that come out must equal those of R (afex, lme4, lmerTest, emmeans) and JASP.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

from exneuro.config import ConfigError, validate_config
from exneuro.errors import InputDataError
from exneuro.stats import mixed
from exneuro.tables.design import factor_levels, read_declared_table
from exneuro.tables.statistics import declared_statistics, fit_declared_lmm

REFERENCE = Path(__file__).parent / "reference"
MINIMAL = {
    "study": {"id": "reference", "title": "reference cases"},
    "samples": "unused.tsv",
    "groups": [{"id": "a", "label": "A", "color": "#000000"}],
    "cohorts": [{"id": "c", "groups": ["a", "b"], "control_group": "a"}],
}


def declare(config_schema, **table) -> dict:
    """The declaration with every default filled, exactly as the config would give it."""
    config = copy.deepcopy(MINIMAL) | {"tables": {"case": {"join_sample_sheet": False, **table}}}
    config["groups"].append({"id": "b", "label": "B", "color": "#111111"})
    return validate_config(config, config_schema, "config.yaml")["tables"]["case"]


def run(config_schema, **table) -> pd.DataFrame:
    declaration = declare(config_schema, **table)
    data = read_declared_table(declaration, None, "case")
    return declared_statistics(data, declaration, "case")


def row(stats, test, term, outcome=None):
    mask = (stats["test"] == test) & (stats["term"] == term)
    if outcome:
        mask &= stats["outcome"] == outcome
    assert mask.sum() == 1, (test, term)
    return stats[mask].iloc[0]


def test_sleepstudy_one_way_rm_anova(config_schema):
    stats = run(
        config_schema,
        file=str(REFERENCE / "sleepstudy/sleepstudy.csv"),
        subject="Subject",
        within=["Days"],
        outcomes=["Reaction"],
        tests=["rm_anova"],
    )
    days = row(stats, "rm_anova", "Days")
    assert (days["df_num"], days["df_den"]) == (9, 153)
    assert days["statistic"] == pytest.approx(18.7027, rel=1e-4)
    assert days["p"] == pytest.approx(8.995e-21, rel=1e-3)
    assert days["epsilon"] == pytest.approx(0.36903, rel=1e-4)
    assert days["p_adj"] == pytest.approx(5.463e-09, rel=1e-3)
    assert days["effect_size"] == pytest.approx(0.523846, rel=1e-4)
    assert days["effect_size_alt"] == pytest.approx(0.292691, rel=1e-4)


def test_sleepstudy_random_slope_model_with_satterthwaite_df(config_schema):
    stats = run(
        config_schema,
        file=str(REFERENCE / "sleepstudy/sleepstudy.csv"),
        subject="Subject",
        covariates=["Days"],
        random_slopes=["Days"],
        outcomes=["Reaction"],
        tests=["lmm"],
    )
    days = stats[
        (stats["test"] == "lmm") & (stats["term"] == "Days") & (stats["statistic_name"] == "t")
    ].iloc[0]
    assert days["estimate"] == pytest.approx(10.4673, rel=1e-4)
    assert days["df_num"] == pytest.approx(16.99998, rel=1e-3)
    assert days["statistic"] == pytest.approx(6.771, rel=1e-3)
    assert days["p"] == pytest.approx(3.2638e-06, rel=1e-3)
    f_row = stats[(stats["test"] == "lmm") & (stats["statistic_name"] == "F")].iloc[0]
    # effectsize::F_to_eta2(F = t^2 = 45.853, df = 1, df_error = 17) = 0.7295
    assert f_row["effect_size"] == pytest.approx(45.853 / (45.853 + 17), rel=1e-3)


def test_mixed_anova_group_by_time_matches_jasp(config_schema):
    stats = run(
        config_schema,
        file=str(REFERENCE / "pingouin_jasp_refs/mixed_anova.csv"),
        subject="Subject",
        between=["Group"],
        within=["Time"],
        outcomes=["Scores"],
        tests=["rm_anova"],
    )
    for term, f, p in (
        ("Group", 5.05171, 0.0284198),
        ("Time", 4.02739, 0.0203694),
        ("Group:Time", 2.72800, 0.0695448),
    ):
        found = row(stats, "mixed_anova", term)
        assert found["statistic"] == pytest.approx(f, rel=1e-4)
        assert found["p"] == pytest.approx(p, rel=1e-4)


def test_unbalanced_mixed_anova_states_its_sum_of_squares(config_schema):
    table = dict(
        file=str(REFERENCE / "pingouin_jasp_refs/mixed_anova_unbalanced.csv"),
        subject="Subject",
        between=["Group"],
        within=["Time"],
        outcomes=["Scores"],
        tests=["rm_anova"],
    )
    type3 = row(run(config_schema, **table), "mixed_anova", "Time")
    type2 = row(run(config_schema, ss_type=2, **table), "mixed_anova", "Time")
    assert type3["statistic"] == pytest.approx(1.53914, rel=1e-4)
    assert type3["p"] == pytest.approx(0.212157, rel=1e-4)
    assert type2["statistic"] == pytest.approx(1.7071, abs=5e-5)
    assert "type III" in type3["model"] and "type II " in type2["model"] + " "


def test_two_way_within_with_missing_values_drops_subjects_listwise(config_schema):
    stats = run(
        config_schema,
        file=str(REFERENCE / "bugs_ryan2013/bugs_ryan2013.csv"),
        subject="Subject",
        within=["Disgustingness", "Frighteningness"],
        outcomes=["DesireToKill"],
        tests=["rm_anova"],
    )
    for term, f in (
        ("Disgustingness", 12.1752),
        ("Frighteningness", 41.6297),
        ("Disgustingness:Frighteningness", 2.1523),
    ):
        found = row(stats, "rm_anova", term)
        assert found["statistic"] == pytest.approx(f, rel=1e-4)
        assert (found["n_mice"], found["n_excluded"]) == (88, 5)


def test_blank_between_value_is_missing_not_a_level(config_schema):
    stats = run(
        config_schema,
        file=str(REFERENCE / "bugs_ryan2013/bugs_ryan2013.csv"),
        subject="Subject",
        between=["Gender"],
        within=["Disgustingness", "Frighteningness"],
        outcomes=["DesireToKill"],
        tests=["rm_anova"],
    )
    assert row(stats, "mixed_anova", "Gender")["statistic"] == pytest.approx(0.995883, rel=1e-4)
    assert row(stats, "mixed_anova", "Gender")["df_den"] == 85


def test_maxwell_delaney_two_within_factors(config_schema):
    stats = run(
        config_schema,
        file=str(REFERENCE / "maxwell_delaney_12_1/md_12_1.csv"),
        subject="id",
        within=["angle", "noise"],
        outcomes=["rt"],
        tests=["rm_anova"],
    )
    assert row(stats, "rm_anova", "angle")["statistic"] == pytest.approx(40.7191, rel=1e-4)
    assert row(stats, "rm_anova", "noise")["statistic"] == pytest.approx(33.7660, rel=1e-4)
    interaction = row(stats, "rm_anova", "angle:noise")
    assert interaction["statistic"] == pytest.approx(45.3103, rel=1e-4)
    assert interaction["epsilon"] == pytest.approx(0.903977, rel=1e-4)


def test_pastes_nested_variance_components(config_schema):
    declaration = declare(
        config_schema,
        file=str(REFERENCE / "lme4_pastes/pastes.csv"),
        subject="batch",
        nested=["cask"],
        outcomes=["strength"],
        tests=["lmm"],
    )
    data = read_declared_table(declaration, None, "case")
    fit = fit_declared_lmm(data, "strength", declaration, factor_levels(data, declaration))
    variance = mixed.variance_components(fit).set_index("grp")["vcov"]
    assert variance["batch:cask"] == pytest.approx(8.4337, rel=1e-2)
    assert variance["batch"] == pytest.approx(1.6573, rel=1e-2)
    assert variance["Residual"] == pytest.approx(0.6780, rel=1e-2)
    coef = mixed.coef_table(fit).iloc[0]
    assert coef["estimate"] == pytest.approx(60.05333, rel=1e-4)
    assert coef["se"] == pytest.approx(0.67687, rel=1e-3)


def test_unbalanced_lmm_and_emmeans_contrasts_match_lmertest(config_schema):
    anova_ref = pd.read_csv(REFERENCE / "lmm_unbalanced/r_anova.csv")
    anova_ref = anova_ref[anova_ref["model"] == "unbalanced"].set_index("term")
    contrasts_ref = pd.read_csv(REFERENCE / "lmm_unbalanced/r_contrasts.csv")
    sidak = contrasts_ref[
        (contrasts_ref["model"] == "unbalanced pairwise group|session")
        & (contrasts_ref["adjust"] == "sidak")
    ]
    stats = run(
        config_schema,
        file=str(REFERENCE / "lmm_unbalanced/unbalanced.csv"),
        subject="mouse",
        between=["group"],
        within=["session"],
        outcomes=["distance_m"],
        level_order={"group": ["control", "silenced", "activated"]},
        tests=["lmm", "posthoc"],
        correction="sidak",
        posthoc={"factor": "group", "by": "session", "method": "pairwise"},
    )
    for term, reference in anova_ref.iterrows():
        found = row(stats, "lmm", term)
        assert found["statistic"] == pytest.approx(reference["F"], rel=1e-3)
        assert found["df_den"] == pytest.approx(reference["df_den"], rel=1e-2)
        assert found["p"] == pytest.approx(reference["p"], rel=1e-3)
    contrasts = stats[stats["test"] == "emm_contrast"]
    assert len(contrasts) == len(sidak) == 12
    for reference in sidak.itertuples():
        found = contrasts[
            (contrasts["term"] == reference.contrast)
            & (contrasts["subset"] == f"session={reference.by}")
        ].iloc[0]
        assert found["estimate"] == pytest.approx(reference.estimate, rel=1e-3)
        assert found["p_adj"] == pytest.approx(reference.p_adj, rel=1e-3)
        assert found["ci_low"] == pytest.approx(reference.ci_low, rel=1e-3)
        assert found["correction"] == "Sidak (3 tests)"


def test_nested_cells_cluster_test_and_bootstrap_report_both_levels(config_schema):
    stats = run(
        config_schema,
        file=str(REFERENCE / "lmm_unbalanced/nested_cells.csv"),
        subject="mouse",
        between=["group"],
        nested=["cell"],
        outcomes=["y"],
        tests=["lmm", "two_group", "cluster", "bootstrap"],
        bootstrap_resamples=2000,
    )
    assert stats.loc[stats["test"] == "lmm", "n_cells"].eq(70).all()
    assert stats.loc[stats["test"] == "lmm", "n_mice"].eq(10).all()
    naive = stats[stats["test"] == "welch_t_naive"]
    assert naive["n_cells"].tolist() == [70] and naive["notes"].str.startswith("naive").all()
    mice = stats[stats["test"] == "welch_t"]
    assert mice["n_mice"].tolist() == [10] and mice["n_cells"].isna().all()
    assert {"welch_t_mouse_means", "hierarchical_bootstrap"} <= set(stats["test"])
    # every row its own key: a star or legend drawn from 'welch_t' is the test on mice
    keys = ["analysis", "outcome", "subset", "test", "term"]
    assert not stats[keys].astype(str).duplicated().any()


def _table(tmp_path, text: str) -> str:
    path = tmp_path / "table.csv"
    path.write_text(text)
    return str(path)


def test_declared_column_missing_from_the_file_is_named(tmp_path, config_schema):
    path = _table(tmp_path, "mouse,week,mass\nm1,1,20\nm1,2,21\nm2,1,22\nm2,2,23\n")
    with pytest.raises(
        ConfigError,
        match=r"tables\.case: a factor column 'Week' is not in .*"
        r"table\.csv \(the closest is 'week'; columns: mouse, week, mass\) — fix the name",
    ):
        run(
            config_schema,
            file=path,
            subject="mouse",
            within=["Week"],
            outcomes=["mass"],
            tests=["rm_anova"],
        )


def test_factor_with_one_level_is_refused(tmp_path, config_schema):
    path = _table(tmp_path, "mouse,week,mass\nm1,1,20\nm2,1,22\n")
    with pytest.raises(ConfigError, match=r"factor 'week' has only one level \(1\)"):
        run(
            config_schema,
            file=path,
            subject="mouse",
            within=["week"],
            outcomes=["mass"],
            tests=["rm_anova"],
        )


def test_subject_in_two_groups_is_refused(tmp_path, config_schema):
    path = _table(tmp_path, "mouse,group,mass\nm1,a,20\nm1,b,21\nm2,a,22\nm3,b,23\n")
    with pytest.raises(InputDataError, match=r"subject m1 appears in more than one group \(a, b\)"):
        run(
            config_schema,
            file=path,
            subject="mouse",
            between=["group"],
            outcomes=["mass"],
            tests=["two_group"],
        )


def test_posthoc_on_an_undeclared_factor_is_refused(config_schema):
    with pytest.raises(ConfigError, match=r"tables\.case\.posthoc\.factor: 'sex' is not one of"):
        declare(
            config_schema,
            file="x.csv",
            subject="mouse",
            between=["group"],
            outcomes=["y"],
            tests=["lmm", "posthoc"],
            posthoc={"factor": "sex"},
        )


def test_wide_table_with_missing_values_is_stacked_and_deleted_listwise(config_schema):
    columns = ["Before", "1 week", "2 week", "3 week"]
    stats = run(
        config_schema,
        file=str(REFERENCE / "pingouin_jasp_refs/rm_anova_wide.csv"),
        subject="@row",
        wide={"factor": "time", "columns": columns},
        within=["time"],
        level_order={"time": columns},
        outcomes=["score"],
        tests=["rm_anova"],
    )
    time = row(stats, "rm_anova", "time")
    assert (time["df_num"], time["df_den"], time["n_excluded"]) == (3, 24, 3)
    assert time["statistic"] == pytest.approx(5.20065, rel=1e-4)
    assert time["epsilon"] == pytest.approx(0.69433, rel=1e-4)
    assert time["effect_size_alt"] == pytest.approx(0.34639, rel=1e-4)


def test_two_within_factors_from_a_file_with_byte_order_mark(config_schema):
    stats = run(
        config_schema,
        file=str(REFERENCE / "pingouin_jasp_refs/rm_anova2.csv"),
        subject="Subject",
        within=["Time", "Metric"],
        outcomes=["Performance"],
        level_order={"Time": ["Pre", "Post"]},
        tests=["rm_anova"],
    )
    for term, f in (("Time", 33.85228), ("Metric", 26.95919), ("Time:Metric", 12.63227)):
        assert row(stats, "rm_anova", term)["statistic"] == pytest.approx(f, rel=1e-4)
    assert row(stats, "rm_anova", "Time:Metric")["p_adj"] == pytest.approx(1.708e-03, rel=1e-3)


def test_cage_as_random_group_above_the_mouse_matches_lmertest(config_schema):
    case = REFERENCE / "cage_random_effect"
    declaration = declare(
        config_schema,
        file=str(case / "cage_mice.csv"),
        subject="mouse",
        random_group="cage",
        between=["group"],
        within=["week"],
        outcomes=["score"],
        tests=["lmm"],
    )
    data = read_declared_table(declaration, None, "case")
    stats = declared_statistics(data, declaration, "case")
    reference = pd.read_csv(case / "reference.tsv", sep="\t")
    for _, expected in reference[reference["kind"] == "F"].iterrows():
        got = row(stats, "lmm", expected["term"])
        assert got["statistic"] == pytest.approx(expected["value"], rel=1e-4)
        assert got["df_den"] == pytest.approx(expected["df_den"], rel=1e-3)
        assert got["p"] == pytest.approx(expected["p"], rel=1e-3)
    fit = fit_declared_lmm(data, "score", declaration, factor_levels(data, declaration))
    variance = mixed.variance_components(fit).set_index("grp")["vcov"]
    expected = reference[reference["kind"] == "variance"].set_index("term")["value"]
    assert (stats["n_mice"] == 24).all()  # mice, not cages
    assert variance["cage"] == pytest.approx(expected["cage"], rel=1e-3)
    assert variance["Residual"] == pytest.approx(expected["Residual"], rel=1e-3)
    assert variance.drop(["cage", "Residual"]).iloc[0] == pytest.approx(
        expected["mouse:cage"], rel=1e-3
    )
