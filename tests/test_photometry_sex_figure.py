"""The photometry figure of a study with sex as a fixed factor: session traces one mean per
group x sex x day, heatmap rows grouped by sex within group, window metric per group x sex,
and the waveform panel saying it pools the sexes; the figure checker finds nothing."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from exneuro.figures.photometry import plot_peri_event, plot_session_traces
from exneuro.io import read_table
from exneuro.paper.standard.activity import photometry_figure

GROUPS = [
    {"id": "control", "label": "Control", "color": "#4D4D4D"},
    {"id": "trained", "label": "Trained", "color": "#D55E00"},
]
STYLE = {"font_size_pt": 7, "png_dpi": 100, "full_width_mm": 174}
#: Planted ΔF/F offsets: females +4 %, males -4 %, trained +2 % more on the last day.
SEX_OFFSET = {"female": 0.04, "male": -0.04}


def sexed_study() -> dict[str, pd.DataFrame]:
    """Twelve mice (3 per group x sex), days 1 and 7, a 60-s grid from -600 to 1800 s."""
    mice = pd.DataFrame(
        {
            "mouse": [f"m{i:02d}" for i in range(12)],
            "group": ["control"] * 6 + ["trained"] * 6,
            "sex": (["female"] * 3 + ["male"] * 3) * 2,
        }
    )
    times = np.arange(-600.0, 1800.0 + 1, 60.0)
    grid = mice.merge(pd.DataFrame({"day": [1, 7]}), how="cross").merge(
        pd.DataFrame({"time_s": times}), how="cross"
    )
    rng = np.random.default_rng(3)
    trained_late = (grid["group"] == "trained") & (grid["day"] == 7)
    grid["dff"] = (
        grid["sex"].map(SEX_OFFSET) + 0.02 * trained_late + rng.normal(0.0, 0.005, len(grid))
    )
    metrics = (
        grid[grid["time_s"].between(0, 900)]
        .groupby(["mouse", "group", "sex", "day"], as_index=False)["dff"]
        .mean()
        .rename(columns={"dff": "value"})
        .assign(window="post_0_15", metric="mean_dff")
    )
    lags = np.arange(-5.0, 5.01, 1.0)
    peri = pd.DataFrame(
        {
            "group": np.repeat(["control", "trained"], len(lags)),
            "lag_s": np.tile(lags, 2),
            "mean": 0.01,
            "ci_low": 0.0,
            "ci_high": 0.02,
        }
    )
    intervals = pd.DataFrame({"group": ["trained"], "start_s": [1.0], "end_s": [3.0]})
    return {"traces": grid, "metrics": metrics, "peri": peri, "intervals": intervals}


def draw(tmp_path, split):
    """The workflow's photometry figure of :func:`sexed_study`, ``split`` declared or not."""
    study = sexed_study()
    paper = sexed_paper_study([split] if split else [])
    tables = paper.tables
    settings = {
        **paper.settings["photometry"],
        "peri_event": {"events": ["offset"], "method": "bootstrap", "min_duration_s": 1.0},
    }
    source = photometry_figure(
        tables["photometry/aligned.parquet"],
        tables["photometry/metrics.tsv"],
        tables["photometry/qc.tsv"],
        study["peri"].assign(event="offset", day=1),
        study["intervals"].assign(event="offset", day=1),
        paper.statistics,
        paper.settings["cohorts"][0],
        settings,
        GROUPS,
        STYLE,
        [str(tmp_path / "photometry.png")],
        str(tmp_path / "source"),
        sheet=tables["config/samples.tsv"],
    )
    return study, source


