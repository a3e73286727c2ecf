"""The paper's ephys F–I, per-cell, spine and histology panels of a study with sex as a fixed
factor (read from the validated sample sheet): one mean per group x sex, said in the legend;
with nothing declared they draw as before (one mean per group)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from test_nested_sex import ephys_shaped, segments

from exneuro.figures.checks import check_figure
from exneuro.figures.style import apply_style
from exneuro.paper.cellular import ephys_fi, ephys_property, histology_percent, spine_density
from exneuro.paper.panels import Study

GROUPS = [
    {"id": "control", "label": "Control", "color": "#4D4D4D"},
    {"id": "exercise", "label": "Exercise", "color": "#0072B2"},
]


def study(fixed: list[str]) -> Study:
    steps, cells, sheet = ephys_shaped()
    data = segments()
    density = data.assign(spine_type="total", length_um=10.0)
    # each segment a section: 20 labelled neurons, the density's share of them positive
    sections = data.assign(
        section=data["neuron"] + data["segment"],
        marker="cFos",
        n_labelled=20,
        n_positive=(data["density_per_10um"]).round().clip(0, 20).astype(int),
    )
    cohort = {"id": "c", "groups": ["control", "exercise"], "control_group": "control"}
    settings = {
        "groups": GROUPS,
        "cohorts": [cohort | {"model_factors": {"fixed": fixed}}],
        "ephys": {"cohort": "c", "statistics": {"min_current_pa": 0.0}},
        "spines": {"cohort": "c", "per_um": 10.0, "statistics": {}},
        "histology": {"cohort": "c", "labelled_name": "SF1", "statistics": {}},
    }
    tables = {
        "ephys/steps.parquet": steps,
        "ephys/cells.parquet": cells,
        "spines/segment_density.parquet": density.drop(columns=["sex", "cage"]),
        "histology/sections.tsv": sections.drop(columns=["sex", "cage"]),
        "config/samples.tsv": sheet.astype("string"),
    }
    columns = ["analysis", "outcome", "subset", "test", "term", "p", "p_adj", "notes"]
    return Study(tables, pd.DataFrame(columns=columns), settings)


@pytest.mark.parametrize("fixed", [["sex"], []])
def test_cellular_paper_panels_draw_each_sex_apart(fixed):
    shown = study(fixed)
    apply_style(7)
    figure, axes = plt.subplots(1, 4, figsize=(12, 3.5))
    panels = [
        ephys_fi(axes[0], {}, shown),
        ephys_property(axes[1], {"outcome": "rheobase_pa"}, shown),
        spine_density(axes[2], {}, shown),
        histology_percent(axes[3], {"marker": "cFos"}, shown),
    ]
    figure.subplots_adjust(top=0.6, bottom=0.2, left=0.06, right=0.98, wspace=0.6)
    if fixed:  # (without a split the F-I legend sits inside the axes, over these data)
        assert check_figure(figure) == []
    plt.close(figure)
    for panel in panels:
        means = panel.source[panel.source["kind"] == "group"]
        if fixed:
            assert means["sex"].notna().all(), panel.plotted
            assert means.groupby(["group", "sex"]).ngroups == 4, panel.plotted
            assert "each sex apart" in panel.plotted
        else:
            assert "sex" not in means.columns, panel.plotted
            assert "apart" not in panel.plotted
    if fixed:  # the spine means: mouse means by group x sex, as the model sees them
        data = segments()
        mouse = data.groupby(["group", "sex", "mouse"])["density_per_10um"].mean()
        expected = mouse.groupby(["group", "sex"]).mean()
        spine = panels[2].source
        got = spine[spine["kind"] == "group"].set_index(["group", "sex"])["value"]
        assert got.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())
