"""The cohort's combined traces are read in parts (the rows, days and columns a step draws or
tests), and every part equals the same rows of the whole table read at once: the waveform
tests, the photometry figure and the paper's trace panels give the same numbers and the same
bytes either way, on a cohort with two sexes, an excluded session, a session that failed QC
and sessions written in several chunks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_photometry_sex_figure import GROUPS, STYLE, sexed_paper_study, sexed_study

from exneuro.paper.standard.activity import photometry_figure
from exneuro.photometry import aligned_traces
from exneuro.photometry.aligned_traces import AlignedTraces
from exneuro.photometry.pipeline import waveform_statistics, waveform_test_rows
from exneuro.photometry.stacking import ROW_GROUP_KEY, write_flagged_aligned

#: Mouse m00's last day: excluded in the config (its rows stay in the file, never read).
EXCLUDED = "m00_d7"
#: Mouse m07's first day: failed QC and stays in the analysis.
FAILED = "m07_d1"
PERI = {
    "events": ["offset"],
    "column": "dff",
    "days": None,
    "bin_s": 1.0,
    "method": "bootstrap",
    "alpha": 0.05,
    "min_duration_s": 2.0,
    "n_boot": 200,
    "n_perm": 200,
    "seed": 7,
}


def session_tables() -> dict[str, pd.DataFrame]:
    """Per session (mouse x day of :func:`sexed_study`, plus day 4) its aligned table: the
    run-onset trace (dff and z) and an offset waveform with a planted rise in trained mice."""
    study = sexed_study()
    base = study["traces"].drop(columns="sex")
    middle = base[base["day"] == 7].assign(day=4)
    trace = pd.concat([base, middle], ignore_index=True).rename(columns={"dff": "value"})
    rng = np.random.default_rng(11)
    lags = np.arange(-5.0, 10.01, 1.0)
    tables = {}
    for (mouse, day), rows in trace.groupby(["mouse", "day"], sort=False):
        group = rows["group"].iloc[0]
        rise = 0.05 * (lags > 0) * (group == "trained")
        wave = pd.DataFrame(
            {"time_s": lags, "value": rise + rng.normal(0, 0.01, len(lags)), "n_trials": 4}
        )
        parts = [
            rows.assign(alignment="run_onset", column="dff", n_trials=1),
            rows.assign(alignment="run_onset", column="z", value=rows["value"] * 10, n_trials=1),
            wave.assign(alignment="offset", column="dff"),
        ]
        table = pd.concat(parts, ignore_index=True).assign(
            session=f"{mouse}_d{day}", mouse=mouse, group=group, day=day
        )
        columns = ["session", "mouse", "group", "day", "alignment", "column", "time_s", "value"]
        tables[f"{mouse}_d{day}"] = table[[*columns, "n_trials"]]
    return tables


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """The combined file (written 5 sessions at a time) and the whole table read at once."""
    folder = tmp_path_factory.mktemp("cohort")
    folders = []
    for session, table in session_tables().items():
        (folder / session).mkdir()
        table.to_parquet(folder / session / "aligned.parquet", index=False)
        folders.append(folder / session)
    included = {f.name: f.name != EXCLUDED for f in folders}
    path = folder / "aligned.parquet"
    write_flagged_aligned(folders, included, path, chunk=5)
    return path, pd.read_parquet(path)


def test_every_row_group_holds_one_value_of_each_key_and_no_row_is_lost(cohort):
    path, whole = cohort
    metadata = pq.ParquetFile(path).metadata
    names = metadata.schema.to_arrow_schema().names
    assert metadata.num_row_groups > 2 * 2 * 3 * 2  # several chunks of (alignment, column, day)
    for index in range(metadata.num_row_groups):
        for key in ROW_GROUP_KEY:
            stats = metadata.row_group(index).column(names.index(key)).statistics
            assert stats.min == stats.max, (index, key)
    stacked = pd.concat(session_tables().values(), ignore_index=True)
    keys = ["session", "alignment", "column", "time_s"]
    assert (
        whole.drop(columns="included")
        .sort_values(keys)
        .reset_index(drop=True)
        .equals(stacked.sort_values(keys).reset_index(drop=True))
    )
    assert set(whole.loc[~whole["included"], "session"]) == {EXCLUDED}


@pytest.mark.parametrize(
    "alignments, column, days",
    [(["run_onset"], "dff", [1, 7]), (["run_onset"], "z", None), (["offset"], "dff", [7])],
)
def test_a_partial_read_is_the_whole_table_filtered(cohort, alignments, column, days):
    path, whole = cohort
    keep = whole["included"] & whole["alignment"].isin(alignments) & (whole["column"] == column)
    if days is not None:
        keep &= whole["day"].isin(days)
    expected = whole.loc[keep, ["mouse", "group", "day", "time_s", "value", "alignment", "column"]]
    expected = expected.reset_index(drop=True)
    assert not expected.empty and EXCLUDED not in set(whole.loc[keep, "session"])
    assert AlignedTraces(path).read(alignments, column, days).equals(expected)
    assert AlignedTraces(whole).read(alignments, column, days).equals(expected)


def test_days_groups_mice_and_time_span_equal_the_whole_table(cohort):
    path, whole = cohort
    kept = whole[whole["included"] & (whole["column"] == "dff")]
    onset = kept[kept["alignment"] == "run_onset"]
    for traces in (AlignedTraces(path), AlignedTraces(whole)):
        extent = traces.extent("run_onset", "dff")
        assert extent.days == sorted(onset["day"].unique()) == [1, 4, 7]
        assert extent.groups == ["control", "trained"]
        assert extent.mice == set(onset["mouse"])
        assert extent.time_span_s == onset["time_s"].max() - onset["time_s"].min() == 2400.0
        assert traces.extent("offset", "dff").time_span_s == 15.0
        assert traces.days("dff") == [1, 4, 7]


def test_waveform_tests_on_the_rows_read_equal_the_tests_on_the_whole_table(cohort):
    path, whole = cohort
    tested, peri = waveform_test_rows(AlignedTraces(path), PERI)
    assert peri["days"] == [7] and set(tested["day"]) == {7}
    assert len(tested) == 11 * 16  # the included mice of day 7, one 16-bin waveform each
    partial = waveform_statistics(tested, "control", peri, {"cohort": "c"})
    complete = waveform_statistics(whole, "control", PERI, {"cohort": "c"})
    for mine, theirs in zip(partial, complete, strict=True):
        pd.testing.assert_frame_equal(mine, theirs)
    summary = partial[0]
    rise = summary[(summary["group"] == "trained") & (summary["lag_s"] > 0)]["mean"]
    assert rise.mean() == pytest.approx(0.05, abs=0.01)  # the planted rise is recovered
    assert partial[2]["notes"].str.startswith("significant").any()


def figure_inputs(whole: pd.DataFrame) -> dict:
    """The other tables of the photometry figure: metrics, QC (one session failed), waveform
    summary, intervals and statistics."""
    study = sexed_study()
    sessions = whole[["session", "mouse", "group", "day", "included"]].drop_duplicates()
    qc = sessions.assign(
        qc_pass=sessions["session"] != FAILED,
        qc_reasons=np.where(sessions["session"] == FAILED, "motion", ""),
        run_onset_s=0.0,
        run_offset_s=600.0,
    )
    metrics = (
        study["metrics"]
        .drop(columns="sex")
        .merge(sessions[["mouse", "day", "included"]], on=["mouse", "day"])
    )
    summary, intervals, statistics = waveform_statistics(whole, "control", PERI, {"cohort": "c"})
    sheet = study["traces"][["mouse", "sex"]].drop_duplicates()
    sheet = sheet.rename(columns={"mouse": "mouse_id"})
    return {
        "metrics": metrics,
        "qc": qc,
        "waveforms": summary,
        "intervals": intervals,
        "statistics": statistics,
        "sheet": sheet.astype("string"),
    }


def test_the_figure_read_in_parts_equals_the_figure_of_the_whole_table(cohort, tmp_path):
    path, whole = cohort
    inputs = figure_inputs(whole)
    paper = sexed_paper_study(["sex"])
    settings = {
        **paper.settings["photometry"],
        "peri_event": PERI,
        "run_event": "run",
        "figure": {"window": "post_0_15", "metric": "mean_dff", "days": None},
    }
    drawn = {}
    for name, aligned in (("parts", AlignedTraces(path)), ("whole", whole)):
        folder = tmp_path / name
        drawn[name] = photometry_figure(
            aligned,
            inputs["metrics"],
            inputs["qc"],
            inputs["waveforms"],
            inputs["intervals"],
            inputs["statistics"],
            paper.settings["cohorts"][0],
            settings,
            GROUPS,
            STYLE,
            [str(folder / "photometry.png"), str(folder / "photometry.svg")],
            str(folder / "source"),
            sheet=inputs["sheet"],
        )
    assert drawn["parts"].keys() == drawn["whole"].keys()
    for letter, table in drawn["parts"].items():
        pd.testing.assert_frame_equal(table, drawn["whole"][letter])
    for name in ("photometry.png", "photometry.svg"):
        assert (tmp_path / "parts" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    traces, heatmap = drawn["parts"]["A"], drawn["parts"]["C"]
    assert sorted(traces["day"].unique()) == [1, 7]  # first and last day, not day 4
    assert set(heatmap["day"]) == {7} and "m00" not in set(heatmap["mouse"])  # excluded
    assert heatmap.loc[heatmap["mouse"] == "m07", "qc_failed"].eq("").all()  # failed on day 1


class ReadRecorder:
    """Records every Parquet read of :mod:`exneuro.photometry.aligned_traces`."""

    def __init__(self, monkeypatch):
        self.reads, self.row_groups = [], []
        read_parquet, read_row_group = pd.read_parquet, pq.ParquetFile.read_row_group

        def recorded_read(path, columns=None, filters=None):
            self.reads.append((columns, filters))
            return read_parquet(path, columns=columns, filters=filters)

        def recorded_row_group(file, index, columns=None):
            self.row_groups.append(index)
            return read_row_group(file, index, columns=columns)

        monkeypatch.setattr(aligned_traces.pd, "read_parquet", recorded_read)
        monkeypatch.setattr(aligned_traces.pq.ParquetFile, "read_row_group", recorded_row_group)


def row_groups_of(path, alignment: str, column: str) -> set[int]:
    """The row groups of the included rows of ``alignment`` and ``column``."""
    file = pq.ParquetFile(path)
    found = set()
    for index in range(file.metadata.num_row_groups):
        keys = file.read_row_group(index, columns=["included", "alignment", "column"])
        row = keys.to_pandas().iloc[0]
        if row["included"] and row["alignment"] == alignment and row["column"] == column:
            found.add(index)
    return found


@pytest.mark.parametrize("plot, panel, days", [("heatmap", {}, [7]), ("trace", {}, [1, 7])])
def test_paper_panels_read_only_the_days_and_columns_they_draw(
    cohort, monkeypatch, plot, panel, days
):
    from exneuro.paper import activity

    path, whole = cohort
    draw = {"heatmap": activity.photometry_heatmap, "trace": activity.photometry_trace}[plot]
    panel = {**panel, "group": "trained"} if plot == "trace" else panel
    sources = {}
    for name, aligned in (("whole", whole), ("parts", AlignedTraces(path))):
        study = sexed_paper_study(["sex"])
        study.tables["photometry/aligned.parquet"] = aligned
        recorder = ReadRecorder(monkeypatch)
        figure, axis = plt.subplots()
        sources[name] = draw(axis, panel, study)
        plt.close(figure)
    assert recorder.reads == [
        (
            ["mouse", "group", "day", "time_s", "value", "alignment", "column"],
            [
                ("included", "==", True),
                ("column", "==", "dff"),
                ("alignment", "in", ["run_onset"]),
                ("day", "in", days),
            ],
        )
    ]
    # the days, groups and mice of the panel: the row groups of its alignment, nothing else
    assert set(recorder.row_groups) == row_groups_of(path, "run_onset", "dff")
    pd.testing.assert_frame_equal(sources["parts"].source, sources["whole"].source)
    assert sources["parts"].plotted == sources["whole"].plotted
