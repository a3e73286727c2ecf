"""The samples of a pyPhotometry ``.ppd`` file, read and decoded in one pass over its bytes, and
what they show: digital pulses, clipped runs, zero-filled chunks, a cut last sample.

The words are read from the file in chunks of :data:`CHUNK_CYCLES` acquisition cycles, and each
chunk is decoded while it is still in the processor's cache, straight into the final float64
arrays: volts per slot, the cycle times, and the per-chunk facts the anomaly checks need (the
highest word, whether any word is zero, where each digital input changes level). So every byte is
touched once from memory, no file-sized temporary is made besides the words themselves, and the
disk reads the next chunks (the kernel's read-ahead) while this one is decoded. The numbers are
those of the textbook decode — ``(word >> 1) x volts_per_division``, on - off for paired words,
``t_k = k / rate``, a digital input's level ``word & 1`` — computed with the same floating-point
operations, so they are bit-for-bit equal (tested against a direct decode).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.photometry.readers_core import (
    EVENT_COLUMNS,
    anomaly_table,
    empty_anomalies,
    empty_events,
    runs,
)
from exneuro.photometry.readers_events import pulses, sorted_events

#: Acquisition cycles decoded per step: 32 k cycles of two words is 128 kB of words and 256 kB
#: per float64 channel, inside a core's L2 cache with the scratch arrays; the Python cost per
#: step (about twenty NumPy calls) stays near 2 % of the decode.
CHUNK_CYCLES = 1 << 15


@dataclass(frozen=True)
class PpdWordLayout:
    """Where the words of each slot and digital input sit in an acquisition cycle."""

    words_per_cycle: int
    n_slots: int
    paired: bool
    digital_inputs: int

    @property
    def stride(self) -> int:
        """Words per slot: 2 when the LED-on and LED-off readings are both stored."""
        return 2 if self.paired else 1


@dataclass(frozen=True)
class PpdSamples:
    """Decoded samples of one file.

    Attributes
    ----------
    words
        Every uint16 word after the header (the file's bytes, little-endian), including a last
        incomplete cycle.
    cycles
        The complete cycles, ``(n_cycles, words_per_cycle)``: a view of ``words``.
    volts
        Per slot, float64 ``(word >> 1) x volts_per_division`` (on - off for paired words).
    cycle_time_s
        float64 ``k / channel rate`` of cycle ``k``.
    digital_edges
        Per digital input, the sorted cycles whose level (``word & 1``) differs from the cycle
        before.
    highest_word, has_zero_word
        The largest word of the complete cycles, and whether any of them is zero: the saturation
        and zero-fill checks look at the samples only when these say there can be something.
    """

    words: np.ndarray
    cycles: np.ndarray
    volts: tuple[np.ndarray, ...]
    cycle_time_s: np.ndarray
    digital_edges: tuple[np.ndarray, ...]
    highest_word: int
    has_zero_word: bool


def read_exactly(handle: BinaryIO, buffer: memoryview, path: str) -> None:
    """Fill ``buffer`` from the file; a file shorter than its size said is a clear error."""
    filled = 0
    while filled < len(buffer):
        got = handle.readinto(buffer[filled:])
        if not got:
            raise data_error(
                path,
                "the file became shorter while it was read",
                "wait until the copy or the recording has finished, then run again",
            )
        filled += got


def decode_samples(
    handle: BinaryIO,
    payload_bytes: int,
    layout: PpdWordLayout,
    volts_per_division: np.ndarray,
    channel_hz: float,
    path: str,
) -> PpdSamples:
    """Read the ``payload_bytes`` after the header from ``handle`` and decode them chunk by chunk
    (see the module docstring)."""
    n_words = payload_bytes // 2
    n_cycles = n_words // layout.words_per_cycle
    raw = np.empty(payload_bytes, dtype=np.uint8)
    words = raw[: 2 * n_words].view("<u2")
    cycles = words[: n_cycles * layout.words_per_cycle].reshape(n_cycles, layout.words_per_cycle)
    # one allocation for every output: a single mapping of fresh memory (large pages where the
    # system gives them) instead of one per array: far fewer page faults on short files
    outputs = np.empty((layout.n_slots + 1, n_cycles))
    volts, cycle_time_s = tuple(outputs[:-1]), outputs[-1]
    steps = np.arange(min(CHUNK_CYCLES, n_cycles), dtype=np.float64)
    adc_values = np.empty(len(steps) * layout.words_per_cycle, dtype=np.uint16)
    level_changes = _LevelChanges(layout, len(steps))
    highest, has_zero = 0, False
    cycle_bytes = 2 * layout.words_per_cycle
    buffer = memoryview(raw)
    _advise_sequential(handle)
    for start in range(0, n_cycles, CHUNK_CYCLES):
        stop = min(start + CHUNK_CYCLES, n_cycles)
        end = stop * cycle_bytes if stop < n_cycles else payload_bytes
        read_exactly(handle, buffer[start * cycle_bytes : end], path)
        chunk = cycles[start:stop]
        size = stop - start
        highest = max(highest, int(chunk.max()))
        has_zero = has_zero or int(chunk.min()) == 0
        level_changes.add(cycles, start, stop)
        adc = adc_values[: size * layout.words_per_cycle].reshape(chunk.shape)
        np.right_shift(chunk, 1, out=adc)  # every word at once: contiguous
        for slot, values in enumerate(volts):
            out = values[start:stop]
            np.copyto(out, adc[:, slot * layout.stride])
            if layout.paired:  # LED on - LED off
                np.subtract(out, adc[:, slot * layout.stride + 1], out=out)
            np.multiply(out, volts_per_division[slot], out=out)
        time_s = cycle_time_s[start:stop]
        np.add(steps[:size], start, out=time_s)
        np.divide(time_s, channel_hz, out=time_s)
    return PpdSamples(
        words=words,
        cycles=cycles,
        volts=volts,
        cycle_time_s=cycle_time_s,
        digital_edges=level_changes.edges(),
        highest_word=highest,
        has_zero_word=has_zero,
    )


class _LevelChanges:
    """Where the digital inputs change level, found chunk by chunk.

    Each word is compared with the word of the same slot one cycle before (XOR of the chunk's
    words with themselves shifted by one cycle: contiguous, whatever the layout), the lowest bit
    kept for the digital inputs' words only, and the rare changes located after one count of a
    byte array. Edges are few, so a chunk without any costs three passes over its words.
    """

    def __init__(self, layout: PpdWordLayout, chunk_cycles: int) -> None:
        self.width = layout.words_per_cycle
        self.columns = [digital * layout.stride for digital in range(layout.digital_inputs)]
        in_cycle = np.zeros(self.width, dtype=np.uint16)
        in_cycle[self.columns] = 1
        self.mask = np.tile(in_cycle, chunk_cycles)
        self.flips = np.empty(len(self.mask), dtype=np.uint16)
        self.changed = np.empty(len(self.mask), dtype=np.uint8)
        self.found: list[np.ndarray] = []

    def add(self, cycles: np.ndarray, start: int, stop: int) -> None:
        """Look at cycles ``start:stop`` (the first against the cycle before it)."""
        if not self.columns:
            return
        before = max(start - 1, 0)
        words = cycles[before:stop].reshape(-1)
        size = len(words) - self.width
        flips, changed = self.flips[:size], self.changed[:size]
        np.bitwise_xor(words[self.width :], words[: -self.width], out=flips)
        np.bitwise_and(flips, self.mask[:size], out=changed, casting="unsafe")
        flags = changed.view(bool)
        count = np.count_nonzero(flags)
        if count:  # usually one edge: argmax stops at it
            at = np.flatnonzero(flags) if count > 1 else np.array([np.argmax(flags)])
            self.found.append(at + (before + 1) * self.width)

    def edges(self) -> tuple[np.ndarray, ...]:
        """Per digital input, the sorted cycles whose level differs from the cycle before."""
        words = np.concatenate(self.found) if self.found else np.array([], dtype=np.intp)
        cycle, column = np.divmod(words, self.width)
        return tuple(cycle[column == wanted] for wanted in self.columns)


def _advise_sequential(handle: BinaryIO) -> None:
    """Tell the kernel the file is read once from start to end (a larger read-ahead), where the
    platform has ``posix_fadvise``."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):  # e.g. a file system that does not support it
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)


