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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
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
        if not np.isfinite(self.time_s).all():
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
        steps_back = np.diff(self.time_s) <= 0
        reported = self.anomalies["kind"].isin({"time_backwards", "duplicate_timestamp"}).any()
        if steps_back.any() and not reported:
            first = int(np.argmax(steps_back)) + 1
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


def empty_events() -> pd.DataFrame:
    """An events table with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "name": pd.Series(dtype=object),
            "time_s": pd.Series(dtype=float),
            "duration_s": pd.Series(dtype=float),
            "source": pd.Series(dtype=object),
        }
    )


def empty_anomalies() -> pd.DataFrame:
    """An anomaly table with no rows and the right dtypes."""
    return anomaly_table("gap", "time", [], [], [], [])


def anomaly_table(
    kind: str,
    channel: str,
    sample: Any,
    time_s: Any,
    line: Any,
    detail: Any,
) -> pd.DataFrame:
    """Build anomaly rows from arrays (scalars broadcast); ``sample``/``line`` may hold None."""
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


def as_index(rows: np.ndarray) -> np.ndarray | slice:
    """Sorted unique row indices as a slice when they are contiguous (a view, not a copy)."""
    rows = np.asarray(rows)
    if rows.size and rows[-1] - rows[0] + 1 == rows.size:
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _fmt(values: np.ndarray, spec: str = ".6g") -> list[str]:
    return [format(float(v), spec) for v in values]


def _lines_at(lines: np.ndarray | None, rows: np.ndarray) -> Any:
    return [None] * len(rows) if lines is None else lines[rows]


# --------------------------------------------------------------------------------------------
# Anomaly detection
# --------------------------------------------------------------------------------------------


def timing_anomalies(
    time_s: np.ndarray,
    gap_factor: float,
    *,
    lines: np.ndarray | None = None,
    sample_of: Callable[[np.ndarray], np.ndarray] | None = None,
    skip_gaps_at: np.ndarray | None = None,
    channel: str = "time",
) -> pd.DataFrame:
    """Backwards timestamps, duplicated timestamps and gaps in a sequence of timestamps.

    ``time_s`` are the timestamps in file order (frames for camera systems, rows for tables). A gap
    is an interval longer than ``gap_factor`` x the median of the positive intervals; a dropped
    single sample doubles the interval, so the default factor 1.5 catches it. ``sample_of`` maps
    positions in ``time_s`` to indices of the tidy arrays (identity by default); ``lines`` gives
    the file line of each position; ``skip_gaps_at`` lists positions whose gap is already
    explained (a frame-counter jump reported as dropped frames).
    """
    t = np.asarray(time_s, dtype=float)
    if len(t) < 2:
        return empty_anomalies()
    to_sample = sample_of or (lambda rows: rows)
    step = np.diff(t)
    positive = step[step > 0]
    median = float(np.median(positive)) if positive.size else np.nan
    tables = []

    back = np.flatnonzero(step < 0) + 1
    if back.size:
        details = [
            f"time goes back by {d} s (from {a} to {b} s)"
            for d, a, b in zip(_fmt(-step[back - 1]), _fmt(t[back - 1]), _fmt(t[back]), strict=True)
        ]
        tables.append(
            anomaly_table(
                "time_backwards", channel, to_sample(back), t[back], _lines_at(lines, back), details
            )
        )

    starts, lengths = runs(step == 0)
    if starts.size:
        rows = starts + 1
        details = [
            f"{n + 1} consecutive samples share the time {v} s"
            for n, v in zip(lengths, _fmt(t[rows]), strict=True)
        ]
        tables.append(
            anomaly_table(
                "duplicate_timestamp",
                channel,
                to_sample(rows),
                t[rows],
                _lines_at(lines, rows),
                details,
            )
        )

    if np.isfinite(median):
        gaps = np.flatnonzero(step > gap_factor * median) + 1
        if skip_gaps_at is not None and gaps.size:
            gaps = np.setdiff1d(gaps, skip_gaps_at)
        if gaps.size:
            sizes = step[gaps - 1]
            details = [
                f"gap of {d} s ({r} x the median interval {m} s) after {a} s"
                for d, r, m, a in zip(
                    _fmt(sizes),
                    _fmt(sizes / median, ".3g"),
                    _fmt(np.full(gaps.size, median)),
                    _fmt(t[gaps - 1]),
                    strict=True,
                )
            ]
            tables.append(
                anomaly_table(
                    "gap", channel, to_sample(gaps), t[gaps], _lines_at(lines, gaps), details
                )
            )
    return concat_anomalies(tables)


def saturation_anomalies(
    values: np.ndarray,
    limits: tuple[float, float],
    channel: str,
    time_s: np.ndarray,
    *,
    lines: np.ndarray | None = None,
    units: str = "",
) -> pd.DataFrame:
    """Runs of samples at or beyond the ADC/camera limit ``(low, high)``: one row per run."""
    low, high = limits
    if not (np.isfinite(low) or np.isfinite(high)):
        return empty_anomalies()
    v = np.asarray(values, dtype=float)
    starts, lengths = runs((v >= high) | (v <= low))
    if not starts.size:
        return empty_anomalies()
    peak = np.maximum.reduceat(np.where(np.isfinite(v), v, -np.inf), starts)
    trough = np.minimum.reduceat(np.where(np.isfinite(v), v, np.inf), starts)
    if np.isfinite(low) and np.isfinite(high):
        limit = f"outside the range {low:g} to {high:g} {units}"
    elif np.isfinite(high):
        limit = f"at or above the limit {high:g} {units}"
    else:
        limit = f"at or below the limit {low:g} {units}"
    details = [
        f"{n} sample(s) {limit.rstrip()} (from {lo:g} to {hi:g})"
        for n, lo, hi in zip(lengths, trough, peak, strict=True)
    ]
    return anomaly_table(
        "saturation", channel, starts, np.asarray(time_s)[starts], _lines_at(lines, starts), details
    )


def missing_anomalies(
    values: np.ndarray, channel: str, time_s: np.ndarray, *, lines: np.ndarray | None = None
) -> pd.DataFrame:
    """Runs of empty or non-finite values: reported, and left as NaN for the analysis to decide."""
    starts, lengths = runs(~np.isfinite(np.asarray(values, dtype=float)))
    if not starts.size:
        return empty_anomalies()
    details = [
        f"{n} missing value(s), kept as NaN (an empty cell, or a control that cannot be "
        "interpolated because the timestamps around it do not increase)"
        for n in lengths
    ]
    return anomaly_table(
        "missing_value",
        channel,
        starts,
        np.asarray(time_s)[starts],
        _lines_at(lines, starts),
        details,
    )


def frame_counter_anomalies(
    counter: np.ndarray,
    time_s: np.ndarray,
    *,
    lines: np.ndarray | None = None,
    sample_of: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Dropped frames (the frame counter jumps by more than 1) and counter repeats/resets.

    Returns the anomaly rows and the positions of the jumps, so that the gap they leave in the
    timestamps is not reported a second time.
    """
    c = np.asarray(counter, dtype=float)
    to_sample = sample_of or (lambda rows: rows)
    step = np.diff(c)
    jumps = np.flatnonzero(step > 1) + 1
    back = np.flatnonzero(step <= 0) + 1
    t = np.asarray(time_s, dtype=float)
    tables = [
        anomaly_table(
            "dropped_frames",
            "frames",
            to_sample(jumps),
            t[jumps],
            _lines_at(lines, jumps),
            [
                f"{int(n) - 1} frame(s) missing: the frame counter jumps from {int(a)} to {int(b)}"
                for n, a, b in zip(step[jumps - 1], c[jumps - 1], c[jumps], strict=True)
            ],
        ),
        anomaly_table(
            "frame_counter_error",
            "frames",
            to_sample(back),
            t[back],
            _lines_at(lines, back),
            [
                f"the frame counter goes from {int(a)} to {int(b)}"
                for a, b in zip(c[back - 1], c[back], strict=True)
            ],
        ),
    ]
    return concat_anomalies(tables), jumps


