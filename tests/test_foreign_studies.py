"""Studies shaped unlike the bundled example, run end to end from their own config.

Each asserts what a new user could get silently wrong: the order levels are drawn in (control
first, pre before post), the sign of every contrast (other - control), the rows of analyses that
could not run, and the numbers against R where a reference was computed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO
from study_snapshots import difference
from test_workflow import copy_project, snakemake

from exneuro.config import load_yaml, table_design, validate_config
from exneuro.tables.design import factor_levels, read_declared_table

STUDIES = REPO / "tests" / "studies"


def run_study(name: str, root: Path, snapshot: bool = True) -> Path:
    """Run the study's config in a copy of the project; its results folder. Its numbers are
    compared with its snapshot (``snapshot=False``: when the snapshot is being rewritten)."""
    copy_project(root)
    shutil.copytree(STUDIES / name, root / "tests" / "studies" / name)
    config = f"tests/studies/{name}/config.yaml"
    result = snakemake("--cores", "2", "--configfile", config, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    results = root / load_yaml(root / config)["output_dir"]
    # every figure of the study passed the figure checker (marks, n, overlaps, raw identifiers)
    findings = {
        str(path.parent.relative_to(results)): problems
        for path in sorted(results.rglob("checks.tsv"))
        if (problems := pd.read_csv(path, sep="\t")["problem"].tolist())
    }
    assert findings == {}
    assert not (snapshot and (changed := difference(results, name))), changed
    return results


def study_config(name: str, config_schema) -> dict:
    path = STUDIES / name / "config.yaml"
    config = load_yaml(path)
    for table in config.get("tables", {}).values():
        table["file"] = str(REPO / table["file"])
    return validate_config(config, config_schema, str(path))


def test_rat_study_levels_follow_the_config_not_the_alphabet(config_schema):
    config = study_config("rat_training", config_schema)
    vo2 = table_design(config, "vo2max")
    levels = factor_levels(read_declared_table(vo2, None, "vo2max"), vo2)
    # alphabetically '8W' < 'SED' and 'post' < 'pre': both would be reversed
    assert levels["group"] == ["SED", "8W"]
    assert levels["test"] == ["vo2max_pre", "vo2max_post"]
    assert levels["sex"] == ["male", "female"]  # first appearance in the file
    mass = table_design(config, "body_mass")
    weeks = factor_levels(read_declared_table(mass, None, "body_mass"), mass)["week"]
    assert weeks == [f"week {w}" for w in range(1, 9)]


def test_rat_ids_numbered_within_groups_need_their_combination(config_schema):
    config = study_config("rat_training", config_schema)
    plain = table_design(config, "vo2max") | {"subject": "rat", "subject_columns": []}
    with pytest.raises(
        Exception, match=r"subject 1 appears in more than one group.*subject_columns"
    ):
        read_declared_table(plain, None, "vo2max")
    combined = table_design(config, "vo2max")
    data = read_declared_table(combined, None, "vo2max")
    assert data["rat_id"].nunique() == 16
    assert data.loc[data["rat_id"] == "male_SED_4", "vo2max"].isna().tolist() == [False, True]


@pytest.mark.slow
def test_rat_training_study_end_to_end_equals_r(tmp_path):
    results = run_study("rat_training", tmp_path)
    stats = pd.read_csv(results / "statistics" / "statistics.tsv", sep="\t")
    reference = pd.read_csv(STUDIES / "rat_training" / "reference.tsv", sep="\t")
    for _, expected in reference.iterrows():
        mask = (
            (stats["analysis"] == f"table {expected['table']}")
            & (stats["test"] == expected["test"])
            & (stats["term"] == expected["term"])
            & (
                stats["subset"].fillna("")
                == (expected["subset"] if isinstance(expected["subset"], str) else "")
            )
        )
        assert mask.sum() == 1, expected.to_dict()
        got = stats[mask].iloc[0]
        assert got["statistic"] == pytest.approx(expected["statistic"], rel=1e-4), (
            expected.to_dict()
        )
        assert got["df_num"] == pytest.approx(expected["df_num"], rel=1e-4)
        assert got["p"] == pytest.approx(expected["p"], rel=1e-3, abs=1e-12)
        if pd.notna(expected["estimate"]):
            assert got["estimate"] == pytest.approx(expected["estimate"], rel=1e-4)
    contrasts = stats[stats["test"] == "emm_contrast"].set_index(["outcome", "subset"])
    # every contrast is other - control (or later - earlier); the trained effect is positive
    assert contrasts.loc[("vo2max", "test=vo2max_post"), "term"] == "8W - SED"
    assert contrasts.loc[("vo2max", "test=vo2max_post"), "estimate"] > 5
    assert (contrasts.xs("speed", level="outcome")["term"] == "speed_post - speed_pre").all()
    assert contrasts.loc[("speed", "group=8W"), "estimate"] > 5
    # body mass: males and females analysed apart, never averaged into one mean
    mass = stats[stats["analysis"] == "table body_mass"]
    assert set(mass["subset"]) == {"sex=male", "sex=female"}
    female = mass[(mass["subset"] == "sex=female") & (mass["test"] == "mixed_anova")]
    assert "dropped listwise: female_8W_4" in female["notes"].iloc[0]  # 'Dead' is missing

    drawn = pd.read_csv(
        results / "figures" / "tables" / "vo2max_source_data" / "panel_A.tsv", sep="\t"
    )
    groups = drawn[drawn["kind"] == "group"]
    assert list(dict.fromkeys(groups["group"])) == ["SED", "8W"]
    subjects = drawn[drawn["kind"] == "subject"].drop_duplicates("test")
    assert dict(zip(subjects["test"], subjects["x"], strict=True)) == {
        "vo2max_pre": 0,
        "vo2max_post": 1,
    }
    panels = [
        pd.read_csv(
            results / "figures" / "tables" / "body_mass_source_data" / f"panel_{p}.tsv", sep="\t"
        )
        for p in "AB"
    ]
    mean_mass = {
        panel["subset"].iloc[0]: panel.query("kind == 'group'")["value"].mean() for panel in panels
    }
    assert mean_mass["sex=female"] < 250 < mean_mass["sex=male"]
    # the study's animals are rats (study.animal): legends, figure text and the statistics
    # panel say rats, nowhere mice
    legend = (results / "paper" / "training_legend.md").read_text()
    assert "thin lines, individual rats" in legend
    assert "(n = 8 Sedentary, 8 Trained 8 weeks rats)" in legend
    drawn = [
        text
        for svg in sorted(results.rglob("*.svg"))
        for text in re.findall(r"<text[^>]*>(.*?)</text>", svg.read_text())
    ]
    assert "n rats" in drawn  # the statistics panel's column
    assert not re.search(r"\b(mice|mouse)\b", legend + " ".join(drawn), re.IGNORECASE)


def reference_rows(stats: pd.DataFrame, reference: pd.DataFrame, analysis: str) -> None:
    """Every row of an R reference table equals the workflow's row (statistic, df, p, estimate)."""
    for _, expected in reference.iterrows():
        mask = (
            (stats["analysis"] == analysis)
            & (stats["test"] == expected["test"])
            & (stats["term"] == expected["term"])
            & (stats["subset"] == expected["subset"])
            & (stats["outcome"] == "distance_m")
        )
        assert mask.sum() == 1, expected.to_dict()
        got = stats[mask].iloc[0]
        assert got["statistic"] == pytest.approx(expected["statistic"], rel=1e-4)
        assert got["df_num"] == pytest.approx(expected["df_num"], rel=1e-4)
        assert got["p"] == pytest.approx(expected["p"], rel=1e-3)
        if pd.notna(expected["estimate"]):
            assert got["estimate"] == pytest.approx(expected["estimate"], rel=1e-4)


