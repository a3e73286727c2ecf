"""Photometry readers: each format written byte by byte to its specification, decoded exactly.

Every file is built here from the format's documented layout (not by the vendor's software), so a
reader that misreads the layout — a stride, a bit, a header generation, a clock — fails. TDT blocks
are not built on disk: the reader is given a ``tdt.StructType`` shaped like ``tdt.read_block``'s
return value (streams with data/fs/start_time, epocs with onset/offset), and the path route is
checked with ``tdt.read_block`` replaced; reading tank files is the ``tdt`` package's job.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tdt

from exneuro.errors import ConfigError, InputDataError
from exneuro.photometry.readers import (
    ANOMALY_COLUMNS,
    EVENT_COLUMNS,
    Recording,
    events_from_table,
    read_doric_csv,
    read_generic_csv,
    read_neurophotometrics,
    read_photometry,
    read_ppd,
    read_tdt,
    ttl_events,
    with_events,
)

VPD = 3.3 / (1 << 15)  # volts per ADC division of a pyPhotometry board


def only(recordings: dict[str, Recording]) -> Recording:
    assert len(recordings) == 1
    return next(iter(recordings.values()))


def kinds(recording: Recording, kind: str) -> pd.DataFrame:
    return recording.anomalies[recording.anomalies["kind"] == kind]


# --------------------------------------------------------------------------------------------
# pyPhotometry .ppd
# --------------------------------------------------------------------------------------------


def write_ppd(path: Path, header: dict | bytes, words: np.ndarray, tail: bytes = b"") -> Path:
    """uint16 LE header length, header (JSON or raw bytes), uint16 LE words."""
    block = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(
        len(block).to_bytes(2, "little") + block + np.asarray(words, "<u2").tobytes() + tail
    )
    return path


def pack(adc: np.ndarray, bit: np.ndarray | int = 0) -> np.ndarray:
    """A sample word: 15-bit ADC value in the top bits, the digital input in the lowest bit."""
    return (np.asarray(adc, np.uint16) << 1) | np.asarray(bit, np.uint16)


def interleave(*columns: np.ndarray) -> np.ndarray:
    return np.column_stack(columns).ravel()


RNG = np.random.default_rng(7)
A1 = RNG.integers(1000, 30000, 40)
A2 = RNG.integers(1000, 30000, 40)
D1 = np.zeros(40, int)
D1[[5, 6, 7, 20]] = 1  # pulses rising at samples 5 and 20
D2 = np.zeros(40, int)
D2[30:] = 1  # rising at 30, still high at the end


def test_ppd_v1_continuous_is_decoded_exactly_in_volts_with_digital_events(tmp_path):
    header = {
        "subject_ID": "m1",
        "date_time": "2026-01-05T10:00:00",
        "mode": "2EX_2EM_continuous",
        "sampling_rate": 1000,
        "volts_per_division": [VPD, VPD],
        "n_analog_signals": 2,
        "n_digital_signals": 2,
        "version": "1.0.2",
    }
    a1 = A1.copy()
    a1[12:14] = 32767  # above 0.98 x 2^15: clipping
    path = write_ppd(tmp_path / "m1.ppd", header, interleave(pack(a1, D1), pack(A2, D2)))
    rec = only(read_ppd(path, {"region": "VMH", "digital_names": {"digital_1": "run"}}))
    k = np.arange(40)
    np.testing.assert_array_equal(rec.time_s, k / 1000.0)
    np.testing.assert_array_equal(rec.signal, a1 * VPD)
    np.testing.assert_array_equal(rec.control, A2 * VPD)
    assert rec.fs_hz == 1000.0 and rec.region == "VMH"
    assert rec.metadata["format_version"] == "1.0.2" and rec.metadata["units"] == "V"
    events = rec.events.set_index("name")
    np.testing.assert_array_equal(events.loc["run", "time_s"], [0.005, 0.020])
    np.testing.assert_allclose(events.loc["run", "duration_s"], [0.003, 0.001])
    assert events.loc["digital_2", "time_s"] == 0.030
    assert np.isnan(events.loc["digital_2", "duration_s"])  # still high at the end
    sat = kinds(rec, "saturation")
    assert sat[["channel", "sample"]].values.tolist() == [["signal", 12]]
    assert "2 sample(s)" in sat["detail"].iloc[0]


def test_ppd_number_version_time_division_interpolates_the_staggered_control(tmp_path):
    # v0.2 headers: version is a JSON number, prose mode names, no n_analog_signals
    header = {"mode": "1 colour time div.", "sampling_rate": 100, "version": 0.2}
    header["volts_per_division"] = [VPD, VPD]
    path = write_ppd(tmp_path / "old.ppd", header, interleave(pack(A1, D1), pack(A2)))
    rec = only(read_ppd(path))
    # 470 nm is read at k/100 s, 405 nm one timer tick later (k/100 + 1/200 s): the control at a
    # signal sample is the mean of the two control readings around it; sample 0 has none before
    np.testing.assert_array_equal(rec.time_s, np.arange(1, 40) / 100.0)
    np.testing.assert_array_equal(rec.signal, A1[1:] * VPD)
    np.testing.assert_allclose(rec.control, (A2[:-1] + A2[1:]) / 2 * VPD, rtol=1e-12)
    assert rec.metadata["n_edge_samples_dropped"] == 1
    assert rec.metadata["format_version"] == "0.2"
    assert rec.metadata["channel_offset_s"] == {"analog_1": 0.0, "analog_2": 0.005}
    assert not rec.metadata["saturation_checked"]  # board-subtracted values: not evaluable
    paired = only(read_ppd(path, {"control_alignment": "next"}))
    np.testing.assert_array_equal(paired.control, A2 * VPD)  # the reading right after
    assert paired.n_samples == 40


def test_ppd_v1_1_pulsed_stores_led_on_and_off_words_and_returns_their_difference(tmp_path):
    header = {
        "mode": "2EX_2EM_pulsed",
        "sampling_rate": 130,
        "volts_per_division": [VPD, VPD],
        "n_analog_signals": 2,
        "n_digital_signals": 2,
        "ADC_max_value": 32760,
        "version": "1.1.0",
    }
    s_off, c_off = RNG.integers(100, 900, 40), RNG.integers(100, 900, 40)
    c_off[25] = 32500  # the LED-off baseline clipping counts as saturation (> 0.98 x 32760)
    words = interleave(pack(A1, D1), pack(s_off), pack(A2, D2), pack(c_off))
    path = write_ppd(tmp_path / "v11.ppd", header, words)
    rec = only(read_ppd(path, {"control_alignment": "next"}))
    np.testing.assert_array_equal(rec.signal, (A1 - s_off) * VPD)
    np.testing.assert_array_equal(rec.control, (A2 - c_off) * VPD)
    np.testing.assert_array_equal(rec.extra["signal_led_off"], s_off * VPD)
    np.testing.assert_array_equal(rec.extra["control_led_on"], A2 * VPD)
    np.testing.assert_array_equal(rec.time_s, np.arange(40) / 130.0)
    assert rec.metadata["paired_led_on_off"]
    assert kinds(rec, "saturation")[["channel", "sample"]].values.tolist() == [["control", 25]]
    run = rec.events[rec.events["name"] == "digital_1"]
    np.testing.assert_array_equal(run["time_s"], np.array([5, 20]) / 130.0)
    second = rec.events[rec.events["name"] == "digital_2"]  # in the LED-on word of analog_2
    np.testing.assert_array_equal(second["time_s"], [30 / 130.0 + 1 / 260.0])
    # the same words under a 1.0 header are read with the old stride: a different recording
    old = only(read_ppd(write_ppd(tmp_path / "v10.ppd", {**header, "version": "1.0.0"}, words)))
    assert old.n_samples != rec.n_samples


def test_ppd_42_byte_binary_header_of_2018_files(tmp_path):
    text = "mouse7  2018-03-01 12:00:00".ljust(31).encode()
    block = (
        text + bytes([2]) + (250).to_bytes(2, "little") + round(VPD * 1e9).to_bytes(4, "little") * 2
    )
    assert len(block) == 42
    path = write_ppd(tmp_path / "legacy.ppd", block, interleave(pack(A1), pack(A2)))
    rec = only(read_ppd(path))
    vpd = round(VPD * 1e9) / 1e9
    np.testing.assert_array_equal(rec.signal, A1 * vpd)
    np.testing.assert_array_equal(rec.control, A2 * vpd)
    assert rec.fs_hz == 250.0 and rec.metadata["subject_ID"] == "mouse7"
    assert rec.metadata["format_version"] == "pre-JSON binary header"


def test_ppd_three_led_mode_takes_the_third_channel_as_control(tmp_path):
    header = {
        "mode": "3EX_2EM_pulsed",
        "sampling_rate": 80,
        "volts_per_division": [VPD, VPD],
        "n_analog_signals": 3,
        "n_digital_signals": 1,
        "version": "1.0.0",
    }
    a3 = RNG.integers(1000, 30000, 40)
    path = write_ppd(tmp_path / "three.ppd", header, interleave(pack(A1), pack(A2), pack(a3)))
    rec = only(read_ppd(path, {"control_alignment": "previous"}))
    np.testing.assert_array_equal(rec.signal, A1[1:] * VPD)
    np.testing.assert_array_equal(rec.control, a3[:-1] * VPD)  # read 1/3 cycle before
    np.testing.assert_array_equal(rec.extra["analog_2"], A2[:-1] * VPD)


def test_ppd_zero_filled_chunk_and_cut_file_are_reported_not_repaired(tmp_path):
    header = {"mode": "2 colour continuous", "sampling_rate": 500, "version": "0.3.3"}
    header["volts_per_division"] = [VPD, VPD]
    a1, a2 = A1.copy(), A2.copy()
    a1[10:16] = a2[10:16] = 0  # what the GUI writes for a chunk lost on USB
    path = write_ppd(
        tmp_path / "lost.ppd", header, interleave(pack(a1), pack(a2)), tail=b"\x01\x02\x03"
    )
    rec = only(read_ppd(path))
    assert rec.n_samples == 40 and (rec.signal[10:16] == 0).all()  # kept as written
    dropped = kinds(rec, "dropped_frames")
    assert dropped["sample"].tolist() == [10] and "6 sample(s)" in dropped["detail"].iloc[0]
    assert "3 byte(s)" in kinds(rec, "truncated")["detail"].iloc[0]


def test_ppd_unknown_mode_stops_unless_the_layout_is_declared(tmp_path):
    header = {"mode": "6 colour bleedthrough", "sampling_rate": 100, "version": "1.0.0"}
    header["volts_per_division"] = [VPD, VPD]
    path = write_ppd(tmp_path / "fork.ppd", header, interleave(pack(A1), pack(A2)))
    with pytest.raises(InputDataError, match="unknown pyPhotometry acquisition mode"):
        read_ppd(path)
    layout = {"analog_inputs": 2, "colours_per_input": 1, "pulsed": False}
    rec = only(read_ppd(path, {"layout": layout}))
    np.testing.assert_array_equal(rec.control, A2 * VPD)


def test_ppd_wrong_and_empty_files_are_clear_errors(tmp_path):
    csv = tmp_path / "x.ppd"
    csv.write_text("time,signal,control\n0,1,2\n")
    with pytest.raises(InputDataError, match="not a pyPhotometry .ppd file"):
        read_ppd(csv)
    empty = tmp_path / "empty.ppd"
    empty.write_bytes(b"")
    with pytest.raises(InputDataError, match="empty"):
        read_ppd(empty)
    header = {"mode": "2 colour continuous", "sampling_rate": 100, "version": "0.3"}
    header["volts_per_division"] = [VPD, VPD]
    with pytest.raises(InputDataError, match="complete sample"):
        read_ppd(write_ppd(tmp_path / "none.ppd", header, np.array([], int)))


# --------------------------------------------------------------------------------------------
# Neurophotometrics
# --------------------------------------------------------------------------------------------

N_FRAMES = 40
T0 = 5123.25  # SystemTimestamp of the first frame (s, hardware clock)
FRAME = 0.025  # 40 frames/s


def npm_frames(led_cycle: list[int], io_bits: np.ndarray | None = None) -> pd.DataFrame:
    """Frames alternating the LEDs of ``led_cycle``, I/O bits added on top of the LED bits."""
    state = np.resize(led_cycle, N_FRAMES)
    if io_bits is not None:
        state = state | io_bits
    return pd.DataFrame(
        {
            "FrameCounter": np.arange(N_FRAMES) + 100,
            "SystemTimestamp": T0 + np.arange(N_FRAMES) * FRAME,
            "LedState": state,
            "ComputerTimestamp": 8.1e7 + np.arange(N_FRAMES) * 25.0,
            "Region0G": 1000.0 + np.arange(N_FRAMES) * 3.0 + (state & 7) * 100,
            "Region1G": 2000.0 + np.arange(N_FRAMES) * 2.0 + (state & 7) * 50,
        }
    )


def npm_io_bits() -> np.ndarray:
    """Output 0 (16) high throughout, Input 0 (512) high on frames 10-13 and 30-31."""
    bits = np.full(N_FRAMES, 16)
    bits[10:14] |= 512
    bits[30:32] |= 512
    return bits


def test_npm_led_state_is_decoded_by_bit_mask_while_ttl_bits_are_high(tmp_path):
    frames = npm_frames([1, 2], npm_io_bits())  # 415, 470 interleaved
    assert not frames["LedState"].isin([1, 2, 17, 18]).all()  # literal matching would lose frames
    path = tmp_path / "npm.csv"
    frames.to_csv(path, index=False)
    recs = read_neurophotometrics(path, {"regions": {"VMH": "Region0G", "ARC": "Region1G"}})
    assert list(recs) == ["VMH", "ARC"]
    vmh = recs["VMH"]
    sig = np.arange(1, N_FRAMES, 2)  # 470 nm frames; the first (frame 1) has a 415 frame before
    sig = sig[sig < N_FRAMES - 1]  # the last 470 frame has no 415 frame after it
    np.testing.assert_array_equal(vmh.time_s, (T0 + sig * FRAME) - T0)
    np.testing.assert_array_equal(vmh.signal, frames["Region0G"].to_numpy()[sig])
    g = frames["Region0G"].to_numpy()
    np.testing.assert_allclose(vmh.control, (g[sig - 1] + g[sig + 1]) / 2, rtol=1e-12)
    assert vmh.fs_hz == pytest.approx(20.0)
    assert vmh.metadata["led_nm"] == {"signal": 470, "control": 415}
    assert vmh.metadata["n_edge_samples_dropped"] == 1
    # Input 0 rises on frames 10 and 30 (from the LED-state bits: no TTL file given)
    inputs = vmh.events[vmh.events["name"] == "Input0"]
    np.testing.assert_allclose(inputs["time_s"], [10 * FRAME, 30 * FRAME])
    np.testing.assert_allclose(inputs["duration_s"], [4 * FRAME, 2 * FRAME])
    previous = read_neurophotometrics(path, {"control_alignment": "previous"})["Region1G"]
    r1 = frames["Region1G"].to_numpy()
    odd = np.arange(1, N_FRAMES, 2)
    np.testing.assert_array_equal(previous.control, r1[odd - 1])
    np.testing.assert_array_equal(previous.signal, r1[odd])


def test_npm_old_flags_header_three_leds_and_red_region(tmp_path):
    frames = npm_frames([1, 2, 4]).rename(
        columns={"LedState": "Flags", "SystemTimestamp": "Timestamp"}
    )
    frames = frames.drop(columns=["ComputerTimestamp", "Region1G"])
    frames["Region0R"] = 500.0 + np.arange(N_FRAMES)
    frames["Flags"] |= 16  # FP3001 files: Output 0 high (17/18/20)
    path = tmp_path / "fp3001.csv"
    frames.to_csv(path, index=False)
    recs = read_neurophotometrics(path, {"control_alignment": "next"})
    red = recs["Region0R"]
    assert red.metadata["led_nm"] == {"signal": 560, "control": 415}
    red_frames = np.arange(2, N_FRAMES - 1, 3)  # 560 frames, each followed by a 415 frame
    np.testing.assert_array_equal(red.signal, 500.0 + red_frames)
    np.testing.assert_array_equal(red.control, 500.0 + red_frames + 1)
    assert recs["Region0G"].metadata["format_version"] == "Flags + Timestamp"


def test_npm_470_and_560_in_one_frame_count_for_both_colours(tmp_path):
    frames = npm_frames([1, 6])  # FP3001 Trigger1: 470 and 560 lit together
    frames["Region0R"] = 7.0 + np.arange(N_FRAMES)
    path = tmp_path / "both.csv"
    frames.to_csv(path, index=False)
    recs = read_neurophotometrics(path, {"control_alignment": "previous"})
    assert recs["Region0G"].n_samples == N_FRAMES // 2
    assert recs["Region0R"].n_samples == N_FRAMES // 2


def test_npm_planted_anomalies_are_reported_with_their_sample(tmp_path):
    frames = npm_frames([1, 2])
    t = frames["SystemTimestamp"].to_numpy().copy()
    t[9:] -= 0.030  # the clock steps back 5 ms at frame 9
    t[21:] += 1.0  # one second without frames between 20 and 21: a gap
    t[31:] -= FRAME  # frames 30 and 31 share a timestamp
    frames["SystemTimestamp"] = t
    frames = frames.drop(index=[15]).reset_index(drop=True)  # a lost frame: counter jumps
    frames.loc[frames["FrameCounter"] == 125, "Region0G"] = 4095.0  # saturated camera ROI
    path = tmp_path / "bad.csv"
    frames.to_csv(path, index=False)
    config = {"regions": {"VMH": "Region0G"}, "control_alignment": "previous", "saturation": 4095}
    rec = read_neurophotometrics(path, config)["VMH"]
    signal_frames = [f for f in range(1, N_FRAMES, 2) if f != 15]  # 470 nm frames left
    sample_of = {f: i for i, f in enumerate(signal_frames)}
    found = rec.anomalies.set_index("kind")
    assert sorted(found.index) == [
        "dropped_frames",
        "duplicate_timestamp",
        "gap",
        "saturation",
        "time_backwards",
    ]
    assert found.loc["time_backwards", "sample"] == sample_of[9]
    assert found.loc["time_backwards", "line"] == 11  # frame 9 is on line 11 of the file
    assert found.loc["gap", "sample"] == sample_of[21]
    assert found.loc["duplicate_timestamp", "sample"] == sample_of[31]
    assert found.loc["dropped_frames", "sample"] == sample_of[17]  # first 470 frame after it
    assert "1 frame(s) missing" in found.loc["dropped_frames", "detail"]
    assert found.loc["saturation", ["channel", "sample"]].tolist() == ["signal", sample_of[25]]
    assert rec.signal[sample_of[25]] == 4095.0  # reported, not changed


def test_npm_errors_no_control_unknown_state_wrong_file_and_time_unit(tmp_path):
    path = tmp_path / "f.csv"
    npm_frames([2, 2 | 512]).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="no control channel.*415 nm"):
        read_neurophotometrics(path)
    for state, match in ((3, "unknown LED state 3"), (2048, "unknown LED state '2048'")):
        frames = npm_frames([1, 2])
        frames.loc[7, "LedState"] = state
        frames.to_csv(path, index=False)
        with pytest.raises(InputDataError, match=match) as error:
            read_neurophotometrics(path)
        assert "line 9" in str(error.value)
    doric = tmp_path / "doric.csv"
    doric.write_text("Time(s),AIn-1 - Dem (AOut-1)\n0,1\n")
    with pytest.raises(InputDataError, match="not a Neurophotometrics photometry file"):
        read_neurophotometrics(doric)
    npm_frames([1, 2]).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="time_unit"):
        read_neurophotometrics(path, {"time_column": "ComputerTimestamp"})  # in ms


def test_npm_ttl_files_are_put_on_the_recording_clock(tmp_path):
    path = tmp_path / "npm.csv"
    npm_frames([1, 2]).to_csv(path, index=False)
    ttl = tmp_path / "inputs.csv"
    pd.DataFrame(
        {
            "ChannelName": ["Input0", "Input1", "Input0"],
            "Channel": [0, 1, 0],
            "AlwaysTrue": [True, True, True],
            "SystemTimestamp": [T0 + 0.30, T0 + 0.41, T0 + 0.70],
            "ComputerTimestamp": [8.1e7 + 300, 8.1e7 + 410, 8.1e7 + 700],
        }
    ).to_csv(ttl, index=False)
    rec = read_neurophotometrics(path, ttl=ttl)["Region0G"]
    assert rec.events["name"].tolist() == ["Input0", "Input1", "Input0"]
    np.testing.assert_allclose(rec.events["time_s"], [0.30, 0.41, 0.70], atol=1e-9)
    old = tmp_path / "DI0.csv"
    pd.DataFrame(
        {"Timestamp": [T0 + 0.1, T0 + 0.2, T0 + 0.5, T0 + 0.55], "Value": [True, False] * 2}
    ).to_csv(old, index=False)
    events = read_neurophotometrics(path, {"ttl_time_column": "Timestamp"}, ttl={"lick": old})[
        "Region0G"
    ].events
    np.testing.assert_allclose(events["time_s"], [0.1, 0.5], atol=1e-9)
    np.testing.assert_allclose(events["duration_s"], [0.1, 0.05], atol=1e-9)
    with pytest.raises(InputDataError, match="another clock"):
        read_neurophotometrics(path, {"ttl_time_column": "ComputerTimestamp"}, ttl=ttl)


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
