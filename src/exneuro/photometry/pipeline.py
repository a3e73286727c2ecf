"""Photometry from the recordings sheet to the study's tables: one session at a time, then all.

* :func:`load_session` reads one row's raw file with its format's reader, picks the fibre and
  finds the run: the sheet's typed times when filled, else the recording's run event (a TTL
  high while running).
* :func:`process_session` runs the preprocessing chain (:mod:`exneuro.photometry.preprocess`)
  with the baseline window placed relative to the run, the window metrics
  (:mod:`exneuro.photometry.epochs`), the binned trace on the run-onset grid and the
  per-session peri-event waveforms (trial mean, per-trial baseline subtracted).
* :func:`combine_sessions` stacks the sessions, applies the QC thresholds and the config's
  exclusions (flagged, never deleted), and keeps the reasons.
* :func:`photometry_statistics` tests the window metrics (group × day) and the waveforms
  (across mice: each group against its pre-event baseline, each group against control).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from exneuro.errors import InputDataError, data_error
from exneuro.photometry.epochs import epoch_metrics, epoch_statistics, resolve_windows
from exneuro.photometry.peri_event import (
    binned_trace,
    group_waveform_test,
    waveform_test,
)
from exneuro.photometry.preprocess import preprocess_session, qc_flags
from exneuro.photometry.readers import Recording, read_photometry
from exneuro.stats.table import concat_stats, format_n_by_group, stats_frame, subset_label

#: Events a peri-event alignment can name besides the recording's own events.
RUN_EVENTS = ("onset", "offset")

#: Tables :func:`process_session` returns, each written as ``<name>.parquet`` in the session's
#: folder.
SESSION_TABLES = ("trace", "metrics", "qc", "anomalies", "aligned")

#: Fewest mice whose waveforms are tested (bootstrap CIs and permutations need 3).
MIN_MICE_PER_WAVEFORM = 3


def load_session(
    row: Mapping[str, Any], readers: Mapping[str, Any], run_event: str
) -> tuple[Recording, float, float, str]:
    """Read one session; return the recording, run onset and offset (s) and where they came from.

    ``row``: a row of :func:`exneuro.photometry.sessions.read_recordings` (run times NaN or None
    when the recording's run event marks the run). ``readers``: the config's reader settings by
    format.
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
) -> pd.DataFrame:
    """The binned trace on the run-onset grid, and the session's mean peri-event waveforms.

    Both are bin means on a grid of fixed lags, so that sessions of any rate or clock line up;
    each trial's mean over the peri-event ``baseline_s`` bins is subtracted before the trials
    are averaged.
    """
    t = trace["time_s"].to_numpy()
    frames = []
    grid = (float(traces["start_s"]), float(traces["end_s"]))
    for column in ("dff", "z"):
        binned = binned_trace(t, trace[column].to_numpy(), onset, traces["bin_s"], grid)
        frames.append(binned.assign(alignment="run_onset", column=column, n_trials=1))
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


def process_session(
    recording: Recording,
    onset: float,
    offset: float,
    settings: Mapping[str, Any],
    identity: Mapping[str, Any],
) -> dict[str, pd.DataFrame]:
    """Preprocess one session and measure it.

    ``settings``: the config's photometry section (``preprocessing``, ``baseline_window``,
    ``windows``, ``traces``, ``peri_event``). ``identity``: columns put on every table
    (``session``, ``mouse``, ``group``, ``day``). Returns ``trace`` (processed samples),
    ``metrics`` (window metrics, tidy), ``qc`` (one row: QC metrics, run times and their
    source, anomaly counts), ``anomalies`` (the reader's) and ``aligned`` (binned trace and
    peri-event waveforms).
    """
    baseline = settings["baseline_window"]
    bounds = resolve_windows([{"name": "baseline", **baseline}], onset, offset).iloc[0]
    trace, qc = preprocess_session(
        recording.time_s,
        recording.signal,
        recording.control,
        recording.fs_hz,
        settings["preprocessing"],
        (float(bounds["start_s"]), float(bounds["end_s"])),
    )
    metrics = epoch_metrics(trace, onset, offset, settings["windows"])
    aligned = _aligned(
        trace,
        onset,
        offset,
        recording.events,
        settings["traces"],
        settings["peri_event"],
    )
    anomalies = recording.anomalies.copy()
    counts = anomalies["kind"].value_counts().to_dict() if len(anomalies) else {}
    qc_row = {
        **identity,
        "run_onset_s": onset,
        "run_offset_s": offset,
        **qc,
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
        "aligned": tag(aligned),
    }


