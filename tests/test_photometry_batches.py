"""Recording jobs in batches: the photometry part of a study, run with one recording per job and
with several recordings per job (Snakemake job groups, ``--group-components``), gives the same
files byte for byte, and the batched run does bundle the recordings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
#: Targets of the photometry part, up to the cohort's tables.
COMBINED = ["qc.tsv", "metrics.tsv", "aligned.parquet", "anomalies.tsv", "faults.tsv"]


def simulate(folder: Path) -> Path:
    """A small scaled study (6 mice x 1 recording of 75 min at 100 Hz); its config file."""
    command = [sys.executable, "-m", "exneuro.simulate", "scaled", str(folder)]
    options = ["--mice", "6", "--sessions", "1", "--minutes", "75", "--rate", "100"]
    result = subprocess.run(
        [*command, *options, "--genes", "2100"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "config" / "config.yaml"


def run_photometry(config: Path, results: Path, batch_size: int) -> str:
    """Run the photometry part with ``batch_size`` recordings per group job; the plan (log of a
    dry run made first: a local run does not print its group jobs)."""
    text = config.read_text()
    study = config.with_name(f"batch_{batch_size}.yaml")
    study.write_text(re.sub(r"(?m)^output_dir: .*$", f"output_dir: {results}", text))
    targets = [str(results / "photometry" / name) for name in COMBINED]
    command = [SNAKEMAKE, *targets, "--configfile", str(study), "--cores", "2"]
    command += ["--group-components", f"photometry_recordings={batch_size}"]
    logs = []
    for dry in (["-n"], []):
        result = subprocess.run(
            command + dry, cwd=REPO, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr[-3000:]
        logs.append(result.stderr + result.stdout)
    return logs[0]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.e2e
def test_batched_recording_jobs_give_byte_identical_photometry_results(tmp_path):
    config = simulate(tmp_path / "study")
    single_plan = run_photometry(config, tmp_path / "single", 1)
    batched_plan = run_photometry(config, tmp_path / "batched", 4)

    def members(log: str) -> list[int]:
        """Recordings per group job, from Snakemake's log."""
        parts = re.split(r"Group job photometry_recordings", log)[1:]
        return [part.split("Group job")[0].count("rule photometry_session:") for part in parts]

    assert sorted(members(batched_plan)) == [2, 4]  # 6 recordings in jobs of at most 4
    assert all(n == 1 for n in members(single_plan))
    single = tree(tmp_path / "single" / "photometry")
    batched = tree(tmp_path / "batched" / "photometry")
    assert len([name for name in single if name.endswith("/qc.png")]) == 6
    assert single.keys() == batched.keys()
    differing = [name for name in single if single[name] != batched[name]]
    assert differing == []
    logs = tree(tmp_path / "batched" / "logs" / "photometry" / "sessions")
    assert len(logs) == 6  # one log per recording, batched or not

    raw = sorted((tmp_path / "study" / "data" / "photometry").rglob("*.ppd"))[0]
    raw.touch()  # one recording re-exported: only its job reruns, not its whole batch
    study = config.with_name("batch_4.yaml")
    targets = [str(tmp_path / "batched" / "photometry" / name) for name in COMBINED]
    plan = subprocess.run(
        [SNAKEMAKE, *targets, "--configfile", str(study), "--cores", "1", "-n"]
        + ["--group-components", "photometry_recordings=4"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert (plan.stdout + plan.stderr).count("rule photometry_session:") == 1


def test_a_recording_job_does_not_import_libraries_only_other_recordings_need():
    """The job of a ``.ppd`` recording without an asymmetric baseline or NWB export loads neither
    h5py (``.doric``/NWB files) nor pybaselines (airPLS/arPLS) nor pynwb: each costs start-up
    time in every one of thousands of jobs."""
    code = (
        "import runpy, sys; runpy.run_path('scripts/photometry_session.py'); "
        "print(sorted({'h5py', 'pybaselines', 'pynwb', 'exneuro.photometry.session'} "
        "& set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['exneuro.photometry.session']"
