"""Faults: empty or hollow treadmill files, and a results folder that fills up or turns
read-only in the middle of a run.

The treadmill cases run the reader the workflow's script calls, from a folder holding the lab's
file under ``data/``, and assert the exact one-line message and that the file is unchanged. The
results-folder cases run the two-group study through Snakemake: the failed run shows the one
line and no traceback, keeps no half-written output (every file left is a log or equals the
uninterrupted run's), and the same command, once the cause is fixed, ends with results identical
byte for byte to the uninterrupted run's.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import files_under
from malformed import CLEAR_STOP, STAGE_COLUMNS, SUMMARY_COLUMNS, Case, assert_one_line, digests
from test_workflow import SNAKEMAKE, copy_project

from exneuro.errors import ExneuroError
from exneuro.treadmill.readers import read_stage_log, read_summary_table
from exneuro.workflow import results_folder_fault, storage_fault

SUMMARY_KIND = "treadmill summary"
STAGE_LOG_KIND = "treadmill stage log"
RESULTS_KIND = "results folder"

STAGE_HEADER = "elapsed_s,stage,speed_m_min,incline,event\n"
EMPTY = "the file is empty — export the table again, with its header"


def _empty_workbook(path: Path) -> None:
    """What Excel saves for a sheet with nothing on it."""
    pd.DataFrame().to_excel(path, index=False)


def summary(name: str) -> Callable[[], object]:
    return lambda: read_summary_table(f"data/{name}", SUMMARY_COLUMNS)


def stage_log(name: str) -> Callable[[], object]:
    return lambda: read_stage_log(f"data/{name}", STAGE_COLUMNS)


#: id -> (kind, expected message, the lab's file (name, text or a writer), the reader's call)
READER_CASES = {
    "faults-treadmill-summary-zero-bytes": (
        SUMMARY_KIND, f"data/summary.csv: {EMPTY}", ("summary.csv", ""), summary("summary.csv"),
    ),
    "faults-treadmill-summary-blank-lines": (
        SUMMARY_KIND, f"data/summary.csv: {EMPTY}", ("summary.csv", "\n  \n\t\n"),
        summary("summary.csv"),
    ),
    "faults-treadmill-summary-zero-byte-workbook": (
        SUMMARY_KIND, f"data/summary.xlsx: {EMPTY}", ("summary.xlsx", ""),
        summary("summary.xlsx"),
    ),
    "faults-treadmill-summary-empty-sheet": (
        SUMMARY_KIND, f"data/summary.xlsx: {EMPTY}", ("summary.xlsx", _empty_workbook),
        summary("summary.xlsx"),
    ),
    "faults-treadmill-stage-log-zero-bytes": (
        STAGE_LOG_KIND, f"data/M1_T1.csv: {EMPTY}", ("M1_T1.csv", ""), stage_log("M1_T1.csv"),
    ),
    "faults-treadmill-stage-log-comments-only": (
        STAGE_LOG_KIND,
        "data/M1_T1.csv: only comment lines, no table — export the table again, with its header",
        ("M1_T1.csv", "# Treadmill stage log\n# subject: M1\n# date: 2026-03-02\n"),
        stage_log("M1_T1.csv"),
    ),
    "faults-treadmill-stage-log-exhausted-only": (
        STAGE_LOG_KIND,
        "data/M1_T1.csv: no stage_start row before the 'exhausted' event (line 3) — add a "
        "stage_start row for every stage run, from the first one at 0 s",
        ("M1_T1.csv", "# subject: M1\n" + STAGE_HEADER + "1800,,0,0,exhausted\n"),
        stage_log("M1_T1.csv"),
    ),
}  # fmt: skip

RESULTS_FULL = (
    "{folder}: no space left on device — free space and rerun the same command; finished "
    "results are kept"
)
RESULTS_READ_ONLY = (
    "results/two_group: permission denied — give this user write access to it and rerun the "
    "same command; finished results are kept"
)

CASES: list[Case] = [
    *(Case(id, kind, CLEAR_STOP, expected) for id, (kind, expected, _, _) in READER_CASES.items()),
    Case(
        "faults-results-disk-full",
        RESULTS_KIND,
        CLEAR_STOP,
        RESULTS_FULL.format(folder="results/two_group/paper"),
    ),
    Case("faults-results-read-only", RESULTS_KIND, CLEAR_STOP, RESULTS_READ_ONLY),
]


@pytest.mark.parametrize("case_id", list(READER_CASES))
def test_hollow_treadmill_file_stops_with_one_line(case_id, tmp_path, monkeypatch):
    _, expected, (name, content), call = READER_CASES[case_id]
    monkeypatch.chdir(tmp_path)
    raw = tmp_path / "data" / name
    raw.parent.mkdir()
    if callable(content):
        content(raw)
    else:
        raw.write_text(content)
    before = digests([tmp_path / "data"])
    with pytest.raises(ExneuroError) as stop:
        call()
    assert str(stop.value) == expected
    assert_one_line(str(stop.value))
    assert digests([tmp_path / "data"]) == before


# ------------------------------------------------------------------------------------------------
# The results folder
# ------------------------------------------------------------------------------------------------


def test_storage_fault_names_the_file_or_the_jobs_folder():
    full = OSError(errno.ENOSPC, "No space left on device")
    assert storage_fault(full, ["results/s/paper/a.pdf", "results/s/paper/a_data/"]) == (
        RESULTS_FULL.format(folder="results/s/paper")
    )
    read_only = OSError(errno.EROFS, "Read-only file system", "results/s/t.tsv")
    assert storage_fault(read_only, []) == (
        "results/s/t.tsv: the folder is read-only — make it writable and rerun the same "
        "command; finished results are kept"
    )
    try:  # a writer library that wraps the system's error keeps it as the cause
        try:
            raise full
        except OSError as error:
            raise RuntimeError("could not write the parquet file") from error
    except RuntimeError as wrapped:
        assert storage_fault(wrapped, ["results/s/t.parquet"]) == RESULTS_FULL.format(
            folder="results/s"
        )
    forbidden = OSError(errno.EACCES, "Permission denied", "results/s/paper/a.pdf")
    assert storage_fault(forbidden, ["results/s/paper/a.pdf"]) == (
        "results/s/paper/a.pdf: permission denied — give this user write access to it and rerun "
        "the same command; finished results are kept"
    )
    # a library naming the file by its absolute path: shown as the user sees it
    log = os.path.abspath("results/s/logs/t.log")
    forbidden_log = OSError(errno.EACCES, "Permission denied", log)
    assert storage_fault(forbidden_log, ["results/s/logs/t.log"], "results/s/logs/t.log") == (
        "results/s/logs/t.log: permission denied — give this user write access to it and rerun "
        "the same command; finished results are kept"
    )
    unreadable = OSError(errno.EACCES, "Permission denied", "data/summary.csv")
    assert storage_fault(unreadable, ["results/s/t.tsv"]) == (
        "data/summary.csv: permission denied — give this user read access to it and rerun the "
        "same command; finished results are kept"
    )
    assert storage_fault(OSError(errno.ENOENT, "No such file"), ["results/x"]) is None
    assert storage_fault(ValueError("bad"), ["results/x"]) is None


def test_a_writable_or_absent_results_folder_is_no_fault(tmp_path):
    assert results_folder_fault(tmp_path / "results") is None
    assert not (tmp_path / "results").exists()
    (tmp_path / "results").mkdir()
    assert results_folder_fault(tmp_path / "results") is None
    assert list((tmp_path / "results").iterdir()) == []


TWO_GROUP = ["--cores", "2", "--configfile", "config/two_group/config.yaml"]
#: Run as root, Snakemake is started without the right to override file permissions, so that a
#: folder without write permission is read-only for it as for any user.
AS_A_USER = (
    ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    if os.geteuid() == 0
    else []
)


@pytest.fixture(scope="module")
def uninterrupted(two_group_study) -> dict[str, bytes]:
    """Every file of an uninterrupted run of the two-group study (the same command, run from
    scratch in another copy of the project)."""
    return two_group_study.results


def _nothing_half_written(results: Path, uninterrupted: dict[str, bytes]) -> None:
    """Every file a failed run leaves is a job's log or a finished result, equal to the
    uninterrupted run's."""
    left = files_under(results)
    assert left
    unfinished = [
        name
        for name, content in left.items()
        if "/logs/" not in name and uninterrupted.get(name) != content
    ]
    assert unfinished == []