def channel_anomalies(
    signal: np.ndarray,
    control: np.ndarray,
    time_s: np.ndarray,
    limits: Mapping[str, tuple[float, float]],
    *,
    lines: np.ndarray | None = None,
    units: str = "",
) -> pd.DataFrame:
    """Saturation and missing values of both channels of a tidy recording."""
    tables = []
    for name, values in (("signal", signal), ("control", control)):
        tables.append(
            saturation_anomalies(values, limits[name], name, time_s, lines=lines, units=units)
        )
        tables.append(missing_anomalies(values, name, time_s, lines=lines))
    return concat_anomalies(tables)


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
    step = step[step > 0]
    return float(1.0 / np.median(step)) if step.size else np.nan


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


def ttl_events(
    time_s: np.ndarray,
    level: np.ndarray,
    name: str,
    *,
    threshold: float = 0.5,
    source: str = "",
) -> pd.DataFrame:
    """Rising edges of a digital (TTL) channel as events, with the pulse's high duration.

    A rising edge is the first sample at or above ``threshold`` after one below it (as
    pyPhotometry's ``pulse_inds``); ``duration_s`` runs to the next falling edge (NaN when the
    line is still high at the end). A line already high at the first sample has no known onset
    and gives no event.
    """
    t = np.asarray(time_s, dtype=float)
    level = np.asarray(level)
    if level.dtype == bool:
        high = level
    else:
        high = np.nan_to_num(level.astype(float), nan=-np.inf) >= threshold
    if len(high) < 2:
        return empty_events()
    rises = np.flatnonzero(~high[:-1] & high[1:]) + 1
    falls = np.flatnonzero(high[:-1] & ~high[1:]) + 1
    nxt = np.searchsorted(falls, rises)
    has_fall = nxt < len(falls)
    duration = np.full(len(rises), np.nan)
    duration[has_fall] = t[falls[nxt[has_fall]]] - t[rises[has_fall]]
    return pd.DataFrame(
        {"name": name, "time_s": t[rises], "duration_s": duration, "source": source},
        columns=list(EVENT_COLUMNS),
    ).astype({"name": object, "time_s": float, "duration_s": float, "source": object})


