"""The chunked .ppd decode returns exactly what a direct decode of the file's specification gives.

Each file is built from the documented layout (notes §2.1: uint16 LE header length, header, uint16
words, ``word >> 1`` x volts per division, digital input in ``word & 1``, channels interleaved,
``t_k = k / rate``), in every header generation the reader tests build, with planted anomalies: a
saturated run, a chunk zero-filled after a USB loss (the gap of a .ppd file, which has no
timestamps), digital pulses of one sample, one high from the start, one still high at the end, and
a cut last sample. The reference below decodes it the obvious way — whole arrays, Python loops for
pulses and runs — and the reader, run with chunks as small as one cycle, must match it bit for bit:
the chunk boundaries fall inside every run and pulse.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exneuro.errors import InputDataError
from exneuro.photometry import readers_ppd_decode
from exneuro.photometry.readers import read_ppd
from exneuro.photometry.readers_events import concat_events, sorted_events, ttl_events
from exneuro.photometry.readers_ppd_decode import PpdWordLayout, decode_samples

VPD = 3.3 / (1 << 15)
N_CYCLES = 301


@dataclass(frozen=True)
class Spec:
    """What the file declares, as the reference decode needs it."""

    header: dict | bytes
    rate: float
    analog_inputs: int
    colours: int
    pulsed: bool
    paired: bool
    n_digital: int
    vpd: tuple[float, ...]  # per analog input
    adc_max: float = 2**15
    control_slot: int = 1


def legacy_header(rate: int) -> bytes:
    text = "mouse7  2018-03-01 12:00:00".ljust(31).encode()
    vpd_nv = round(VPD * 1e9).to_bytes(4, "little")
    return text + bytes([2]) + rate.to_bytes(2, "little") + vpd_nv * 2


SPECS = {
    "1.0.2 continuous": Spec(
        {
            "mode": "2EX_2EM_continuous",
            "sampling_rate": 1000,
            "volts_per_division": [VPD, 1.5 * VPD],
            "n_analog_signals": 2,
            "n_digital_signals": 2,
            "version": "1.0.2",
        },
        1000.0, 2, 1, False, False, 2, (VPD, 1.5 * VPD),
    ),
    "0.3.3 continuous": Spec(
        {"mode": "2 colour continuous", "sampling_rate": 500, "version": "0.3.3",
         "volts_per_division": [VPD, VPD]},
        500.0, 2, 1, False, False, 2, (VPD, VPD),
    ),
    "0.2 time division (number version)": Spec(
        {"mode": "1 colour time div.", "sampling_rate": 100, "version": 0.2,
         "volts_per_division": [VPD, VPD]},
        100.0, 2, 1, True, False, 2, (VPD, VPD),
    ),
    "1.1.0 pulsed, LED-on and LED-off words": Spec(
        {
            "mode": "2EX_2EM_pulsed",
            "sampling_rate": 130,
            "volts_per_division": [VPD, VPD],
            "n_analog_signals": 2,
            "n_digital_signals": 2,
            "ADC_max_value": 32760,
            "version": "1.1.0",
        },
        130.0, 2, 1, True, True, 2, (VPD, VPD), adc_max=32760.0,
    ),
    "1.0.0 three LEDs": Spec(
        {
            "mode": "3EX_2EM_pulsed",
            "sampling_rate": 80,
            "volts_per_division": [VPD, VPD],
            "n_analog_signals": 3,
            "n_digital_signals": 1,
            "version": "1.0.0",
        },
        80.0, 3, 1, True, False, 1, (VPD, VPD, VPD), control_slot=2,
    ),
    "four-colour fork (0.3)": Spec(
        {"mode": "4 colour time div.", "sampling_rate": 200, "version": "0.3.0",
         "volts_per_division": [VPD, 2 * VPD]},
        200.0, 2, 2, True, False, 2, (VPD, 2 * VPD),
    ),
    "2018 binary header": Spec(
        legacy_header(250), 250.0, 2, 1, False, False, 2,
        (round(VPD * 1e9) / 1e9, round(VPD * 1e9) / 1e9),
    ),
}  # fmt: skip


def build(path: Path, spec: Spec) -> Path:
    """Words of every slot with planted anomalies; a 3-byte cut sample at the end."""
    rng = np.random.default_rng(11)
    n_slots = spec.analog_inputs * spec.colours
    width = n_slots * (2 if spec.paired else 1)
    adc = rng.integers(1000, 30000, (N_CYCLES, width))
    if spec.paired:
        adc[:, 1::2] = rng.integers(50, 900, (N_CYCLES, n_slots))  # LED-off baselines
        adc[200, 3] = 32600  # a clipped baseline of the control
    adc[40:47, 0] = 32767  # a saturated run of the signal
    adc[45:49, 2 if spec.paired else 1] = 32700  # and of the next slot, overlapping it
    bits = np.zeros((N_CYCLES, width), dtype=np.int64)
    bits[:3, 0] = 1  # high from the first sample: no onset
    bits[[10, 11, 50, 160], 0] = 1  # pulses of 2, 1 and 1 samples
    bits[290:, 0] = 1  # still high at the end
    if spec.n_digital > 1:
        bits[100:130, spec.paired + 1] = 1
    words = (adc.astype(np.uint16) << 1) | bits.astype(np.uint16)
    words[70:84] = 0  # a chunk lost on the USB link, zero-filled
    block = spec.header if isinstance(spec.header, bytes) else json.dumps(spec.header).encode()
    tail = b"\x05\x00\x07"  # the file ends inside a sample
    path.write_bytes(
        len(block).to_bytes(2, "little") + block + words.astype("<u2").tobytes() + tail
    )
    return path


def runs_of(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of every run of True, by a plain loop."""
    found, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            found.append((start, i - start))
            start = None
    return found