def align_interleaved(
    signal_slot: int,
    slot: int,
    signal_t: np.ndarray,
    slot_t: np.ndarray,
    channels: Sequence[np.ndarray],
    how: str,
) -> tuple[slice, list[np.ndarray]]:
    """Place a time-division slot's readings (``channels``: values read at ``slot_t``, e.g. its
    volts and its raw LED-on and LED-off readings) on the signal's samples: what
    :func:`~exneuro.photometry.readers_core.align_control` computes, bit for bit, for the regular
    interleave of pulsed .ppd files, where the neighbours are known without a search.

    A slot read after the signal within a cycle has its previous reading one cycle earlier and
    its next one in the same cycle; a slot read before it, the reverse. ``how``: ``previous`` /
    ``next`` take that reading; ``interpolate`` weighs the two, c_prev + w (c_next - c_prev) with
    w = (t_signal - t_prev) / (t_next - t_prev), NaN where the weight is not in [0, 1]. Returns
    the signal cycles that have the needed neighbours (a slice) and each channel there.
    """
    n = len(slot_t)
    read_after = slot > signal_slot
    if how == "previous":
        if read_after:
            return slice(1, n), [values[:-1] for values in channels]
        return slice(0, n), list(channels)
    if how == "next":
        if read_after:
            return slice(0, n), list(channels)
        return slice(0, n - 1), [values[1:] for values in channels]
    kept = slice(1, n) if read_after else slice(0, n - 1)
    return kept, _interpolate(signal_t[kept], slot_t[:-1], slot_t[1:], channels)


