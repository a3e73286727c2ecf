"""Photometry across the study: every recording's tables together, then the statistics.

* :func:`combine_sessions` stacks the sessions (:mod:`exneuro.photometry.recording`), applies the
  QC thresholds and the config's exclusions (flagged, never deleted), and keeps the reasons.
* :func:`photometry_statistics` tests the window metrics (group × day) and the waveforms
  (across mice: each group against its pre-event baseline, each group against control).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from exneuro.errors import InputDataError
from exneuro.model_factors import declared_factors
from exneuro.photometry.aligned_traces import AlignedTraces
from exneuro.photometry.epoch_stats import epoch_statistics
from exneuro.photometry.peri_event import group_waveform_test, waveform_test
from exneuro.photometry.qc import qc_flags
from exneuro.stats.table import concat_stats, format_n_by_group, stats_frame, subset_label

#: Fewest mice whose waveforms are tested (bootstrap CIs and permutations need 3).
MIN_MICE_PER_WAVEFORM = 3
#: Columns of the aligned table the waveform tests read.
WAVEFORM_READ = ["mouse", "group", "day", "time_s", "value", "included"]
#: Columns of the per-bin waveform summary (:func:`waveform_statistics`).
WAVEFORM_COLUMNS = [
    "event",
    "day",
    "group",
    "lag_s",
    "mean",
    "ci_low",
    "ci_high",
    "p",
    "significant",
]


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


def waveform_test_rows(
    aligned: AlignedTraces | pd.DataFrame, peri: Mapping[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows of ``aligned`` that :func:`waveform_statistics` tests, read alone: the included
    sessions' ``peri['column']`` around ``peri['events']`` on the tested days; and ``peri``
    with those days (default the last day with an included row of the column, the day
    :func:`waveform_statistics` would take from the whole table)."""
    aligned = aligned if isinstance(aligned, AlignedTraces) else AlignedTraces(aligned)
    days = peri["days"] or aligned.days(peri["column"])[-1:]
    tested = aligned.read(peri["events"], peri["column"], days, WAVEFORM_READ)
    return tested, {**peri, "days": days}


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
    # no group with enough mice: the rows say "not tested", the tables keep their columns
    summary = (
        pd.concat(summaries, ignore_index=True)
        if summaries
        else pd.DataFrame(columns=WAVEFORM_COLUMNS)
    )
    intervals = (
        pd.concat(spans, ignore_index=True)
        if spans
        else pd.DataFrame(columns=["event", "day", "group", "start_s", "end_s"])
    )
    first = ["event", "day", "group"]
    return (
        summary[first + [c for c in summary.columns if c not in first]],
        intervals[first + [c for c in intervals.columns if c not in first]],
        stats_frame(rows),
    )


def photometry_statistics(
    metrics: pd.DataFrame,
    aligned: AlignedTraces | pd.DataFrame,
    cohort: Mapping[str, Any],
    statistics: Mapping[str, Any],
    peri: Mapping[str, Any],
    sheet: pd.DataFrame | None = None,
    sheet_path: str = "the sample sheet",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Window metrics (group × day; :func:`~exneuro.photometry.epochs.epoch_statistics`, with
    the cohort's or the section's ``model_factors`` from ``sheet``) and waveforms
    (:func:`waveform_statistics`) of the included sessions: statistics rows, the waveform
    summary and the significant intervals. Of ``aligned`` only the tested rows are read: the
    included sessions' ``peri['column']`` around ``peri['events']`` on the tested days (default
    the last day of that column)."""
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
        declared_factors(cohort, statistics),
        sheet,
        sheet_path,
    )
    tested, peri = waveform_test_rows(aligned, peri)
    summary, intervals, waveform_rows = waveform_statistics(
        tested, cohort["control_group"], peri, context
    )
    return concat_stats([table, waveform_rows]), summary, intervals
