"""Sex as a fixed factor and cage as a random effect in the nested (segment within neuron
within mouse) mixed model of spines and cells: equal to R (tests/reference/nested_sex), and
designs that cannot carry the factor give "not tested" rows."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO

from exneuro.cellular.nested import nested_group_statistics

REFERENCE = REPO / "tests" / "reference" / "nested_sex"
LEVELS = ["mouse", "neuron", "segment"]
LABELS = ("control", "exercise")


def segments() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "segments.csv")


@pytest.mark.parametrize(
    ("case", "declared"),
    [("sex", {"fixed": ["sex"]}), ("sex_cage", {"fixed": ["sex"], "random": "cage"})],
)
def test_nested_model_with_sex_and_cage_equals_r(case, declared):
    stats = nested_group_statistics(
        segments(),
        "density_per_10um",
        "group",
        LEVELS,
        LABELS,
        analyses=["lmm"],
        model_factors=declared,
    )
    reference = pd.read_csv(REFERENCE / "reference.tsv", sep="\t")
    reference = reference[reference["case"] == case]
    assert stats["term"].tolist() == reference["term"].tolist()
    for got, row in zip(stats.to_dict("records"), reference.to_dict("records"), strict=True):
        assert got["statistic"] == pytest.approx(row["statistic"], rel=1e-4), row
        assert got["df_num"] == pytest.approx(row["df_num"], rel=1e-4), row
        if pd.notna(row["df_den"]):
            assert got["df_den"] == pytest.approx(row["df_den"], rel=1e-4), row
        assert got["p"] == pytest.approx(row["p"], rel=1e-4), row
        if pd.notna(row["estimate"]):
            assert got["estimate"] == pytest.approx(row["estimate"], rel=1e-4)
            assert got["se"] == pytest.approx(row["se"], rel=1e-4)
    assert (stats["n_mice"] == 24).all() and (stats["n_cells"] == 72).all()
    primary = stats.iloc[0]
    assert primary["test"] == "lmm"
    assert "averaged over sex with equal weights" in primary["notes"]
    if case == "sex_cage":
        assert primary["model"].startswith(
            "density_per_10um ~ group * sex + (1 | cage) + (1 | cage:mouse) + "
            "(1 | cage:mouse:neuron)"
        )


def test_one_sex_in_the_nested_data_is_a_not_tested_row():
    males = segments().query("sex == 'male'")
    stats = nested_group_statistics(
        males,
        "density_per_10um",
        "group",
        LEVELS,
        LABELS,
        analyses=["lmm", "cluster"],
        model_factors={"fixed": ["sex"]},
    )
    assert stats["test"].tolist() == ["lmm", "lmm", "welch_t_mouse_means"]
    assert stats["term"].tolist()[:2] == ["exercise - control", "sex"]
    assert stats["notes"].iloc[1] == (
        "not tested: sex has one level in the data (male): sex is not in the model"
    )
    assert stats["p"].iloc[0] < 0.05 and pd.isna(stats["p"].iloc[1])
