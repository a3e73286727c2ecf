"""Neurophotometrics camera frames: the LED-state bit field and the pairing of interleaved LEDs.

The LED state is a bit field (int-brain-lab/ibl-photometry ``neurophotometrics.py`` LED_STATES;
notes §2.1): bit 1 = 415 nm, 2 = 470 nm, 4 = 560 nm; the higher bits are I/O lines (+8 Output 1,
+16 Output 0, +32 stimulation, +64/+128 GPIO 2/3, +256 Input 1, +512 Input 0).

Each wavelength is on every other frame, so a signal frame is bracketed by the last control frame
at or before it and the first at or after it, by frame order (a timestamp glitch cannot mis-pair
frames). With frame masks that bracket is a running count, not a search: for signal frame *f*,
with ``n(f)`` the number of control frames up to and including *f*, the previous control is
number ``n(f) - 1`` and the next is ``n(f) - 1`` when *f* is itself a control frame (an LED pair
lit together, state 5), else ``n(f)`` — the same pairs as
:func:`~exneuro.photometry.readers_core.align_control`'s binary search, in one pass over the
frames. In a steady cycle (each LED every p-th frame: no frame dropped) the brackets are
arithmetic and are taken as slices, views without an index array. The pairing depends on the
frames only, so :class:`DecodedFrames` computes it once per LED pair, with the frame-level QC
(frame counter, timing), and every fibre read with that pair reuses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.photometry.readers_anomalies import frame_counter_anomalies, timing_anomalies
from exneuro.photometry.readers_core import median_rate, sample_mapper
from exneuro.photometry.readers_events import events_outside

#: LED bits of the Flags/LedState field (the three low bits).
LED_BITS = {415: 1, 470: 2, 560: 4}

#: I/O bits of the Flags/LedState field above the LED bits.
IO_BITS = {
    "Output1": 8,
    "Output0": 16,
    "Stimulation": 32,
    "GPIO2": 64,
    "GPIO3": 128,
    "Input1": 256,
    "Input0": 512,
}

#: Every bit a Neurophotometrics LED state can carry; anything above is an unknown state.
KNOWN_BITS = 7 | sum(IO_BITS.values())


def led_states(path: Path, values: np.ndarray, lines: np.ndarray, column: str) -> np.ndarray:
    """The LED state of every frame as 16-bit integers (every known state is below 1024); a
    value that is no known bit field (negative, fractional, empty, or with a bit above 512) is an
    error naming its line."""
    with np.errstate(invalid="ignore"):  # NaN, inf, out of range: some integer, never equal
        as_int = values.astype(np.int16)
    # a fraction, NaN, inf or a value beyond 16 bits differs from its cast; a negative integer
    # has all high bits set
    bad = (as_int != values) | ((as_int & ~KNOWN_BITS) != 0)
    if bad.any():
        row = int(np.argmax(bad))
        raise data_error(
            str(path),
            f"unknown LED state '{values[row]:g}' (expected 1=415 nm, 2=470 nm, 4=560 nm plus "
            "I/O bits 8-512)",
            "check that the column is the LED state of a Neurophotometrics file",
            line=int(lines[row]),
            column=column,
        )
    return as_int


def state_counts(state: np.ndarray) -> tuple[list[int], int]:
    """The distinct LED states, ascending, and the number of frames without an LED lit (states
    that are multiples of 8), from one count per possible state (states are < 1024)."""
    counts = np.bincount(state, minlength=1)
    return np.flatnonzero(counts).tolist(), int(counts[::8].sum())


#: Frames as an index array, or as a slice when they are every p-th frame (a view, no copy).
FrameIndex = np.ndarray | slice


@dataclass(frozen=True)
class FramePairing:
    """Where one LED pair's control is taken for each signal frame.

    ``positions`` are the signal frames that have the needed control neighbour(s) (``dropped``
    at the edges have not); ``low``/``high`` the control frames that bracket them (the same frame
    for ``previous``/``next``); ``weight`` places the signal frame's time between the two control
    frames' times; ``invalid`` marks brackets whose timestamps do not increase (no interpolation
    possible: NaN). In a steady LED cycle the three are slices.
    """

    positions: FrameIndex
    dropped: int
    low: FrameIndex
    high: FrameIndex
    weight: np.ndarray | None
    invalid: np.ndarray | None

    @property
    def position_array(self) -> np.ndarray:
        """The kept signal frames as an index array."""
        if isinstance(self.positions, slice):
            return np.arange(self.positions.start, self.positions.stop, self.positions.step)
        return self.positions

    def control_at_signal(self, values: np.ndarray) -> np.ndarray:
        """A fibre's control column (one value per frame) placed on the kept signal frames:
        c_lo + w (c_hi - c_lo), as :func:`~exneuro.photometry.readers_core.align_control`
        (a view of ``values`` for ``previous``/``next`` in a steady cycle)."""
        low = values[self.low]
        if self.weight is None:
            return low
        placed = np.subtract(values[self.high], low)  # the same operations, in place after
        placed *= self.weight
        placed += low
        placed[self.invalid] = np.nan
        return placed


@dataclass(frozen=True)
class LedPair:
    """What every fibre read with one signal/control LED pair shares: the frame pairing, the
    signal frames' times and rate, and the frame-level anomaly and event rows on those samples."""

    pairing: FramePairing
    time_s: np.ndarray
    fs_hz: float
    frame_tables: list[pd.DataFrame]
    events_outside: pd.DataFrame


