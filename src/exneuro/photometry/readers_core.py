"""The tidy form every photometry reader returns, and the checks and helpers they share.

One :class:`Recording` per fibre: ``time_s`` from the start of the recording, the raw ``signal``
(calcium-dependent excitation, 465-490 nm) and ``control`` (isosbestic 405/415 nm, or a red
fluorophore) on the same timestamps, the nominal rate ``fs_hz``, the fibre's ``region`` name, an
events table and a QC table of anomalies. Nothing downstream knows the acquisition system.

Anomalies are detected and **reported, never repaired**: a gap stays a gap, a backwards timestamp
stays where it is, a saturated sample keeps its value. Each anomaly row names its kind, the channel,
the first affected sample of the tidy arrays, its time, the line of the source file when the format
is text, and a detail a biologist can act on. Runs of consecutive affected samples (saturation,
missing values, duplicated timestamps, zero-filled chunks) are one row each, so an hour of clipping
is one row, not a million.

Interleaved channels (camera systems, pyPhotometry's time-division modes) never share a timestamp:
the control is placed on the signal's timestamps by linear interpolation between the two control
samples that bracket each signal sample (Simpson et al. 2024, Neuron primer; notes §2.1), or by
pairing each signal sample with the previous or next control sample. Signal samples with no control
sample on one side (the first or last one or two) are dropped and counted in the metadata
(``n_edge_samples_dropped``).
"""

from __future__ import annotations

import contextlib
import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError, data_error

#: Columns of :attr:`Recording.events`: one row per event (TTL pulse, epoc, run onset).
EVENT_COLUMNS = ("name", "time_s", "duration_s", "source")

#: Columns of :attr:`Recording.anomalies`.
ANOMALY_COLUMNS = ("kind", "channel", "sample", "time_s", "line", "detail")

#: Every anomaly kind a reader reports, and what it means.
ANOMALY_KINDS = {
    "time_backwards": "a timestamp is earlier than the one before it",
    "duplicate_timestamp": "consecutive samples share one timestamp",
    "gap": "an interval longer than gap_factor x the median sampling interval",
    "dropped_frames": "frames or chunks lost by the acquisition system (counter jump, zero-fill)",
    "frame_counter_error": "the frame counter repeats or goes back",
    "saturation": "samples at or beyond the ADC/camera limit",
    "missing_value": "an empty cell, or a control not interpolable across a time glitch (NaN)",
    "truncated": "the file ends inside a sample (a partial record was ignored)",
    "length_mismatch": "signal and control streams of different lengths (cut to the shorter)",
    "event_outside_recording": "an event time outside the recorded time span",
}

#: Factors converting a time unit of a file into seconds.
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0}

#: How the control is placed on the signal's timestamps when the two are interleaved.
CONTROL_ALIGNMENTS = ("interpolate", "previous", "next")


