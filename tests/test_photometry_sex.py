"""Sex as a fixed factor and cage as a random effect in the photometry group x day statistics:
the numbers equal R's (the cage case of tests/reference/treadmill_sex, read as window metrics),
and one sex only is a "not tested" row."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from conftest import REPO

from exneuro.figures.checks import check_figure
from exneuro.figures.photometry_metric import plot_window_metric
from exneuro.figures.style import apply_style
from exneuro.photometry.epoch_stats import epoch_statistics

REFERENCE = REPO / "tests" / "reference" / "treadmill_sex"
R_TERMS = {"session": "day"}


def window_metrics() -> tuple[pd.DataFrame, pd.DataFrame]:
    """cages.csv as photometry window metrics (day 0, 14, 28) and its sample sheet."""
    data = pd.read_csv(REFERENCE / "cages.csv")
    sheet = data[["mouse", "sex", "cage"]].drop_duplicates().rename(columns={"mouse": "mouse_id"})
    metrics = data.assign(
        day=data["session"].str.removeprefix("d").astype(int),
        window="run",
        metric="mean_dff",
        value=data["distance_m"],
    )[["mouse", "group", "day", "window", "metric", "value"]]
    return metrics, sheet


def test_photometry_models_with_sex_and_cage_equal_r():
    metrics, sheet = window_metrics()
    stats = epoch_statistics(
        metrics,
        "sedentary",
        correction="none",
        anova="complete",
        sphericity_correction="none",
        context={"cohort": "c"},
        sheet=sheet,
        model_factors={"fixed": ["sex"], "random": "cage"},
    )
    reference = pd.read_csv(REFERENCE / "reference.tsv", sep="\t", keep_default_na=False)
    reference = reference[
        (reference["case"] == "cages")
        & reference["test"].isin(["lmm", "emm_contrast", "mixed_anova"])
    ]
    checked = 0
    for row in reference.to_dict("records"):
        term = ":".join(R_TERMS.get(part, part) for part in row["term"].split(":"))
        if row["test"] != "emm_contrast":
            got = stats[(stats["test"] == row["test"]) & (stats["term"] == term)]
        else:
            day = row["subset"].removeprefix("session=d")
            got = stats[
                (stats["test"] == "emm_contrast")
                & (stats["term"] == row["term"])
                & (stats["subset"] == f"cohort=c; window=run; day={day}")
            ]
        assert len(got) == 1, row
        got = got.iloc[0]
        assert got["statistic"] == pytest.approx(float(row["statistic"]), rel=1e-4), row
        assert got["df_num"] == pytest.approx(float(row["df_num"]), rel=1e-4), row
        assert got["p"] == pytest.approx(float(row["p"]), rel=1e-4), row
        if row["estimate"] != "NA":
            assert got["estimate"] == pytest.approx(float(row["estimate"]), rel=1e-4), row
            assert got["se"] == pytest.approx(float(row["se"]), rel=1e-4), row
        checked += 1
    assert checked == 17
    anova = stats[stats["test"] == "mixed_anova"]
    assert anova["term"].tolist() == [
        "group",
        "sex",
        "group:sex",
        "day",
        "group:day",
        "sex:day",
        "group:sex:day",
    ]
    assert (stats.loc[stats["test"] == "lmm", "n_mice"] == 24).all()


def test_one_sex_in_the_photometry_data_is_a_not_tested_row():
    metrics, sheet = window_metrics()
    males = set(sheet.loc[sheet["sex"] == "male", "mouse_id"])
    stats = epoch_statistics(
        metrics[metrics["mouse"].isin(males)],
        "sedentary",
        context={"cohort": "c"},
        sheet=sheet,
        model_factors={"fixed": ["sex"]},
    )
    untested = stats[stats["term"] == "sex"]
    assert untested["notes"].tolist() == [
        "not tested: sex has one level in the data (male): sex is not in the model"
    ]
    lmm = stats[(stats["test"] == "lmm") & stats["p"].notna()]
    assert lmm["term"].tolist() == ["group", "day", "group:day"]


def test_window_metric_panel_draws_each_sex_apart_with_stars_from_rows():
    metrics, sheet = window_metrics()
    stats = epoch_statistics(
        metrics,
        "sedentary",
        context={"cohort": "c"},
        sheet=sheet,
        model_factors={"fixed": ["sex"]},
    ).assign(analysis="photometry")
    shown = metrics.merge(sheet.rename(columns={"mouse_id": "mouse"}), on="mouse")
    apply_style(7)
    figure, axis = plt.subplots(figsize=(4, 4))
    drawn = plot_window_metric(
        axis,
        shown,
        "run",
        "mean_dff",
        ["sedentary", "trained"],
        {"sedentary": "#4D4D4D", "trained": "#D55E00"},
        {"sedentary": "Sedentary", "trained": "Trained"},
        stats,
        "sedentary",
        split="sex",
    )
    figure.subplots_adjust(left=0.2, right=0.95, top=0.7, bottom=0.15)
    assert check_figure(figure) == []
    means = drawn[drawn["kind"] == "group"]
    assert len(means) == 2 * 2 * 3  # group x sex x day: no mean over both sexes
    expected = shown.groupby(["group", "sex", "day"])["value"].mean() * 100
    got = means.set_index(["group", "sex", "day"])["value"]
    assert got.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())
    assert drawn["stars"].notna().any()
    plt.close(figure)
