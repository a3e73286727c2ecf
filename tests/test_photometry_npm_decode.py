"""Neurophotometrics decoding: the reader's vectorized frame pairing equals a straightforward
frame-by-frame decode of the format's specification, on spec-built files and on a real session.

The reference below walks the frames one by one as the specification reads: the wavelength from
the LED bits (1 = 415 nm, 2 = 470 nm, 4 = 560 nm; 415 and 470 lit together are neither), the last
control frame at or before each signal frame and the first at or after it, and the control
interpolated linearly in time between them (NaN when their timestamps do not increase), or taken
from one of them. The reader decodes a steady LED cycle with slices and any other sequence with a
running count of control frames; both must give the reference's numbers bit for bit.
"""

from __future__ import annotations

import bisect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exneuro.photometry.readers_npm import read_neurophotometrics
from exneuro.photometry.readers_npm_frames import (
    LED_BITS,
    _counted_brackets,
    _steady_brackets,
    pair_frames,
)

REAL = Path(__file__).resolve().parents[2] / "shared" / "reference" / "photometry_ibl_npm"
RAW = REAL / "_neurophotometrics_fpData.raw.pqt"

ALIGNMENTS = ("interpolate", "previous", "next")
FRAME = 0.025  # 40 frames/s
T0 = 81234.5  # SystemTimestamp of the first frame (s)


def lit_for(state: int, nm: int) -> bool:
    """Whether a frame with this LED state belongs to the ``nm`` channel (spec: bits 1/2/4)."""
    on = {led: bool(state & bit) for led, bit in LED_BITS.items()}
    if nm == 560:
        return on[560]
    other = 470 if nm == 415 else 415
    return on[nm] and not on[other]


def reference_decode(
    time: list[float], states: list[int], signal: list[float], control: list[float], how: str,
    signal_nm: int = 470, control_nm: int = 415,
) -> tuple[list[float], list[float], list[float], int]:  # fmt: skip
    """Time (s from the first frame), signal and control of every signal frame that has its
    control neighbour(s), and the number of signal frames without: one frame at a time."""
    t = [x - time[0] for x in time]
    signal_frames = [i for i, s in enumerate(states) if lit_for(s, signal_nm)]
    control_frames = [i for i, s in enumerate(states) if lit_for(s, control_nm)]
    out_t, out_signal, out_control = [], [], []
    for frame in signal_frames:
        at_or_before = bisect.bisect_right(control_frames, frame) - 1
        at_or_after = bisect.bisect_left(control_frames, frame)
        low = control_frames[at_or_before] if at_or_before >= 0 else None
        high = control_frames[at_or_after] if at_or_after < len(control_frames) else None
        if how == "previous":
            if low is None:
                continue
            value = control[low]
        elif how == "next":
            if high is None:
                continue
            value = control[high]
        else:
            if low is None or high is None:
                continue
            span = t[high] - t[low]
            weight = (t[frame] - t[low]) / span if span > 0 else 0.0
            value = control[low] + weight * (control[high] - control[low])
            if span < 0 or weight < 0 or weight > 1 or (span == 0 and low != high):
                value = float("nan")
        out_t.append(t[frame])
        out_signal.append(signal[frame])
        out_control.append(value)
    return out_t, out_signal, out_control, len(signal_frames) - len(out_t)


def npm_file(folder: Path, name: str, states: np.ndarray, time: np.ndarray | None = None) -> Path:
    """An FP3002 table: FrameCounter, SystemTimestamp, LedState, ComputerTimestamp, two green
    ROIs and a red one (values that differ on every frame)."""
    n = len(states)
    rng = np.random.default_rng(n)
    frames = pd.DataFrame(
        {
            "FrameCounter": np.arange(n) + 1000,
            "SystemTimestamp": T0 + np.arange(n) * FRAME if time is None else time,
            "LedState": states,
            "ComputerTimestamp": 4.2e7 + np.arange(n) * 25.0,
            "Region0G": 1000 + rng.normal(0, 40, n),
            "Region1G": 0.4 + rng.normal(0, 0.01, n),
            "Region2R": 300 + rng.normal(0, 20, n),
        }
    )
    path = folder / f"{name}.csv"
    frames.to_csv(path, index=False)
    return path