def test_traces_and_heatmap_draw_each_sex_apart(tmp_path):
    study, source = draw(tmp_path, "sex")
    assert read_table(tmp_path / "source" / "checks.tsv").empty
    traces = study["traces"]
    for letter, group in (("A", "control"), ("B", "trained")):
        drawn = source[letter]
        # one mean per sex x day x time: 2 x 2 x 41 rows, 3 mice each, none over both sexes
        assert len(drawn) == 2 * 2 * 41
        assert set(drawn["n_mice"]) == {3}
        expected = traces[traces["group"] == group].groupby(["sex", "day", "time_s"])["dff"].mean()
        got = drawn.set_index(["sex", "day", "time_s"])["mean"]
        assert got.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())
        # the planted sex difference (8 %) is what separates the two lines
        by_sex = drawn.groupby("sex")["mean"].mean()
        assert by_sex["female"] - by_sex["male"] == pytest.approx(0.08, abs=0.005)
    heatmap = source["C"].drop_duplicates("mouse")
    # rows: control females, control males, trained females, trained males
    assert (
        list(zip(heatmap["group"], heatmap["sex"], strict=True))
        == [("control", "female")] * 3
        + [("control", "male")] * 3
        + [("trained", "female")] * 3
        + [("trained", "male")] * 3
    )
    window = source["D"][source["D"]["kind"] == "group"]
    assert len(window) == 2 * 2 * 2  # group x sex x day


def test_legends_name_the_sex_of_every_line_and_the_pooled_waveforms():
    study = sexed_study()
    fig, (left, right) = plt.subplots(1, 2)
    plot_session_traces(left, study["traces"], "control", [1, 7], "#4D4D4D", 600, split="sex")
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    # the days by shade, the sexes by line style: each a short entry of its own
    assert labels == ["Day 1", "Day 7", "female", "male"]
    styles = [line.get_linestyle() for line in left.get_legend().get_lines()]
    assert styles[2] != styles[3]
    drawn = [line for line in left.get_lines() if len(line.get_xdata())]
    # four traces (2 days x 2 sexes) and the zero line; female and male of a day differ in style
    assert len(drawn) == 5
    plot_peri_event(
        right,
        study["peri"],
        study["intervals"],
        ["control", "trained"],
        {g["id"]: g["color"] for g in GROUPS},
        {g["id"]: g["label"] for g in GROUPS},
        pooled="sex",
    )
    assert right.get_legend().get_title().get_text() == "sex pooled"
    plt.close(fig)


def test_without_a_split_the_figure_draws_as_before(tmp_path):
    study, source = draw(tmp_path, None)
    drawn = source["A"]
    assert list(drawn.columns) == ["group", "day", "time_s", "mean", "sem", "n_mice"]
    assert set(drawn["n_mice"]) == {6}  # both sexes in one mean: none was declared
    assert list(source["C"].columns) == ["mouse", "group", "day", "time_s", "dff", "qc_failed"]
    assert read_table(tmp_path / "source" / "checks.tsv").empty


def sexed_paper_study(fixed: list[str]):
    """The study of :func:`sexed_study` as the paper's panels read it (results + sample sheet)."""
    from exneuro.paper.panels import Study

    study = sexed_study()
    traces = study["traces"]
    aligned = traces.drop(columns="sex").rename(columns={"dff": "value"})
    aligned = aligned.assign(alignment="run_onset", column="dff", included=True)
    sessions = traces[["mouse", "group", "day"]].drop_duplicates()
    qc = sessions.assign(
        included=True, qc_pass=True, qc_reasons="", run_onset_s=0.0, run_offset_s=600.0
    )
    sheet = (
        traces[["mouse", "sex"]]
        .drop_duplicates()
        .rename(columns={"mouse": "mouse_id"})
        .astype("string")
    )
    settings = {
        "groups": GROUPS,
        "cohorts": [
            {
                "id": "c",
                "groups": ["control", "trained"],
                "control_group": "control",
                "model_factors": {"fixed": fixed},
            }
        ],
        "photometry": {
            "cohort": "c",
            "run_event": "run",
            "peri_event": {"events": ["offset"]},
            "statistics": {},
            "figure": {"window": "post_0_15", "metric": "mean_dff"},
        },
    }
    tables = {
        "photometry/aligned.parquet": aligned,
        "photometry/qc.tsv": qc,
        "photometry/metrics.tsv": study["metrics"].drop(columns="sex").assign(included=True),
        "config/samples.tsv": sheet,
    }
    return Study(tables, pd.DataFrame(columns=["analysis", "outcome", "subset", "test"]), settings)


