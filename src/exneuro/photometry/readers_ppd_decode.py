"""The samples of a pyPhotometry ``.ppd`` file, read and decoded in one pass over its bytes.

The words are read from the file in chunks of :data:`CHUNK_CYCLES` acquisition cycles, and each
chunk is decoded while it is still in the processor's cache, straight into the final float64
arrays: volts per slot, the cycle times, and the per-chunk facts the anomaly checks
(:mod:`~exneuro.photometry.readers_ppd_checks`) need (the highest word, whether any word is zero,
where each digital input changes level). So every byte is touched once from memory, no file-sized
temporary is made besides the words themselves, and the disk delivers the next chunks (the
kernel reads the whole payload ahead, asked at the start) while this one is decoded; two threads
share the chunks where two processors are free. The numbers are those of the textbook decode —
``(word >> 1) x volts_per_division``, on - off for paired words, ``t_k = k / rate``, a digital
input's level ``word & 1`` — computed with the same floating-point operations, so they are
bit-for-bit equal (tested against a direct decode), whatever the chunks and threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from exneuro.errors import data_error
from exneuro.photometry.readers_core import advise_read_once

#: Acquisition cycles decoded per step: 128 k cycles of two words is 512 kB of words and 1 MB
#: per float64 channel, inside a core's L2 cache with the scratch arrays. Smaller steps keep the
#: data closer to the core but cost more NumPy calls, and each call is a moment where two
#: decoding threads contend for the interpreter's lock: at 32 k cycles a second thread bought no
#: speed for half again the processor time, at 128 k it cuts a warm read's time by a third.
CHUNK_CYCLES = 1 << 17

#: Threads that decode one file at most (each takes every other chunk). Filling fresh memory
#: (the system zeroes each new page on its first touch) is a third of the work and is bound by
#: the memory's bandwidth, which two threads already share.
MAX_WORKERS = 2


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
    """Fill ``buffer`` from the file's current position; a file shorter than its size said is a
    clear error."""
    _fill(lambda view, _done: handle.readinto(view), buffer, path)


def _read_exactly_at(fd: int, buffer: memoryview, offset: int, path: str) -> None:
    """Fill ``buffer`` from byte ``offset`` of the file (a positional read: threads may read
    different parts of one file at once)."""
    _fill(lambda view, done: os.preadv(fd, [view], offset + done), buffer, path)


def _fill(read: Callable[[memoryview, int], int | None], buffer: memoryview, path: str) -> None:
    """Call ``read(rest of buffer, bytes filled so far)`` until the buffer is full."""
    filled = 0
    while filled < len(buffer):
        got = read(buffer[filled:], filled)
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
    (see the module docstring).

    Where the file can be read at an offset and the process may use more than one processor, the
    chunks are shared among :data:`MAX_WORKERS` threads, taking turns (chunk 0, 2, 4 … and 1, 3,
    5 …), so that each follows the disk as it delivers the file from its start. NumPy releases
    the interpreter lock inside each operation, so the threads decode, read and fill fresh memory
    (the system zeroes each new page on its first touch) at the same time. A digital input's
    level change between two chunks is found after all chunks are done.
    """
    n_words = payload_bytes // 2
    n_cycles = n_words // layout.words_per_cycle
    raw = np.empty(payload_bytes, dtype=np.uint8)
    words = raw[: 2 * n_words].view("<u2")
    cycles = words[: n_cycles * layout.words_per_cycle].reshape(n_cycles, layout.words_per_cycle)
    # one allocation for every output: a single mapping of fresh memory (large pages where the
    # system gives them) instead of one per array: far fewer page faults on short files
    outputs = np.empty((layout.n_slots + 1, n_cycles))
    starts = range(0, n_cycles, CHUNK_CYCLES)
    fd = _positional_file(handle)
    if fd is None:  # an in-memory file: read in order
        read = _sequential_reads(handle, raw, path)
    else:
        read = _positional_reads(fd, handle.tell(), raw, path)
        advise_read_once(fd, handle.tell(), payload_bytes)
    n_workers = _workers(len(starts)) if fd is not None else 1
    decoders = [
        _ChunkDecoder(cycles, outputs, layout, volts_per_division, channel_hz)
        for _ in range(n_workers)
    ]
    cycle_bytes = 2 * layout.words_per_cycle

    def decode(decoder: _ChunkDecoder, chunk_starts: Sequence[int]) -> None:
        for start in chunk_starts:
            stop = min(start + CHUNK_CYCLES, n_cycles)
            read(start * cycle_bytes, stop * cycle_bytes if stop < n_cycles else payload_bytes)
            decoder.decode(start, stop)

    _run_in_turns(decode, decoders, starts)
    return PpdSamples(
        words=words,
        cycles=cycles,
        volts=tuple(outputs[:-1]),
        cycle_time_s=outputs[-1],
        digital_edges=_level_changes(cycles, layout, starts, decoders),
        highest_word=max(decoder.highest for decoder in decoders),
        has_zero_word=any(decoder.has_zero for decoder in decoders),
    )


