"""Histology: per-section counts, per-mouse percentages, group tests, figure, simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exneuro.cellular import histology as hi
from exneuro.cellular import morphology_stats, nested
from exneuro.errors import ConfigError, InputDataError
from exneuro.paper.standard.cellular import histology_figure
from exneuro.simulate import spines as sim

WIDE = {
    "mouse": "Mouse",
    "section": "Section",
    "n_labelled": "SF1+",
    "positives": {"Fos": "Fos+", "Bdnf": "Bdnf+"},
}
HEADER = "Mouse,Section,SF1+,Fos+,Bdnf+"
ROWS = ["A1,s1,10,1,2", "A1,s2,90,45,9", "A2,s1,50,5,10", "A2,s2,0,0,0"]
LONG = {
    "mouse": "Mouse",
    "section": "Section",
    "n_labelled": "SF1+",
    "marker": "Marker",
    "n_positive": "Positive",
}


def write(tmp_path, rows, header=HEADER):
    path = tmp_path / "counts.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_wide_table_becomes_one_row_per_section_and_marker(tmp_path):
    table = hi.read_section_counts(write(tmp_path, ROWS), WIDE)
    assert list(table.columns) == [
        "mouse",
        "section",
        "marker",
        "n_labelled",
        "n_positive",
        "source_line",
    ]
    assert len(table) == 8
    fos = table[table["marker"] == "Fos"]
    assert fos["n_positive"].tolist() == [1, 45, 5, 0]


def test_long_table_reads_the_same(tmp_path):
    rows = ["A1,s1,10,Fos,1", "A1,s1,10,Bdnf,2"]
    table = hi.read_section_counts(
        write(tmp_path, rows, "Mouse,Section,SF1+,Marker,Positive"), LONG
    )
    assert table[["marker", "n_positive"]].values.tolist() == [["Fos", 1], ["Bdnf", 2]]


def test_percent_positive_pools_cells_over_sections(tmp_path):
    table = hi.read_section_counts(write(tmp_path, ROWS), WIDE)
    per_mouse = hi.percent_positive(table).set_index(["mouse", "marker"])
    # A1 Fos: (1 + 45) / (10 + 90) = 46 %, not the mean of 10 % and 50 % (30 %)
    assert per_mouse.loc[("A1", "Fos"), "percent_positive"] == pytest.approx(46.0)
    assert per_mouse.loc[("A1", "Fos"), "percent_positive_section_mean"] == pytest.approx(30.0)
    assert per_mouse.loc[("A1", "Fos"), "n_sections"] == 2
    assert per_mouse.loc[("A1", "Fos"), "n_labelled"] == 100
    # A2: the section without labelled cells adds nothing; its own percentage is undefined
    assert per_mouse.loc[("A2", "Bdnf"), "percent_positive"] == pytest.approx(20.0)
    assert per_mouse.loc[("A2", "Bdnf"), "percent_positive_section_mean"] == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["A1,s1,10,11,2"], r"line 2, column 'Fos\+': 11 positive cells but only 10 labelled"),
        (["A1,s1,10,-1,2"], r"line 2, column 'Fos\+': negative Fos\+ count"),
        (["A1,s1,10.5,1,2"], r"line 2, column 'SF1\+': labelled-cell count 10.5 is not a whole"),
        (["A1,s1,10,1,two"], r"line 2, column 'Bdnf\+': 'two' is not a number"),
        (["A1,s1,10,1,2", "A1,s1,12,1,2"], r"line 3, column 'Section': section 's1' of mouse A1"),
    ],
)
def test_bad_counts_stop_with_file_line_and_column(tmp_path, rows, expected):
    with pytest.raises(InputDataError, match=expected):
        hi.read_section_counts(write(tmp_path, rows), WIDE)


def test_incomplete_mapping_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="marker \\+ n_positive"):
        hi.read_section_counts(
            write(tmp_path, ROWS), {k: v for k, v in WIDE.items() if k != "positives"}
        )


def test_histology_statistics_compare_mouse_percentages():
    per_mouse = pd.DataFrame(
        {
            "mouse": ["a", "b", "c", "d", "e", "f"],
            "marker": "Fos",
            "group": ["sed"] * 3 + ["ex"] * 3,
            "n_sections": [3, 4, 3, 5, 3, 4],
            "n_labelled": [100] * 6,
            "n_positive": [10, 12, 14, 30, 34, 38],
            "percent_positive": [10.0, 12.0, 14.0, 30.0, 34.0, 38.0],
        }
    )
    rows = morphology_stats.histology_statistics(per_mouse, ("sed", "ex"))
    row = rows.iloc[0]
    assert row["estimate"] == pytest.approx(22.0)
    assert row["effect_size_name"] == "Hedges g"
    assert row["n_mice"] == 6
    assert row["n_cells"] == 600
    assert row["n_segments"] == 22
    assert row["subset"] == "marker=Fos"
    assert row["analysis"] == "histology"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("histology")
    effects = sim.HistologyEffects()
    mice = sim.default_mice(effects.groups, prefix="H")
    truth = sim.write_histology(effects, mice, folder, np.random.default_rng(5))
    sections = hi.read_section_counts(folder / sim.HISTOLOGY_FILE, truth["columns"]["sections"])
    return folder, effects, mice, truth, nested.join_sample_sheet(sections, mice)


def test_simulated_histology_is_deterministic(simulated, tmp_path):
    folder, effects, mice, truth, _ = simulated
    assert sim.write_histology(effects, mice, tmp_path, np.random.default_rng(5)) == truth
    assert (tmp_path / sim.HISTOLOGY_FILE).read_bytes() == (
        folder / sim.HISTOLOGY_FILE
    ).read_bytes()


def test_planted_fos_increase_is_recovered(simulated):
    _, effects, _, truth, sections = simulated
    # a 99 % CI, so that this check of a random study fails by chance 1 time in 100
    rows = morphology_stats.histology_statistics(
        hi.percent_positive(sections), effects.groups, level=0.99
    )
    fos = rows[rows["subset"] == "marker=Fos"].iloc[0]
    planted = truth["expected_difference_percentage_points"]["Fos"]
    print(
        f"\nFos+ among SF1+: {fos['estimate']:.1f} points (planted {planted:.1f}), p {fos['p']:.2g}"
    )
    assert fos["p"] < 0.001
    assert fos["ci_low"] <= planted <= fos["ci_high"]
    assert sections.groupby("mouse")["section"].nunique().min() >= 3


def test_histology_figure_writes_the_same_bytes_twice(simulated, tmp_path):
    _, effects, _, _, sections = simulated
    stats = morphology_stats.histology_statistics(
        hi.percent_positive(sections), effects.groups, subset={"cohort": "c"}
    )
    groups = [{"id": "sedentary", "label": "Sedentary", "color": "#4D4D4D"}]
    style = {"font_size_pt": 7, "png_dpi": 150, "single_column_mm": 85}
    outputs = []
    for run in ("a", "b"):
        paths = [str(tmp_path / run / f"histology.{fmt}") for fmt in ("pdf", "svg", "png")]
        histology_figure(
            sections, stats, ["Fos", "Bdnf"], list(effects.groups), groups, style, paths,
            str(tmp_path / run / "source"), subset={"cohort": "c"},
        )  # fmt: skip
        outputs.append(
            [(tmp_path / run / f"histology.{fmt}").read_bytes() for fmt in ("pdf", "svg", "png")]
            + [(tmp_path / run / "source" / f"panel_{p}.tsv").read_bytes() for p in "AB"]
        )
    assert outputs[0] == outputs[1]
    panel = pd.read_csv(tmp_path / "a" / "source" / "panel_A.tsv", sep="\t")
    per_mouse = hi.percent_positive(sections)
    fos = per_mouse[per_mouse["marker"] == "Fos"].set_index("mouse")["percent_positive"]
    drawn = panel[panel["kind"] == "mouse"].set_index("mouse")["value"]
    assert drawn.to_numpy() == pytest.approx(fos[drawn.index].to_numpy())
