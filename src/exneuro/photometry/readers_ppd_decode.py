"""The samples of a pyPhotometry ``.ppd`` file, read and decoded in one pass over its bytes.

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
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from exneuro.errors import data_error

#: Acquisition cycles decoded per step: 64 k cycles of two words is 256 kB of words and 512 kB
#: per float64 channel, well inside a core's L2 cache; the Python cost per step (about twenty
#: NumPy calls) stays under 2 % of the decode.
CHUNK_CYCLES = 1 << 16


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
    volts = tuple(np.empty(n_cycles) for _ in range(layout.n_slots))
    cycle_time_s = np.empty(n_cycles)
    steps = np.arange(min(CHUNK_CYCLES, n_cycles), dtype=np.float64)
    on_word = np.empty(len(steps), dtype=np.uint16)
    off_word = np.empty(len(steps), dtype=np.uint16)
    changed = np.empty(len(steps), dtype=np.uint8)
    edges: list[list[np.ndarray]] = [[] for _ in range(layout.digital_inputs)]
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
        on, off = on_word[:size], off_word[:size]
        for slot, values in enumerate(volts):
            out = values[start:stop]
            np.right_shift(chunk[:, slot * layout.stride], 1, out=on)
            if layout.paired:
                np.right_shift(chunk[:, slot * layout.stride + 1], 1, out=off)
                np.subtract(on, off, out=out, dtype=np.float64)
                np.multiply(out, volts_per_division[slot], out=out)
            else:
                np.multiply(on, volts_per_division[slot], out=out, dtype=np.float64)
        time_s = cycle_time_s[start:stop]
        np.add(steps[:size], start, out=time_s)
        np.divide(time_s, channel_hz, out=time_s)
        for digital, found in enumerate(edges):
            _level_changes(cycles, start, stop, digital * layout.stride, on, changed, found)
    return PpdSamples(
        words=words,
        cycles=cycles,
        volts=volts,
        cycle_time_s=cycle_time_s,
        digital_edges=tuple(
            np.concatenate(found) if found else np.array([], dtype=np.intp) for found in edges
        ),
        highest_word=highest,
        has_zero_word=has_zero,
    )


def _level_changes(
    cycles: np.ndarray,
    start: int,
    stop: int,
    column: int,
    scratch: np.ndarray,
    changed: np.ndarray,
    found: list,
) -> None:
    """Append the cycles in ``start:stop`` whose digital bit (``word & 1`` of ``column``) differs
    from the cycle before, comparing the chunk's first cycle with the previous chunk's last.
    ``scratch`` (uint16) and ``changed`` (uint8) hold at least a chunk; a line that does not change
    in the chunk costs one count of a byte array, not a search."""
    words = cycles[max(start - 1, 0) : stop, column]
    flips = scratch[: len(words) - 1]
    np.bitwise_xor(words[1:], words[:-1], out=flips)
    bits = changed[: len(flips)]
    np.bitwise_and(flips, 1, out=bits, casting="unsafe")
    if np.count_nonzero(bits):
        found.append(np.flatnonzero(bits.view(bool)) + max(start, 1))


def _advise_sequential(handle: BinaryIO) -> None:
    """Tell the kernel the file is read once from start to end (a larger read-ahead), where the
    platform has ``posix_fadvise``."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):  # e.g. a file system that does not support it
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
