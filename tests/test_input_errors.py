"""What the user gets around the malformed-input corpus (``test_malformed_config.py``,
``test_malformed_treadmill.py``): sheets saved by spreadsheet programs read as the TSV,
plausible values of the shipped studies pass, a flagged test stays out of the statistics, a
job's unexpected error is one line, and, through Snakemake, the user sees the corpus's one line
with no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO
from malformed import assert_one_line, digests
from study_inputs import (
    CONFIG,
    CONFIG_SCHEMA,
    FIX,
    SHEET_SCHEMA,
    excel_with_title,
    run_summary_study,
    set_cell,
    sheet_frame,
    summary_files,
    two_group_config,
    write,
)
from test_malformed_config import CASES
from test_workflow import SNAKEMAKE, copy_project

from exneuro.config import read_sample_sheet, validate_config
from exneuro.config_files import load_config
from exneuro.treadmill.pipeline import test_metrics as treadmill_metrics

# --- read correctly, not just refused ---------------------------------------------------------


@pytest.mark.parametrize("form", ["semicolon csv", "comma csv", "excel with title"])
def test_sheet_saved_by_a_spreadsheet_reads_as_the_tsv(form, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = two_group_config()
    frame = sheet_frame()
    path = {"semicolon csv": "s.csv", "comma csv": "c.csv", "excel with title": "t.xlsx"}[form]
    if form == "excel with title":
        excel_with_title(frame, path)
    else:
        frame.to_csv(path, sep=";" if form == "semicolon csv" else ",", index=False)
    expected = read_sample_sheet(
        REPO / "config" / "two_group" / "samples.tsv", SHEET_SCHEMA, config
    )
    pd.testing.assert_frame_equal(read_sample_sheet(path, SHEET_SCHEMA, config), expected)


def test_numeric_mouse_ids_in_excel_stay_the_text_the_data_files_use(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = sheet_frame()
    frame["mouse_id"] = frame["mouse_id"].str[1:].astype(int) + 1000
    frame.to_excel("samples.xlsx", index=False)
    sheet = read_sample_sheet("samples.xlsx", SHEET_SCHEMA, two_group_config())
    assert sheet["mouse_id"].tolist()[:3] == ["1001", "1002", "1003"]


def test_a_rat_study_takes_rat_body_masses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary_files(lambda frame: frame.assign(**{"Weight (g)": "312"}))
    tests, qc = run_summary_study(study={"species": "Rattus norvegicus"})
    assert not tests["excluded"].any() and "implausible value" not in set(qc["check"])
    assert tests["body_mass_g"].eq(312).all()


@pytest.mark.parametrize(
    "config_path",
    [
        "config/config.yaml",
        "config/two_group/config.yaml",
        "tests/studies/pre_post_treadmill/config.yaml",
    ],
)
def test_the_shipped_treadmill_studies_are_plausible(config_path, monkeypatch):
    monkeypatch.chdir(REPO)
    config = validate_config(load_config(config_path), CONFIG_SCHEMA, config_path)
    treadmill = config["treadmill"]
    pattern = treadmill["stage_logs"]
    logs = (
        sorted(str(p) for p in Path().glob(pattern.format(mouse="*", session="*")))
        if treadmill["metrics_source"] == "stage_logs"
        else []
    )
    sheet = read_sample_sheet(config["samples"], SHEET_SCHEMA, config)
    tests, qc = treadmill_metrics(treadmill["summary_table"], logs, sheet, treadmill)
    assert len(tests) > 20 and "implausible value" not in set(qc["check"])
    assert not tests["exclusion_reason"].str.startswith("implausible").any()


# --- through Snakemake: the user sees the one line and no traceback ---------------------------


def snakemake(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SNAKEMAKE, "--cores", "1", *args], cwd=root, capture_output=True, text=True, check=False
    )


def expected(case_id: str) -> str:
    return next(c.expected for c in CASES if c.id == case_id)


def user_sees(result: subprocess.CompletedProcess, line: str) -> None:
    assert result.returncode != 0
    assert line in result.stderr.splitlines() or f"Error: {line}" in result.stderr.splitlines(), (
        result.stderr[-3000:]
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_snakemake_names_the_line_of_a_tab_in_the_config(tmp_path):
    root = copy_project(tmp_path)
    (root / CONFIG).write_text("study:\n  id: x\n\ttitle: y\n")
    user_sees(snakemake(root, "-n"), f"Error: {expected('inputs-config-tab-indent')}")


def test_snakemake_names_a_key_written_twice_in_a_given_configfile(tmp_path):
    root = copy_project(tmp_path)
    text = (root / "config/two_group/config.yaml").read_text()
    (root / "other.yaml").write_text(
        text.replace(
            "  metrics_source: summary\n",
            "  metrics_source: summary\n  metrics_source: stage_logs\n",
        )
    )
    result = snakemake(root, "-n", "--configfile", "other.yaml")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "metrics_source" in t) + 1
    user_sees(
        result,
        f"Error: other.yaml line {line}, column 3: not valid YAML: the key 'metrics_source' is "
        f"written twice in one mapping (first on line {line - 1}) — keep one of the two entries",
    )


def test_snakemake_names_the_separator_of_the_users_sheet(tmp_path):
    root = copy_project(tmp_path)
    sheet = root / "config/two_group/samples.tsv"
    sheet.write_text(sheet.read_text().replace("\t", ","))
    result = snakemake(root, "-n", "--configfile", "config/two_group/config.yaml")
    user_sees(
        result,
        "Error: config/two_group/samples.tsv line 1: the header is separated by commas, not tabs: "
        "the wrong separator for a .tsv sheet — save it as tab-separated text, or rename it to "
        ".csv",
    )


def test_snakemake_job_stops_on_minutes_read_as_seconds_with_one_line(tmp_path):
    root = copy_project(tmp_path)
    config = root / "config/two_group/config.yaml"
    config.write_text(
        config.read_text().replace("time_to_exhaustion_unit: min", "time_to_exhaustion_unit: s")
    )
    before = digests([root / "data" / "example_two_group"])
    result = snakemake(
        root,
        "results/two_group/treadmill/tests.tsv",
        "--configfile",
        "config/two_group/config.yaml",
    )
    user_sees(
        result,
        "ERROR data/example_two_group/treadmill/endurance_log.xlsx line 2 (mouse M001, session "
        "week0), column 'Run time (min)': time to exhaustion 24.72 s is outside the plausible "
        "range 60–14400 s; it looks like minutes: set treadmill.time_to_exhaustion_unit: min — "
        + FIX.format("time_to_exhaustion_s"),
    )
    assert not (root / "results/two_group/treadmill/tests.tsv").exists()
    assert digests([root / "data" / "example_two_group"]) == before


def test_unexpected_error_in_a_job_is_one_line_and_its_log_keeps_the_traceback(tmp_path, capsys):
    from types import SimpleNamespace

    from exneuro.workflow import run

    log = tmp_path / "logs" / "job.log"

    def main(job):
        return {"mouse_id": "M001"}["mouse"]

    with pytest.raises(SystemExit) as stopped:
        run(SimpleNamespace(log=[str(log)]), main)
    assert stopped.value.code == 1
    stderr = capsys.readouterr().err
    assert_one_line(stderr)
    assert stderr.strip() == (
        "ERROR unexpected KeyError: 'mouse' — not a message of this workflow: please report it "
        f"with the traceback in {log}"
    )
    kept = log.read_text()
    assert "Traceback (most recent call last)" in kept and "KeyError: 'mouse'" in kept


def test_data_error_in_a_job_is_its_one_line(tmp_path, capsys):
    from types import SimpleNamespace

    from exneuro.errors import data_error
    from exneuro.workflow import run

    def main(job):
        raise data_error("data/x.csv", "'24 g' is not a number", "enter a number", line=5)

    with pytest.raises(SystemExit):
        run(SimpleNamespace(log=[str(tmp_path / "job.log")]), main)
    stderr = capsys.readouterr().err
    assert stderr == "ERROR data/x.csv line 5: '24 g' is not a number — enter a number\n"
    assert (tmp_path / "job.log").read_text() == stderr


def test_a_flagged_test_is_out_of_the_group_statistics(tmp_path, monkeypatch):
    """Body mass in kg for M002 at week2, flagged: the control group's week2 work is the mean of
    the six other control mice's clean values, not pulled down by a value 1000x too small."""
    from exneuro.treadmill.analysis import cohort_statistics

    monkeypatch.chdir(tmp_path)
    summary_files(lambda frame: frame)
    clean, _ = run_summary_study()
    summary_files(set_cell(6, "Weight (g)", "0.0215"))
    flagged, _ = run_summary_study(implausible="flag")
    config = two_group_config()
    summary = cohort_statistics(flagged, config["cohorts"][0], config["treadmill"])["summary"]
    row = summary[
        (summary["outcome"] == "work_j")
        & (summary["group"] == "control")
        & (summary["session"] == "week2")
    ].iloc[0]
    others = clean[
        (clean["group"] == "control") & (clean["session"] == "week2") & (clean["mouse"] != "M002")
    ]
    assert row["n_mice"] == 6 == len(others)
    assert row["mean"] == pytest.approx(others["work_j"].mean(), rel=1e-12)