def _run_in_turns(
    decode: Callable[[_ChunkDecoder, Sequence[int]], None],
    decoders: Sequence[_ChunkDecoder],
    starts: range,
) -> None:
    """Decoder ``i`` of ``n`` decodes chunks ``i, i + n, i + 2n …``; the first in this thread,
    the others in threads of their own. An error in any (a file cut while read) is raised here,
    after every thread has stopped."""
    errors: list[BaseException] = []

    def guarded(decoder: _ChunkDecoder, chunk_starts: Sequence[int]) -> None:
        try:
            decode(decoder, chunk_starts)
        except BaseException as error:  # handed to the calling thread
            errors.append(error)

    n = len(decoders)
    threads = [
        threading.Thread(target=guarded, args=(decoders[i], starts[i::n]), daemon=True)
        for i in range(1, n)
    ]
    for thread in threads:
        thread.start()
    guarded(decoders[0], starts[0::n])
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


class _ChunkDecoder:
    """Decodes chunks of cycles straight into the output rows, with its own scratch arrays (one
    decoder per thread), and keeps what the checks need: the highest word, whether a word is
    zero, and where a digital input changes level inside a chunk."""

    def __init__(
        self,
        cycles: np.ndarray,
        outputs: np.ndarray,
        layout: PpdWordLayout,
        volts_per_division: np.ndarray,
        channel_hz: float,
    ) -> None:
        self.cycles, self.outputs, self.layout = cycles, outputs, layout
        self.volts_per_division, self.channel_hz = volts_per_division, channel_hz
        size = min(CHUNK_CYCLES, len(cycles))
        self.steps = np.arange(size, dtype=np.float64)
        self.cycle_numbers = np.empty(size)
        self.adc_values = np.empty(size * layout.words_per_cycle, dtype=np.uint16)
        self.level_changes = _ChunkLevelChanges(layout, size)
        self.highest, self.has_zero = 0, False

    def decode(self, start: int, stop: int) -> None:
        """Cycles ``start:stop``: volts per slot, ``k / rate``, and the facts for the checks."""
        layout, size = self.layout, stop - start
        chunk = self.cycles[start:stop]
        self.highest = max(self.highest, int(chunk.max()))
        self.has_zero = self.has_zero or int(chunk.min()) == 0
        self.level_changes.add(chunk, start)
        adc = self.adc_values[: size * layout.words_per_cycle].reshape(chunk.shape)
        np.right_shift(chunk, 1, out=adc)  # every word at once: contiguous
        for slot, values in enumerate(self.outputs[:-1]):
            out = values[start:stop]
            np.copyto(out, adc[:, slot * layout.stride])
            if layout.paired:  # LED on - LED off
                np.subtract(out, adc[:, slot * layout.stride + 1], out=out)
            np.multiply(out, self.volts_per_division[slot], out=out)
        cycle_numbers = self.cycle_numbers[:size]
        np.add(self.steps[:size], start, out=cycle_numbers)
        np.divide(cycle_numbers, self.channel_hz, out=self.outputs[-1, start:stop])


