"""Event times typed in the photometry recordings sheet, one column per declared event type.

The cue study's recordings (tests/studies/cue_photometry) carry a cue TTL at 30, 60, ... 210 s
with a planted transient after each cue. Typed into the sheet instead, the same times must come
back exactly, give the same peri-cue waveforms as the TTL, and a session whose cell is blank
still gets its whole-session metrics.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from exneuro.config import load_yaml, validate_config
from exneuro.photometry.recording import load_session, process_session
from exneuro.photometry.recordings_sheet import read_recordings

STUDY = REPO / "tests" / "studies" / "cue_photometry"
PLANTED = [30.0, 60.0, 90.0, 120.0, 150.0, 180.0, 210.0]


@pytest.fixture()
def settings(config_schema, monkeypatch) -> dict:
    """The cue study's photometry settings (run from the project folder: the sheet's paths)."""
    monkeypatch.chdir(REPO)
    config = validate_config(load_yaml(STUDY / "config.yaml"), config_schema, "config.yaml")
    return config["photometry"]


@pytest.fixture()
def samples() -> pd.DataFrame:
    return pd.read_csv(STUDY / "samples.tsv", sep="\t", dtype=str).assign(excluded_reason="")


def typed_sheet(tmp_path, cells: dict[str, str]) -> str:
    """The cue study's sheet for day 1, cue times typed per mouse in a column 'cue_s'."""
    sheet = pd.read_csv(STUDY / "recordings.tsv", sep="\t", dtype=str).fillna("")
    sheet = sheet[sheet["day"] == "1"].assign(cue_s=lambda f: f["mouse"].map(cells).fillna(""))
    path = tmp_path / "recordings.tsv"
    sheet.to_csv(path, sep="\t", index=False)
    return str(path)


def run(row: dict, settings: dict, readers: dict) -> dict[str, pd.DataFrame]:
    recording, onset, offset, _ = load_session(row, readers, settings["run_event"])
    identity = {key: row[key] for key in ("session", "mouse", "group", "day")}
    return {
        "events": recording.events,
        **process_session(recording, onset, offset, settings, identity),
    }


def test_typed_cue_times_are_recovered_exactly_and_equal_the_ttl(settings, samples, tmp_path):
    typed = "; ".join(f"{t:g}" for t in PLANTED[::-1])  # any order, sorted on reading
    path = typed_sheet(tmp_path, {"C1": typed, "C2": "30;60,0; 90 ;120;150;180;210;", "C3": ""})
    sheet = read_recordings(path, {}, samples, "cue", {"cue": "cue_s"})
    records = sheet.set_index("mouse")["typed_events"]
    assert [time for _, time, _ in records["C1"]] == PLANTED
    assert records["C2"] == records["C1"]  # a decimal comma and a trailing ';' read the same
    assert records["C3"] == [] and records["C4"] == []
    without_ttl = copy.deepcopy(settings["readers"])
    del without_ttl["csv"]["event_columns"]  # the sheet is the only source of cues
    row = sheet.set_index("mouse").loc["C1"].to_dict() | {"session": "C1_d1", "mouse": "C1"}
    from_sheet = run(row, settings, without_ttl)
    cues = from_sheet["events"].query("name == 'cue'")
    assert cues["time_s"].tolist() == PLANTED
    assert (cues["source"] == f"{path} line 2 (typed)").all()
    untyped = {**row, "typed_events": []}
    from_ttl = run(untyped, settings, settings["readers"])
    assert from_ttl["events"].query("name == 'cue'")["time_s"].tolist() == PLANTED
    sheet_wave = from_sheet["aligned"].query("alignment == 'cue'")
    ttl_wave = from_ttl["aligned"].query("alignment == 'cue'")
    assert (sheet_wave["n_trials"] == 7).all()
    np.testing.assert_array_equal(sheet_wave["value"].to_numpy(), ttl_wave["value"].to_numpy())
    # and the same metrics in the window 0-5 s after each cue
    pd.testing.assert_frame_equal(from_sheet["metrics"], from_ttl["metrics"])
    # the planted transient (rise 0.5 s, decay 3 s) peaks 1-2 s after the typed cue
    dff = sheet_wave.query("column == 'dff'")
    assert 0 < dff.loc[dff["value"].idxmax(), "time_s"] < 2.5


def test_a_session_with_no_typed_event_gets_whole_session_metrics(settings, samples, tmp_path):
    path = typed_sheet(tmp_path, {"C1": "30; 60"})
    sheet = read_recordings(path, {}, samples, "cue", {"cue": "cue_s"}).set_index("mouse")
    readers = copy.deepcopy(settings["readers"])
    del readers["csv"]["event_columns"]
    row = sheet.loc["C3"].to_dict() | {"session": "C3_d1", "mouse": "C3"}
    tables = run(row, settings, readers)
    assert tables["events"].empty
    metrics = tables["metrics"]
    assert sorted(metrics["window"].unique()) == ["cue_0_5", "first_cue_period", "session"]
    around_cues = metrics.query("window == 'cue_0_5'")  # no cue: NaN, never a made-up value
    assert around_cues["value"].isna().all() and (around_cues["coverage"] == 0).all()
    whole = metrics.query("window == 'session' and metric == 'mean_dff'").iloc[0]
    assert whole["coverage"] > 0.99 and np.isfinite(whole["value"])  # all but the warm-up
    cue = tables["aligned"].query("alignment == 'cue'")
    assert (cue["n_trials"] == 0).all() and cue["value"].isna().all()
