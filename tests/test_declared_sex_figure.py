"""A declared table whose design has a second between factor (sex) draws one mean per group x
sex: the MoTrPAC-shaped rat study's VO2max (between group and sex) and its body mass declared
the same way, where males (~340 g) and females (~180 g) must never be averaged."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO

from exneuro.config import load_yaml, table_design, validate_config
from exneuro.io import read_table
from exneuro.paper.standard.behaviour import table_figure
from exneuro.tables.design import read_declared_table

STUDY = REPO / "tests" / "studies" / "rat_training"
STYLE = {"font_size_pt": 7, "png_dpi": 100, "single_column_mm": 85, "full_width_mm": 174}


def rat_table(config_schema, key: str, **changes) -> tuple[dict, dict]:
    config = load_yaml(STUDY / "config.yaml")
    for table in config["tables"].values():
        table["file"] = str(REPO / table["file"])
    config = validate_config(config, config_schema, str(STUDY / "config.yaml"))
    design = table_design(config, key) | changes
    return design, config


def draw(tmp_path, design, config):
    data = read_declared_table(design, None, design.get("file"))
    table_figure(
        data,
        pd.DataFrame(columns=["analysis", "outcome", "subset", "test", "term", "p_adj"]),
        design,
        config["groups"],
        STYLE,
        [str(tmp_path / "figure.png")],
        str(tmp_path / "source"),
        key="body_mass",
    )
    source = read_table(tmp_path / "source" / "panel_A.tsv")
    assert read_table(tmp_path / "source" / "checks.tsv").empty
    return data, source


@pytest.mark.parametrize("figure", ["line", "bars"])
def test_body_mass_by_group_and_sex_never_averages_the_sexes(tmp_path, config_schema, figure):
    design, config = rat_table(
        config_schema, "body_mass", split_by=[], between=["group", "sex"], figure=figure
    )
    data, source = draw(tmp_path, design, config)
    means = source[source["kind"] == "group"]
    subjects = data.groupby(["rat_id", "sex", "group"], as_index=False)["body_mass_g"].mean()
    if figure == "line":
        assert len(means) == 2 * 2 * 8  # group x sex x week
        expected = data.groupby(["group", "sex", "week"])["body_mass_g"].mean()
        got = means.assign(week=means["x"].map(lambda i: f"week {int(i) + 1}"))
        got = got.set_index(["group", "sex", "week"])["value"]
        assert got.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())
    else:
        assert len(means) == 2 * 2  # group x sex
        expected = subjects.groupby(["group", "sex"])["body_mass_g"].mean()
        got = means.set_index(["group", "sex"])["value"]
        assert got.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())
    # every drawn mean lies within the range of its own sex: none is a mix of males and females
    low = subjects.groupby("sex")["body_mass_g"].min()
    high = subjects.groupby("sex")["body_mass_g"].max()
    assert (means["sex"].map(low) - 30 <= means["value"]).all()
    assert (means["value"] <= means["sex"].map(high) + 30).all()
    assert high["female"] < low["male"]  # the data are the two-sex shape: the test can fail


def test_vo2max_between_group_and_sex_draws_four_lines_named_in_the_legend(tmp_path, config_schema):
    design, config = rat_table(config_schema, "vo2max")
    assert design["between"] == ["group", "sex"]
    data, source = draw(tmp_path, design, config)
    means = source[source["kind"] == "group"]
    assert sorted(zip(means["group"], means["sex"], strict=True)) == sorted(
        [(g, s) for g in ("SED", "8W") for s in ("male", "female")] * 2
    )
    assert set(means["count"]) == {4, 3}  # male SED 4 has no post value


def test_one_between_factor_draws_as_before(tmp_path, config_schema):
    design, config = rat_table(config_schema, "run_speed")
    _, source = draw(tmp_path, design, config)
    means = source[source["kind"] == "group"]
    assert "sex" not in means.columns or means["sex"].isna().all()
    assert len(means) == 2 * 2  # group x test: run_speed declares no sex


def test_the_legend_names_group_and_sex_of_every_mean(config_schema):
    import matplotlib.pyplot as plt

    from exneuro.figures.tables import level_colours, plot_line
    from exneuro.tables.design import factor_levels

    design, config = rat_table(config_schema, "vo2max")
    data = read_declared_table(design, None, design["file"])
    levels = factor_levels(data, design)
    labels = {g["id"]: g["label"] for g in config["groups"]}
    colours = level_colours(levels["group"], config["groups"])
    figure, axis = plt.subplots()
    plot_line(axis, data, "vo2max", design, levels, colours, labels)
    shown = [text.get_text() for text in axis.get_legend().get_texts()]
    assert shown == [
        "Sedentary, male",
        "Sedentary, female",
        "Trained 8 weeks, male",
        "Trained 8 weeks, female",
    ]
    plt.close(figure)


def test_paper_table_panel_draws_and_says_each_sex_apart(config_schema):
    import matplotlib.pyplot as plt

    from exneuro.figures.checks import check_figure
    from exneuro.paper.behaviour import table_plot
    from exneuro.paper.panels import Study

    design, config = rat_table(config_schema, "vo2max")
    data = read_declared_table(design, None, design["file"])
    statistics = pd.DataFrame(columns=["analysis", "outcome", "subset", "test", "term", "p_adj"])
    settings = {"groups": config["groups"], "cohorts": config["cohorts"]}
    study = Study(
        {"tables/vo2max/data.tsv": data}, statistics, settings | {"tables": {"vo2max": design}}
    )
    figure, axis = plt.subplots(figsize=(3, 3))
    panel = table_plot(axis, {"table": "vo2max"}, study)
    figure.subplots_adjust(top=0.7)
    assert check_figure(figure) == []
    plt.close(figure)
    means = panel.source[panel.source["kind"] == "group"]
    assert len(means) == 2 * 2 * 2 and means["sex"].notna().all()
    assert panel.plotted.endswith(
        "circles, mean ± SEM, each sex apart (marker shape and line style)"
    )