class _ChunkLevelChanges:
    """Where the digital inputs change level inside chunks.

    Each word is compared with the word of the same slot one cycle before (XOR of the chunk's
    words with themselves shifted by one cycle: contiguous, whatever the layout), the lowest bit
    kept for the digital inputs' words only, and the rare changes located after one count of a
    byte array. Edges are few, so a chunk without any costs three passes over its words.
    """

    def __init__(self, layout: PpdWordLayout, chunk_cycles: int) -> None:
        self.width = layout.words_per_cycle
        self.columns = digital_columns(layout)
        in_cycle = np.zeros(self.width, dtype=np.uint16)
        in_cycle[self.columns] = 1
        self.mask = np.tile(in_cycle, chunk_cycles)
        self.flips = np.empty(len(self.mask), dtype=np.uint16)
        self.changed = np.empty(len(self.mask), dtype=np.uint8)
        self.found: list[np.ndarray] = []

    def add(self, chunk: np.ndarray, start: int) -> None:
        """Look at the cycles of a chunk whose first cycle is ``start`` (each against the one
        before it in the chunk); the word indices of the changes are kept."""
        if not self.columns:
            return
        words = chunk.reshape(-1)
        size = len(words) - self.width
        flips, changed = self.flips[:size], self.changed[:size]
        np.bitwise_xor(words[self.width :], words[: -self.width], out=flips)
        np.bitwise_and(flips, self.mask[:size], out=changed, casting="unsafe")
        flags = changed.view(bool)
        count = np.count_nonzero(flags)
        if count:  # usually one edge: argmax stops at it
            at = np.flatnonzero(flags) if count > 1 else np.array([np.argmax(flags)])
            self.found.append(at + (start + 1) * self.width)


def digital_columns(layout: PpdWordLayout) -> list[int]:
    """The word of each digital input in a cycle (its slot's LED-on word)."""
    return [digital * layout.stride for digital in range(layout.digital_inputs)]


def _level_changes(
    cycles: np.ndarray, layout: PpdWordLayout, starts: range, decoders: Sequence[_ChunkDecoder]
) -> tuple[np.ndarray, ...]:
    """Per digital input, the sorted cycles whose level (``word & 1``) differs from the cycle
    before: the changes the decoders found inside chunks, and those between chunks."""
    columns = digital_columns(layout)
    width = layout.words_per_cycle
    first = np.asarray(starts[1:], dtype=np.intp)  # each chunk's first cycle against the one before
    flips = (cycles[first][:, columns] ^ cycles[first - 1][:, columns]) & 1
    at, column = np.nonzero(flips)
    between = first[at] * width + np.asarray(columns, dtype=np.intp)[column]
    inside = [found for decoder in decoders for found in decoder.level_changes.found]
    cycle, column = np.divmod(np.sort(np.concatenate([between, *inside])), width)
    return tuple(cycle[column == wanted] for wanted in columns)


def _positional_file(handle: BinaryIO) -> int | None:
    """The file descriptor, when the file can be read at an offset (not an in-memory file, and
    a platform with ``os.preadv``)."""
    if not hasattr(os, "preadv"):
        return None
    try:
        return handle.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation: no file behind it
        return None


def _sequential_reads(handle: BinaryIO, raw: np.ndarray, path: str) -> Callable[[int, int], None]:
    """Read bytes ``begin:end`` of the payload into ``raw``, from the handle's position: the
    chunks must be asked for in order."""
    buffer = memoryview(raw)
    return lambda begin, end: read_exactly(handle, buffer[begin:end], path)


def _positional_reads(
    fd: int, offset: int, raw: np.ndarray, path: str
) -> Callable[[int, int], None]:
    """Read bytes ``begin:end`` of the payload (which starts at byte ``offset`` of the file)
    into ``raw``, in any order and from any thread."""
    buffer = memoryview(raw)
    return lambda begin, end: _read_exactly_at(fd, buffer[begin:end], offset + begin, path)


def _workers(n_chunks: int) -> int:
    """Threads to decode with: up to :data:`MAX_WORKERS`, no more than the processors this
    process may run on, and four chunks for each at least: on a file of fewer (75 min at 100 Hz
    is four) a second thread costs more than it saves."""
    if hasattr(os, "sched_getaffinity"):
        processors = len(os.sched_getaffinity(0))
    else:
        processors = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, processors, n_chunks // 4))


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
    block = max(CHUNK_CYCLES // 4, 1)  # six arrays of this size stay in the cache
    size = min(block, len(t))
    span, weight = np.empty(size), np.empty(size)
    flags, bad = np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    for start in range(0, len(t), block):
        stop = min(start + block, len(t))
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
