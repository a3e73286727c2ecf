"""In the pulsed three-LED mode any channel can be the signal: the two others are placed on its
samples, each from its own neighbours, and the samples kept are those where both have them.

The board reads analog_1, analog_2, analog_3 one timer tick apart in each cycle. With analog_2 as
the signal, analog_1 (read before it) lacks a next reading at the last cycle and analog_3 (read
after it) a previous reading at the first, so interpolation keeps cycles 1 to n - 2; a reader that
placed each channel on its own cycles would shift one of them by a sample.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_photometry_ppd_decode import N_CYCLES, SPECS, build

from exneuro.photometry.readers import read_ppd

SPEC = SPECS["1.0.0 three LEDs"]

#: Edge cycles without the needed readings, by signal slot and alignment: the first slot has the
#: others' next readings in its own cycle, the last their previous ones; the middle slot has one
#: neighbour on each side, and interpolation needs both readings of each.
DROPPED = {
    (0, "interpolate"): 1, (0, "previous"): 1, (0, "next"): 0,
    (1, "interpolate"): 2, (1, "previous"): 1, (1, "next"): 1,
    (2, "interpolate"): 1, (2, "previous"): 0, (2, "next"): 1,
}  # fmt: skip


def expected(path, signal: int, how: str) -> dict[int, np.ndarray]:
    """Every slot on the signal's kept cycles, from the file's specification: slot ``j``'s
    neighbours of signal cycle ``k`` are cycles ``k - 1`` and ``k`` when it is read after the
    signal, ``k`` and ``k + 1`` when before; ``previous``/``next`` take one, ``interpolate``
    weighs both by time."""
    raw = path.read_bytes()
    payload = raw[2 + int.from_bytes(raw[:2], "little") :]
    words = np.frombuffer(payload[: len(payload) // 6 * 6], "<u2").reshape(-1, 3).astype(np.int64)
    n = len(words)
    volts = [(words[:, slot] >> 1).astype(np.float64) * SPEC.vpd[slot] for slot in range(3)]
    k = np.arange(n, dtype=np.float64)
    times = [k / SPEC.rate + slot / (SPEC.rate * 3) for slot in range(3)]
    shift = {slot: (-1, 0) if slot > signal else (0, 1) for slot in range(3) if slot != signal}
    first = max(-lo if how != "next" else -hi for lo, hi in shift.values())
    last = n - max(hi if how != "previous" else lo for lo, hi in shift.values())
    kept = np.arange(max(first, 0), min(last, n))
    placed = {signal: volts[signal][kept], "time": times[signal][kept]}
    for slot, (lo, hi) in shift.items():
        if how == "previous":
            placed[slot] = volts[slot][kept + lo]
        elif how == "next":
            placed[slot] = volts[slot][kept + hi]
        else:
            before, after = volts[slot][kept + lo], volts[slot][kept + hi]
            t_lo, t_hi = times[slot][kept + lo], times[slot][kept + hi]
            weight = (times[signal][kept] - t_lo) / (t_hi - t_lo)
            placed[slot] = before + weight * (after - before)
    return placed


@pytest.mark.parametrize("how", ["interpolate", "previous", "next"])
@pytest.mark.parametrize(("signal", "control"), [(1, 2), (1, 0), (2, 0), (0, 2)])
def test_every_channel_is_placed_on_the_signal_samples(tmp_path, how, signal, control):
    path = build(tmp_path / "three.ppd", SPEC)
    config = {
        "signal": f"analog_{signal + 1}",
        "control": f"analog_{control + 1}",
        "control_alignment": how,
    }
    (recording,) = read_ppd(path, config).values()
    other = ({0, 1, 2} - {signal, control}).pop()
    placed = expected(path, signal, how)
    np.testing.assert_array_equal(recording.time_s, placed["time"])
    np.testing.assert_array_equal(recording.signal, placed[signal])
    np.testing.assert_array_equal(recording.control, placed[control])
    np.testing.assert_array_equal(recording.extra[f"analog_{other + 1}"], placed[other])
    assert len(recording.time_s) == N_CYCLES - DROPPED[signal, how]
    assert recording.metadata["n_edge_samples_dropped"] == DROPPED[signal, how]