@dataclass
class DecodedFrames:
    """The decoded frames of one file: times from the first frame, file lines, frame counter,
    the frames of each wavelength; :meth:`led_pair` pairs them once per LED pair."""

    t_frames: np.ndarray
    lines: np.ndarray
    counter: np.ndarray | None
    masks: Mapping[int, np.ndarray]
    alignment: str
    gap_factor: float
    events: pd.DataFrame
    pairs: dict[tuple[int, int], LedPair] = field(default_factory=dict)

    @cached_property
    def back_line(self) -> int | None:
        """File line of the first frame whose timestamp goes backwards (None when none does)."""
        back = np.flatnonzero(self.t_frames[1:] < self.t_frames[:-1])
        return int(self.lines[back[0] + 1]) if back.size else None

    def led_pair(self, signal_nm: int, control_nm: int) -> LedPair:
        """The pairing of one signal/control LED pair, with its frame-level QC rows."""
        key = (signal_nm, control_nm)
        if key not in self.pairs:
            pairing = pair_frames(
                self.masks[signal_nm], self.masks[control_nm], self.t_frames, self.alignment
            )
            time_s = self.t_frames[pairing.positions]
            to_sample = sample_mapper(pairing.position_array)
            tables, jumps = [], None
            if self.counter is not None:
                counter_rows, jumps = frame_counter_anomalies(
                    self.counter, self.t_frames, lines=self.lines, sample_of=to_sample
                )
                tables.append(counter_rows)
            timing = timing_anomalies(
                self.t_frames,
                self.gap_factor,
                lines=self.lines,
                sample_of=to_sample,
                skip_gaps_at=jumps,
            )
            self.pairs[key] = LedPair(
                pairing,
                time_s,
                median_rate(time_s),
                [*tables, timing],
                events_outside(self.events, time_s),
            )
        return self.pairs[key]


