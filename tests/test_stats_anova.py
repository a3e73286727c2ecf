"""Repeated-measures / mixed ANOVA against published afex, JASP and JAMOVI numbers.

Every expected number below is copied from the README of the reference folder named in the test
(tests/reference/<case>/README.md), except in ``test_two_between_two_within_matches_afex``,
whose values were computed with R afex 1.2-1 ``aov_ez`` on the data generated in that test.
The statistics-table rows and the input errors: ``test_stats_anova_rows_and_errors.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anova_references import (
    BUGS_WITHIN,
    REF,
    bugs,
    check,
    pingouin,
    rm_anova_wide_long,
    sleepstudy,
)

from exneuro.stats.anova import rm_anova

# ------------------------------------------------------------------------------ sleepstudy


def test_sleepstudy_one_way_days_as_factor():
    result = rm_anova(sleepstudy(), "Reaction", "Subject", within=["Days"])
    assert (result.n_subjects, result.n_dropped) == (18, 0)
    assert result.table["term"].tolist() == ["Days"]
    check(
        result,
        {
            "Days": {
                "df_num": 9,
                "df_den": 153,
                "F": 18.7027,
                "p": 8.995e-21,
                "eta2_partial": 0.523846,
                "eta2_generalized": 0.292691,
                "mse": 987.588,
                "eps_gg": 0.36903,
                "p_gg": 5.463e-09,
                "eps_hf": 0.469365,
                "p_hf": 7.077e-11,
                "mauchly_w": 0.00021902,
                "mauchly_p": 5.155e-08,
            }
        },
    )


# ------------------------------------------------------------------------------ pingouin / JASP


@pytest.mark.parametrize("ss_type", [2, 3])
def test_mixed_anova_balanced_type2_equals_type3(ss_type):
    result = rm_anova(
        pingouin("mixed_anova.csv"), "Scores", "Subject", ["Time"], ["Group"], ss_type
    )
    assert result.table["term"].tolist() == ["Group", "Time", "Group:Time"]
    assert result.n_by_group == {"Control": 30, "Meditation": 30}
    sphericity = {"eps_gg": 0.99812, "mauchly_w": 0.99812, "mauchly_p": 0.94769}
    check(
        result,
        {
            "Group": {
                "df_num": 1,
                "df_den": 58,
                "F": 5.05171,
                "p": 0.0284198,
                "eta2_partial": 0.08012,
                "eta2_generalized": 0.03067,
                "ss": 5.45996,
            },
            "Time": {
                "df_num": 2,
                "df_den": 116,
                "F": 4.02739,
                "p": 0.0203694,
                "eta2_partial": 0.06493,
                "eta2_generalized": 0.04234,
                "ss": 7.62843,
                "p_gg": 0.02044,
                **sphericity,
            },
            "Group:Time": {
                "df_num": 2,
                "df_den": 116,
                "F": 2.72800,
                "p": 0.0695448,
                "eta2_partial": 0.04492,
                "eta2_generalized": 0.02908,
                "ss": 5.16719,
                "p_gg": 0.06966,
                **sphericity,
            },
        },
    )


def test_mixed_anova_file_as_one_way_rm_jamovi():
    result = rm_anova(pingouin("mixed_anova.csv"), "Scores", "Subject", within=["Time"])
    check(
        result,
        {
            "Time": {
                "df_num": 2,
                "df_den": 118,
                "F": 3.91280,
                "p": 0.02263,
                "eta2_generalized": 0.03998,
                "eta2_partial": 0.06219,
                "eps_gg": 0.998751,
            }
        },
    )


def test_mixed_anova_unbalanced_type2_jasp():
    data = pingouin("mixed_anova_unbalanced.csv")
    result = rm_anova(data, "Scores", "Subject", ["Time"], ["Group"], ss_type=2)
    assert result.n_subjects == 26
    sphericity = {"eps_gg": 0.9254, "mauchly_w": 0.8850, "mauchly_p": 0.7535}
    check(
        result,
        {
            "Group": {"df_num": 2, "df_den": 23, "F": 2.3026, "p": 0.1226, "eta2_partial": 0.1668},
            "Time": {
                "df_num": 3,
                "df_den": 69,
                "F": 1.7071,
                "p": 0.1736,
                "eta2_partial": 0.0691,
                "p_gg": 0.1779,
                **sphericity,
            },
            "Group:Time": {
                "df_num": 6,
                "df_den": 69,
                "F": 0.8877,
                "p": 0.5088,
                "eta2_partial": 0.0717,
                "p_gg": 0.5031,
                **sphericity,
            },
        },
    )


def test_mixed_anova_unbalanced_type3_afex_differs_for_time():
    data = pingouin("mixed_anova_unbalanced.csv")
    type3 = rm_anova(data, "Scores", "Subject", ["Time"], ["Group"])
    assert type3.ss_type == 3
    check(type3, {"Time": {"F": 1.53914, "p": 0.212157, "p_gg": 0.215387}})
    type2 = rm_anova(data, "Scores", "Subject", ["Time"], ["Group"], ss_type=2)
    time2, time3 = (r.table.set_index("term").loc["Time", "F"] for r in (type2, type3))
    assert abs(time2 - time3) > 0.1  # the SS type matters on unbalanced groups
    assert "type III SS" in type3.to_stats()["model"].iloc[0]
    assert "type II SS" in type2.to_stats()["model"].iloc[0]


def test_rm_anova_wide_listwise_deletion_jamovi():
    data = rm_anova_wide_long()
    result = rm_anova(data, "Scores", "Subject", within=["Time"])
    assert (result.n_subjects, result.n_dropped) == (9, 3)
    nan_rows = data.loc[data["Scores"].isna(), "Subject"].unique().tolist()
    assert result.dropped_subjects == sorted(nan_rows)
    check(
        result,
        {
            "Time": {
                "df_num": 3,
                "df_den": 24,
                "F": 5.20065,
                "p": 0.00656,
                "eta2_generalized": 0.34639,
                "eta2_partial": 0.39397,
                "eps_gg": 0.69433,
                "p_gg": 0.01670,
                "mauchly_w": 0.30678,
                "mauchly_p": 0.163365,
                "eps_hf": 0.943432,
            }
        },
    )


def test_absent_rows_are_dropped_like_nan_rows():
    data = rm_anova_wide_long()
    with_nan = rm_anova(data, "Scores", "Subject", within=["Time"])
    without_rows = rm_anova(data.dropna(), "Scores", "Subject", within=["Time"])
    assert without_rows.dropped_subjects == with_nan.dropped_subjects
    pd.testing.assert_frame_equal(without_rows.table, with_nan.table)


def test_rm_anova2_two_way_within_jamovi():
    result = rm_anova(pingouin("rm_anova2.csv"), "Performance", "Subject", ["Time", "Metric"])
    assert result.table["term"].tolist() == ["Time", "Metric", "Time:Metric"]
    check(
        result,
        {
            "Time": {
                "df_num": 1,
                "df_den": 9,
                "F": 33.85228,
                "p": 2.536e-04,
                "ms": 828.81667,
                "eta2_partial": 0.78998,
                "eta2_generalized": 0.25401,
                "eps_gg": 1,
            },
            "Metric": {
                "df_num": 2,
                "df_den": 18,
                "F": 26.95919,
                "p": 3.854e-06,
                "ms": 682.61667,
                "eta2_partial": 0.74972,
                "eta2_generalized": 0.35933,
                "eps_gg": 0.96910,
                "p_gg": 5.232e-06,
                "mauchly_w": 0.96812,
                "mauchly_p": 0.87844,
            },
            "Time:Metric": {
                "df_num": 2,
                "df_den": 18,
                "F": 12.63227,
                "p": 3.735e-04,
                "ms": 112.21667,
                "eta2_partial": 0.58395,
                "eta2_generalized": 0.08442,
                "eps_gg": 0.72717,
                "p_gg": 1.708e-03,
                "mauchly_w": 0.6248,
                "mauchly_p": 0.15239,
            },
        },
    )


# ------------------------------------------------------------------------------ Maxwell & Delaney


def test_maxwell_delaney_12_1_two_way_within_afex():
    data = pd.read_csv(REF / "maxwell_delaney_12_1" / "md_12_1.csv")
    result = rm_anova(data, "rt", "id", within=["angle", "noise"])
    assert result.table["term"].tolist() == ["angle", "noise", "angle:noise"]
    check(
        result,
        {
            "angle": {
                "df_num": 2,
                "df_den": 18,
                "F": 40.7191,
                "p": 2.0868e-07,
                "eta2_partial": 0.818983,
                "eta2_generalized": 0.390118,
                "mse": 3560,
                "eps_gg": 0.961637,
                "p_gg": 3.4017e-07,
                "eps_hf": 1.21756,
                "mauchly_w": 0.960106,
                "mauchly_p": 0.849722,
                "ss": 289920,
            },
            "noise": {
                "df_num": 1,
                "df_den": 9,
                "F": 33.7660,
                "p": 2.5597e-04,
                "eta2_partial": 0.789552,
                "eta2_generalized": 0.386602,
                "mse": 8460,
                "ss": 285660,
            },
            "angle:noise": {
                "df_num": 2,
                "df_den": 18,
                "F": 45.3103,
                "p": 9.4241e-08,
                "eta2_partial": 0.834286,
                "eta2_generalized": 0.188266,
                "mse": 1160,
                "eps_gg": 0.903977,
                "p_gg": 3.4539e-07,
                "eps_hf": 1.11787,
                "mauchly_w": 0.893777,
                "mauchly_p": 0.638142,
                "ss": 105120,
            },
        },
    )
    # HF epsilon > 1 is reported uncapped but capped at 1 for the correction: p_HF = p
    row = result.table.set_index("term").loc["angle"]
    assert row["p_hf"] == pytest.approx(row["p"], rel=1e-12)
    hf = result.to_stats("huynh-feldt").set_index("term").loc["angle"]
    assert (hf["epsilon"], hf["correction"]) == (1.0, "Huynh-Feldt")


# ------------------------------------------------------------------------------ bugs


def test_bugs_two_way_within_listwise_afex():
    result = rm_anova(bugs(), "DesireToKill", "Subject", within=BUGS_WITHIN)
    assert (result.n_subjects, result.n_dropped) == (88, 5)
    assert result.dropped_subjects == [2, 10, 42, 64, 80]
    check(
        result,
        {
            "Disgustingness": {
                "df_num": 1,
                "df_den": 87,
                "F": 12.1752,
                "p": 7.6238e-04,
                "eta2_partial": 0.122764,
                "eta2_generalized": 0.0185538,
                "mse": 4.00428,
                "ss": 48.75284,
                "eps_gg": 1,
                "eps_hf": 1,
            },
            "Frighteningness": {
                "df_num": 1,
                "df_den": 87,
                "F": 41.6297,
                "p": 6.0115e-09,
                "eta2_partial": 0.323640,
                "eta2_generalized": 0.0644151,
                "mse": 4.26515,
                "ss": 177.55682,
            },
            "Disgustingness:Frighteningness": {
                "df_num": 1,
                "df_den": 87,
                "F": 2.1523,
                "p": 0.145962,
                "eta2_partial": 0.0241418,
                "eta2_generalized": 0.00253166,
                "mse": 3.04114,
                "ss": 6.54545,
            },
        },
    )


BUGS_GENDER = {
    "Gender": {"df_num": 1, "df_den": 85, "F": 0.995883, "p": 0.321141, "eta2_partial": 0.0115806},
    "Disgustingness": {"F": 12.0610, "p": 8.122e-04, "eta2_partial": 0.124263},
    "Frighteningness": {"F": 32.1221, "p": 1.939e-07, "eta2_partial": 0.274262},
    "Gender:Disgustingness": {"F": 0.431696, "p": 0.512933},
    "Gender:Frighteningness": {"F": 1.28489, "p": 0.260180},
    "Disgustingness:Frighteningness": {"F": 4.68830, "p": 0.0331712, "eta2_partial": 0.0522732},
    "Gender:Disgustingness:Frighteningness": {"df_den": 85, "F": 4.68830, "p": 0.0331712},
}


def test_bugs_gender_mixed_three_way_afex():
    data = bugs().dropna(subset=["Gender"])  # the README: remove the blank-Gender subject
    result = rm_anova(data, "DesireToKill", "Subject", within=BUGS_WITHIN, between=["Gender"])
    assert (result.n_subjects, result.n_dropped) == (87, 5)
    assert result.n_by_group == {"Female": 58, "Male": 29}
    assert result.table["term"].tolist() == [
        "Gender",
        "Disgustingness",
        "Gender:Disgustingness",
        "Frighteningness",
        "Gender:Frighteningness",
        "Disgustingness:Frighteningness",
        "Gender:Disgustingness:Frighteningness",
    ]
    check(result, BUGS_GENDER)


def test_missing_between_value_drops_and_counts_the_subject():
    data = bugs()
    assert data.loc[data["Gender"].isna(), "Subject"].unique().tolist() == [40]
    result = rm_anova(data, "DesireToKill", "Subject", within=BUGS_WITHIN, between=["Gender"])
    assert (result.n_subjects, result.n_dropped) == (87, 6)
    assert result.dropped_subjects == [2, 10, 40, 42, 64, 80]
    check(result, BUGS_GENDER)
    assert result.to_stats()["n_excluded"].eq(6).all()


# ------------------------------------------------------------------------------ general designs


def two_between_two_within() -> pd.DataFrame:
    """Deterministic unbalanced 3 x 2 (between) x 3 x 3 (within) design, 27 subjects."""
    sizes = {("a1", "b1"): 4, ("a1", "b2"): 5, ("a2", "b1"): 3}
    sizes |= {("a2", "b2"): 6, ("a3", "b1"): 4, ("a3", "b2"): 5}
    rows, s = [], 0
    for (a, b), n in sizes.items():
        for _ in range(n):
            s += 1
            for i, x in enumerate(["x1", "x2", "x3"]):
                for j, y in enumerate(["y1", "y2", "y3"]):
                    c = 3 * i + j
                    v = ((s * 37 + c * 11 + s * c * 5) % 17) / 2
                    v += i * (a == "a2") + 1.5 * j * (b == "b2") + 0.7 * i * j
                    rows.append((f"S{s:02d}", a, b, x, y, v))
    return pd.DataFrame(rows, columns=["id", "A", "B", "X", "Y", "score"])


def test_two_between_two_within_matches_afex():
    data = two_between_two_within()
    type3 = rm_anova(data, "score", "id", within=["X", "Y"], between=["A", "B"])
    assert type3.table["term"].tolist() == [
        "A", "B", "A:B", "X", "A:X", "B:X", "A:B:X",
        "Y", "A:Y", "B:Y", "A:B:Y", "X:Y", "A:X:Y", "B:X:Y", "A:B:X:Y",
    ]  # fmt: skip
    xy = {"eps_gg": 0.9100084175, "eps_hf": 1.124436811, "mauchly_w": 0.7817311682}
    check(
        type3,
        {
            "A": {"F": 14.20555, "eta2_partial": 0.5749943021, "eta2_generalized": 0.05131954072},
            "B:X": {"F": 0.59981, "p": 0.55355004, "p_gg": 0.4959923186, "p_hf": 0.5030687744},
            "X": {"eps_gg": 0.6890721609, "mauchly_w": 0.5487731812, "mauchly_p": 0.0024770159},
            "X:Y": {"df_num": 4, "df_den": 84, "F": 1.97761, "mauchly_p": 0.8536100465, **xy},
            "A:B:X:Y": {"df_num": 8, "F": 0.84162, "eta2_generalized": 0.03971331306},
        },
    )
    type2 = rm_anova(data, "score", "id", within=["X", "Y"], between=["A", "B"], ss_type=2)
    check(
        type2,
        {
            "A": {"F": 14.13524, "p": 0.00012916},
            "B": {"F": 91.42023, "eta2_generalized": 0.14826001637},
            "X": {"F": 17.37258, "p_gg": 6.693267873e-05},
            "A:X:Y": {"F": 0.43052, "eta2_partial": 0.0393873569},
            "A:B:Y": {"F": 0.50677},
        },
    )


def test_row_order_and_categorical_levels_do_not_change_results():
    data = pingouin("mixed_anova_unbalanced.csv")
    reference = rm_anova(data, "Scores", "Subject", ["Time"], ["Group"])
    shuffled = data.sample(frac=1, random_state=1).reset_index(drop=True)
    levels = list(reversed(sorted(data["Time"].unique())))
    shuffled["Time"] = pd.Categorical(shuffled["Time"], categories=levels)
    result = rm_anova(shuffled, "Scores", "Subject", ["Time"], ["Group"])
    np.testing.assert_allclose(
        result.table.drop(columns="term").to_numpy(float),
        reference.table.drop(columns="term").to_numpy(float),
        rtol=1e-10,
    )