def make_events(name: Any, time_s: Any, duration_s: Any = np.nan, source: Any = "") -> pd.DataFrame:
    """An events table from arrays (scalars broadcast)."""
    t = np.atleast_1d(np.asarray(time_s, dtype=float))
    n = len(t)
    return pd.DataFrame(
        {
            "name": pd.Series(np.broadcast_to(np.asarray(name, dtype=object), (n,))),
            "time_s": t,
            "duration_s": np.broadcast_to(np.asarray(duration_s, dtype=float), (n,)).copy(),
            "source": pd.Series(np.broadcast_to(np.asarray(source, dtype=object), (n,))),
        }
    )


def concat_events(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack event tables, ordered by time then name."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return empty_events()
    stacked = pd.concat(tables, ignore_index=True)
    return stacked.sort_values(["time_s", "name"], kind="stable").reset_index(drop=True)


def events_from_table(
    table: pd.DataFrame | str | Path,
    *,
    onset_column: str,
    offset_column: str | None = None,
    name_column: str | None = None,
    name: str = "run",
    time_unit: str = "s",
    time_offset_s: float = 0.0,
) -> pd.DataFrame:
    """Events (e.g. treadmill run onset/offset) from a table the lab keeps beside the recording.

    ``table`` is a path (CSV/TSV/Excel, read as text so every bad cell is reported with its line)
    or an already-loaded table (the session log or the sample sheet). One event per row: time =
    onset x unit + ``time_offset_s`` (the table's zero on the recording's clock), duration =
    offset - onset when an offset column is given. The event name comes from ``name_column`` or
    is ``name``.
    """
    from exneuro.io import parse_numbers, read_lab_table, require_columns

    scale = time_unit_factor(time_unit, "events table")
    if isinstance(table, str | Path):
        where = str(table)
        frame = read_lab_table(table)
    else:
        where = "events table"
        frame = table.astype(object).where(table.notna(), "").astype(str)
        if "_line" not in frame:
            frame["_line"] = np.arange(len(frame)) + 2
    wanted = {"onset": onset_column}
    if offset_column:
        wanted["offset"] = offset_column
    if name_column:
        wanted["name"] = name_column
    require_columns(frame, wanted, where)
    onset = parse_numbers(frame, onset_column, where) * scale + time_offset_s
    duration = np.full(len(frame), np.nan)
    if offset_column:
        offset = parse_numbers(frame, offset_column, where, required=False) * scale + time_offset_s
        duration = offset - onset
        bad = duration < 0
        if bad.any():
            row = int(np.argmax(bad))
            raise data_error(
                where,
                f"offset {frame[offset_column].iloc[row]} is before onset "
                f"{frame[onset_column].iloc[row]}",
                "swap or correct the two times",
                line=int(frame["_line"].iloc[row]),
                column=offset_column,
            )
    names = frame[name_column].str.strip().to_numpy(object) if name_column else name
    return concat_events([make_events(names, onset, duration, where)])


def with_events(recording: Recording, events: pd.DataFrame) -> Recording:
    """The recording with more events; events outside its time span are reported as anomalies."""
    events = events.loc[:, list(EVENT_COLUMNS)]
    found = events_outside(
        events, recording.time_s, "check the time offset between the event log and the recording"
    )
    return replace(
        recording,
        events=concat_events([recording.events, events]),
        anomalies=concat_anomalies([recording.anomalies, found]),
    ).validate()


def events_outside(events: pd.DataFrame, time_s: np.ndarray, fix: str = "") -> pd.DataFrame:
    """Anomaly rows for events that fall outside the recorded time span."""
    if not len(events):
        return empty_anomalies()
    t0, t1 = float(np.min(time_s)), float(np.max(time_s))
    outside = events.loc[(events["time_s"] < t0) | (events["time_s"] > t1)]
    return anomaly_table(
        "event_outside_recording",
        "events",
        [None] * len(outside),
        outside["time_s"].to_numpy(float),
        None,
        [
            f"event '{n}' at {t:.6g} s is outside the recording ({t0:.6g}-{t1:.6g} s)"
            + (f": {fix}" if fix else "")
            for n, t in zip(outside["name"], outside["time_s"], strict=True)
        ],
    )
