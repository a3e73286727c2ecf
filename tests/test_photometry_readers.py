"""Photometry readers of generic CSV, Doric and TDT recordings, and the events joined to a
recording: each format built to its specification, decoded exactly.

Every file is built here from the format's documented layout (not by the vendor's software), so a
reader that misreads the layout — a column, a unit, a header variant, a clock — fails. TDT blocks
are not built on disk: the reader is given a ``tdt.StructType`` shaped like ``tdt.read_block``'s
return value (streams with data/fs/start_time, epocs with onset/offset), and the path route is
checked with ``tdt.read_block`` replaced; reading tank files is the ``tdt`` package's job. The
pyPhotometry and Neurophotometrics readers have their own modules
(``test_photometry_ppd_reader.py``, ``test_photometry_npm_reader.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tdt
from photometry_recordings import kinds, only

from exneuro.errors import ConfigError, InputDataError
from exneuro.photometry.readers import (
    ANOMALY_COLUMNS,
    EVENT_COLUMNS,
    Recording,
    events_from_table,
    read_doric_csv,
    read_generic_csv,
    read_photometry,
    read_tdt,
    ttl_events,
    with_events,
)

# --------------------------------------------------------------------------------------------
# Generic CSV
# --------------------------------------------------------------------------------------------


def test_generic_csv_maps_columns_units_events_and_frame_counter(tmp_path):
    n = 30
    table = pd.DataFrame(
        {
            "t_ms": 1000 + np.arange(n) * 10.0,
            "frame": np.arange(n),
            "gcamp": np.linspace(1.0, 2.0, n),
            "iso": np.linspace(0.5, 0.7, n),
            "run_ttl": (np.arange(n) % 10 >= 5).astype(int),
        }
    )
    path = tmp_path / "lab.csv"
    table.to_csv(path, index=False)
    config = {
        "time_column": "t_ms",
        "time_unit": "ms",
        "signal_column": "gcamp",
        "control_column": "iso",
        "region": "VMH",
        "event_columns": {"run": "run_ttl"},
        "frame_column": "frame",
        "units": "V",
    }
    rec = read_generic_csv(path, config)["VMH"]
    np.testing.assert_allclose(rec.time_s, np.arange(n) * 0.010, atol=1e-12)
    np.testing.assert_array_equal(rec.signal, table["gcamp"].to_numpy())
    np.testing.assert_array_equal(rec.control, table["iso"].to_numpy())
    assert rec.fs_hz == pytest.approx(100.0) and rec.metadata["time_origin"] == 1000.0
    np.testing.assert_allclose(rec.events["time_s"], [0.05, 0.15, 0.25])
    np.testing.assert_allclose(rec.events["duration_s"][:2], [0.05, 0.05])
    assert rec.anomalies.empty
    assert tuple(rec.events.columns) == EVENT_COLUMNS
    assert tuple(rec.anomalies.columns) == ANOMALY_COLUMNS


def test_generic_csv_several_fibres_long_table_and_interleaved_rows(tmp_path):
    wide = pd.DataFrame(
        {"time": np.arange(5.0), "s1": np.arange(5.0), "c1": 10 + np.arange(5.0)}
    ).assign(s2=lambda d: d.s1 * 2, c2=lambda d: d.c1 * 2)
    wide.to_csv(tmp_path / "wide.csv", index=False)
    fibres = {"left": {"signal": "s1", "control": "c1"}, "right": {"signal": "s2", "control": "c2"}}
    recs = read_generic_csv(tmp_path / "wide.csv", {"time_column": "time", "fibres": fibres})
    np.testing.assert_array_equal(recs["right"].control, 2 * (10 + np.arange(5.0)))
    long = pd.concat([wide.assign(fibre="A"), wide.assign(fibre="B", s1=wide.s1 + 100)])
    long.sort_values("time", kind="stable").to_csv(tmp_path / "long.csv", sep="\t", index=False)
    config = {"time_column": "time", "signal_column": "s1", "control_column": "c1"}
    recs = read_generic_csv(tmp_path / "long.csv", {**config, "region_column": "fibre"})
    assert list(recs) == ["A", "B"]
    np.testing.assert_array_equal(recs["B"].signal, 100 + np.arange(5.0))
    np.testing.assert_array_equal(recs["B"].time_s, np.arange(5.0))
    # interleaved: 470 on even rows, 405 on odd rows
    (tmp_path / "alt.csv").write_text("time,s1,c1\n0,1,\n1,,10\n2,3,\n3,,30\n4,5,\n5,,50\n")
    with pytest.raises(InputDataError, match="interleaved: true"):
        read_generic_csv(tmp_path / "alt.csv", config)
    rec = only(read_generic_csv(tmp_path / "alt.csv", {**config, "interleaved": True}))
    np.testing.assert_array_equal(rec.time_s, [2.0, 4.0])
    np.testing.assert_array_equal(rec.control, [20.0, 40.0])
    assert rec.metadata["n_edge_samples_dropped"] == 1


def test_generic_csv_planted_anomalies_each_reported_with_sample_and_line(tmp_path):
    t = np.arange(20) * 0.1
    t[5:] -= 0.12  # the clock steps back 0.02 s at row 5
    t[12:] += 0.1  # one sample missing before row 12: a 2x interval
    t[16:] -= 0.1  # rows 15 and 16 share a timestamp
    t[19] += 0.04  # 1.4x then 0.6x the interval: jitter, not a gap
    signal = np.full(20, 1.0)
    signal[8:10] = 10.0  # saturated ADC (+10 V)
    control = np.linspace(0.5, 0.6, 20)
    control[18] = np.nan  # empty cell
    table = pd.DataFrame({"time": t, "sig": signal, "ctl": control})
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    config = {
        "time_column": "time",
        "signal_column": "sig",
        "control_column": "ctl",
        "saturation": [-10, 10],
    }
    rec = only(read_generic_csv(path, config))
    found = rec.anomalies.set_index("kind")
    assert found.loc["time_backwards", "sample"] == 5 and found.loc["time_backwards", "line"] == 7
    assert found.loc["gap", "sample"] == 12
    assert found.loc["duplicate_timestamp", "sample"] == 16
    assert (
        found.loc["saturation", "sample"] == 8
        and "2 sample(s)" in found.loc["saturation", "detail"]
    )
    assert found.loc["missing_value", "sample"] == 18 and found.loc["missing_value", "line"] == 20
    assert np.isnan(rec.control[18]) and rec.signal[8] == 10.0  # nothing repaired
    assert rec.n_samples == 20


def test_generic_csv_blank_lines_keep_line_numbers_and_european_decimals(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("zeit;gcamp;iso\n0,0;1,5;0,25\n0,1;1,6;0,26\n\n0,2;1,7;\n0,3;1,8;0,28\n")
    config = {"time_column": "zeit", "signal_column": "gcamp", "control_column": "iso"}
    rec = only(read_generic_csv(path, {**config, "decimal": ","}))
    np.testing.assert_array_equal(rec.signal, [1.5, 1.6, 1.7, 1.8])
    np.testing.assert_array_equal(rec.time_s, [0.0, 0.1, 0.2, 0.3])
    assert rec.metadata["blank_rows"] == 1  # line 4
    missing = kinds(rec, "missing_value")
    assert missing[["channel", "sample", "line"]].values.tolist() == [["control", 2, 5]]


def test_generic_csv_config_and_data_errors_name_the_fix(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("time,sig,ctl\n0,1,2\n1,1,abc\n")
    base = {"time_column": "time", "signal_column": "sig"}
    with pytest.raises(ConfigError, match="no control channel"):
        read_generic_csv(path, base)
    with pytest.raises(ConfigError, match="unknown key 'contol_column'"):
        read_generic_csv(path, {**base, "contol_column": "ctl"})
    with pytest.raises(InputDataError, match="no column 'iso'.*columns found: time, sig, ctl"):
        read_generic_csv(path, {**base, "control_column": "iso"})
    with pytest.raises(InputDataError, match=r"line 3, column 'ctl': 'abc' is not a number"):
        read_generic_csv(path, {**base, "control_column": "ctl"})
    path.write_text("time,sig,ctl\n0,1,\n1,2,\n2,3,\n")
    with pytest.raises(InputDataError, match="no control channel"):
        read_generic_csv(path, {**base, "control_column": "ctl"})
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputDataError, match="empty"):
        read_generic_csv(empty, {**base, "control_column": "ctl"})


# --------------------------------------------------------------------------------------------
# Doric
# --------------------------------------------------------------------------------------------

DORIC_ROWS = [
    (0.500, 1.10, 0.40, 0, 0.9),
    (0.517, 1.20, 0.41, 0, 0.9),
    (0.534, 1.30, 0.42, 1, 0.9),
    (0.551, 1.25, 0.43, 1, 0.9),
    (0.568, 1.15, 0.44, 0, 0.9),
    (0.585, 1.05, 0.45, 0, 0.9),
]
DORIC_NAMES = "Time(s),AIn-1 - Dem (AOut-1),AIn-1 - Dem (AOut-2),DI/O-1,AOut-1"
DORIC_CONFIG = {"signal_column": "AIn-1 - Dem (AOut-2)", "control_column": "AIn-1 - Dem (AOut-1)"}


def doric_text(two_lines: bool) -> str:
    body = "".join(",".join(f"{v:g}" for v in row) + ",\n" for row in DORIC_ROWS)  # trailing ,
    groups = "---,Analog In. | Ch.1,Analog In. | Ch.1,Digital I/O | Ch.1,Analog Out. | Ch.1,\n"
    return (groups if two_lines else "") + DORIC_NAMES + ",\n" + body


@pytest.mark.parametrize("two_lines", [True, False])
def test_doric_both_header_variants_decode_the_same(tmp_path, two_lines):
    path = tmp_path / "doric.csv"
    path.write_text(doric_text(two_lines))
    rec = only(read_doric_csv(path, {**DORIC_CONFIG, "region": "VMH"}))
    rows = np.array(DORIC_ROWS)
    np.testing.assert_allclose(rec.time_s, rows[:, 0] - 0.5, atol=1e-12)
    np.testing.assert_array_equal(rec.signal, rows[:, 2])
    np.testing.assert_array_equal(rec.control, rows[:, 1])
    assert rec.fs_hz == pytest.approx(1 / 0.017)
    assert rec.metadata["format_version"] == ("two-line header" if two_lines else "one-line header")
    np.testing.assert_allclose(rec.events["time_s"], [0.034], atol=1e-12)
    np.testing.assert_allclose(rec.events["duration_s"], [0.034], atol=1e-12)
    assert rec.events["name"].tolist() == ["DI/O-1"]
    groups = rec.metadata.get("doric_channel_groups")
    assert groups == (
        "---,Analog In. | Ch.1,Analog In. | Ch.1,Digital I/O | Ch.1,Analog Out. | Ch.1"
        if two_lines
        else None
    )


def test_doric_errors_for_wrong_file_and_led_drive_column(tmp_path):
    path = tmp_path / "doric.csv"
    path.write_text(doric_text(True))
    with pytest.raises(InputDataError, match="LED drive output"):
        read_doric_csv(path, {**DORIC_CONFIG, "control_column": "AOut-1"})
    with pytest.raises(InputDataError, match="set signal_column and control_column"):
        read_doric_csv(path)
    other = tmp_path / "other.csv"
    other.write_text("time,a,b\n0,1,2\n")
    with pytest.raises(InputDataError, match="not a Doric Neuroscience Studio CSV export"):
        read_doric_csv(other, DORIC_CONFIG)


# --------------------------------------------------------------------------------------------
# TDT
# --------------------------------------------------------------------------------------------

TDT_FS = 24414.0625 / 24  # 1017.25 Hz


def tdt_block(n_signal: int = 50, n_control: int = 50) -> tdt.StructType:
    """What tdt.read_block returns for an FP gizmo block: demodulated streams and epocs."""
    streams = tdt.StructType()
    streams["_465A"] = tdt.StructType(
        name="_465A", fs=TDT_FS, start_time=0.0, data=np.linspace(1, 2, n_signal, dtype=np.float32)
    )
    streams["_405A"] = tdt.StructType(
        name="_405A", fs=TDT_FS, start_time=0.0, data=np.linspace(3, 4, n_control, dtype=np.float32)
    )
    two = np.vstack([np.zeros(n_signal, np.float32), np.arange(n_signal, dtype=np.float32)])
    streams["x465C"] = tdt.StructType(name="x465C", fs=TDT_FS, start_time=0.0, data=two)
    epocs = tdt.StructType()
    epocs["PtC0"] = tdt.StructType(
        name="PtC0", onset=np.array([0.01, 0.03]), offset=np.array([0.02, np.inf]), data=np.ones(2)
    )
    info = tdt.StructType(blockname="Mouse1-260105", start_date="2026-01-05 10:00:00")
    return tdt.StructType(streams=streams, epocs=epocs, info=info)


def test_tdt_streams_and_epocs_from_a_read_block_structure():
    block = tdt_block()
    config = {"signal": "465A", "control": "_405A", "region": "VMH", "epocs": {"PtC0": "run"}}
    rec = read_tdt(block, config)["VMH"]
    np.testing.assert_array_equal(rec.time_s, np.arange(50) / TDT_FS)
    np.testing.assert_array_equal(rec.signal, block.streams["_465A"].data.astype(np.float64))
    np.testing.assert_array_equal(rec.control, block.streams["_405A"].data.astype(np.float64))
    assert rec.fs_hz == pytest.approx(1017.2526, abs=1e-4)
    assert rec.metadata["led_nm"] == {"signal": 465, "control": 405}
    assert rec.events["name"].tolist() == ["run", "run"]
    np.testing.assert_allclose(rec.events["duration_s"], [0.01, np.nan])
    multi = read_tdt(block, {"signal": "465C", "signal_channel": 2, "control": "405A"})["fibre"]
    np.testing.assert_array_equal(multi.signal, np.arange(50.0))


def test_tdt_length_mismatch_missing_store_and_path_route(tmp_path, monkeypatch):
    rec = read_tdt(tdt_block(50, 47), {"signal": "_465A", "control": "_405A"})["fibre"]
    assert rec.n_samples == 47
    assert kinds(rec, "length_mismatch")["sample"].tolist() == [46]
    with pytest.raises(InputDataError, match="no stream store '_415A'.*_465A, _405A, x465C"):
        read_tdt(tdt_block(), {"signal": "_465A", "control": "_415A"})
    with pytest.raises(ConfigError, match="no control stream"):
        read_tdt(tdt_block(), {"signal": "_465A"})
    with pytest.raises(InputDataError, match="not a TDT block"):
        read_tdt(tmp_path, {"signal": "_465A", "control": "_405A"})
    (tmp_path / "Mouse1.tsq").write_bytes(b"\0" * 40)
    calls = []
    monkeypatch.setattr(tdt, "read_block", lambda path, **kw: calls.append(path) or tdt_block())
    rec = read_photometry(tmp_path, "tdt", {"signal": "_465A", "control": "_405A"})["fibre"]
    assert calls == [str(tmp_path)] and rec.metadata["source_file"] == str(tmp_path)


# --------------------------------------------------------------------------------------------
# Events and the tidy form
# --------------------------------------------------------------------------------------------


def test_run_onsets_from_a_session_log_join_the_recording(tmp_path):
    log = tmp_path / "treadmill.tsv"
    log.write_text("bout\tstart_min\tstop_min\nrun1\t0.5\t1.0\nrun2\t9.0\t9.5\n")
    events = events_from_table(
        log,
        onset_column="start_min",
        offset_column="stop_min",
        name_column="bout",
        time_unit="min",
        time_offset_s=-10.0,
    )
    np.testing.assert_allclose(events["time_s"], [20.0, 530.0])
    np.testing.assert_allclose(events["duration_s"], [30.0, 30.0])
    t = np.arange(0, 100, 0.5)
    rec = Recording(
        region="VMH",
        time_s=t,
        signal=np.ones_like(t),
        control=np.ones_like(t),
        fs_hz=2.0,
        events=ttl_events(t, (t > 50) & (t < 60), "cue"),
        anomalies=pd.DataFrame(columns=list(ANOMALY_COLUMNS)),
        metadata={"source_file": "x"},
    )
    joined = with_events(rec, events)
    assert joined.events["name"].tolist() == ["run1", "cue", "run2"]
    outside = kinds(joined, "event_outside_recording")
    assert len(outside) == 1 and "run2" in outside["detail"].iloc[0]
    bad = tmp_path / "bad.tsv"
    bad.write_text("start\tstop\n5\t3\n")
    with pytest.raises(InputDataError, match="line 2, column 'stop'"):
        events_from_table(bad, onset_column="start", offset_column="stop")


def test_run_times_from_the_sample_sheet_table():
    sheet = pd.DataFrame(
        {"mouse": ["M1", "M2"], "run_onset_s": [600.0, 610.0], "run_offset_s": [2400.0, np.nan]}
    )
    events = events_from_table(
        sheet.iloc[[1]], onset_column="run_onset_s", offset_column="run_offset_s"
    )
    assert events["name"].tolist() == ["run"] and events["time_s"].tolist() == [610.0]
    assert np.isnan(events["duration_s"].iloc[0])  # offset not filled in: unknown duration


def test_validate_rejects_a_broken_recording():
    t = np.arange(5.0)
    rec = Recording(
        region="VMH",
        time_s=t,
        signal=np.ones(4),
        control=np.ones(5),
        fs_hz=1.0,
        events=ttl_events(t, np.zeros(5), "x"),
        anomalies=pd.DataFrame(columns=list(ANOMALY_COLUMNS)),
        metadata={"source_file": "f.csv"},
    )
    with pytest.raises(InputDataError, match="signal has"):
        rec.validate()
    back = Recording(**{**rec.__dict__, "signal": np.ones(5), "time_s": t[::-1].copy()})
    with pytest.raises(InputDataError, match="no anomaly reports it"):
        back.validate()
