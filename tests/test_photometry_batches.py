"""Recording jobs in batches: which recordings share a job, and that a batch's process writes
what one job per recording writes, byte for byte (``photometry.recordings_per_job``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, files_under

from exneuro.config import load_yaml, read_sample_sheet, validate_config
from exneuro.errors import ExneuroError
from exneuro.photometry.batches import batch_rule_names, recording_batches, recording_runs
from exneuro.photometry.recording_job import analyse_batch, analyse_recording
from exneuro.photometry.recordings_sheet import read_recordings, session_records

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
#: Targets of the photometry part, up to the cohort's tables.
COMBINED = ["qc.tsv", "metrics.tsv", "aligned.parquet", "anomalies.tsv", "faults.tsv"]
NAMES = [f"M{mouse:04d}_d{day}" for mouse in range(1250) for day in range(1, 9)]


def test_batches_hold_every_recording_once_at_most_twice_the_asked_number_each():
    batches = recording_batches(NAMES, 20)
    assert sorted(name for batch in batches for name in batch) == sorted(NAMES)
    assert 10_000 / 20 < len(batches) < 10_000 / 20 * 1.2  # long runs cut: a few more batches
    assert max(len(batch) for batch in batches) == 40
    assert max(len(run) for run in recording_runs(NAMES, 20)) > 80  # what the cut prevents
    assert recording_batches(NAMES[:50], 1) == [[name] for name in sorted(NAMES[:50])]
    assert recording_batches(list(reversed(NAMES)), 20) == batches  # the sheet's order is free
    with pytest.raises(ValueError, match="at least 1"):
        recording_batches(NAMES, 0)


def test_a_long_run_of_recordings_is_cut_into_near_equal_batches():
    """48 recordings that hash into one run at 20 per job (a study of six mice recorded on
    eight days): two batches of 24, one per core, not one batch of 48 on one core."""
    names = [f"M{mouse:03d}_d{day}" for mouse in range(93, 99) for day in range(1, 9)]
    assert recording_runs(names, 20) == [sorted(names)]
    assert recording_batches(names, 20) == [sorted(names)[:24], sorted(names)[24:]]
    assert [len(b) for b in recording_batches(names[:41], 20)] == [21, 20]
    assert [len(b) for b in recording_batches(names[:40], 20)] == [40]


@pytest.mark.parametrize("position", [0, 1234, 5678, 9999])
def test_a_new_recording_changes_only_the_batches_of_the_run_it_joins(position):
    before = recording_batches(NAMES[:position] + NAMES[position + 1 :], 20)
    after = recording_batches(NAMES, 20)
    new = NAMES[position]
    changed_before = [b for b in before if b not in after]
    changed_after = [b for b in after if b not in before]
    assert new in sum(changed_after, [])
    # the changed batches hold exactly the recordings of one old run and the new one
    assert sorted(sum(changed_after, [])) == sorted(sum(changed_before, []) + [new])
    runs = recording_runs(NAMES[:position] + NAMES[position + 1 :], 20)
    assert any(set(sum(changed_before, [])) <= set(run) for run in runs)


def test_batch_rule_names_are_unique_identifiers_after_the_first_recording():
    names = batch_rule_names([["M1-d1", "M1-d2"], ["M1_d1x"], ["M1.d1"]])
    assert names == [
        "photometry_batch_M1_d1",
        "photometry_batch_M1_d1x",
        "photometry_batch_M1_d1_2",
    ]
    assert all(name.isidentifier() for name in names)


@pytest.fixture(scope="module")
def example_recordings() -> tuple[list[dict], dict]:
    """Three recordings of the example study (two .ppd, one Neurophotometrics with its TTL
    file) as the workflow passes them to a job, and the settings a recording reads."""
    from exneuro.config_files import load_config

    config = load_config(REPO / "config" / "config.yaml")
    schemas = REPO / "workflow" / "schemas"
    config = validate_config(config, load_yaml(schemas / "config.schema.yaml"), "config.yaml")
    samples = read_sample_sheet(
        config["samples"], load_yaml(schemas / "samples.schema.yaml"), config
    )
    section = config["photometry"]
    records = session_records(
        read_recordings(
            section["recordings"], section["recording_columns"], samples, section["cohort"]
        )
    )
    rows = [records[name] for name in ("M094_d1", "M094_d8")]
    rows.append(next(row for row in records.values() if row["ttl_file"]))
    return rows, section


def test_a_batch_writes_what_one_job_per_recording_writes(
    example_recordings, tmp_path, monkeypatch
):
    monkeypatch.chdir(REPO)  # the sheet's paths are relative to the project
    rows, settings = example_recordings
    for row in rows:
        analyse_recording(row, settings, tmp_path / "single" / row["session"])
    folders = [tmp_path / "batch" / row["session"] for row in rows]
    logs = [tmp_path / "logs" / f"{row['session']}.log" for row in rows]
    analyse_batch(rows, settings, folders, logs)
    single, batch = files_under(tmp_path / "single"), files_under(tmp_path / "batch")
    assert len(single) == 3 * 7 and single.keys() == batch.keys()  # 6 tables and the QC figure
    assert [name for name in single if single[name] != batch[name]] == []
    assert all(log.exists() for log in logs)


def test_a_failing_recording_stops_its_batch_with_its_error_in_its_own_log(
    example_recordings, tmp_path, monkeypatch
):
    monkeypatch.chdir(REPO)
    rows, settings = example_recordings
    broken = {**rows[1], "file": "data/example/photometry/ppd/missing.ppd"}
    folders = [tmp_path / name for name in ("first", "broken", "third")]
    logs = [tmp_path / f"{name}.log" for name in ("first", "broken", "third")]
    with pytest.raises(ExneuroError, match="missing.ppd"):
        analyse_batch([rows[0], broken, rows[2]], settings, folders, logs)
    assert (folders[0] / "qc.png").exists() and not folders[2].exists()
    message = logs[1].read_text().splitlines()
    assert len(message) == 1 and message[0].startswith("ERROR ") and "missing.ppd" in message[0]
    assert logs[0].read_text() == "" and not logs[2].exists()


def simulate(folder: Path) -> Path:
    """A small scaled study (6 mice x 1 recording of 75 min at 100 Hz); its config file."""
    command = [sys.executable, "-m", "exneuro.simulate", "scaled", str(folder)]
    options = ["--mice", "6", "--sessions", "1", "--minutes", "75", "--rate", "100"]
    result = subprocess.run(
        [*command, *options, "--genes", "2100"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "config" / "config.yaml"


def study_config(config: Path, results: Path, per_job: int) -> Path:
    """The study's config with its results in ``results`` and ``per_job`` recordings per job."""
    text = re.sub(r"(?m)^output_dir: .*$", f"output_dir: {results}", config.read_text())
    text = re.sub(r"(?m)^photometry:\n", f"photometry:\n  recordings_per_job: {per_job}\n", text)
    study = config.with_name(f"batch_{per_job}.yaml")
    study.write_text(text)
    return study


