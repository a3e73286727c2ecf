"""One run at a time per folder, and a killed run resumed by the same command."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from test_workflow import SNAKEMAKE, copy_project

from exneuro.workflow import is_run

TWO_GROUP = ["--cores", "2", "--configfile", "config/two_group/config.yaml"]


@pytest.mark.parametrize(
    ("argv", "runs"),
    [
        (["snakemake", "--cores", "2"], True),
        (["snakemake", "--configfile", "c.yaml", "--forceall"], True),
        (["snakemake", "-n"], False),
        (["snakemake", "-np", "--cores", "1"], False),
        (["snakemake", "--dry-run"], False),
        (["snakemake", "--lint"], False),
        (["snakemake", "--report", "r.html"], False),
        (["snakemake", "--report=r.html"], False),
        (["snakemake", "--unlock"], False),
    ],
)
def test_run_is_told_from_dry_runs_lint_and_reports(argv, runs):
    assert is_run(argv) is runs


def start(root) -> subprocess.Popen:
    """A run of the two-group study in its own process group (so that it can be killed whole),
    on one core: the study runs in seconds, and the test needs it still running when it kills
    it."""
    return subprocess.Popen(
        [SNAKEMAKE, "--cores", "1", *TWO_GROUP[2:]],
        cwd=root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until_running(root, run: subprocess.Popen) -> None:
    """Wait until the run holds the folder (its process is written in the run lock)."""
    lock = root / ".snakemake" / "exneuro-run.lock"
    for _ in range(600):
        if lock.exists() and lock.read_text().startswith("process"):
            return
        assert run.poll() is None, "the run ended before it started"
        time.sleep(0.05)
    pytest.fail("the run never took the folder")


@pytest.mark.slow
def test_second_run_in_a_folder_is_refused_and_a_killed_run_resumes(tmp_path):
    root = copy_project(tmp_path)
    first = start(root)
    wait_until_running(root, first)
    second = subprocess.run([SNAKEMAKE, *TWO_GROUP], cwd=root, capture_output=True, text=True)
    assert second.returncode == 1
    refused = [line for line in second.stderr.splitlines() if line.startswith("Error:")]
    assert refused == [
        f"Error: another run of this workflow is in progress in this folder (process {first.pid}):"
        " wait for it to finish, or stop it, before starting a run here (a dry run, -n, is"
        " always possible)"
    ]
    dry = subprocess.run([SNAKEMAKE, *TWO_GROUP, "-n"], cwd=root, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert first.poll() is None, "the run ended before it could be killed"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert list((root / ".snakemake" / "locks").glob("*.lock"))  # left behind by kill -9
    resumed = subprocess.run([SNAKEMAKE, *TWO_GROUP], cwd=root, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "note: removed the locks of an interrupted run; resuming it" in resumed.stderr
    again = subprocess.run([SNAKEMAKE, *TWO_GROUP], cwd=root, capture_output=True, text=True)
    assert "Nothing to be done" in again.stderr