def assert_reader_equals_reference(path: Path, how: str, leds: dict[str, tuple[int, int]]) -> dict:
    """Every fibre of the reader's output equals the reference decode, bit for bit."""
    frames = pd.read_csv(path, float_precision="round_trip")  # the exact values written
    recordings = read_neurophotometrics(path, {"control_alignment": how})
    for region, (signal_nm, control_nm) in leds.items():
        rec = recordings[region]
        assert rec.metadata["led_nm"] == {"signal": signal_nm, "control": control_nm}
        values = frames[region].tolist()
        t, signal, control, dropped = reference_decode(
            frames["SystemTimestamp"].tolist(), frames["LedState"].tolist(), values, values, how,
            signal_nm, control_nm,
        )  # fmt: skip
        assert len(t) > 10
        np.testing.assert_array_equal(rec.time_s, t)
        np.testing.assert_array_equal(rec.signal, signal)
        np.testing.assert_array_equal(rec.control, control)
        assert rec.metadata["n_edge_samples_dropped"] == dropped
    return recordings


GREEN = {"Region0G": (470, 415), "Region1G": (470, 415)}


@pytest.mark.parametrize("how", ALIGNMENTS)
def test_steady_interleaved_cycle_with_ttl_bits_equals_the_reference(tmp_path, how):
    states = np.resize([1, 2], 400) | 16  # Output 0 high throughout
    states[100:140] |= 512  # Input 0 high
    path = npm_file(tmp_path, "steady", states)
    assert _steady_brackets(states & 2 > 0, states & 1 > 0, how) is not None  # the slice path
    recordings = assert_reader_equals_reference(path, how, GREEN)
    assert recordings["Region0G"].anomalies.empty  # a clean file raises no alarm
    np.testing.assert_allclose(recordings["Region0G"].events["time_s"], [100 * FRAME])


@pytest.mark.parametrize("how", ALIGNMENTS)
def test_dropped_frame_is_paired_by_frame_order_and_reported_on_its_line(tmp_path, how):
    states = np.resize([1, 2], 400) | 16
    path = npm_file(tmp_path, "dropped", states)
    frames = pd.read_csv(path, float_precision="round_trip")
    frames = frames.drop(index=[201]).reset_index(drop=True)  # a 470 nm frame lost
    frames.to_csv(path, index=False)
    lit = frames["LedState"].to_numpy()
    assert _steady_brackets(lit & 2 > 0, lit & 1 > 0, how) is None  # the counted path
    rec = assert_reader_equals_reference(path, how, GREEN)["Region0G"]
    found = rec.anomalies.set_index("kind")
    assert list(found.index) == ["dropped_frames"]
    assert found.loc["dropped_frames", "line"] == 203  # frame 202: row 201 of the data, line 203
    signal_frames = np.flatnonzero(lit & 2)  # every one kept but the last
    assert found.loc["dropped_frames", "sample"] == np.searchsorted(signal_frames, 201) == 100
    assert "1 frame(s) missing" in found.loc["dropped_frames", "detail"]


@pytest.mark.parametrize("how", ALIGNMENTS)
def test_backwards_time_gives_nan_control_and_names_the_line(tmp_path, how):
    states = np.resize([1, 2], 400) | 16
    time = T0 + np.arange(400) * FRAME
    time[150:] -= 3 * FRAME  # the clock steps back at frame 150 (a 415 nm frame)
    path = npm_file(tmp_path, "backwards", states, time)
    rec = assert_reader_equals_reference(path, how, GREEN)["Region0G"]
    found = rec.anomalies.set_index("kind")
    assert found.loc["time_backwards", "line"] == 152  # frame 150 is on line 152
    if how == "interpolate":
        # the 470 nm frame before the step cannot be interpolated: NaN, explained by that line
        assert found.loc["missing_value", "channel"] == "control"
        assert "go backwards at line 152" in found.loc["missing_value", "detail"]
        assert np.flatnonzero(np.isnan(rec.control)).tolist() == [74]  # frame 149
    else:
        assert np.isfinite(rec.control).all()