@pytest.mark.parametrize("fixed", [["sex"], []])
def test_paper_trace_heatmap_and_window_panels_draw_each_sex_apart(fixed):
    from exneuro.figures.checks import check_figure
    from exneuro.paper.activity import photometry_heatmap, photometry_trace, photometry_window

    study = sexed_paper_study(fixed)
    figure, axes = plt.subplots(1, 3, figsize=(9, 3))
    trace = photometry_trace(axes[0], {"group": "trained"}, study)
    heatmap = photometry_heatmap(axes[1], {}, study)
    window = photometry_window(axes[2], {}, study)
    figure.subplots_adjust(top=0.7, wspace=0.6)
    assert check_figure(figure) == []
    plt.close(figure)
    means = window.source[window.source["kind"] == "group"]
    if fixed:
        assert len(trace.source) == 2 * 2 * 41 and set(trace.source["n_mice"]) == {3}
        assert trace.plotted.count("each sex apart") == 1
        assert "grouped by sex within group" in heatmap.plotted
        assert (
            heatmap.source.drop_duplicates("mouse")["sex"].tolist()[:6]
            == ["female"] * 3 + ["male"] * 3
        )
        assert len(means) == 2 * 2 * 2 and "each sex apart" in window.plotted
    else:  # nothing declared: as before, one mean per group and day
        assert "sex" not in trace.source and set(trace.source["n_mice"]) == {6}
        assert "sex" not in heatmap.source and len(means) == 2 * 2
        assert "apart" not in trace.plotted + heatmap.plotted + window.plotted


def test_paper_waveform_panel_says_it_pools_the_sexes():
    from exneuro.paper.activity import photometry_peri_event
    from exneuro.paper.panels import Study

    study = sexed_paper_study(["sex"])
    peri = sexed_study()["peri"].assign(event="offset", day=7)
    intervals = sexed_study()["intervals"].assign(event="offset", day=7)
    settings = dict(study.settings)
    settings["photometry"] = {
        **settings["photometry"],
        "peri_event": {"events": ["offset"], "method": "bootstrap", "min_duration_s": 1.0},
    }
    tables = {
        "photometry/waveforms.tsv": peri,
        "photometry/significant_intervals.tsv": intervals,
    }
    figure, axis = plt.subplots()
    pooled = photometry_peri_event(axis, {}, Study(tables, study.statistics, settings))
    assert pooled.caveats == (
        "The waveforms pool the mice of every sex: their test does not include sex (only the "
        "window-metric models do).",
    )
    settings["cohorts"] = [{**settings["cohorts"][0], "model_factors": {}}]
    plain = photometry_peri_event(axis, {}, Study(tables, study.statistics, settings))
    assert plain.caveats == ()
    plt.close(figure)


@pytest.mark.slow
def test_cue_study_with_sex_declared_draws_each_sex_apart_end_to_end(tmp_path):
    """The one-group cue study (2 female, 2 male mice) with sex declared as a model factor, run
    from its config: the workflow's photometry figure and the paper's panels split by sex, the
    figure checker finds nothing, and the legend says what pools the sexes."""
    import shutil

    import yaml
    from test_foreign_studies import STUDIES
    from test_workflow import copy_project, snakemake

    copy_project(tmp_path)
    study = tmp_path / "tests" / "studies" / "cue_photometry"
    shutil.copytree(STUDIES / "cue_photometry", study)
    config = yaml.safe_load((study / "config.yaml").read_text())
    config["cohorts"][0]["model_factors"] = {"fixed": ["sex"]}
    (study / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = snakemake(
        "--cores", "2", "--configfile", "tests/studies/cue_photometry/config.yaml", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results" / "cue_photometry"
    problems = [
        problem
        for path in sorted(results.rglob("checks.tsv"))
        for problem in read_table(path)["problem"].tolist()
    ]
    assert problems == []
    figure = results / "figures" / "photometry" / "photometry_source_data"
    traces = read_table(figure / "panel_A.tsv")
    assert sorted(traces["sex"].unique()) == ["female", "male"]
    assert set(traces["n_mice"]) == {2}  # two mice of each sex, never the four together
    paper = results / "paper" / "cue_responses_source_data"
    assert sorted(read_table(paper / "panel_A.tsv")["sex"].unique()) == ["female", "male"]
    heatmap = read_table(paper / "panel_B.tsv").drop_duplicates("mouse")
    assert heatmap["sex"].tolist() == sorted(heatmap["sex"], key=heatmap["sex"].tolist().index)
    legend = (results / "paper" / "cue_responses_legend.md").read_text()
    assert "each sex apart" in legend
    assert "The waveforms pool the mice of every sex" in legend