def test_snakemake_job_names_the_users_sheet_not_its_validated_copy(tmp_path):
    root = copy_project(tmp_path)
    sheet = root / "config/two_group/samples.tsv"
    lines = sheet.read_text().splitlines(keepends=True)
    sheet.write_text("".join(line for line in lines if not line.startswith("M002\t")))
    result = snakemake(
        root,
        "results/two_group/treadmill/tests.tsv",
        "--configfile",
        "config/two_group/config.yaml",
    )
    user_sees(
        result,
        "ERROR data/example_two_group/treadmill/endurance_log.xlsx line 6: mouse 'M002' is not in "
        "the sample sheet config/two_group/samples.tsv — add the mouse to "
        "config/two_group/samples.tsv or remove the row",
    )
    assert "results/two_group/config/samples.tsv —" not in result.stderr


def test_a_configfile_snakemake_cannot_parse_is_named_by_the_checker(tmp_path, monkeypatch, capsys):
    "''Snakemake parses --configfile before the workflow runs; the checker names the line.''"
    from exneuro.yaml_files import main

    monkeypatch.chdir(tmp_path)
    write("other.yaml", "study:\n  id: x\n\ttitle: y\n")
    write("good.yaml", "study: {id: x}\n")
    assert main(["good.yaml"]) == 0
    assert main(["other.yaml", "good.yaml"]) == 1
    assert capsys.readouterr().err == (
        "Error: other.yaml line 3, column 1: not valid YAML: found character '\\t' that cannot "
        "start any token — YAML is indented with spaces only: replace the tab with spaces\n"
    )