def _interpolate(
    t: np.ndarray, t_lo: np.ndarray, t_hi: np.ndarray, channels: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """Per channel c (read at ``t_lo`` then ``t_hi``): c_lo + w (c_hi - c_lo) with
    w = (t - t_lo) / (t_hi - t_lo) (0 where the span is not positive), NaN where the span is not
    positive or w is outside [0, 1]. Block by block, so that the intermediate arrays stay in the
    cache; the weights are computed once for every channel."""
    results = [np.empty(len(t)) for _ in channels]
    size = min(CHUNK_CYCLES, len(t))
    span, weight = np.empty(size), np.empty(size)
    flags, bad = np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    for start in range(0, len(t), CHUNK_CYCLES):
        stop = min(start + CHUNK_CYCLES, len(t))
        part, later = slice(start, stop), slice(start + 1, stop + 1)
        s, w = span[: stop - start], weight[: stop - start]
        positive, wrong = flags[: stop - start], bad[: stop - start]
        np.subtract(t_hi[part], t_lo[part], out=s)
        np.subtract(t[part], t_lo[part], out=w)
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(w, s, out=w)
        np.greater(s, 0, out=positive)
        np.copyto(w, 0.0, where=~positive)
        np.logical_not(positive, out=wrong)  # the two neighbours are distinct readings
        wrong |= w < 0
        wrong |= w > 1
        for values, result in zip(channels, results, strict=True):
            out = result[part]
            np.subtract(values[later], values[part], out=out)
            np.multiply(w, out, out=out)
            np.add(values[part], out, out=out)
            np.copyto(out, np.nan, where=wrong)
    return results


def digital_events(
    samples: PpdSamples,
    shared: np.ndarray,
    offset: Mapping[int, float],
    stride: int,
    digital_names: Mapping[str, str],
    file_name: str,
) -> pd.DataFrame:
    """The pulses of every digital input (rides in the lowest bit of its slot's LED-on words) as
    one events table: onset at the rising edge, duration to the falling edge (NaN when still high
    at the end), times on the slot's clock (``k / rate`` plus the slot's timer offset)."""
    columns: dict[str, list] = {"name": [], "time_s": [], "duration_s": [], "source": []}
    for digital, edges in enumerate(samples.digital_edges):
        high = (samples.cycles[edges, digital * stride] & 1).astype(bool)
        rises, ends = pulses(edges, high)
        has_fall = ends >= 0
        onset = shared[rises] + offset[digital]
        duration = np.full(len(rises), np.nan)
        duration[has_fall] = (shared[ends[has_fall]] + offset[digital]) - onset[has_fall]
        label = f"digital_{digital + 1}"
        columns["name"].append(np.full(len(rises), digital_names.get(label, label), dtype=object))
        columns["time_s"].append(onset)
        columns["duration_s"].append(duration)
        columns["source"].append(np.full(len(rises), f"{file_name}:{label}", dtype=object))
    if not columns["time_s"]:
        return empty_events()
    return sorted_events(*(np.concatenate(columns[key]) for key in EVENT_COLUMNS))


def truncation(extra_words: int, payload_bytes: int, time_s: np.ndarray) -> pd.DataFrame:
    """A file that ends inside a sample (the recording was cut): report what was ignored."""
    extra_bytes = extra_words * 2 + payload_bytes % 2
    if not extra_bytes:
        return empty_anomalies()
    return anomaly_table(
        "truncated",
        "file",
        len(time_s) - 1,
        time_s[-1],
        None,
        f"the file ends {extra_bytes} byte(s) into a sample; the partial sample was ignored",
    )


def clipping(
    peak: np.ndarray,
    clip: float,
    channel: str,
    time_s: np.ndarray,
    to_sample: Callable[[np.ndarray], np.ndarray],
) -> pd.DataFrame:
    """Runs of samples above 98 % of the ADC range (pyPhotometry's own clipping rule)."""
    if not peak.size or peak.max() <= clip:  # the usual case, in one pass
        return empty_anomalies()
    starts, lengths = runs(peak > clip)
    highest = np.maximum.reduceat(peak, starts)
    return anomaly_table(
        "saturation",
        channel,
        to_sample(starts),
        time_s[starts],
        None,
        [
            f"{n} sample(s) above 98 % of the ADC range ({clip:g} counts; highest {int(h)})"
            for n, h in zip(lengths, highest, strict=True)
        ],
    )


def zero_filled(
    cycles: np.ndarray, time_s: np.ndarray, to_sample: Callable[[np.ndarray], np.ndarray]
) -> pd.DataFrame:
    """Cycles whose words are all zero: chunks the GUI zero-filled after a USB loss."""
    width = cycles.shape[1]
    if width in (1, 2, 4):  # a cycle as one 16/32/64-bit integer: one comparison per cycle
        zero = cycles.reshape(-1).view(f"<u{2 * width}") == 0
    else:  # column by column: much faster than any(axis=1) on short rows
        zero = cycles[:, 0] == 0
        for column in range(1, width):
            zero &= cycles[:, column] == 0
    if not zero.any():
        return empty_anomalies()
    starts, lengths = runs(zero)
    return anomaly_table(
        "dropped_frames",
        "signal+control",
        to_sample(starts),
        time_s[starts],
        None,
        [
            f"{n} sample(s) with every word zero: a chunk lost on the USB link and zero-filled by "
            "the acquisition software (values are not measurements)"
            for n in lengths
        ],
    )
