"""One photometry recording, as its workflow job runs it: read it, preprocess it, measure it.

* :func:`load_session` reads one row's raw file with its format's reader, picks the fibre and
  finds the run: the sheet's typed times when filled, else the recording's run event (a TTL
  high while running).
* :func:`process_session` runs the preprocessing chain (:mod:`exneuro.photometry.preprocess`)
  with the baseline window placed relative to the run, the window metrics
  (:mod:`exneuro.photometry.epochs`), the binned trace on the run-onset grid and the
  per-session peri-event waveforms (trial mean, per-trial baseline subtracted).

The study-level steps are in :mod:`exneuro.photometry.pipeline`; this module does not import the
statistics engine, so each of thousands of recording jobs starts quickly.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from exneuro.errors import InputDataError, data_error
from exneuro.io import parse_numbers, read_lab_table, require_columns
from exneuro.photometry.epochs import (
    DEFAULT_MIN_COVERAGE,
    coverage_shortfalls,
    epoch_metrics,
    resolve_windows,
)
from exneuro.photometry.faults import FAULT_COLUMNS
from exneuro.photometry.peri_event import binned_trace
from exneuro.photometry.preprocess import preprocess_session
from exneuro.photometry.readers import Recording, read_photometry

#: Events a peri-event alignment can name besides the recording's own events.
RUN_EVENTS = ("onset", "offset")

#: Tables :func:`process_session` returns, each written as ``<name>.parquet`` in the session's
#: folder.
SESSION_TABLES = ("trace", "metrics", "qc", "anomalies", "faults", "aligned")


def read_event_table(path: str) -> pd.DataFrame:
    """Named event times from a session's events file (columns ``event`` and ``time_s``, on
    the recording's clock), in the recordings' event form."""
    table = read_lab_table(path)
    require_columns(table, {"event name": "event", "event time": "time_s"}, path)
    names = table["event"].str.strip()
    if (names == "").any():
        line = int(table.loc[names == "", "_line"].iloc[0])
        raise data_error(path, "empty event name", "name every event", line=line, column="event")
    return pd.DataFrame(
        {
            "name": names.to_numpy(),
            "time_s": parse_numbers(table, "time_s", path),
            "duration_s": np.nan,
            "source": f"{path} (events file)",
        }
    )


def typed_event_table(row: Mapping[str, Any], recording: Recording) -> pd.DataFrame:
    """The event times typed in the recordings sheet's row (``typed_events``: ``[name, time_s,
    column]``), in the recordings' event form. A time outside the recording (typed in minutes
    or milliseconds, or on another clock) is an error naming the sheet, line and column.
    """
    names, times, columns = (list(part) for part in zip(*row["typed_events"], strict=True))
    times = np.asarray(times, dtype=float)
    start, end = float(recording.time_s[0]), float(recording.time_s[-1])
    outside = np.flatnonzero((times < start) | (times > end))
    if outside.size:
        k = int(outside[0])
        raise data_error(
            row["sheet"],
            f"{names[k]} time {times[k]:g} s is outside the recording ({start:g} to {end:g} s)",
            "type times in seconds on the recording's clock",
            line=int(row["line"]),
            column=columns[k],
        )
    return pd.DataFrame(
        {
            "name": names,
            "time_s": times,
            "duration_s": np.nan,
            "source": f"{row['sheet']} line {row['line']} (typed)",
        }
    )


def load_session(
    row: Mapping[str, Any], readers: Mapping[str, Any], run_event: str | None
) -> tuple[Recording, float, float, str]:
    """Read one session; return the recording, run onset and offset (s) and where they came from.

    ``row``: a row of :func:`exneuro.photometry.recordings_sheet.read_recordings` (run times NaN
    or None when the recording's run event marks the run; an ``events_file`` and the times typed
    in the sheet, whose named events join the recording's own). ``readers``: the config's reader
    settings by format. ``run_event`` None: the sessions have no run (onset and offset NaN,
    source 'no run').
    """
    options = {}
    if row["ttl_file"]:
        if row["format"] != "neurophotometrics":
            raise data_error(
                row["file"], "a separate TTL file is read only for Neurophotometrics recordings"
            )
        options["ttl"] = {run_event: row["ttl_file"]}
    recordings = read_photometry(row["file"], row["format"], readers.get(row["format"]), **options)
    region = row["region"]
    if region:
        if region not in recordings:
            raise data_error(
                row["file"],
                f"no fibre region '{region}'",
                f"regions in the file: {', '.join(recordings)}; fix the sheet's region column",
            )
        recording = recordings[region]
    elif len(recordings) == 1:
        recording = next(iter(recordings.values()))
    else:
        raise data_error(
            row["file"],
            f"the file holds {len(recordings)} fibre regions ({', '.join(recordings)})",
            "name the region in the recordings sheet (one row per region)",
        )
    added = [read_event_table(row["events_file"])] if row.get("events_file") else []
    if row.get("typed_events"):
        added.append(typed_event_table(row, recording))
    if added:
        recording = replace(
            recording,
            events=pd.concat([recording.events, *added], ignore_index=True).sort_values(
                "time_s", kind="stable", ignore_index=True
            ),
        )
    if run_event is None:  # sessions without a run: whole-session metrics
        return recording, np.nan, np.nan, "no run"
    if row["run_onset_s"] is not None and np.isfinite(row["run_onset_s"]):
        return recording, float(row["run_onset_s"]), float(row["run_offset_s"]), "sheet"
    runs = recording.events[recording.events["name"] == run_event]
    runs = runs[np.isfinite(runs["duration_s"].to_numpy(float))]
    if len(runs) != 1:
        found = ", ".join(f"{t:.1f} s" for t in runs["time_s"]) or "none"
        raise data_error(
            row["file"],
            f"expected one '{run_event}' event with an end (the run), found {found}"
            + (
                f"; events in the file: {', '.join(sorted(set(recording.events['name'])))}"
                if len(recording.events)
                else ""
            ),
            f"fill run_onset_s and run_offset_s on line {row['line']} of the recordings sheet, "
            "or set photometry.run_event / the reader's event names",
        )
    onset = float(runs["time_s"].iloc[0])
    return recording, onset, onset + float(runs["duration_s"].iloc[0]), "recording"


def _peri_event_mean(
    t: np.ndarray, values: np.ndarray, times: np.ndarray, peri: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres (s from the event) and the mean over trials of the binned, baseline-
    subtracted trace around each of ``times`` (NaN everywhere when there is no trial)."""
    window = (float(peri["window_s"][0]), float(peri["window_s"][1]))
    n_bins = int(round((window[1] - window[0]) / peri["bin_s"]))
    lags = window[0] + (np.arange(n_bins) + 0.5) * peri["bin_s"]
    if not len(times):
        return lags, np.full(n_bins, np.nan)
    trials = np.array(
        [binned_trace(t, values, when, peri["bin_s"], window)["value"] for when in times]
    )
    in_baseline = (lags >= peri["baseline_s"][0]) & (lags < peri["baseline_s"][1])
    with warnings.catch_warnings():  # bins outside the recording stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        trials -= np.nanmean(trials[:, in_baseline], axis=1, keepdims=True)
        return lags, np.nanmean(trials, axis=0)


def _aligned(
    trace: pd.DataFrame,
    onset: float,
    offset: float,
    events: pd.DataFrame,
    traces: Mapping[str, Any],
    peri: Mapping[str, Any],
    session_span_s: tuple[float, float] = (np.nan, np.nan),
) -> pd.DataFrame:
    """The binned trace on the run-onset grid, and the session's mean peri-event waveforms.

    Both are bin means on a grid of fixed lags, so that sessions of any rate or clock line up;
    each trial's mean over the peri-event ``baseline_s`` bins is subtracted before the trials
    are averaged. A session without a run has, instead of the run-onset grid, its whole trace
    on a grid from the recording's first sample (``session_span_s``: its first and last sample
    time; alignment ``session``), in bins of ``traces.bin_s``.
    """
    t = trace["time_s"].to_numpy()
    frames = []
    if np.isfinite(onset):
        ref, grid, alignment = (
            onset,
            (float(traces["start_s"]), float(traces["end_s"])),
            "run_onset",
        )
    else:
        start, end = session_span_s
        n_bins = int(np.ceil((end - start) / traces["bin_s"]))
        ref, grid, alignment = start, (0.0, n_bins * float(traces["bin_s"])), "session"
    for column in ("dff", "z"):
        binned = binned_trace(t, trace[column].to_numpy(), ref, traces["bin_s"], grid)
        frames.append(binned.assign(alignment=alignment, column=column, n_trials=1))
    for event in peri["events"]:
        if event in RUN_EVENTS:
            times = np.array([onset if event == "onset" else offset])
        else:
            times = events.loc[events["name"] == event, "time_s"].to_numpy(float)
        for column in ("dff", "z"):
            lags, mean = _peri_event_mean(t, trace[column].to_numpy(), times, peri)
            frames.append(
                pd.DataFrame(
                    {"time_s": lags, "value": mean, "alignment": event, "column": column}
                ).assign(n_trials=len(times))
            )
    return pd.concat(frames, ignore_index=True)[
        ["alignment", "column", "time_s", "value", "n_trials"]
    ]


def excluded_segments(
    entries: Sequence[Mapping[str, Any]], identity: Mapping[str, Any]
) -> list[tuple[float, float]]:
    """The ``(start_s, end_s)`` of the config's excluded segments of this mouse and day."""
    return [
        (float(e["start_s"]), float(e["end_s"]))
        for e in entries
        if str(e["mouse"]) == str(identity.get("mouse")) and int(e["day"]) == identity.get("day")
    ]


def process_session(
    recording: Recording,
    onset: float,
    offset: float,
    settings: Mapping[str, Any],
    identity: Mapping[str, Any],
) -> dict[str, pd.DataFrame]:
    """Preprocess one session and measure it.

    ``settings``: the config's photometry section (``preprocessing``, ``baseline_window``,
    ``windows``, ``min_window_coverage``, ``traces``, ``peri_event``). ``onset``/``offset``
    NaN: the session has no run; its windows are relative to the session, plus the whole
    session (window ``session``). The configured windows need ``min_window_coverage``; the
    whole-session window is the recording itself and has no minimum. ``identity``: columns put
    on every table (``session``, ``mouse``, ``group``, ``day``). Returns ``trace`` (processed
    samples), ``metrics`` (window metrics, tidy), ``qc`` (one row: QC metrics, run times and
    their source, the smallest window coverage and the windows covered below the minimum, whose
    metrics are NaN; anomaly counts), ``anomalies`` (the reader's),
    ``faults`` (signal faults and excluded segments with their time spans,
    :mod:`exneuro.photometry.faults`) and ``aligned`` (binned trace and peri-event waveforms).
    ``settings["exclude_segments"]`` (optional): ``{mouse, day, start_s, end_s, reason}`` spans
    on the recording's clock left out of this session.
    """
    baseline = settings["baseline_window"]
    bounds = resolve_windows([{"name": "baseline", **baseline}], onset, offset).iloc[0]
    for channel in ("signal", "control"):
        values = getattr(recording, channel)
        if np.nanmin(values) == np.nanmax(values):  # no fluctuation: nothing to measure
            raise data_error(
                str(recording.metadata.get("source_file", "")),
                f"fibre '{recording.region}': the {channel} is {values[0]:g} in every sample "
                "(a saturated or unconnected detector)",
                "check the detector gain and LED power of this recording, and remove it from the "
                "recordings sheet",
            )
    try:
        trace, qc = preprocess_session(
            recording.time_s,
            recording.signal,
            recording.control,
            recording.fs_hz,
            settings["preprocessing"],
            (float(bounds["start_s"]), float(bounds["end_s"])),
            excluded_segments(settings.get("exclude_segments", ()), identity),
            recording.metadata,
        )
    except InputDataError as error:  # name the user's file: the chain knows only arrays
        source = str(recording.metadata.get("source_file", ""))
        if not source or str(error).startswith(source):
            raise
        raise data_error(source, str(error)) from None
    faults = pd.DataFrame(qc.pop("faults"), columns=FAULT_COLUMNS)
    min_coverage = float(settings.get("min_window_coverage", DEFAULT_MIN_COVERAGE))
    span = (float(recording.time_s[0]), float(recording.time_s[-1]))
    event_times = {
        str(name): part["time_s"].to_numpy(float)
        for name, part in recording.events.groupby("name", sort=True)
    }
    metrics = epoch_metrics(
        trace, onset, offset, settings["windows"], min_coverage=min_coverage, events=event_times
    )
    lowest_coverage, short_windows = coverage_shortfalls(metrics, min_coverage)
    if np.isnan(onset):  # no run: the whole session is a window of its own, whatever it covers
        whole = span[1] - span[0]
        session = [{"name": "session", "ref": "session", "start_s": 0.0, "end_s": whole}]
        metrics = pd.concat(
            [metrics, epoch_metrics(trace, onset, offset, session)], ignore_index=True
        )
    aligned = _aligned(
        trace,
        onset,
        offset,
        recording.events,
        settings["traces"],
        settings["peri_event"],
        span,
    )
    anomalies = recording.anomalies.copy()
    counts = anomalies["kind"].value_counts().to_dict() if len(anomalies) else {}
    qc_row = {
        **identity,
        "run_onset_s": onset,
        "run_offset_s": offset,
        **qc,
        "min_window_coverage": lowest_coverage,
        "low_coverage_windows": short_windows,
        "n_anomalies": int(len(anomalies)),
        "anomalies": "; ".join(f"{kind} x{n}" for kind, n in sorted(counts.items())),
        "source_file": str(recording.metadata.get("source_file", "")),
        "file_format": str(recording.metadata.get("format", "")),
    }

    def tag(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**identity)[[*identity, *frame.columns]]

    return {
        "trace": trace,
        "metrics": tag(metrics),
        "qc": pd.DataFrame([qc_row]),
        "anomalies": tag(anomalies),
        "faults": tag(faults),
        "aligned": tag(aligned),
    }