@pytest.mark.slow
def test_pre_post_treadmill_study_with_a_one_group_cohort_end_to_end(tmp_path):
    results = run_study("pre_post_treadmill", tmp_path)
    stats = pd.read_csv(results / "statistics" / "statistics.tsv", sep="\t")
    reference = pd.read_csv(STUDIES / "pre_post_treadmill" / "reference.tsv", sep="\t")
    reference_rows(stats, reference, "treadmill")
    # the summary table has distances only: T09's 616.4 m on the ramp (5 min at 10 m/min, then
    # +2 m/min every 2 min) is reached 14.4 m into the 36 m/min stage that starts at 1740 s
    tests = pd.read_csv(results / "treadmill" / "tests.tsv", sep="\t").set_index(
        ["mouse", "session"]
    )
    assert tests.loc[("T09", "pre"), "time_to_exhaustion_s"] == pytest.approx(1740 + 14.4 / 36 * 60)
    assert tests.loc[("T09", "pre"), "max_speed_m_min"] == 36
    # 'Dead' in the lab's table: the test was not done, said in the QC table with its line
    qc = pd.read_csv(results / "treadmill" / "qc.tsv", sep="\t").set_index(["mouse", "session"])
    assert qc.loc[("T11", "post"), "detail"] == "'Dead' on line 23 of the summary table"
    assert qc.loc[("T11", "post"), "action"] == "analysed as missing"
    assert ("T11", "post") not in tests.index
    # two sessions: no plateau fit, said in a row; the slopes are still tested
    adaptation = stats[stats["analysis"] == "treadmill adaptation"]
    plateau = adaptation[
        adaptation["outcome"].isin(["distance_m plateau", "distance_m rise_percent"])
    ]
    assert len(plateau) == 2 and plateau["p"].isna().all()
    assert plateau["notes"].str.contains("not tested: no mouse has a rise-to-plateau fit").all()
    assert plateau["notes"].str.contains("the plateau fit needs 4").all()
    # the one-group cohort: session effects only, no group term, no contrast against a control
    pilot = stats[stats["subset"].str.startswith("cohort=pilot", na=False)]
    assert not pilot["term"].str.contains("group|sedentary", na=False).any()
    assert pilot.query("test == 'emm_contrast'")["term"].tolist() == ["post - pre"] * 2
    assert (pilot.query("test == 'emm_contrast'")["estimate"] > 150).all()
    # the control is drawn first although the config lists it second
    course = pd.read_csv(
        results / "figures" / "treadmill" / "training_source_data" / "panel_A.tsv", sep="\t"
    )
    assert list(dict.fromkeys(course["group"])) == ["sedentary", "trained"]
    assert list(dict.fromkeys(course["session"])) == ["pre", "post"]


