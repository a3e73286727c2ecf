"""The sEPSC cumulative distributions of a study with sex as a fixed factor: one curve per
group x sex, each the equal-weight pool of its own cells (fraction counted within the sex),
named in the legend; the KS values, which pool the sexes, say so."""

from __future__ import annotations

import pandas as pd
import pytest
from test_nested_sex import GROUPS, ephys_shaped

from exneuro.cellular.ephys_stats import ephys_statistics
from exneuro.paper.standard.cellular import ephys_figure

#: Planted sEPSC amplitudes: females 10 pA, males 30 pA (+5 pA with exercise).
AMPLITUDE = {"female": 10.0, "male": 30.0}


def sexed_events(cells: pd.DataFrame, sheet: pd.DataFrame) -> pd.DataFrame:
    """Twenty events per cell, 0.5 s apart, amplitudes planted by sex and group."""
    sex = sheet.set_index("mouse_id")["sex"]
    per_cell = cells[["mouse", "cell", "group"]].drop_duplicates()
    events = per_cell.loc[per_cell.index.repeat(20)].reset_index(drop=True)
    k = events.groupby(["mouse", "cell"]).cumcount().to_numpy()
    amplitude = events["mouse"].map(sex).map(AMPLITUDE) + 5.0 * (events["group"] == "exercise")
    return events.assign(time_s=0.5 * k, amplitude_pa=amplitude + 0.1 * k)


def test_cdf_panels_draw_one_curve_per_group_and_sex(tmp_path):
    steps, cells, sheet = ephys_shaped()
    events = sexed_events(cells, sheet)
    stats = ephys_statistics(
        steps,
        cells,
        events,
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
        events,
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
    amplitudes = pd.read_csv(source / "panel_C.tsv", sep="\t")
    curves = amplitudes.groupby(["group", "sex"])
    assert curves.ngroups == 4  # group x sex: no curve pools both sexes
    # each curve reaches 1 within its own sex, and holds that sex's planted amplitudes only
    assert curves["ecdf"].max().tolist() == [1.0] * 4
    medians = curves["amplitude_pa"].median()
    assert medians[("control", "female")] < 12 < medians[("control", "male")]
    assert medians[("exercise", "male")] - medians[("control", "male")] == pytest.approx(5.0)
    assert pd.read_csv(source / "panel_B.tsv", sep="\t").groupby(["group", "sex"]).ngroups == 4


def test_cdf_legend_names_group_and_sex_and_ks_says_it_pools():
    import matplotlib.pyplot as plt

    from exneuro.cellular.sepsc import pooled_distribution
    from exneuro.figures.ephys import plot_cdf

    _, cells, sheet = ephys_shaped()
    events = sexed_events(cells, sheet)
    pooled = pooled_distribution(events, "amplitude_pa", "group").merge(
        sheet.rename(columns={"mouse_id": "mouse"})[["mouse", "sex"]], on="mouse"
    )
    ks = pd.DataFrame(
        {
            "analysis": ["ephys"],
            "test": ["ks_2samp"],
            "outcome": ["sepsc_amplitude_median_pa"],
            "term": ["exercise vs control"],
            "subset": ["cohort=c"],
            "statistic": [0.5],
            "p": [0.001],
        }
    )
    figure, axis = plt.subplots()
    labels = {"control": "Control", "exercise": "Exercise"}
    colours = {"control": "#4D4D4D", "exercise": "#0072B2"}
    plot_cdf(
        axis,
        pooled,
        "amplitude_pa",
        "sepsc_amplitude_median_pa",
        ks,
        ["control", "exercise"],
        colours,
        labels,
        {"cohort": "c"},
        "sex",
        ["male", "female"],
    )
    shown = [text.get_text() for text in axis.get_legend().get_texts()]
    assert shown == ["male", "female"]  # line styles; the colours are the groups
    assert axis.get_legend().get_title().get_text() == "sex"
    assert any("(descriptive, sex pooled)" in text.get_text() for text in axis.texts)
    plt.close(figure)


@pytest.mark.parametrize("fixed", [["sex"], []])
def test_paper_cdf_panel_draws_each_sex_apart_and_says_ks_pools(fixed):
    import matplotlib.pyplot as plt

    from exneuro.figures.checks import check_figure
    from exneuro.paper.cellular import ephys_cdf
    from exneuro.paper.panels import Study

    _, cells, sheet = ephys_shaped()
    cohort = {"id": "c", "groups": ["control", "exercise"], "control_group": "control"}
    settings = {
        "groups": GROUPS,
        "cohorts": [cohort | {"model_factors": {"fixed": fixed}}],
        "ephys": {"cohort": "c", "statistics": {"per_cell": None, "min_events": 10}},
    }
    tables = {
        "ephys/events.parquet": sexed_events(cells, sheet),
        "config/samples.tsv": sheet.astype("string"),
    }
    statistics = pd.DataFrame(columns=["analysis", "outcome", "subset", "test", "term", "p"])
    figure, axis = plt.subplots(figsize=(2.5, 3))
    panel = ephys_cdf(axis, {"value": "amplitude_pa"}, Study(tables, statistics, settings))
    figure.subplots_adjust(top=0.7, left=0.25)
    assert check_figure(figure) == []
    plt.close(figure)
    if fixed:
        assert panel.source.groupby(["group", "sex"]).ngroups == 4
        assert panel.plotted.endswith(", each sex apart (line style)")
        assert panel.caveats == (
            "The Kolmogorov–Smirnov tests compare the groups with every sex pooled.",
        )
    else:  # nothing declared: one curve per group, as before
        assert "sex" not in panel.source.columns and panel.caveats == ()
        assert panel.source.groupby("group")["ecdf"].max().tolist() == [1.0, 1.0]
