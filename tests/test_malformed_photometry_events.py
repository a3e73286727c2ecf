"""Malformed photometry event times typed in the recordings sheet: each stops with one line
naming the sheet, its line and column and the fix, and the raw files stay unchanged."""

from __future__ import annotations

import copy
import shutil

import pandas as pd
import pytest
from conftest import REPO
from malformed import CLEAR_STOP, Case, assert_one_line, digests
from test_workflow import copy_project, snakemake

from exneuro.config import load_yaml, validate_config
from exneuro.errors import ExneuroError
from exneuro.photometry.recording import load_session
from exneuro.photometry.recordings_sheet import read_recordings

STUDY = REPO / "tests" / "studies" / "cue_photometry"
SHEET = "{sheet}"

CASES = [
    Case(
        "photometry-events-not-a-number",
        "photometry recordings sheet",
        CLEAR_STOP,
        f"{SHEET} line 2, column 'cue_s': '40 s' is not a time in seconds — write the times as "
        "plain numbers separated by ';', e.g. 12.5; 40; 71.2",
    ),
    Case(
        "photometry-events-comma-separated",
        "photometry recordings sheet",
        CLEAR_STOP,
        f"{SHEET} line 2, column 'cue_s': '30, 60' is not a time in seconds — write the times as "
        "plain numbers separated by ';', e.g. 12.5; 40; 71.2",
    ),
    Case(
        "photometry-events-negative",
        "photometry recordings sheet",
        CLEAR_STOP,
        f"{SHEET} line 2, column 'cue_s': time -5 s is negative — type times on the recording's "
        "clock",
    ),
    Case(
        "photometry-events-typed-twice",
        "photometry recordings sheet",
        CLEAR_STOP,
        f"{SHEET} line 2, column 'cue_s': time 60 s is typed twice — type each event once",
    ),
    Case(
        "photometry-events-column-missing",
        "photometry recordings sheet",
        CLEAR_STOP,
        "column",  # the shared missing-column message, checked below to name 'cue_s'
    ),
    Case(
        "photometry-events-outside-recording",
        "photometry recordings sheet",
        CLEAR_STOP,
        f"{SHEET} line 2, column 'cue_s': cue time 1200 s is outside the recording (0 to 239.8 "
        "s) — type times in seconds on the recording's clock",
    ),
    Case(
        "photometry-events-named-like-the-run",
        "config",
        CLEAR_STOP,
        "photometry.typed_events: 'onset' names the run or the session — type run times in "
        "run_onset_s/run_offset_s, and give other events a name of their own (cue, lick)",
    ),
    Case(
        "photometry-window-unknown-event",
        "config",
        CLEAR_STOP,
        "photometry.windows[1] ('cue_0_5'): ref 'cues' is neither the run's onset/offset, the "
        "session, nor a named event — choose one of onset, offset, session, cue (events are named "
        "under peri_event.events or typed_events)",
    ),
]
BY_ID = {case.id: case for case in CASES}
CELLS = {
    "photometry-events-not-a-number": "30; 40 s",
    "photometry-events-comma-separated": "30, 60",
    "photometry-events-negative": "-5; 30",
    "photometry-events-typed-twice": "30; 60; 60",
    "photometry-events-outside-recording": "30; 1200",
}


@pytest.fixture()
def cue_study(config_schema, monkeypatch) -> dict:
    monkeypatch.chdir(REPO)
    config = validate_config(load_yaml(STUDY / "config.yaml"), config_schema, "config.yaml")
    samples = pd.read_csv(STUDY / "samples.tsv", sep="\t", dtype=str).assign(excluded_reason="")
    return {"config": config, "samples": samples}


def write_sheet(tmp_path, cell: str, column: str = "cue_s") -> str:
    sheet = pd.read_csv(STUDY / "recordings.tsv", sep="\t", dtype=str).fillna("").head(1)
    sheet = sheet.drop(columns="cue_s")
    path = tmp_path / "recordings.tsv"
    sheet.assign(**{column: cell}).to_csv(path, sep="\t", index=False)
    return str(path)


def raw_files() -> list:
    return [STUDY / "recordings"]


@pytest.mark.parametrize("case_id", sorted(CELLS))
def test_typed_event_mistakes_stop_with_one_line(case_id, cue_study, tmp_path):
    before = digests(raw_files())
    path = write_sheet(tmp_path, CELLS[case_id])
    photometry = cue_study["config"]["photometry"]
    with pytest.raises(ExneuroError) as error:
        sheet = read_recordings(path, {}, cue_study["samples"], "cue", {"cue": "cue_s"})
        load_session(sheet.iloc[0].to_dict(), photometry["readers"], photometry["run_event"])
    message = str(error.value)
    assert_one_line(message)
    assert message == BY_ID[case_id].expected.format(sheet=path)
    assert digests(raw_files()) == before


def test_a_declared_event_column_missing_from_the_sheet_is_named(cue_study, tmp_path):
    path = write_sheet(tmp_path, "30", column="cues")
    with pytest.raises(ExneuroError) as error:
        read_recordings(path, {}, cue_study["samples"], "cue", {"cue": "cue_s"})
    message = str(error.value)
    assert_one_line(message)
    assert (
        path in message
        and "'cue_s'" in message
        and BY_ID["photometry-events-column-missing"].expected in message
    )


def test_a_typed_event_named_like_the_run_is_a_config_error(config_schema):
    config = copy.deepcopy(load_yaml(STUDY / "config.yaml"))
    config["photometry"]["typed_events"] = {"onset": "onset_s"}
    with pytest.raises(ExneuroError) as error:
        validate_config(config, config_schema, "config.yaml")
    assert_one_line(str(error.value).splitlines()[-1])
    assert BY_ID["photometry-events-named-like-the-run"].expected in str(error.value)


def test_the_user_sees_the_sheet_line_and_column_without_a_traceback(tmp_path):
    """Through Snakemake: a dry run of the cue study with a mistyped cue time stops before any
    job, with the sheet's line and column."""
    copy_project(tmp_path)
    study = tmp_path / "tests" / "studies" / "cue_photometry"
    shutil.copytree(STUDY, study)
    sheet = study / "recordings.tsv"
    text = sheet.read_text().replace("30; 60; 90", "30; 60 s; 90")
    sheet.write_text(text)
    result = snakemake(
        "-n", "--configfile", "tests/studies/cue_photometry/config.yaml", cwd=tmp_path
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert (
        "tests/studies/cue_photometry/recordings.tsv line 7, column 'cue_s': '60 s' is not a "
        "time in seconds" in result.stderr
    )


def test_a_window_around_an_event_nobody_named_is_a_config_error(config_schema):
    config = copy.deepcopy(load_yaml(STUDY / "config.yaml"))
    config["photometry"]["windows"][1]["ref"] = "cues"
    with pytest.raises(ExneuroError) as error:
        validate_config(config, config_schema, "config.yaml")
    assert BY_ID["photometry-window-unknown-event"].expected in str(error.value)