@pytest.mark.slow
def test_rnaseq_study_with_numeric_samples_and_a_continuous_covariate_equals_deseq2(tmp_path):
    results = run_study("rnaseq_numeric", tmp_path)
    reference = pd.read_csv(STUDIES / "rnaseq_numeric" / "reference.tsv", sep="\t", index_col=0)
    ours = pd.read_csv(results / "rnaseq" / "de" / "training.tsv", sep="\t", index_col=0)
    assert list(ours.index) == list(reference.index)
    assert (ours["log2FoldChange"] - reference["log2FoldChange"]).abs().max() < 0.01
    assert set(ours.index[ours["padj"] < 0.05]) == set(reference.index[reference["padj"] < 0.05])
    # trained - sedentary: the planted 4-fold rises are positive, the falls negative
    assert (ours["log2FoldChange"].iloc[:20] > 1).all()
    assert (ours["log2FoldChange"].iloc[20:30] < -1).all()
    stats = pd.read_csv(results / "statistics" / "statistics.tsv", sep="\t")
    genes = stats.set_index("outcome")
    # symbols come from the separate annotation file; RIN is a slope, so the RIN gene is not DE
    assert genes.loc["Trn0 log2 expression", "estimate"] > 1
    assert genes.loc["Trn20 log2 expression", "estimate"] < -1
    assert genes.loc["Rin30 log2 expression", "p_adj"] > 0.05
    # numeric sample names are matched everywhere: every sample in the PCA, drawn control first
    source = results / "figures" / "rnaseq"
    pca = pd.read_csv(
        source / "rnaseq_source_data" / "panel_A.tsv", sep="\t", dtype={"sample": str}
    )
    assert sorted(pca["sample"]) == [str(s) for s in range(1001, 1009)]
    assert pca["PC1"].notna().all()
    assert list(dict.fromkeys(pca["level"])) == ["sedentary", "trained"]
    assert (source / "qc.png").exists()