def reference(path: Path, spec: Spec, how: str = "interpolate", swap: bool = False) -> dict:
    """Decode ``path`` directly from its specification (whole arrays, plain loops); ``how`` the
    control alignment of the pulsed modes; ``swap``: analog_2 is the signal, analog_1 the
    control (two-slot modes)."""
    raw = path.read_bytes()
    size = int.from_bytes(raw[:2], "little")
    payload = raw[2 + size :]
    n_slots = spec.analog_inputs * spec.colours
    stride = 2 if spec.paired else 1
    words = np.frombuffer(payload, "<u2", count=len(payload) // 2).astype(np.int64)
    n = len(words) // (n_slots * stride)
    cycles = words[: n * n_slots * stride].reshape(n, n_slots * stride)
    vpd = [spec.vpd[slot % spec.analog_inputs] for slot in range(n_slots)]
    on = [cycles[:, slot * stride] >> 1 for slot in range(n_slots)]
    off = [cycles[:, slot * stride + 1] >> 1 for slot in range(n_slots)] if spec.paired else None
    volts = [
        ((on[s] - off[s]) if spec.paired else on[s]).astype(np.float64) * vpd[s]
        for s in range(n_slots)
    ]
    channel_hz = spec.rate / spec.colours
    timer_hz = spec.rate * spec.analog_inputs  # one slot per timer tick in the pulsed modes
    offset = {slot: slot / timer_hz if spec.pulsed else 0.0 for slot in range(n_slots)}
    k = np.arange(n, dtype=np.float64)
    times = [k / channel_hz + offset[slot] if spec.pulsed else k / channel_hz for slot in offset]
    signal_slot, control_slot = (1, 0) if swap else (0, spec.control_slot)
    # pulsed: a slot read after the signal in a cycle has its reading before a signal sample in
    # the previous cycle (none for the first) and the one after it in the same cycle; a slot read
    # before the signal, the reverse (none after the last)
    if control_slot > signal_slot:
        first, last = {"interpolate": (1, n), "previous": (1, n), "next": (0, n)}[how]
    else:
        first, last = {"interpolate": (0, n - 1), "previous": (0, n), "next": (0, n - 1)}[how]
    kept = np.arange(first, last) if spec.pulsed else np.arange(n)

    def on_signal_times(slot: int, values: np.ndarray) -> np.ndarray:
        if not spec.pulsed:
            return values
        lo, hi = (kept - 1, kept) if slot > signal_slot else (kept, kept + 1)
        if how != "interpolate":
            return values[lo if how == "previous" else hi]
        weight = (times[signal_slot][kept] - times[slot][lo]) / (times[slot][hi] - times[slot][lo])
        return values[lo] + weight * (values[hi] - values[lo])

    extra = {
        f"analog_{slot + 1}": on_signal_times(slot, volts[slot])
        for slot in range(n_slots)
        if slot not in (signal_slot, control_slot)
    }
    if spec.paired:
        extra["signal_led_on"] = on[signal_slot][kept] * vpd[signal_slot]
        extra["signal_led_off"] = off[signal_slot][kept] * vpd[signal_slot]
        for name, words_of in (("control_led_on", on), ("control_led_off", off)):
            extra[name] = on_signal_times(control_slot, words_of[control_slot] * vpd[control_slot])

    events = []
    for digital in range(spec.n_digital):
        level = cycles[:, digital * stride] & 1
        t = times[digital]
        for i in range(1, n):
            if level[i] and not level[i - 1]:
                fall = next((j for j in range(i + 1, n) if not level[j]), None)
                duration = t[fall] - t[i] if fall is not None else np.nan
                events.append((f"digital_{digital + 1}", t[i], duration))
    events.sort(key=lambda event: (event[1], event[0]))

    def sample_of(cycle: int) -> int:
        return min(int(np.searchsorted(kept, cycle)), len(kept) - 1)

    cut_bytes = 2 * (len(words) - cycles.size) + len(payload) % 2
    anomalies = [("truncated", "file", len(kept) - 1, cut_bytes)]
    for start, length in runs_of((cycles == 0).all(axis=1)):
        anomalies.append(("dropped_frames", "signal+control", sample_of(start), length))
    if spec.paired or not spec.pulsed:
        for channel, slot in (("signal", signal_slot), ("control", control_slot)):
            peak = np.maximum(on[slot], off[slot]) if spec.paired else on[slot]
            for start, length in runs_of(peak > 0.98 * spec.adc_max):
                anomalies.append(("saturation", channel, sample_of(start), length))
    anomalies.sort(key=lambda row: (row[2], row[0]))
    return {
        "time_s": times[signal_slot][kept],
        "signal": volts[signal_slot][kept],
        "control": on_signal_times(control_slot, volts[control_slot]),
        "extra": extra,
        "events": events,
        "anomalies": anomalies,
    }


#: Every header generation, with every control alignment where channels are interleaved.
ALIGNED = [
    (version, how)
    for version, spec in SPECS.items()
    for how in (["interpolate", "previous", "next"] if spec.pulsed else ["interpolate"])
]


@pytest.mark.parametrize("chunk_cycles", [1, 7, 64, readers_ppd_decode.CHUNK_CYCLES])
@pytest.mark.parametrize(("version", "how"), ALIGNED)
def test_chunked_decode_equals_the_direct_decode_exactly(
    tmp_path, monkeypatch, version, how, chunk_cycles
):
    spec = SPECS[version]
    path = build(tmp_path / "planted.ppd", spec)
    monkeypatch.setattr(readers_ppd_decode, "CHUNK_CYCLES", chunk_cycles)
    (recording,) = read_ppd(path, {"control_alignment": how}).values()
    expected = reference(path, spec, how)
    check(recording, expected, spec)


@pytest.mark.parametrize("how", ["interpolate", "previous", "next"])
@pytest.mark.parametrize(
    "version", ["0.2 time division (number version)", "1.1.0 pulsed, LED-on and LED-off words"]
)
def test_a_control_read_before_the_signal_is_aligned_exactly(tmp_path, monkeypatch, version, how):
    spec = SPECS[version]
    path = build(tmp_path / "planted.ppd", spec)
    monkeypatch.setattr(readers_ppd_decode, "CHUNK_CYCLES", 7)
    config = {"control_alignment": how, "signal": "analog_2", "control": "analog_1"}
    (recording,) = read_ppd(path, config).values()
    check(recording, reference(path, spec, how, swap=True), spec)


def check(recording, expected: dict, spec: Spec) -> None:
    """The recording equals the reference decode: arrays bit for bit, events, anomaly rows."""
    for name in ("time_s", "signal", "control"):
        np.testing.assert_array_equal(getattr(recording, name), expected[name], err_msg=name)
    assert recording.extra.keys() == expected["extra"].keys()
    for name, values in expected["extra"].items():
        np.testing.assert_array_equal(recording.extra[name], values, err_msg=name)
    events = recording.events
    assert list(zip(events["name"], events["time_s"], strict=True)) == [
        (name, time) for name, time, _ in expected["events"]
    ]
    np.testing.assert_array_equal(events["duration_s"], [d for *_, d in expected["events"]])
    assert len(expected["events"]) >= 4  # the planted pulses are there to be found
    found = recording.anomalies
    counts = [
        int(detail.split()[3 if kind == "truncated" else 0])
        for kind, detail in zip(found["kind"], found["detail"], strict=True)
    ]
    samples = found["sample"].astype(int)
    rows = list(zip(found["kind"], found["channel"], samples, counts, strict=True))
    assert rows == expected["anomalies"]
    assert {"dropped_frames", "truncated"} <= set(found["kind"])
    if spec.paired or not spec.pulsed:
        assert (found["kind"] == "saturation").sum() >= 2


def test_one_events_table_equals_the_per_line_tables_stacked():
    t = np.arange(50) / 10.0
    first = np.zeros(50, bool)
    first[[3, 4, 20, 49]] = True
    second = np.zeros(50, bool)
    second[[3, 30, 31]] = True
    tables = [ttl_events(t, first, "run", source="a"), ttl_events(t, second, "cue", source="b")]
    stacked = pd.concat(tables, ignore_index=True)
    together = sorted_events(*(stacked[column].to_numpy() for column in stacked))
    pd.testing.assert_frame_equal(together, concat_events(tables))
    assert together["name"].tolist()[:2] == ["cue", "run"]  # same time: ordered by name


def test_a_file_that_shrinks_while_it_is_read_is_a_clear_error():
    layout = PpdWordLayout(words_per_cycle=2, n_slots=2, paired=False, digital_inputs=2)
    short = io.BytesIO(bytes(400))  # 100 cycles where 200 were announced
    with pytest.raises(InputDataError, match="became shorter while it was read"):
        decode_samples(short, 800, layout, np.array([VPD, VPD]), 100.0, "m1.ppd")