@dataclass(frozen=True, eq=False)
class Recording:
    """One fibre of one photometry session, in the tidy form every reader returns.

    Attributes
    ----------
    region
        Fibre or brain-region name (from the config; otherwise the file's own channel name).
    time_s
        float64 seconds from the start of the recording (the file's first sample is 0, or the
        channel's offset within the acquisition cycle for time-division systems).
    signal, control
        float64 raw values on ``time_s`` (units in ``metadata["units"]``); never filtered.
    fs_hz
        Nominal sampling rate of ``signal``: the file header's rate, or 1/median interval.
    events
        :data:`EVENT_COLUMNS`: ``name``, ``time_s`` (same clock as ``time_s``), ``duration_s``
        (NaN when unknown) and ``source`` (file and channel the event came from).
    anomalies
        :data:`ANOMALY_COLUMNS`; ``kind`` one of :data:`ANOMALY_KINDS`; ``sample`` indexes the
        tidy arrays (nullable), ``line`` the source file (nullable).
    metadata
        ``source_file``, ``format``, ``format_version``, ``led_nm`` (signal/control
        wavelengths), ``units``, plus what each reader records about its decisions.
    extra
        Other float64 channels on ``time_s`` (a third analog input, LED-on/LED-off raw values).
    """

    region: str
    time_s: np.ndarray
    signal: np.ndarray
    control: np.ndarray
    fs_hz: float
    events: pd.DataFrame
    anomalies: pd.DataFrame
    metadata: Mapping[str, Any]
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def validate(self) -> Recording:
        """Check the invariants of the tidy form; return ``self`` so readers can chain it.

        Equal-length 1-D float64 arrays, finite time, a positive rate, the exact event and
        anomaly columns, known anomaly kinds, and every non-increasing step of ``time_s``
        reported as an anomaly (time never goes back silently).
        """
        source = str(self.metadata.get("source_file", "recording"))

        def fail(problem: str) -> None:
            raise data_error(source, f"fibre '{self.region}': {problem}")

        if not isinstance(self.region, str) or not self.region:
            fail("the fibre/region name is empty")
        n = len(self.time_s)
        if n == 0:
            fail("no samples")
        arrays = {"time_s": self.time_s, "signal": self.signal, "control": self.control}
        arrays.update({f"extra '{k}'": v for k, v in self.extra.items()})
        for name, values in arrays.items():
            if not isinstance(values, np.ndarray) or values.dtype != np.float64:
                fail(f"{name} is not a float64 array")
            if values.ndim != 1 or len(values) != n:
                fail(f"{name} has {values.shape} samples, time_s has {n}")
        # every step increases (a NaN compares false, so it is caught here too)
        monotonic = strictly_increasing(self.time_s)
        ends_finite = np.isfinite(self.time_s[[0, -1]]).all()
        if not (monotonic and ends_finite) and not np.isfinite(self.time_s).all():
            fail("time_s has non-finite values")
        if not (np.isfinite(self.fs_hz) and self.fs_hz > 0):
            fail(f"sampling rate {self.fs_hz} is not a positive number")
        if tuple(self.events.columns) != EVENT_COLUMNS:
            fail(f"events columns are {list(self.events.columns)}, expected {EVENT_COLUMNS}")
        if tuple(self.anomalies.columns) != ANOMALY_COLUMNS:
            fail(f"anomaly columns are {list(self.anomalies.columns)}")
        unknown = set(self.anomalies["kind"]) - set(ANOMALY_KINDS)
        if unknown:
            fail(f"unknown anomaly kinds {sorted(unknown)}")
        if not monotonic:
            kinds = set(self.anomalies["kind"])
            if not kinds & {"time_backwards", "duplicate_timestamp"}:
                first = int(np.argmin(self.time_s[1:] > self.time_s[:-1])) + 1
                fail(f"time_s does not increase at sample {first} and no anomaly reports it")
        return self

    @property
    def n_samples(self) -> int:
        """Number of samples of each channel."""
        return len(self.time_s)

    def to_frame(self) -> pd.DataFrame:
        """The samples as a tidy table: ``region``, ``time_s``, ``signal``, ``control``, extras."""
        columns = {"time_s": self.time_s, "signal": self.signal, "control": self.control}
        frame = pd.DataFrame({**columns, **self.extra})
        frame.insert(0, "region", self.region)
        return frame


# --------------------------------------------------------------------------------------------
# Config handling
# --------------------------------------------------------------------------------------------


def with_defaults(
    config: Mapping[str, Any] | None, defaults: Mapping[str, Any], reader: str
) -> dict[str, Any]:
    """The config merged over the reader's defaults; a key the reader does not know is an error.

    Misspelt keys are the commonest config mistake, and silently ignoring one (``contol_column``)
    would read the wrong channel, so every reader rejects unknown keys and lists the allowed ones.
    """
    config = dict(config or {})
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ConfigError(
            f"{reader} config: unknown key '{unknown[0]}' — allowed keys: {', '.join(defaults)}"
        )
    return {**defaults, **config}


def closest_hint(name: str, candidates: Sequence[str]) -> str:
    """``"; closest: 'Region0G'"`` when a candidate looks like a misspelt ``name`` (difflib
    ratio >= 0.6, case ignored), else empty: the fix a user needs for a typo in a column name."""
    lowered = {str(c).lower(): str(c) for c in candidates if c}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"; closest: '{lowered[found[0]]}'" if found else ""


def time_unit_factor(unit: str, reader: str) -> float:
    """Seconds per unit of a file's time column (``s``, ``ms``, ``us``, ``min``)."""
    if unit not in TIME_UNITS:
        raise ConfigError(
            f"{reader} config: time_unit '{unit}' is not one of {', '.join(TIME_UNITS)}"
        )
    return TIME_UNITS[unit]


