"""The Neurophotometrics reader: frame tables written to the format's layout (LED state flags of
every generation, TTL bits, hardware timestamps), decoded exactly, with planted anomalies
reported at their sample and TTL files put on the recording's clock.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exneuro.errors import InputDataError
from exneuro.photometry.readers import read_neurophotometrics

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