def pair_frames(
    signal: np.ndarray, control: np.ndarray, t_frames: np.ndarray, how: str
) -> FramePairing:
    """Pair the signal frames (boolean mask ``signal``) with the control frames (mask
    ``control``) by frame order, for ``how`` = interpolate, previous or next.

    Both bracket numbers grow with the signal frame, so the signal frames that have a control
    frame before them are the last ones and those with one after them the first ones: the kept
    frames are one run. In a steady cycle (both LEDs every p-th frame) the brackets are slices.
    """
    brackets = _steady_brackets(signal, control, how) or _counted_brackets(signal, control, how)
    positions, dropped, low, high, same_frame = brackets
    if how != "interpolate":
        return FramePairing(positions, dropped, low, high, None, None)
    t_low = t_frames[low]
    span = np.subtract(t_frames[high], t_low)
    weight = np.subtract(t_frames[positions], t_low)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight /= span
    weight[span <= 0] = 0.0  # timestamps are finite: not (span > 0) is span <= 0
    invalid = (span < 0) | (weight < 0) | (weight > 1) | ((span == 0) & ~same_frame)
    return FramePairing(positions, dropped, low, high, weight, invalid)


def _counted_brackets(
    signal: np.ndarray, control: np.ndarray, how: str
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]:
    """Kept signal frames, how many were dropped, their bracketing control frames and whether
    the two are the same frame, from the running count of control frames (any LED sequence)."""
    signal_frames = np.flatnonzero(signal)
    control_frames = np.flatnonzero(control)
    # control frames up to and including each signal frame (32-bit when it fits: half the memory)
    count_type = np.int32 if len(control) < 2**31 else np.int64
    previous = np.cumsum(control, dtype=count_type)[signal_frames]
    previous -= 1
    following = previous + ~control[signal_frames]  # itself when also a control frame
    first = int(np.searchsorted(previous, 0)) if how != "next" else 0
    last = int(np.searchsorted(following, len(control_frames)))
    last = max(last, first) if how != "previous" else len(signal_frames)
    kept = slice(first, last)
    if how == "previous":
        following = previous
    elif how == "next":
        previous = following
    positions = signal_frames[kept]
    low, high = control_frames[previous[kept]], control_frames[following[kept]]
    return positions, len(signal_frames) - len(positions), low, high, low == high


def _steady_brackets(
    signal: np.ndarray, control: np.ndarray, how: str
) -> tuple[slice, int, slice, slice, np.bool_] | None:
    """:func:`_counted_brackets` as slices when signal frames s_i = s_0 + i p and control frames
    c_j = c_0 + j p share one period p (no frame dropped, no LED skipped); None otherwise.

    With d = s_0 - c_0, the control frames at or before s_i are j <= i + floor(d / p), those
    before it j < i + ceil(d / p): signal frame i is bracketed by control frames i + floor(d / p)
    and i + ceil(d / p) while both exist. None too when the edge clips a previous/next bracket
    (the signal LED lit beyond the control LED's frames), where the count is the general answer.
    """
    signal_frames, control_frames = _every_pth(signal), _every_pth(control)
    if signal_frames is None or control_frames is None:
        return None
    (s0, m, p), (c0, k, q) = signal_frames, control_frames
    if p != q:
        return None
    below, above = (s0 - c0) // p, -((c0 - s0) // p)  # floor and ceil of d / p
    first = max(0, -below) if how != "next" else 0
    last = min(m, k - above) if how != "previous" else m
    if (how == "previous" and m - 1 + below > k - 1) or (how == "next" and above < 0):
        return None
    if how == "previous":
        above = below
    elif how == "next":
        below = above
    if last <= first:
        return None

    def frames(start: int) -> slice:
        return slice(start + first * p, start + (last - 1) * p + 1, p)

    return (
        frames(s0),
        m - (last - first),
        frames(c0 + below * p),
        frames(c0 + above * p),
        np.bool_(below == above),
    )


def _every_pth(mask: np.ndarray) -> tuple[int, int, int] | None:
    """(first frame, count, period) when the frames of ``mask`` are every p-th frame from the
    first; None otherwise (fewer than two frames, or any irregularity)."""
    count = int(np.count_nonzero(mask))
    if count < 2:
        return None
    first = int(np.argmax(mask))
    period = int(np.argmax(mask[first + 1 :])) + 1
    last = first + (count - 1) * period
    # count frames in the progression, all lit, and as many in all: no other frame is lit
    if last >= len(mask) or not mask[first : last + 1 : period].all():
        return None
    return first, count, period