def check_alignment(how: str, reader: str) -> str:
    """Validate a ``control_alignment`` config value."""
    if how not in CONTROL_ALIGNMENTS:
        raise ConfigError(
            f"{reader} config: control_alignment '{how}' is not one of "
            f"{', '.join(CONTROL_ALIGNMENTS)}"
        )
    return how


def saturation_limits(value: Any, reader: str) -> dict[str, tuple[float, float]]:
    """Normalise a ``saturation`` config value to ``{channel: (low, high)}``.

    Accepts ``None`` (no check), one number (upper limit of every channel), ``[low, high]``, or a
    mapping ``{"signal": ..., "control": ...}`` of those.
    """

    def one(spec: Any) -> tuple[float, float]:
        if spec is None:
            return (-np.inf, np.inf)
        if isinstance(spec, int | float):
            return (-np.inf, float(spec))
        if isinstance(spec, list | tuple) and len(spec) == 2:
            low, high = spec
            return (
                -np.inf if low is None else float(low),
                np.inf if high is None else float(high),
            )
        raise ConfigError(
            f"{reader} config: saturation '{spec}' must be a number, [low, high] or null"
        )

    if isinstance(value, Mapping):
        return {channel: one(value.get(channel)) for channel in ("signal", "control")}
    return {channel: one(value) for channel in ("signal", "control")}


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


_EMPTY_EVENTS = pd.DataFrame(
    {
        "name": pd.Series(dtype=object),
        "time_s": pd.Series(dtype=float),
        "duration_s": pd.Series(dtype=float),
        "source": pd.Series(dtype=object),
    }
)

_EMPTY_ANOMALIES = pd.DataFrame(
    {
        "kind": pd.Series(dtype=object),
        "channel": pd.Series(dtype=object),
        "sample": pd.array([], dtype="Int64"),
        "time_s": pd.Series(dtype=float),
        "line": pd.array([], dtype="Int64"),
        "detail": pd.Series(dtype=object),
    }
)


def empty_events() -> pd.DataFrame:
    """An events table with no rows and the right dtypes (a copy of one built once: a reader
    makes a dozen empty tables per file, and building a DataFrame costs more than reading a
    small file)."""
    return _EMPTY_EVENTS.copy()


def empty_anomalies() -> pd.DataFrame:
    """An anomaly table with no rows and the right dtypes (a copy of one built once)."""
    return _EMPTY_ANOMALIES.copy()


def anomaly_table(
    kind: str,
    channel: str,
    sample: Any,
    time_s: Any,
    line: Any,
    detail: Any,
) -> pd.DataFrame:
    """Build anomaly rows from arrays (scalars broadcast); ``sample``/``line`` may hold None."""
    if np.ndim(sample) and len(sample) == 0:
        return empty_anomalies()
    sample = pd.array(np.atleast_1d(np.asarray(sample, dtype=object)), dtype="Int64")
    n = len(sample)
    line_values = np.broadcast_to(np.asarray(line, dtype=object), (n,)) if n else []
    return pd.DataFrame(
        {
            "kind": pd.Series([kind] * n, dtype=object),
            "channel": pd.Series([channel] * n, dtype=object),
            "sample": sample,
            "time_s": np.broadcast_to(np.asarray(time_s, dtype=float), (n,)).copy(),
            "line": pd.array(list(line_values), dtype="Int64"),
            "detail": pd.Series(np.broadcast_to(np.asarray(detail, dtype=object), (n,))),
        }
    )


