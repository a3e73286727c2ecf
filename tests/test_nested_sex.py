"""Sex as a fixed factor and cage as a random effect in the nested (segment within neuron
within mouse) mixed model of spines and cells: equal to R (tests/reference/nested_sex), and
designs that cannot carry the factor give "not tested" rows."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO

from exneuro.cellular.ephys_stats import ephys_statistics
from exneuro.cellular.morphology_stats import histology_statistics, spine_statistics
from exneuro.cellular.nested import nested_group_statistics
from exneuro.errors import InputDataError
from exneuro.paper.standard.cellular import ephys_figure, spine_figure

REFERENCE = REPO / "tests" / "reference" / "nested_sex"
LEVELS = ["mouse", "neuron", "segment"]
LABELS = ("control", "exercise")
#: The two groups of the figure tests (ids, labels, colours).
GROUPS = [
    {"id": "control", "label": "Control", "color": "#4D4D4D"},
    {"id": "exercise", "label": "Exercise", "color": "#0072B2"},
]


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


def ephys_shaped() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The same numbers as ephys tables: each segment a step current of its neuron (steps), or
    each segment a cell of its own (cells); sex and cage come from a sample sheet."""
    data = segments()
    sheet = data[["mouse", "sex", "cage"]].drop_duplicates().rename(columns={"mouse": "mouse_id"})
    current = 20 * (data["segment"].str.removeprefix("s").astype(int) + 1)
    steps = data.assign(
        cell=data["neuron"], current_pa=current, firing_rate_hz=data["density_per_10um"]
    )[["mouse", "cell", "group", "current_pa", "firing_rate_hz"]]
    cells = data.assign(
        cell=data["neuron"] + data["segment"], rheobase_pa=data["density_per_10um"]
    )[["mouse", "cell", "group", "rheobase_pa"]]
    return steps, cells, sheet


def r_rows(case: str) -> pd.DataFrame:
    reference = pd.read_csv(REFERENCE / "reference.tsv", sep="\t")
    return reference[reference["case"] == case]


def assert_row(got: pd.Series, row: dict) -> None:
    assert got["statistic"] == pytest.approx(row["statistic"], rel=1e-4), row
    assert got["df_num"] == pytest.approx(row["df_num"], rel=1e-4), row
    if pd.notna(row["df_den"]):
        assert got["df_den"] == pytest.approx(row["df_den"], rel=1e-4), row
    assert got["p"] == pytest.approx(row["p"], rel=1e-4), row
    if pd.notna(row["estimate"]):
        assert got["estimate"] == pytest.approx(row["estimate"], rel=1e-4), row
        assert got["se"] == pytest.approx(row["se"], rel=1e-4), row


def test_ephys_models_with_sex_and_cage_equal_r():
    steps, cells, sheet = ephys_shaped()
    stats = ephys_statistics(
        steps,
        cells,
        None,
        "control",
        outcomes=["rheobase_pa"],
        correction="none",
        context={"cohort": "c"},
        sheet=sheet,
        model_factors={"fixed": ["sex"], "random": "cage"},
    )
    fi = stats[stats["outcome"] == "firing_rate_hz"]
    for row in r_rows("fi_curve").to_dict("records"):
        if row["test"] == "lmm":
            got = fi[(fi["test"] == "lmm") & (fi["term"] == row["term"])]
        else:
            got = fi[(fi["test"] == "emm_contrast") & (fi["subset"] == f"cohort=c; {row['term']}")]
        assert len(got) == 1, row
        assert_row(got.iloc[0], row)
    assert (fi["n_mice"] == 24).all()
    model = fi["model"].iloc[0]
    assert model.startswith("firing_rate_hz ~ group * sex * current_pa + (1 | cage) + ")
    assert "(1 | cage:mouse)" in model and "(1 | cage:mouse:cell)" in model
    # per-cell values: sex fixed, no cage (a modality's own declaration)
    stats = ephys_statistics(
        steps,
        cells,
        None,
        "control",
        outcomes=["rheobase_pa"],
        context={"cohort": "c"},
        sheet=sheet,
        model_factors={"fixed": ["sex"]},
    )
    cell_rows = stats[stats["outcome"] == "rheobase_pa"]
    for row in r_rows("cells").to_dict("records"):
        got = cell_rows[(cell_rows["test"] == row["test"]) & (cell_rows["term"] == row["term"])]
        assert len(got) == 1, row
        assert_row(got.iloc[0], row)
    contrast = cell_rows[cell_rows["test"] == "emm_contrast"].iloc[0]
    assert "group means averaged over sex with equal weights" in contrast["notes"]