def _same_as_uninterrupted(results: Path, uninterrupted: dict[str, bytes]) -> None:
    files = files_under(results)
    assert sorted(files) == sorted(uninterrupted)
    assert [name for name in files if files[name] != uninterrupted[name]] == []


def _mount(*options: str, target: Path) -> None:
    done = subprocess.run(["mount", *options, target], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")


@pytest.mark.slow
def test_a_full_disk_stops_with_one_line_and_the_same_command_finishes(uninterrupted, tmp_path):
    """The results folder is a 600 KiB file system: the figure jobs (the study writes 1.5 MB)
    find the disk full; after space is freed the same command finishes the study."""
    root = copy_project(tmp_path)
    results = root / "results"
    results.mkdir()
    _mount("-t", "tmpfs", "-o", "size=600k", "tmpfs", target=results)
    try:
        full = subprocess.run([SNAKEMAKE, *TWO_GROUP], cwd=root, capture_output=True, text=True)
        output = full.stdout + full.stderr
        assert full.returncode == 1, output[-3000:]
        assert "Traceback" not in output
        said = [line for line in output.splitlines() if line.startswith("ERROR")]
        allowed = {
            "ERROR " + RESULTS_FULL.format(folder=f"results/two_group/{folder}")
            for folder in ("paper", "figures/treadmill")
        }
        assert said, output[-3000:]
        assert set(said) <= allowed, said
        _nothing_half_written(results, uninterrupted)
        _mount("-o", "remount,size=16m", target=results)
        resumed = subprocess.run([SNAKEMAKE, *TWO_GROUP], cwd=root, capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        _same_as_uninterrupted(results, uninterrupted)
    finally:
        subprocess.run(["umount", results], check=False)


@pytest.mark.slow
def test_a_folder_turned_read_only_mid_run_stops_with_one_line_and_resumes(uninterrupted, tmp_path):
    """Write permission is taken from the whole results folder once the treadmill metrics are
    written (4 of 9 jobs); the run stops saying so; given back, the same command finishes."""
    probe = subprocess.run([*AS_A_USER, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot drop the right to override file permissions: {probe.stderr}")
    root = copy_project(tmp_path)
    results = root / "results"
    run = subprocess.Popen(
        [*AS_A_USER, SNAKEMAKE, *TWO_GROUP],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    metrics = results / "two_group" / "treadmill" / "tests.parquet"
    while run.poll() is None and not metrics.exists():
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before the results folder was made read-only"
    subprocess.run(["chmod", "-R", "a-w", results], check=True)
    try:
        output, _ = run.communicate()
        assert run.returncode == 1, output[-3000:]
        assert "Traceback" not in output
        assert f"Error: {RESULTS_READ_ONLY}" in output.splitlines(), output[-3000:]
        job_lines = [line for line in output.splitlines() if line.startswith("ERROR")]
        assert all(re.fullmatch(r"ERROR results/two_group/\S+: permission denied — .*", line)
                   for line in job_lines), job_lines  # fmt: skip
        _nothing_half_written(results, uninterrupted)
    finally:
        subprocess.run(["chmod", "-R", "u+w", results], check=True)
    resumed = subprocess.run(
        [*AS_A_USER, SNAKEMAKE, *TWO_GROUP], cwd=root, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _same_as_uninterrupted(results, uninterrupted)


def test_snakemake_traceback_on_an_unwritable_results_folder_becomes_one_line():
    from exneuro.workflow import StorageTracebackFilter

    crash = (
        'Traceback (most recent call last):\n  File "snakemake/cli.py", line 2316, in '
        "args_to_api\n    dag_api.execute_workflow(\nPermissionError: [Errno 13] Permission "
        "denied: 'results/two_group/treadmill/tests.tsv'\n"
    )
    record = logging.LogRecord("snakemake.logging", logging.ERROR, "", 0, crash, (), None)
    assert StorageTracebackFilter().filter(record)
    assert record.getMessage() == (
        "Snakemake stopped: Permission denied: 'results/two_group/treadmill/tests.tsv'"
    )
    other = "Traceback (most recent call last):\nKeyError: 'mouse'\n"
    record = logging.LogRecord("snakemake.logging", logging.ERROR, "", 0, other, (), None)
    StorageTracebackFilter().filter(record)
    assert record.getMessage() == other  # a bug keeps its traceback


def _dry_run_files(root: Path, *args: str) -> tuple[set[str], dict[str, str]]:
    """The files the jobs of a dry run read, and those they write (by the writing rule)."""
    done = subprocess.run(
        [SNAKEMAKE, "-n", *args], cwd=root, capture_output=True, text=True, check=True
    )
    read, written, rule = set(), {}, ""
    for line in done.stdout.splitlines():
        if found := re.match(r"(?:local)?rule (\w+):", line):
            rule = found.group(1)
        elif found := re.match(r"\s+(input|output): (.*)", line):
            files = found.group(2).split(", ")
            if found.group(1) == "input":
                read.update(files)
            else:
                written.update(dict.fromkeys(files, rule))
    return read, written


@pytest.mark.parametrize("study", [[], ["--configfile", "config/two_group/config.yaml"]])
def test_every_output_of_every_job_is_asked_for(study, tmp_path):
    """A job stopped by a folder turned read-only can leave some of its outputs written and not
    others; Snakemake reruns it for a missing output only when that file is asked for, by a job
    or by `rule all`."""
    read, written = _dry_run_files(copy_project(tmp_path), "--cores", "1", *study)
    assert "results/two_group/treadmill/qc.tsv" in written or not study
    assert len(written) > 20
    assert {path: rule for path, rule in written.items() if path not in read} == {}


def test_a_job_that_left_some_outputs_is_rerun_by_the_same_command(tmp_path):
    """The treadmill metrics job wrote tests.parquet, then the folder turned read-only before it
    wrote tests.tsv and qc.tsv (Snakemake records the job as finished before it tries to remove
    a failed job's outputs): the same command reruns the job."""
    root = copy_project(tmp_path)
    metrics = "results/two_group/treadmill/tests.parquet"
    first = subprocess.run(
        [SNAKEMAKE, metrics, *TWO_GROUP], cwd=root, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr[-3000:]
    for name in ("tests.tsv", "qc.tsv"):
        (root / "results/two_group/treadmill" / name).unlink()
    _, written = _dry_run_files(root, *TWO_GROUP)
    assert written["results/two_group/treadmill/qc.tsv"] == "treadmill_metrics"
    assert written["results/two_group/treadmill/tests.tsv"] == "treadmill_metrics"