@pytest.mark.parametrize("how", ALIGNMENTS)
def test_three_led_cycle_and_red_fibre_equal_the_reference(tmp_path, how):
    states = np.resize([0, 1, 2, 4], 402)  # a dark frame, then 415, 470, 560
    path = npm_file(tmp_path, "three_leds", states)
    leds = {**GREEN, "Region2R": (560, 415)}
    assert_reader_equals_reference(path, how, leds)


@pytest.mark.parametrize("how", ALIGNMENTS)
def test_control_and_signal_lit_in_one_frame_pair_with_that_frame(tmp_path, how):
    states = np.resize([2, 5], 300)  # 470; then 415 + 560 together (the red fibre's own frame)
    path = npm_file(tmp_path, "shared_frame", states)
    assert_reader_equals_reference(path, how, {**GREEN, "Region2R": (560, 415)})


@pytest.mark.parametrize("how", ALIGNMENTS)
def test_irregular_cycle_with_skipped_leds_equals_the_reference(tmp_path, how):
    rng = np.random.default_rng(3)
    states = rng.choice([0, 1, 2, 4, 17, 18, 530], size=500)  # no steady cycle at all
    states[:4] = [2, 2, 0, 1]  # signal frames before the first control frame
    path = npm_file(tmp_path, "irregular", states)
    assert_reader_equals_reference(path, how, {**GREEN, "Region2R": (560, 415)})


@pytest.mark.parametrize("how", ALIGNMENTS)
def test_slice_brackets_equal_counted_brackets_on_every_steady_layout(how):
    """Both LEDs every p-th frame, any offsets, lengths and edges: the slices of the steady
    path select the very frames the running count selects (or decline, leaving it the count)."""
    taken = 0
    for period in (2, 3, 4):
        for n in range(2 * period, 6 * period + 3):
            for s0 in range(period + 2):
                for c0 in range(period + 2):
                    signal = np.zeros(n, bool)
                    control = np.zeros(n, bool)
                    signal[s0::period] = True
                    control[c0::period] = True
                    for cut in (0, 1, period):  # the control LED stops early
                        ctl = control.copy()
                        if cut:
                            ctl[n - cut :] = False
                        steady = _steady_brackets(signal, ctl, how)
                        if steady is None:
                            continue
                        taken += 1
                        positions, dropped, low, high, same = _counted_brackets(signal, ctl, how)
                        frames = np.arange(n)
                        np.testing.assert_array_equal(frames[steady[0]], positions)
                        assert steady[1] == dropped
                        np.testing.assert_array_equal(frames[steady[2]], low)
                        np.testing.assert_array_equal(frames[steady[3]], high)
                        assert (steady[4] == same).all()
    assert taken > 500


def test_steady_path_declines_a_lost_frame_and_a_lone_frame():
    states = np.resize([1, 2], 40)
    signal, control = states == 2, states == 1
    assert _steady_brackets(signal, control, "interpolate") is not None
    gap = control.copy()
    gap[20] = False  # one 415 nm frame lost
    assert _steady_brackets(signal, gap, "interpolate") is None
    lone = np.zeros(40, bool)
    lone[8] = True  # one control frame: no signal frame has one on both sides
    assert _steady_brackets(signal, lone, "interpolate") is None
    pairing = pair_frames(signal, lone, np.arange(40.0), "interpolate")
    assert len(pairing.position_array) == 0 and pairing.dropped == 20


def test_real_session_every_fibre_equals_the_reference():
    if not RAW.is_file():
        pytest.skip(f"the real IBL Neurophotometrics session is not at {REAL} (read in place)")
    frames = pd.read_parquet(RAW)
    recordings = read_neurophotometrics(RAW)
    time, states = frames["Timestamp"].tolist(), frames["Flags"].tolist()
    for region, rec in recordings.items():
        values = frames[region].tolist()
        t, signal, control, dropped = reference_decode(time, states, values, values, "interpolate")
        np.testing.assert_array_equal(rec.time_s, t)
        np.testing.assert_array_equal(rec.signal, signal)
        np.testing.assert_array_equal(rec.control, control)
        assert rec.metadata["n_edge_samples_dropped"] == dropped
    assert len(recordings) == 7 and len(recordings["Region1G"].time_s) > 40_000