@pytest.mark.slow
def test_nested_tables_only_study_with_a_one_mouse_group_end_to_end(tmp_path):
    results = run_study("nested_slices", tmp_path)
    stats = pd.read_csv(results / "statistics" / "statistics.tsv", sep="\t")
    reference = pd.read_csv(STUDIES / "nested_slices" / "reference.tsv", sep="\t")
    spines = stats[stats["analysis"] == "table spines"]
    naive = spines[spines["test"] == "welch_t_naive"]  # segments as n, a row of its own
    assert naive["n_cells"].notna().all() and naive["n_mice"].isna().all()
    found = {
        "lmm": spines[spines["test"] == "lmm"].iloc[0],
        "welch_t_mouse_means": spines[spines["test"] == "welch_t_mouse_means"].iloc[0],
        "welch_t_cells": naive.iloc[0],
    }
    for _, expected in reference.iterrows():
        got = found[expected["test"]]
        assert got["term"] == expected["term"]  # KO - WT: the control WT is the reference
        assert got["statistic"] == pytest.approx(expected["statistic"], rel=1e-4)
        assert got["df_den" if expected["test"] == "lmm" else "df_num"] == pytest.approx(
            expected["df"], rel=1e-4
        )
        assert got["p"] == pytest.approx(expected["p"], rel=1e-4)
        if pd.notna(expected["estimate"]):
            assert got["estimate"] == pytest.approx(expected["estimate"], rel=1e-6)
    assert found["welch_t_mouse_means"]["estimate"] < -0.2  # the planted KO loss, sign kept
    # the pilot's knockout group is one mouse: every comparison is a "not tested" row
    pilot = stats[stats["analysis"] == "table pilot"]
    assert pilot["test"].tolist() == ["lmm", "welch_t", "welch_t_mouse_means"]
    assert pilot["p"].isna().all()
    assert (
        pilot["notes"] == "not tested: genotype 'KO' has 1 subject "
        "(a between-subject comparison needs 2 or more)"
    ).all()
    bars = pd.read_csv(
        results / "figures" / "tables" / "spines_source_data" / "panel_A.tsv", sep="\t"
    )
    assert bars.query("kind == 'group'")["genotype"].tolist() == ["WT", "KO"]
    assert (results / "figures" / "tables" / "pilot.png").exists()


