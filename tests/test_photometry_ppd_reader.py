"""The pyPhotometry ``.ppd`` reader: files written byte by byte to the format's specification,
decoded exactly.

Every file is built here from the documented layout (a little-endian header length, the JSON
header or the 42-byte binary header of 2018 files, then 16-bit words: a 15-bit ADC value above
the digital input bit), not by the acquisition software, so a reader that misreads the layout —
a stride, a bit, a header generation — fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from photometry_recordings import kinds, only

from exneuro.errors import InputDataError
from exneuro.photometry.readers import read_ppd

VPD = 3.3 / (1 << 15)  # volts per ADC division of a pyPhotometry board


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