def concat_anomalies(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack anomaly tables, ordered by sample then kind (stable, reproducible)."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return empty_anomalies()
    stacked = pd.concat(tables, ignore_index=True)
    order = np.lexsort((stacked["kind"].to_numpy(str), stacked["sample"].fillna(-1).to_numpy()))
    return stacked.iloc[order].reset_index(drop=True)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of every run of True in a boolean array."""
    flags = np.asarray(mask, dtype=bool)
    if not flags.any():
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    edges = np.diff(flags.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    return starts, np.flatnonzero(edges == -1) - starts


def strictly_increasing(values: np.ndarray, block: int = 1 << 16) -> bool:
    """Whether every element is greater than the one before (False at a NaN), compared block by
    block: the comparison of an hour at 1 kHz stays in the cache, with no array of its size."""
    flags = np.empty(min(block, max(len(values) - 1, 0)), dtype=bool)
    for start in range(0, len(values) - 1, block):
        stop = min(start + block, len(values) - 1)
        step = flags[: stop - start]
        np.greater(values[start + 1 : stop + 1], values[start:stop], out=step)
        if not step.all():
            return False
    return True


def as_index(rows: np.ndarray) -> np.ndarray | slice:
    """Sorted unique row indices as a slice when they are contiguous (a view, not a copy)."""
    rows = np.asarray(rows)
    if rows.size and rows[-1] - rows[0] + 1 == rows.size:
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


# --------------------------------------------------------------------------------------------
# Interleaved channels
# --------------------------------------------------------------------------------------------


def align_control(
    signal_pos: np.ndarray,
    signal_t: np.ndarray,
    control_pos: np.ndarray,
    control_t: np.ndarray,
    control: np.ndarray,
    how: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Place an interleaved control on the signal's samples.

    ``*_pos`` are the samples' positions in acquisition order (frame or row numbers; times when
    both are regular), strictly increasing. Each signal sample is bracketed by the last control
    sample before it and the first after it, by position — so a timestamp that jumps back does not
    scramble the pairing. ``how``:

    - ``interpolate``: c(t_s) = c_prev + (c_next - c_prev)(t_s - t_prev)/(t_next - t_prev); NaN
      where the bracketing timestamps do not increase (already reported as a time anomaly);
    - ``previous`` / ``next``: the value of the bracketing control sample on that side.

    Returns ``(keep, values)``: ``keep`` marks signal samples that have the needed control
    neighbour(s); ``values`` are the control values for the kept samples.
    """
    signal_pos = np.asarray(signal_pos)
    control_pos = np.asarray(control_pos)
    previous = np.searchsorted(control_pos, signal_pos, side="right") - 1
    following = np.searchsorted(control_pos, signal_pos, side="left")
    # a control sample at the very position of the signal sample (simultaneous) is both neighbours
    same = (following < len(control_pos)) & (
        control_pos[np.minimum(following, len(control_pos) - 1)] == signal_pos
    )
    following = np.where(same, following, previous + 1)
    if how == "previous":
        keep = previous >= 0
        return keep, control[previous[keep]]
    if how == "next":
        keep = following < len(control_pos)
        return keep, control[following[keep]]
    keep = (previous >= 0) & (following < len(control_pos))
    lo, hi = previous[keep], following[keep]
    t_lo, t_hi = control_t[lo], control_t[hi]
    span = t_hi - t_lo
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(span > 0, (signal_t[keep] - t_lo) / span, 0.0)
    values = control[lo] + weight * (control[hi] - control[lo])
    bad = (span < 0) | (weight < 0) | (weight > 1) | ((span == 0) & (lo != hi))
    return keep, np.where(bad, np.nan, values)


def sample_mapper(signal_pos: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Map acquisition positions (frames, rows) to the first tidy sample at or after them."""
    signal_pos = np.asarray(signal_pos)
    last = max(len(signal_pos) - 1, 0)
    return lambda rows: np.minimum(np.searchsorted(signal_pos, np.asarray(rows)), last)


def median_rate(time_s: np.ndarray) -> float:
    """1 / median positive interval: the nominal rate of a timestamped channel."""
    step = np.diff(np.asarray(time_s, dtype=float))
    positive = step > 0
    if not positive.all():  # the usual strictly increasing time needs no copy
        step = step[positive]
    return float(1.0 / np.median(step, overwrite_input=True)) if step.size else np.nan


def advise_read_once(fd: int, offset: int = 0, size: int = 0) -> None:
    """Tell the kernel that ``size`` bytes from ``offset`` (0: to the end) of the open file
    ``fd`` are read once from start to end, and soon: it starts reading all of them from the
    disk at once, in the background, while the first parts are decoded or parsed (about a tenth
    off a cold read of an hour-long recording), where the platform has ``posix_fadvise``."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):  # e.g. a file system that does not support it
            os.posix_fadvise(fd, offset, size, os.POSIX_FADV_SEQUENTIAL)
            os.posix_fadvise(fd, offset, size, os.POSIX_FADV_WILLNEED)
