"""The workflow end to end: lint, dry runs of every shipped config, a full run of a small cohort
in a temporary copy of the project with its numbers checked, and what reruns after a change."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, snakemake
from conftest import SNAKEMAKE as SNAKEMAKE  # other modules import these from here
from conftest import copy_project as copy_project
from scipy import stats
from study_snapshots import difference

from exneuro.config_files import load_config

SHIPPED_CONFIGS = ["config/config.yaml", "config/two_group/config.yaml"]


def planned_jobs(*args: str, cwd: Path) -> dict[str, int]:
    """Rule -> number of jobs a dry run would run ({} when nothing is to be done)."""
    result = snakemake("-n", "--cores", "1", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr + result.stdout
    table = re.search(r"Job stats:\n(.*?)\ntotal", result.stdout + result.stderr, re.S)
    if table is None:
        return {}
    rows = [line.split() for line in table.group(1).splitlines()[2:]]
    return {name: int(count) for name, count in rows}


def test_lint_is_clean():
    result = snakemake("--lint", "--cores", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stderr


@pytest.mark.parametrize("configfile", SHIPPED_CONFIGS)
def test_every_shipped_config_dry_runs(configfile, tmp_path):
    jobs = planned_jobs(
        "--forceall",
        "--configfile",
        configfile,
        "--directory",
        str(REPO),
        "--conda-prefix",
        str(tmp_path),
        cwd=REPO,
    )
    assert jobs.get("treadmill_statistics", 0) >= 1
    assert jobs["all"] == 1


def test_misspelt_config_key_stops_with_one_clear_line(tmp_path):
    text = (REPO / "config" / "two_group" / "config.yaml").read_text()
    bad = tmp_path / "config.yaml"
    bad.write_text(text.replace("  metrics_source:", "  metric_source:"))
    result = snakemake("-n", "--cores", "1", "--configfile", str(bad))
    assert result.returncode != 0
    assert (
        f"{bad}: unknown key 'treadmill.metric_source' — did you mean 'metrics_source'?"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def project_copy(two_group_study) -> Path:
    """A copy of the project in which the two-group cohort has been run once."""
    return two_group_study.root


def _results(root: Path) -> Path:
    return root / "results" / "two_group"


@pytest.mark.slow
def test_end_to_end_distances_follow_the_protocol(project_copy):
    tests = pd.read_csv(_results(project_copy) / "treadmill" / "tests.tsv", sep="\t")
    raw = pd.read_excel(project_copy / "data/example_two_group/treadmill/endurance_log.xlsx")
    first = raw.iloc[0]
    # GXT: 3 min at 0, then 2-min stages at 6, 9, 12, 15, 1 min at 18, then +1 m/min each minute
    time_s = first["Run time (min)"] * 60
    speeds = [0, 6, 9, 12, 15, 18] + list(range(19, 200))
    durations = [180, 120, 120, 120, 120, 60] + [60] * (len(speeds) - 6)
    starts = np.concatenate([[0], np.cumsum(durations)[:-1]])
    seconds_in_stage = np.clip(time_s - starts, 0, durations)
    expected = float(np.sum(np.array(speeds) / 60 * seconds_in_stage))
    row = tests[(tests["mouse"] == first["Animal"]) & (tests["session"] == first["Week"])]
    assert row["distance_m"].iloc[0] == pytest.approx(expected, rel=1e-9)
    # the lab rounds times to 0.01 min (0.6 s): the typed distance agrees to within 0.5 m
    assert row["distance_m"].iloc[0] == pytest.approx(first["Distance run (m)"], abs=0.5)


@pytest.mark.slow
def test_end_to_end_gain_test_equals_welch_on_the_raw_table(project_copy):
    raw = pd.read_excel(project_copy / "data/example_two_group/treadmill/endurance_log.xlsx")
    sheet = pd.read_csv(project_copy / "config/two_group/samples.tsv", sep="\t")
    wide = raw.pivot(index="Animal", columns="Week", values="Run time (min)")
    tests = pd.read_csv(_results(project_copy) / "treadmill" / "tests.tsv", sep="\t")
    distance = tests.pivot(index="mouse", columns="session", values="distance_m")
    change = 100 * (distance["week3"] / distance["week0"] - 1)
    group = sheet.set_index("mouse_id")["group"].reindex(change.index)
    expected = stats.ttest_ind(
        change[group == "stimulated_post"], change[group == "control"], equal_var=False
    )
    table = pd.read_csv(_results(project_copy) / "statistics" / "statistics.tsv", sep="\t")
    row = table[(table["test"] == "welch_t") & (table["outcome"] == "distance_m_pct_change")]
    assert len(row) == 1
    assert row["statistic"].iloc[0] == pytest.approx(expected.statistic, rel=1e-9)
    assert row["p"].iloc[0] == pytest.approx(expected.pvalue, rel=1e-9)
    assert row["n_mice"].iloc[0] == 14
    assert len(wide) == 14


@pytest.mark.slow
def test_end_to_end_statistics_table_has_every_analysis_with_n(project_copy):
    table = pd.read_csv(_results(project_copy) / "statistics" / "statistics.tsv", sep="\t")
    assert {"lmm", "mixed_anova", "emm_contrast", "welch_t", "one_sample_t", "fisher_exact"} <= set(
        table["test"]
    )
    interaction = table[
        (table["test"] == "lmm")
        & (table["term"] == "group:session")
        & (table["outcome"] == "distance_m")
    ].iloc[0]
    assert interaction["df_num"] == 3
    assert 30 < interaction["df_den"] < 45  # Satterthwaite, 14 mice x 4 tests
    assert interaction["p"] < 0.05  # the planted stimulation effect
    assert table["n_mice"].notna().all()
    holm = table[table["test"] == "emm_contrast"]["correction"].str.startswith("Holm")
    assert holm.all()


@pytest.mark.slow
def test_end_to_end_figure_source_data_match_the_tests(project_copy):
    source = pd.read_csv(
        _results(project_copy)
        / "figures/treadmill/stimulation_replication_source_data/panel_B.tsv",
        sep="\t",
    )
    tests = pd.read_csv(_results(project_copy) / "treadmill" / "tests.tsv", sep="\t")
    last = tests[tests["session"] == "week3"]
    means = source[source["kind"] == "group"].set_index("group")["mean"]
    expected = last.groupby("group")["distance_m_pct_change"].mean()
    pd.testing.assert_series_equal(means.sort_index(), expected.sort_index(), check_names=False)
    folder = _results(project_copy) / "figures/treadmill/stimulation_replication_source_data"
    workbook = pd.read_excel(folder / "source_data.xlsx", sheet_name=None)
    panels = sorted(path.stem for path in folder.glob("panel_*.tsv"))
    assert sorted(workbook) == panels  # one sheet per panel, the numbers of the panel's table
    pd.testing.assert_frame_equal(
        workbook["panel_B"], pd.read_csv(folder / "panel_B.tsv", sep="\t"), check_dtype=False
    )
    pdf = _results(project_copy) / "figures/treadmill/stimulation_replication.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and b"CreationDate" not in pdf.read_bytes()


@pytest.mark.slow
def test_two_group_numbers_equal_their_snapshot(project_copy):
    assert not (changed := difference(_results(project_copy), "two_group")), changed


@pytest.mark.slow
def test_second_run_does_nothing(project_copy):
    assert planned_jobs("--configfile", "config/two_group/config.yaml", cwd=project_copy) == {}


@pytest.mark.slow
def test_a_moved_project_folder_reruns_nothing(project_copy, tmp_path):
    """A lab moves or renames its project folder (or restores it from a backup elsewhere): the
    results stay up to date, since no rule records a path of the project's own files by where
    the folder happens to be."""
    moved = tmp_path / "renamed project"
    shutil.copytree(project_copy, moved, symlinks=True)  # copy2: times kept, as a move keeps them
    assert planned_jobs("--configfile", "config/two_group/config.yaml", cwd=moved) == {}


@pytest.mark.slow
def test_changed_statistics_parameter_reruns_statistics_not_metrics(project_copy):
    config = project_copy / "config/two_group/config.yaml"
    edited = project_copy / "config/two_group/edited.yaml"
    edited.write_text(
        config.read_text().replace("posthoc_correction: holm", "posthoc_correction: bonferroni")
    )
    jobs = planned_jobs("--configfile", str(edited), cwd=project_copy)
    assert set(jobs) == {
        "treadmill_statistics",
        "treadmill_figure",
        "statistics_table",
        "config_snapshot",
        "paper_figure",  # its statistics changed
        "all",
    }


@pytest.mark.slow
def test_changed_figure_code_reruns_only_figures(project_copy):
    style = project_copy / "src/exneuro/figures/style.py"
    original = style.read_text()
    style.write_text(original + "\n# a change\n")
    try:
        jobs = planned_jobs("--configfile", "config/two_group/config.yaml", cwd=project_copy)
    finally:
        style.write_text(original)
    # provenance records the code's digest
    assert set(jobs) == {"treadmill_figure", "paper_figure", "provenance", "all"}


def _edited_config(root: Path, old: str, new: str) -> str:
    config = root / "config/two_group/config.yaml"
    edited = root / "config/two_group/edited.yaml"
    text = config.read_text()
    assert old in text
    edited.write_text(text.replace(old, new))
    return str(edited)


@pytest.mark.slow
def test_style_only_change_reruns_only_figure_jobs(project_copy):
    edited = _edited_config(project_copy, "\npaper:\n", "\nfigures:\n  font_size_pt: 6\n\npaper:\n")
    jobs = planned_jobs("--configfile", edited, cwd=project_copy)
    assert jobs == {"treadmill_figure": 1, "paper_figure": 1, "all": 1}


@pytest.mark.slow
def test_changed_figure_layout_rerenders_that_figure_only(project_copy):
    edited = _edited_config(project_copy, "height_mm: 120", "height_mm: 100")
    assert planned_jobs("--configfile", edited, cwd=project_copy) == {"paper_figure": 1, "all": 1}


@pytest.mark.slow
def test_paper_figure_source_data_legend_and_statistics_match_the_tables(project_copy):
    folder = _results(project_copy) / "paper"
    statistics = pd.read_csv(_results(project_copy) / "statistics/statistics.tsv", sep="\t")
    tests = pd.read_csv(_results(project_copy) / "treadmill/tests.tsv", sep="\t")
    last = tests[(tests["session"] == "week3") & ~tests["excluded"]]
    gain = pd.read_csv(folder / "replication_source_data/panel_B.tsv", sep="\t")
    mice = gain[gain["kind"] == "mouse"].set_index("mouse")["value"].sort_index()
    expected = last.set_index("mouse")["distance_m_pct_change"].sort_index()
    pd.testing.assert_series_equal(mice, expected, check_names=False)
    means = gain[gain["kind"] == "group"].set_index("group")["mean"].sort_index()
    pd.testing.assert_series_equal(
        means, last.groupby("group")["distance_m_pct_change"].mean(), check_names=False
    )
    # the rows behind the figure are rows of the study's table, and the legend quotes them
    reported = pd.read_csv(folder / "replication_statistics.tsv", sep="\t")
    assert set(reported["panel"]) == {"A", "B", "D"}
    keys = ["analysis", "outcome", "subset", "test", "term"]
    merged = reported.merge(statistics, on=keys, suffixes=("", "_table"))
    assert len(merged) == len(reported)
    np.testing.assert_array_equal(merged["statistic"], merged["statistic_table"])
    welch = statistics[
        (statistics["test"] == "welch_t") & (statistics["outcome"] == "distance_m_pct_change")
    ].iloc[0]
    legend = (folder / "replication_legend.md").read_text(encoding="utf-8")
    df = f"{welch['df_num']:.1f}"
    assert "(B) Change of distance" in legend
    assert f"Welch's t-test, SF1 stimulated after exercise − Control: t({df}) = " in legend
    assert f"(n = {welch['n_by_group'].split('=')[1].split(';')[0]} Control, " in legend
    layout = (folder / "replication_source_data/layout.yaml").read_text()
    assert "font_size_pt" in layout and "treadmill_course" in layout


@pytest.mark.slow
def test_every_figure_passes_the_figure_checker(project_copy):
    # every mark from a statistics row, legend n = mice drawn, no overlapping or clipped text,
    # no raw identifier: each figure job writes the checker's findings beside its source data
    checks = sorted(_results(project_copy).rglob("checks.tsv"))
    assert len(checks) == 2  # the cohort's figure and the paper figure
    found = {path.parent.name: pd.read_csv(path, sep="\t")["problem"].tolist() for path in checks}
    assert {name: problems for name, problems in found.items() if problems} == {}


@pytest.mark.slow
def test_every_figure_the_workflow_draws_is_a_declaration_of_registered_panels(project_copy):
    # the cohort's own figure and the paper figure: both declared figures, drawn by the
    # composer through the one registry, their layout written beside their source data
    import yaml

    from exneuro.figures.registry import PANEL_TYPES

    folders = sorted(_results(project_copy).rglob("*_source_data"))
    assert [f.name for f in folders] == [
        "stimulation_replication_source_data",
        "replication_source_data",
    ]
    for folder in folders:
        layout = yaml.safe_load((folder / "layout.yaml").read_text(encoding="utf-8"))
        plots = [panel["plot"] for panel in layout["figure"]["panels"]]
        assert plots and set(plots) <= set(PANEL_TYPES), folder.name
        assert sorted(p.stem for p in folder.glob("panel_*.tsv")) == sorted(
            f"panel_{panel['letter']}" for panel in layout["figure"]["panels"]
        )


@pytest.mark.slow
def test_an_analysis_figure_panel_type_draws_in_a_paper_figure(
    project_copy, config_schema, tmp_path
):
    # the adaptation panel of the cohort's figure, declared in a paper figure: its numbers are
    # the fitted mice of adaptation.tsv, its stars and legend the rows of the study's table
    from exneuro.config import validate_config
    from exneuro.paper.catalogue import figure_inputs
    from exneuro.paper.compose import paper_figure
    from exneuro.paper.panels import Study

    path = project_copy / "config/two_group/config.yaml"
    config = validate_config(load_config(path), config_schema, str(path))
    cohort = "stimulation_replication"
    figure = {
        "id": "adaptation",
        "title": "Adaptation",
        "width": "single",
        "height_mm": 60,
        "rows": 1,
        "columns": 1,
        "panels": [{"letter": "A", "plot": "treadmill_adaptation", "at": [0, 0], "cohort": cohort}],
    }
    names = figure_inputs(figure)
    settings = {key: config[key] for key in ("groups", "cohorts", "treadmill")}
    results = _results(project_copy)
    study = Study.read(names, [str(results / name) for name in names], settings)
    panels = paper_figure(
        figure,
        study,
        config["figures"],
        [str(tmp_path / "adaptation.png")],
        str(tmp_path / "source"),
        str(tmp_path / "legend.md"),
        str(tmp_path / "statistics.tsv"),
    )
    assert pd.read_csv(tmp_path / "source" / "checks.tsv", sep="\t")["problem"].tolist() == []
    adaptation = pd.read_csv(results / "treadmill" / cohort / "adaptation.tsv", sep="\t")
    fitted = adaptation[adaptation["fit_status"] == "ok"].set_index("mouse")["rise_percent"]
    drawn = panels["A"].source.query("kind == 'mouse'").set_index("mouse")["value"]
    pd.testing.assert_series_equal(drawn.sort_index(), fitted.sort_index(), check_names=False)
    table = pd.read_csv(results / "statistics/statistics.tsv", sep="\t")
    welch = table[
        (table["outcome"] == "distance_m rise_percent") & (table["subset"] == f"cohort={cohort}")
    ]
    reported = pd.read_csv(tmp_path / "statistics.tsv", sep="\t")
    assert len(welch) == 1 and reported["statistic"].tolist() == welch["statistic"].tolist()
    legend = (tmp_path / "legend.md").read_text(encoding="utf-8")
    assert "(A) Rise of distance over training fitted per mouse (%)" in legend
    assert f"t({welch['df_num'].iloc[0]:.1f}) = " in legend


@pytest.mark.slow
def test_another_config_replaces_the_example_config_whole(project_copy):
    snapshot = (_results(project_copy) / "config" / "config.yaml").read_text()
    assert "stage_logs: null" in snapshot  # the example's stage-log pattern did not leak in
    assert "silencing" not in snapshot


@pytest.mark.slow
def test_every_result_is_byte_identical_when_rerun_from_scratch(project_copy):
    results = _results(project_copy)
    watched = sorted(path for path in results.rglob("*") if path.is_file())
    before = {path: path.read_bytes() for path in watched}
    rerun = snakemake(
        "--cores",
        "2",
        "--configfile",
        "config/two_group/config.yaml",
        "--forceall",
        cwd=project_copy,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    changed = [str(path) for path, content in before.items() if path.read_bytes() != content]
    after = sorted(path for path in results.rglob("*") if path.is_file())
    assert after == watched  # same files: none lost, none added
    assert len(before) > 30 and not changed  # logs, tables, figures, workbooks, legends


def test_analyses_left_out_of_the_config_are_not_run(tmp_path):
    import yaml

    config = load_config(REPO / "config" / "config.yaml")
    del config["treadmill"]
    figures = config["paper"]["figures"]
    config["paper"]["figures"] = [
        f for f in figures if not any(p["plot"].startswith("treadmill") for p in f["panels"])
    ]
    path = tmp_path / "tables_only.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    jobs = planned_jobs("--configfile", str(path), cwd=REPO)
    assert jobs["table_statistics"] == 3
    assert not any(rule.startswith("treadmill") for rule in jobs)
    assert jobs["paper_figure"] == len(config["paper"]["figures"]) == 5


@pytest.mark.slow
def test_facility_de_tables_are_read_with_their_own_column_names(project_copy):
    import yaml

    facility = project_copy / "data" / "facility_DE_trained_vs_sedentary.csv"
    facility.write_text(
        "Ensembl ID,Symbol,Mean,log2 FC,P value,FDR\n"
        "ENSMUSG1,Ppargc1a,850.2,1.31,1e-9,2e-7\n"
        "ENSMUSG2,Tfam,1500.0,0.80,1e-4,3e-3\n"
        "ENSMUSG3,Myh4,9000.0,-0.90,2e-4,4e-3\n"
        "ENSMUSG4,Actb,30000.0,0.02,0.8,0.95\n"
        "ENSMUSG5,Gapdh,25000.0,-0.01,NA,NA\n"
    )
    config = yaml.safe_load((project_copy / "config/two_group/config.yaml").read_text())
    config["rnaseq"] = {
        "cohort": "stimulation_replication",
        "genes": ["Ppargc1a"],
        "precomputed_de": {
            "training": {
                "path": str(facility),
                "columns": {
                    "gene_id": "Ensembl ID",
                    "gene_name": "Symbol",
                    "baseMean": "Mean",
                    "log2FoldChange": "log2 FC",
                    "pvalue": "P value",
                    "padj": "FDR",
                },
            }
        },
    }
    path = project_copy / "config/two_group/facility.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = snakemake("--cores", "1", "--configfile", str(path), cwd=project_copy)
    assert result.returncode == 0, result.stderr[-2000:]
    folder = _results(project_copy) / "rnaseq" / "facility"
    counts = pd.read_csv(folder / "de_counts.tsv", sep="\t").set_index("direction")
    assert counts.loc[["up", "down", "total"], "n_genes"].tolist() == [2, 1, 3]
    row = pd.read_csv(folder / "statistics.tsv", sep="\t").iloc[0]
    assert (row["estimate"], row["p_adj"], row["n_mice"]) == (1.31, 2e-7, 14)
    table = pd.read_csv(_results(project_copy) / "statistics" / "statistics.tsv", sep="\t")
    assert "facility_de" in set(table["test"])


@pytest.fixture(scope="module")
def photometry_copy(project_copy) -> Path:
    """The example's photometry section alone, on seven mice (both rigs, the lost TTL file and the
    damaged patch cord among them), run once in the project copy."""
    import yaml

    config = load_config(REPO / "config" / "config.yaml")
    for section in ("treadmill", "ephys", "spines", "histology", "rnaseq", "statistics"):
        del config[section]
    config["tables"] = {}
    config["paper"]["figures"] = config["paper"]["figures"][:1]  # the photometry figure
    config["output_dir"] = "results/photometry_only"
    sheet = pd.read_csv(project_copy / "config/photometry_recordings.tsv", sep="\t", dtype=str)
    kept = sheet[sheet["mouse"].isin(["M094", "M095", "M096", "M098", "M099", "M100", "M104"])]
    kept.iloc[:-1].to_csv(project_copy / "config/some_mice.tsv", sep="\t", index=False)
    config["photometry"]["recordings"] = "config/some_mice.tsv"
    config["photometry"]["recordings_per_job"] = 4  # four batches of 5, 6, 8 and 1 recordings
    path = project_copy / "config/photometry_only.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = snakemake("--cores", "2", "--configfile", str(path), cwd=project_copy)
    assert result.returncode == 0, result.stderr[-3000:]
    return project_copy


@pytest.mark.slow
def test_end_to_end_photometry_tables_figure_and_exclusion(photometry_copy):
    results = photometry_copy / "results/photometry_only"
    qc = pd.read_csv(results / "photometry/qc.tsv", sep="\t").set_index("session")
    assert len(qc) == 20 and (results / "photometry/sessions/M098_d1/qc.png").exists()
    assert not qc.loc["M094_d8", "included"] and not qc.loc["M094_d8", "qc_pass"]
    assert qc.drop("M094_d8")["included"].all()
    assert qc.loc["M104_d4", "run_times_from"] == "sheet"
    assert set(qc["file_format"]) == {"pyPhotometry .ppd", "Neurophotometrics CSV"}
    table = pd.read_csv(results / "statistics/statistics.tsv", sep="\t")
    rows = table[table["analysis"] == "photometry"]
    assert {"lmm", "emm_contrast", "waveform_bootstrap"} <= set(rows["test"])
    metrics = pd.read_csv(results / "photometry/metrics.tsv", sep="\t")
    shown = metrics[
        metrics["included"] & (metrics["window"] == "post_0_15") & (metrics["metric"] == "mean_dff")
    ]
    source = pd.read_csv(
        results / "figures/photometry/photometry_source_data/panel_D.tsv", sep="\t"
    )
    means = source[source["kind"] == "group"].set_index(["group", "day"])["value"]
    expected = shown.groupby(["group", "day"])["value"].mean()
    np.testing.assert_allclose(means.sort_index() / 100, expected.sort_index(), rtol=1e-9)
    inputs = pd.read_csv(results / "provenance/inputs.tsv", sep="\t").set_index("path")
    ppd = "data/example/photometry/ppd/M094_day8.ppd"
    digest = hashlib.sha256((photometry_copy / ppd).read_bytes()).hexdigest()
    assert inputs.loc[ppd, "sha256"] == digest  # hashed by the recording's own job
    assert inputs.index.str.endswith("_ttl.csv.gz").sum() == 4  # M104 day 4 lost its TTL file
    paper = pd.read_csv(results / "paper/figure1_source_data/panel_D.tsv", sep="\t")
    pd.testing.assert_frame_equal(paper, source)  # the declared panel draws the same numbers
    legend = (results / "paper/figure1_legend.md").read_text(encoding="utf-8")
    interaction = rows[
        (rows["test"] == "lmm")
        & (rows["term"] == "group:day")
        & (rows["outcome"] == "mean_dff")
        & (rows["subset"] == "cohort=activity; window=post_0_15")
    ].iloc[0]
    assert f"group × day: F(2, {interaction['df_den']:.1f}) = " in legend


@pytest.mark.slow
def test_a_new_photometry_session_reruns_only_its_batch_and_the_aggregates(photometry_copy):
    sheet = pd.read_csv(photometry_copy / "config/photometry_recordings.tsv", sep="\t", dtype=str)
    some = pd.read_csv(photometry_copy / "config/some_mice.tsv", sep="\t", dtype=str)
    added = pd.concat([some, sheet[sheet["mouse"] == "M104"].iloc[[-1]]])
    added.to_csv(photometry_copy / "config/some_mice.tsv", sep="\t", index=False)
    try:
        jobs = planned_jobs("--configfile", "config/photometry_only.yaml", cwd=photometry_copy)
    finally:
        some.to_csv(photometry_copy / "config/some_mice.tsv", sep="\t", index=False)
    batches = {rule: n for rule, n in jobs.items() if rule.startswith("photometry_batch_")}
    assert batches == {"photometry_batch_M104_d4": 1}  # the batch the new one joined, no other
    assert set(jobs) - set(batches) == {
        "photometry_combine",
        "photometry_statistics",
        "photometry_figure",
        "paper_figure",
        "statistics_table",
        "provenance",
        "all",
    }


@pytest.mark.slow
def test_provenance_lists_every_raw_input_with_its_sha256_and_the_software(project_copy):
    folder = _results(project_copy) / "provenance"
    inputs = pd.read_csv(folder / "inputs.tsv", sep="\t").set_index("path")
    excel = "data/example_two_group/treadmill/endurance_log.xlsx"
    expected = hashlib.sha256((project_copy / excel).read_bytes()).hexdigest()
    assert inputs.loc[excel, "sha256"] == expected
    assert "config/two_group/samples.tsv" in inputs.index
    # the config of the last run (other tests of this module run edited copies of it)
    configs = [p for p in inputs.index if p.endswith(".yaml")]
    assert not configs  # the config is snapshotted in results/config/, not hashed as an input
    software = pd.read_csv(folder / "software.tsv", sep="\t", dtype=str).set_index("package")
    assert software.loc["snakemake", "installed"] == software.loc["snakemake", "pinned"]
    code = pd.read_csv(folder / "code.tsv", sep="\t").set_index("item")["value"]
    assert code["git_commit"] == "not a git checkout"  # the copy has no .git


@pytest.mark.slow
def test_report_shows_every_figure_with_its_caption_and_the_tables(project_copy):
    result = snakemake(
        "--configfile", "config/two_group/config.yaml", "--report", "report.html", cwd=project_copy
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # docutils prints its warnings while rendering the captions and writes them into the report
    assert "WARNING/2" not in result.stderr + result.stdout, result.stderr[-2000:]
    html = (project_copy / "report.html").read_text(encoding="utf-8")
    assert "System Message" not in html and "Duplicate explicit target" not in html
    assert "stimulation_replication.png" in html  # the cohort's figure
    assert "Treadmill endurance of cohort" in html  # its caption
    assert "replication.png" in html and "replication_legend.md" in html  # the paper figure
    assert "Paper figure" in html  # its caption
    for table in ("statistics.tsv", "qc.tsv", "inputs.tsv", "software.tsv"):
        assert table in html, table