def combine_sessions(
    qc: pd.DataFrame,
    metrics: pd.DataFrame,
    aligned: pd.DataFrame,
    thresholds: Mapping[str, Any],
    exclude_sessions: Sequence[Mapping[str, Any]],
    excluded_mice: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Flag QC failures and apply the config's exclusions; nothing is deleted.

    ``thresholds``: the config's ``qc`` (``exclude_failed`` plus the :func:`qc_flags`
    thresholds). ``exclude_sessions``: ``{mouse, day, reason}`` entries; a listed session that
    does not exist is an error (a typo would otherwise silently keep it). ``excluded_mice``:
    mouse → reason from the sample sheet. Adds ``included`` and ``exclusion_reason`` to the QC
    table, and ``included`` to the metrics and aligned tables.
    """
    limits = {k: v for k, v in thresholds.items() if k != "exclude_failed"}
    flagged = qc_flags(qc, limits)
    reasons = pd.Series("", index=flagged.index, dtype=object)
    keys = list(zip(flagged["mouse"], flagged["day"], strict=True))
    for entry in exclude_sessions:
        key = (str(entry["mouse"]), int(entry["day"]))
        if key not in keys:
            raise InputDataError(
                f"photometry.exclude_sessions lists mouse {key[0]} day {key[1]}, which has no "
                "recording in the recordings sheet; fix the entry"
            )
        reasons[keys.index(key)] = f"config: {entry['reason']}"
    for mouse, reason in (excluded_mice or {}).items():
        reasons[flagged["mouse"] == mouse] = f"sample sheet: {reason}"
    if thresholds.get("exclude_failed"):
        failed = ~flagged["qc_pass"] & (reasons == "")
        reasons[failed] = "QC: " + flagged.loc[failed, "qc_reasons"]
    flagged["exclusion_reason"] = reasons
    flagged["included"] = reasons == ""
    included = dict(zip(flagged["session"], flagged["included"], strict=True))
    return {
        "qc": flagged,
        "metrics": metrics.assign(included=metrics["session"].map(included)),
        "aligned": aligned.assign(included=aligned["session"].map(included)),
    }


def _waveform_rows(
    name: str,
    intervals: pd.DataFrame,
    n_by_group: Mapping[str, int],
    peri: Mapping[str, Any],
    subset: str,
) -> dict[str, Any]:
    """One statistics-table row of a waveform test: where it is significant goes in ``notes``."""
    spans = "; ".join(
        f"{a:g} to {b:g} s" for a, b in zip(intervals["start_s"], intervals["end_s"], strict=True)
    )
    test = "sign-flip permutation" if peri["method"] == "permutation" else "bootstrap CI"
    return {
        "analysis": "photometry",
        "outcome": f"peri_event_{peri['column']}",
        "subset": subset,
        "test": f"waveform_{peri['method']}",
        "model": f"{test} per {peri['bin_s']:g} s bin across mice",
        "term": name,
        "ci_level": 1 - peri["alpha"],
        "n_mice": int(sum(n_by_group.values())),
        "n_by_group": format_n_by_group(dict(n_by_group)),
        "correction": f"consecutive-bins threshold {peri['min_duration_s']:g} s",
        "notes": f"significant: {spans}" if spans else "no significant interval",
    }


def waveform_statistics(
    aligned: pd.DataFrame, control: str, peri: Mapping[str, Any], context: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Tests of the per-mouse peri-event waveforms of the included sessions.

    For each event and tested day (default the last): each group's mean against 0 (its
    pre-event baseline was subtracted) and each group against ``control``
    (:func:`~exneuro.photometry.peri_event.waveform_test`,
    :func:`~exneuro.photometry.peri_event.group_waveform_test`). Returns the per-bin summary
    (``event``, ``day``, ``group``/comparison, ``lag_s``, mean, CI, p, significant), the
    significant intervals and statistics-table rows.
    """
    data = aligned[aligned["included"] & (aligned["column"] == peri["column"])]
    days = peri["days"] or [int(data["day"].max())]
    fs = 1.0 / peri["bin_s"]
    options = dict(
        method=peri["method"],
        alpha=peri["alpha"],
        min_duration_s=peri["min_duration_s"],
        n_boot=peri["n_boot"],
        n_perm=peri["n_perm"],
    )
    summaries, spans, rows = [], [], []
    for event in peri["events"]:
        for day in days:
            part = data[(data["alignment"] == event) & (data["day"] == day)]
            if part.empty:
                raise InputDataError(f"no included session of day {day} has event '{event}'")
            wide = part.pivot_table(index=["group", "mouse"], columns="time_s", values="value")
            wide = wide.dropna(axis=0, how="any")
            lags = wide.columns.to_numpy(float)
            groups = list(dict.fromkeys(wide.index.get_level_values("group")))
            matrices = {g: wide.xs(g, level="group").to_numpy() for g in groups}
            counts = {g: len(m) for g, m in matrices.items()}
            label = subset_label(**context, event=event, day=day)
            tested = [g for g in groups if counts[g] >= MIN_MICE_PER_WAVEFORM]
            tests = [
                (g, waveform_test(matrices[g], lags, fs, seed=peri["seed"], **options), [g])
                for g in tested
            ]
            for g in tested if control in tested else []:
                if g != control:
                    result = group_waveform_test(
                        matrices[g], matrices[control], lags, fs, seed=peri["seed"], **options
                    )
                    tests.append((f"{g} - {control}", result, [g, control]))
            for name, (table, intervals), members in tests:
                key = {"event": event, "day": day, "group": name}
                summaries.append(table.assign(**key))
                spans.append(intervals.assign(**key))
                n = {g: counts[g] for g in members}
                rows.append(_waveform_rows(name, intervals, n, peri, label))
            for g in sorted(set(groups) - set(tested)):
                none = pd.DataFrame({"start_s": [], "end_s": []})
                row = _waveform_rows(g, none, {g: counts[g]}, peri, label)
                row["notes"] = (
                    f"not tested: {counts[g]} mouse/mice, fewer than {MIN_MICE_PER_WAVEFORM}"
                )
                rows.append(row)
    if not summaries:
        raise InputDataError(
            f"no group has {MIN_MICE_PER_WAVEFORM} included mice with a complete waveform on the "
            "tested day(s); set photometry.peri_event.days or record more mice"
        )
    summary = pd.concat(summaries, ignore_index=True)
    intervals = pd.concat(spans, ignore_index=True)
    first = ["event", "day", "group"]
    return (
        summary[first + [c for c in summary.columns if c not in first]],
        intervals[first + [c for c in intervals.columns if c not in first]],
        stats_frame(rows),
    )


def photometry_statistics(
    metrics: pd.DataFrame,
    aligned: pd.DataFrame,
    cohort: Mapping[str, Any],
    statistics: Mapping[str, Any],
    peri: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Window metrics (group × day; :func:`~exneuro.photometry.epochs.epoch_statistics`) and
    waveforms (:func:`waveform_statistics`) of the included sessions: statistics rows, the
    waveform summary and the significant intervals."""
    context = {"cohort": cohort["id"]}
    table = epoch_statistics(
        metrics[metrics["included"]],
        cohort["control_group"],
        statistics["metrics"],
        statistics["windows"],
        statistics["correction"],
        statistics["ci_level"],
        statistics["family"],
        statistics["anova"],
        statistics["sphericity_correction"],
        context,
    )
    summary, intervals, waveform_rows = waveform_statistics(
        aligned, cohort["control_group"], peri, context
    )
    return concat_stats([table, waveform_rows]), summary, intervals