@pytest.mark.slow
def test_one_group_cue_photometry_study_without_running_end_to_end(tmp_path):
    results = run_study("cue_photometry", tmp_path)
    folder = results / "photometry"
    qc = pd.read_csv(folder / "qc.tsv", sep="\t")
    assert (qc["run_times_from"] == "no run").all() and qc["run_onset_s"].isna().all()
    metrics = pd.read_csv(folder / "metrics.tsv", sep="\t")
    per_session = metrics.groupby("session")["window"].unique().map(sorted)
    assert (per_session.map(tuple) == ("cue_0_5", "first_cue_period", "session")).all()
    # 0-5 s after each cue: the mean over the session's 7 cues, larger on day 5 (planted)
    after_cue = metrics.query("window == 'cue_0_5' and metric == 'mean_dff'")
    bounds = after_cue[["start_s", "end_s", "ref"]].drop_duplicates()
    assert bounds.to_records(index=False).tolist() == [(0.0, 5.0, "cue")]
    by_day = after_cue.groupby("day")["value"].mean()
    assert by_day[5] / by_day[1] == pytest.approx(10 / 4, rel=0.05)  # planted 10 % vs 4 %
    aligned = pd.read_parquet(folder / "aligned.parquet")
    # no run: no run-onset grid, but the whole session binned from its first sample
    assert set(aligned["alignment"]) == {"cue", "session"}
    trials = aligned.query("alignment == 'cue'").groupby("session")["n_trials"].first()
    # C4 day 5: its TTL line failed, the events file gave its cues; C3 day 5's were typed
    assert (trials == 7).all()
    # a 20 s cue-locked trace is drawn in seconds, not in fractions of a minute
    drawing = (results / "figures" / "photometry" / "photometry.svg").read_text()
    assert "Time from cue (s)" in drawing and "(min)" not in drawing
    stats = pd.read_csv(folder / "statistics.tsv", sep="\t")
    # one group: days only, day 5 - day 1, the planted growth of the cue response positive
    assert not stats["term"].str.contains("group", na=False).any()
    peak = stats[(stats["outcome"] == "peak_dff") & (stats["test"] == "emm_contrast")]
    assert peak["term"].tolist() == ["5 - 1"] * 3  # first cue period, 0-5 s after cues, session
    assert (peak["estimate"] > 0.02).all() and (peak["p"] < 0.001).all()
    waveforms = stats[stats["test"] == "waveform_bootstrap"].set_index("subset")
    for day in (1, 5):
        note = waveforms.loc[f"cohort=cue; event=cue; day={day}", "notes"]
        first_start = float(note.removeprefix("significant: ").split(" to ")[0])
        assert 0 <= first_start <= 2  # the response starts at the cue, not before
    source = results / "figures" / "photometry" / "photometry_source_data"
    traces = pd.read_csv(source / "panel_A.tsv", sep="\t")
    peaks = traces.groupby("day")["mean"].max()
    assert peaks[5] > 2 * peaks[1] > 0.03
    # the paper figure: every panel aligned to the cue or the whole session, named so, never
    # "run" (run_study has checked that the figure checker found nothing)
    paper = results / "paper"
    drawn = re.findall(r"<text[^>]*>(.*?)</text>", (paper / "cue_responses.svg").read_text())
    x_labels = [text for text in drawn if text.startswith("Time ")]
    assert x_labels == ["Time from cue (s)"] * 2 + ["Time in session (min)"] * 2 + [
        "Time from cue (s)"
    ]
    legend = (paper / "cue_responses_legend.md").read_text()
    assert not re.search(r"\brun", " ".join(drawn) + legend, re.I)
    paragraphs = legend.split("\n\n")[1:-1]
    assert [p[:3] for p in paragraphs] == [f"({letter})" for letter in "ABCDEFG"]
    assert "around each cue" in paragraphs[0] and "around each cue" in paragraphs[1]
    assert "over the whole session" in paragraphs[2] and "over the whole session" in paragraphs[3]
    assert "Peak ΔF/F 0–5 s after each cue on each training day" in paragraphs[4]
    assert "around each cue on day 5" in paragraphs[5]
    assert "None of the 8 sessions averaged failed QC." in paragraphs[0]
    panels = paper / "cue_responses_source_data"
    cue_trace = pd.read_csv(panels / "panel_A.tsv", sep="\t")
    assert list(dict.fromkeys(cue_trace["day"])) == [1, 5]
    assert cue_trace.groupby("day")["mean"].max().idxmax() == 5  # the planted growth
    whole = pd.read_csv(panels / "panel_C.tsv", sep="\t")
    assert whole["time_s"].min() == 2.5 and whole["time_s"].max() == 237.5  # 5-s bins of 4 min
