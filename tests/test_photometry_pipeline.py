"""Photometry from raw files on two rigs to the study's tables, as the workflow runs it.

A small cohort is simulated and written as pyPhotometry and Neurophotometrics files with the
recordings sheet; every session goes through load_session -> process_session, then
combine_sessions and photometry_statistics. The planted truth (run times, post-run growth over
training, a damaged session) must come back.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exneuro.errors import InputDataError
from exneuro.photometry.pipeline import combine_sessions, photometry_statistics
from exneuro.photometry.recording import load_session, process_session
from exneuro.photometry.recordings_sheet import read_recordings
from exneuro.simulate.photometry import PhotometryEffects
from exneuro.simulate.photometry_study import PhotometryDesign, photometry_mice, write_photometry

DESIGN = PhotometryDesign(
    groups={"control": 5, "silenced": 5},
    days=(1, 8),
    effects=PhotometryEffects(fs_hz=10.0, baseline_s=300.0, run_s=300.0, recovery_s=1200.0),
)


def settings_from(example_config: dict) -> dict:
    """The example's photometry settings, windows shortened to the test's 5-min rest."""
    section = copy.deepcopy(example_config["photometry"])
    section["baseline_window"] = {"ref": "onset", "start_s": -300, "end_s": 0}
    section["windows"] = [
        {"name": "baseline", "ref": "onset", "start_s": -300, "end_s": 0},
        {"name": "running", "ref": "onset", "start_s": 0, "end_s": "offset"},
        {"name": "post_0_15", "ref": "offset", "start_s": 0, "end_s": 900},
    ]
    section["traces"] = {"bin_s": 10.0, "start_s": -300.0, "end_s": 1500.0}
    section["peri_event"].update(window_s=[-300, 1200], baseline_s=[-300, -30], n_boot=500)
    section["exclude_sessions"] = []
    return section


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("photometry")
    mice = photometry_mice(DESIGN, 1, "activity")
    samples = mice.assign(excluded_reason="")
    truth = write_photometry(
        DESIGN,
        mice,
        {"recordings": str(folder / "recordings.tsv")},
        folder / "raw",
        np.random.default_rng(3),
    )
    return {"folder": folder, "samples": samples, "truth": truth}


@pytest.fixture(scope="module")
def processed(cohort, raw_example_config, config_schema) -> dict:
    from exneuro.config import validate_config

    config = validate_config(copy.deepcopy(raw_example_config), config_schema, "config.yaml")
    settings = settings_from(config)
    sheet = read_recordings(cohort["folder"] / "recordings.tsv", {}, cohort["samples"], "activity")
    tables = {"qc": [], "metrics": [], "aligned": []}
    sources = {}
    for row in sheet.to_dict("records"):
        recording, onset, offset, source = load_session(row, settings["readers"], "run")
        sources[row["session"]] = (row["format"], onset, offset, source)
        identity = {k: row[k] for k in ("session", "mouse", "group", "day")}
        out = process_session(recording, onset, offset, settings, identity)
        for name in tables:
            tables[name].append(out[name])
    stacked = {name: pd.concat(frames, ignore_index=True) for name, frames in tables.items()}
    return {"settings": settings, "sheet": sheet, "sources": sources, **stacked}


def test_both_rigs_give_the_planted_run_times_from_ttl_or_sheet(processed, cohort):
    formats = {fmt for fmt, *_ in processed["sources"].values()}
    assert formats == {"ppd", "neurophotometrics"}
    effects = DESIGN.effects
    for session, (_, onset, offset, source) in processed["sources"].items():
        # one sample of 10 Hz (the NPM signal frame is half a cycle after its control frame)
        assert onset == pytest.approx(effects.baseline_s, abs=0.11), session
        assert offset - onset == pytest.approx(effects.run_s, abs=0.11), session
        lost = cohort["truth"]["flaws"]["missing_ttl_file"]["session"]
        assert (source == "sheet") == (session == lost)


def test_damaged_session_fails_qc_and_is_left_out_only_when_the_config_says_so(processed, cohort):
    damaged = cohort["truth"]["flaws"]["damaged_patch_cord"]["session"]
    thresholds = dict(processed["settings"]["qc"])
    kept = combine_sessions(
        processed["qc"], processed["metrics"], processed["aligned"], thresholds, []
    )
    qc = kept["qc"].set_index("session")
    assert not qc.loc[damaged, "qc_pass"] and qc.drop(damaged)["qc_pass"].all()
    assert "control fit R2" in qc.loc[damaged, "qc_reasons"]
    assert qc["included"].all()  # flagged, not excluded
    mouse, day = damaged.split("_d")
    entry = {"mouse": mouse, "day": int(day), "reason": "patch cord"}
    excluded = combine_sessions(
        processed["qc"], processed["metrics"], processed["aligned"], thresholds, [entry]
    )
    assert (
        excluded["qc"].set_index("session").loc[damaged, "exclusion_reason"] == "config: patch cord"
    )
    assert not excluded["metrics"].loc[excluded["metrics"]["session"] == damaged, "included"].any()
    automatic = combine_sessions(
        processed["qc"],
        processed["metrics"],
        processed["aligned"],
        {**thresholds, "exclude_failed": True},
        [],
    )
    reasons = automatic["qc"].set_index("session")["exclusion_reason"]
    assert reasons[damaged].startswith("QC: ") and (reasons.drop(damaged) == "").all()
    with pytest.raises(InputDataError, match="no recording"):
        combine_sessions(
            processed["qc"],
            processed["metrics"],
            processed["aligned"],
            thresholds,
            [{"mouse": "M999", "day": 1, "reason": "typo"}],
        )


def test_planted_training_effect_comes_back_through_the_whole_chain(processed, cohort):
    damaged = cohort["truth"]["flaws"]["damaged_patch_cord"]["session"]
    mouse, day = damaged.split("_d")
    tables = combine_sessions(
        processed["qc"],
        processed["metrics"],
        processed["aligned"],
        processed["settings"]["qc"],
        [{"mouse": mouse, "day": int(day), "reason": "patch cord"}],
    )
    cohort_entry = {"id": "activity", "control_group": "control"}
    statistics, waveforms, intervals = photometry_statistics(
        tables["metrics"],
        tables["aligned"],
        cohort_entry,
        processed["settings"]["statistics"],
        processed["settings"]["peri_event"],
    )
    f_test = statistics[
        (statistics["outcome"] == "mean_dff")
        & (statistics["subset"] == "cohort=activity; window=post_0_15")
        & (statistics["test"] == "lmm")
        & (statistics["term"] == "group:day")
    ].iloc[0]
    assert f_test["p"] < 0.01 and f_test["df_den"] > 0
    # growth from day 1 to day 8 within each group: planted 0.004 and 0.001 per day
    growth = statistics[
        (statistics["outcome"] == "mean_dff")
        & statistics["subset"].str.startswith("cohort=activity; window=post_0_15; group=")
        & (statistics["test"] == "emm_contrast")
    ].set_index("subset")["estimate"]
    control = growth["cohort=activity; window=post_0_15; group=control"]
    silenced = growth["cohort=activity; window=post_0_15; group=silenced"]
    assert control == pytest.approx(0.004 * 7, abs=0.008)
    assert silenced == pytest.approx(0.001 * 7, abs=0.008)
    # baseline before the run does not differ (it is the reference of the fit)
    baseline = statistics[
        (statistics["outcome"] == "mean_dff")
        & (statistics["subset"] == "cohort=activity; window=baseline")
        & (statistics["term"] == "group:day")
    ].iloc[0]
    assert baseline["p"] > 0.01
    # waveforms: after the run, the groups differ on the last day
    differ = intervals[(intervals["group"] == "silenced - control") & (intervals["day"] == 8)]
    assert (differ["end_s"] > DESIGN.effects.run_s + 60).any()
    assert set(waveforms["group"]) == {"control", "silenced", "silenced - control"}


def write_sheet(folder: Path, rows: list[dict]) -> Path:
    path = folder / "sheet.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mouse": "M404"}, "line 2, column 'mouse'.*not in the sample sheet"),
        ({"mouse": "X1"}, "line 2, column 'mouse'.*cohort 'other'"),
        ({"day": "1.5"}, "line 2, column 'day'.*not a whole number"),
        ({"format": "inscopix"}, "line 2, column 'format'.*unknown"),
        ({"file": "missing.ppd"}, "line 2, column 'file'.*not found"),
        ({"run_onset_s": "600"}, "line 2, column 'run_offset_s'.*together"),
        ({"run_onset_s": "600", "run_offset_s": "500"}, "line 2, column 'run_offset_s'.*not after"),
    ],
)
def test_recordings_sheet_errors_name_line_and_column(cohort, tmp_path, change, message):
    good = pd.read_csv(cohort["folder"] / "recordings.tsv", sep="\t", dtype=str).fillna("")
    row = {**good.iloc[0].to_dict(), **change}
    samples = pd.concat(
        [
            cohort["samples"],
            pd.DataFrame([{"mouse_id": "X1", "cohort": "other", "group": "control"}]),
        ]
    )
    with pytest.raises(InputDataError, match=message):
        read_recordings(write_sheet(tmp_path, [row]), {}, samples, "activity")


def test_recordings_sheet_duplicate_and_mapped_columns(cohort, tmp_path):
    good = pd.read_csv(cohort["folder"] / "recordings.tsv", sep="\t", dtype=str).fillna("")
    rows = [good.iloc[0].to_dict(), good.iloc[0].to_dict()]
    with pytest.raises(InputDataError, match="listed twice \\(lines 2 and 3\\)"):
        read_recordings(write_sheet(tmp_path, rows), {}, cohort["samples"], "activity")
    renamed = good.rename(columns={"mouse": "Animal", "day": "Training day"})
    path = tmp_path / "renamed.csv"
    renamed.to_csv(path, index=False)
    sheet = read_recordings(
        path, {"mouse": "Animal", "day": "Training day"}, cohort["samples"], "activity"
    )
    assert len(sheet) == len(good) and sheet["session"].iloc[0] == f"{good['mouse'][0]}_d1"


def test_a_session_without_run_event_or_times_says_how_to_fix_it(cohort, processed):
    row = processed["sheet"].query("format == 'ppd'").iloc[0].to_dict()
    with pytest.raises(InputDataError, match="expected one 'treadmill' event.*fill run_onset_s"):
        load_session(row, processed["settings"]["readers"], "treadmill")