def test_ephys_factor_missing_from_the_sheet_is_one_clear_line():
    steps, cells, sheet = ephys_shaped()
    with pytest.raises(InputDataError, match=r"^samples.tsv: model_factors names column\(s\) "):
        ephys_statistics(
            steps,
            cells,
            None,
            "control",
            outcomes=["rheobase_pa"],
            sheet=sheet,
            sheet_path="samples.tsv",
            model_factors={"fixed": ["litter"]},
        )


def test_histology_two_way_anova_with_sex_equals_r_and_cage_is_said_not_fitted():
    data = segments()
    mice = data.groupby(["mouse", "group", "sex"], as_index=False)["density_per_10um"].mean()
    mice = mice.rename(columns={"density_per_10um": "percent_positive"}).assign(
        marker="Fos", n_labelled=100, n_sections=3
    )
    stats = histology_statistics(mice, LABELS, model_factors={"fixed": ["sex"], "random": "cage"})
    anova = stats[stats["test"] == "anova"]
    for row in r_rows("histology").to_dict("records"):
        got = anova[anova["term"] == row["term"]]
        assert len(got) == 1, row
        assert_row(got.iloc[0], row)
    untested = stats[stats["term"] == "(1 | cage)"]
    assert untested["notes"].str.startswith("not tested: the histology tests compare").all()
    assert stats["test"].iloc[0] == "welch_t"  # the two-group test is still the first row


def test_spine_figure_draws_each_sex_apart_with_stars_from_the_contrast_row(tmp_path):
    density = segments().assign(spine_type="total", length_um=10.0, count=1)
    stats = spine_statistics(
        density,
        LABELS,
        spine_types=[],
        n_boot=200,
        analyses=["lmm", "cluster"],
        count_model="none",
        subset={"cohort": "c"},
        model_factors={"fixed": ["sex"]},
    )
    style = {"font_size_pt": 7, "full_width_mm": 90, "png_dpi": 100}
    source = tmp_path / "source"
    spine_figure(
        density,
        stats,
        [],
        list(LABELS),
        GROUPS,
        style,
        [str(tmp_path / "f.png")],
        str(source),
        subset={"cohort": "c"},
        split="sex",
    )
    assert pd.read_csv(source / "checks.tsv", sep="\t")["problem"].tolist() == []
    drawn = pd.read_csv(source / "panel_A.tsv", sep="\t")
    means = drawn[drawn["kind"] == "group"].set_index(["group", "sex"])["value"]
    assert len(means) == 4  # group x sex: no mean over both sexes
    mouse_means = density.groupby(["group", "sex", "mouse"])["density_per_10um"].mean()
    expected = mouse_means.groupby(["group", "sex"]).mean()
    assert means.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())
    assert drawn["sex"].dropna().unique().tolist() == ["male", "female"]


def test_ephys_figure_draws_each_sex_apart(tmp_path):
    steps, cells, sheet = ephys_shaped()
    stats = ephys_statistics(
        steps,
        cells,
        None,
        "control",
        outcomes=["rheobase_pa"],
        context={"cohort": "c"},
        sheet=sheet,
        model_factors={"fixed": ["sex"]},
    )
    style = {"font_size_pt": 7, "full_width_mm": 180, "png_dpi": 100}
    source = tmp_path / "source"
    ephys_figure(
        steps,
        cells,
        None,
        stats,
        GROUPS,
        "control",
        style,
        [str(tmp_path / "f.png")],
        str(source),
        outcomes=["rheobase_pa"],
        context={"cohort": "c"},
        split="sex",
        sheet=sheet,
    )
    assert pd.read_csv(source / "checks.tsv", sep="\t")["problem"].tolist() == []
    curves = pd.read_csv(source / "panel_A.tsv", sep="\t").query("kind == 'group'")
    assert len(curves) == 2 * 2 * 4  # group x sex x current
    cells_drawn = pd.read_csv(source / "panel_B.tsv", sep="\t").query("kind == 'group'")
    assert sorted(cells_drawn["sex"]) == ["female", "female", "male", "male"]