def run_photometry(config: Path, results: Path, per_job: int) -> dict[str, int]:
    """Run the photometry part with ``per_job`` recordings per job; the planned jobs by rule
    (from a dry run made first)."""
    targets = [str(results / "photometry" / name) for name in COMBINED]
    command = [SNAKEMAKE, *targets, "--configfile", str(study_config(config, results, per_job))]
    command += ["--cores", "2"]
    plans = []
    for dry in (["-n"], []):
        result = subprocess.run(
            command + dry, cwd=REPO, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr[-3000:]
        plans.append(result.stderr + result.stdout)
    return jobs_by_rule(plans[0])


def jobs_by_rule(log: str) -> dict[str, int]:
    """Rule -> planned jobs, from the job stats of a dry run's log."""
    table = re.search(r"Job stats:\n(.*?)\ntotal", log, re.S)
    rows = [line.split() for line in table.group(1).splitlines()[2:]] if table else []
    return {name: int(count) for name, count in rows}


@pytest.mark.e2e
def test_batched_recording_jobs_give_byte_identical_photometry_results(tmp_path):
    config = simulate(tmp_path / "study")
    single_plan = run_photometry(config, tmp_path / "single", 1)
    batched_plan = run_photometry(config, tmp_path / "batched", 4)
    sheet = (tmp_path / "study" / "config" / "photometry_recordings.tsv").read_text()
    sessions = [f"{m}_d{d}" for m, d, *_ in (line.split("\t") for line in sheet.splitlines()[1:])]
    batches = recording_batches(sessions, 4)
    assert single_plan["photometry_session"] == 6
    assert {k: v for k, v in batched_plan.items() if k.startswith("photometry_batch_")} == {
        name: 1 for name in batch_rule_names(batches)
    }
    single = files_under(tmp_path / "single" / "photometry")
    batched = files_under(tmp_path / "batched" / "photometry")
    assert len([name for name in single if name.endswith("/qc.png")]) == 6
    assert single.keys() == batched.keys()
    assert [name for name in single if single[name] != batched[name]] == []
    logs = files_under(tmp_path / "batched" / "logs" / "photometry" / "sessions")
    assert len(logs) == 6  # one log per recording, batched or not

    raw = Path(sheet.splitlines()[1].split("\t")[2])
    raw.touch()  # one recording re-exported: its batch reruns, no other
    study = config.with_name("batch_4.yaml")
    targets = [str(tmp_path / "batched" / "photometry" / name) for name in COMBINED]
    plan = subprocess.run(
        [SNAKEMAKE, *targets, "--configfile", str(study), "--cores", "1", "-n"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plan.returncode == 0, plan.stderr[-3000:]
    rerun = {k: v for k, v in jobs_by_rule(plan.stdout + plan.stderr).items() if "batch" in k}
    first = f"{sheet.splitlines()[1].split(chr(9))[0]}_d{sheet.splitlines()[1].split(chr(9))[1]}"
    owner = next(n for n, b in zip(batch_rule_names(batches), batches, strict=True) if first in b)
    assert rerun == {owner: 1}


def test_a_recording_job_does_not_import_libraries_only_other_recordings_need():
    """The job of a ``.ppd`` recording without an asymmetric baseline or NWB export loads neither
    h5py (``.doric``/NWB files) nor pybaselines (airPLS/arPLS) nor pynwb: each costs start-up
    time in every one of thousands of jobs."""
    code = (
        "import runpy, sys; runpy.run_path('scripts/photometry_session.py'); "
        "print(sorted({'h5py', 'pybaselines', 'pynwb', 'exneuro.photometry.recording'} "
        "& set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['exneuro.photometry.recording']"


def test_binned_traces_are_streamed_chunk_by_chunk_into_the_same_table(tmp_path):
    import numpy as np
    import pandas as pd

    from exneuro.photometry.stacking import stack_tables, write_flagged_aligned

    folders = []
    for number in range(5):
        folder = tmp_path / f"S{number}"
        folder.mkdir()
        pd.DataFrame(
            {
                "session": f"S{number}",
                "day": 1 + number % 2,
                "alignment": "run_onset",
                "column": "dff",
                "time_s": np.arange(3.0),
                "value": np.arange(3.0) * number,
            }
        ).to_parquet(folder / "aligned.parquet", index=False)
        folders.append(folder)
    included = {"S0": True, "S1": False, "S2": True, "S3": True, "S4": False}
    write_flagged_aligned(folders, included, tmp_path / "aligned.parquet", chunk=2)
    written = pd.read_parquet(tmp_path / "aligned.parquet")
    expected = stack_tables(folders, "aligned")
    expected["included"] = expected["session"].map(included)
    # chunk by chunk (S0 S1 | S2 S3 | S4), each chunk's rows by included flag and day
    assert written["session"].tolist() == [
        s for s in ["S1", "S0", "S2", "S3", "S4"] for _ in range(3)
    ]
    order = written["session"].str[1:].astype(int) * 3 + written["time_s"].astype(int)
    pd.testing.assert_frame_equal(
        written.iloc[np.argsort(order.to_numpy())].reset_index(drop=True), expected
    )
