"""Spontaneous EPSCs from an exported event table: one row per event, then per cell and as
pooled distributions.

One row per detected event (time, amplitude) from MiniAnalysis, Easy Electrophysiology,
Clampfit event detection or similar. Per cell: frequency = events / recording duration, median
and mean amplitude; inter-event intervals (IEI) within the cell. A cell can have no event at
all, so the recording duration of each cell should come from a separate table
(:func:`read_recording_durations`) — a cell absent from the event table then counts as 0 Hz
instead of disappearing.

**Pooled distributions** (:func:`pooled_distribution`): cumulative plots of IEI and amplitude
pool events over cells; pooling raw events lets a busy cell dominate, so every cell gives the
same number of values (its quantiles, :func:`exneuro.stats.pooling.equal_weight_pool`). A
Kolmogorov–Smirnov test on such pools still treats events as independent, so its p is
descriptive; the inference is on per-cell values with the mouse as unit (mixed model, mouse
means; :mod:`exneuro.cellular.ephys_stats`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from exneuro.cellular.ephys import (
    CellIds,
    check_cell_in_one_mouse,
    first_bad_line,
    mouse_cell_ids,
    reject_duplicate_rows,
)
from exneuro.errors import InputDataError, data_error
from exneuro.io import parse_numbers, read_lab_table, require_columns
from exneuro.lab_tables import mapped_columns
from exneuro.stats.pooling import equal_weight_pool

#: Columns of :func:`sepsc_per_cell`.
SEPSC_COLUMNS = [
    "mouse",
    "cell",
    "n_events",
    "recording_duration_s",
    "sepsc_frequency_hz",
    "sepsc_amplitude_median_pa",
    "sepsc_amplitude_mean_pa",
    "sepsc_iei_median_s",
]

_TIME_SCALE = {"s": 1.0, "ms": 1e-3}


def _durations_s(table: pd.DataFrame, column: str, path: str, scale: float) -> np.ndarray:
    """Recording durations in seconds; a duration of zero or less is an error naming its line."""
    duration = parse_numbers(table, column, path) * scale
    if not (duration > 0).all():
        raise data_error(
            path,
            "recording duration is not positive",
            "enter the length of the recording",
            line=first_bad_line(table, ~(duration > 0)),
            column=column,
        )
    return duration


def read_sepsc_events(
    path: str | Path,
    columns: Mapping[str, str],
    time_unit: Literal["s", "ms"] = "s",
    cell_ids: CellIds = "study",
) -> pd.DataFrame:
    """Read an sEPSC event table: one row per detected event.

    ``columns`` maps ``mouse``, ``cell``, ``time_s`` (event time from the start of the
    recording, in ``time_unit``) and ``amplitude_pa`` — and optionally ``recording_duration_s``,
    the cell's recording length repeated on each row (same unit) — to the lab's column names.

    Returns ``mouse``, ``cell``, ``time_s``, ``amplitude_pa`` (and ``recording_duration_s``),
    ``source_line``, sorted by cell and time. Amplitudes are magnitudes: sEPSCs are inward
    currents, and exports write them either as negative numbers (Easy Electrophysiology) or as
    positive magnitudes (MiniAnalysis); a table with only negative values is converted with
    ``abs``, a table mixing signs is an error (two conventions, or a detection artefact). Errors
    also for a negative time, an event after the end of its recording, one event listed twice,
    a duration that changes within a cell, and a cell under two mice.
    """
    path = str(path)
    table = read_lab_table(path, expected=mapped_columns(columns))
    if time_unit not in _TIME_SCALE:
        raise ValueError("time_unit must be 's' or 'ms'")
    required = {field: columns[field] for field in ("mouse", "cell", "time_s", "amplitude_pa")}
    duration_column = columns.get("recording_duration_s")
    if duration_column:
        required["recording_duration_s"] = duration_column
    require_columns(table, required, path)
    tidy = mouse_cell_ids(table, columns, path)
    scale = _TIME_SCALE[time_unit]
    tidy["time_s"] = parse_numbers(table, columns["time_s"], path) * scale
    amplitude = parse_numbers(table, columns["amplitude_pa"], path)
    negative_time = tidy["time_s"].to_numpy() < 0
    if negative_time.any():
        raise data_error(
            path,
            "negative event time",
            "event times run from the start of the recording",
            line=first_bad_line(table, negative_time),
            column=columns["time_s"],
        )
    if (amplitude < 0).any() and (amplitude > 0).any():
        positive_first = amplitude[0] > 0
        odd = amplitude < 0 if positive_first else amplitude > 0
        raise data_error(
            path,
            "amplitudes have both signs",
            "write every sEPSC amplitude with one convention (all negative inward currents or "
            "all positive magnitudes) and check the rows of the other sign",
            line=first_bad_line(table, odd),
            column=columns["amplitude_pa"],
        )
    tidy["amplitude_pa"] = np.abs(amplitude)
    if duration_column:
        tidy["recording_duration_s"] = _durations_s(table, duration_column, path, scale)
        varies = tidy.groupby(["mouse", "cell"])["recording_duration_s"].transform("nunique") > 1
        if varies.any():
            raise data_error(
                path,
                f"the recording duration of cell {tidy.loc[varies, 'cell'].iloc[0]} changes "
                "between its rows",
                "one recording length per cell",
                line=first_bad_line(table, varies.to_numpy()),
                column=duration_column,
            )
        late = tidy["time_s"] > tidy["recording_duration_s"]
        if late.any():
            raise data_error(
                path,
                "event after the end of the recording",
                f"check the time unit ({time_unit}) and the recording duration",
                line=first_bad_line(table, late.to_numpy()),
                column=columns["time_s"],
            )
    tidy["source_line"] = table["_line"].to_numpy()
    check_cell_in_one_mouse(tidy, path, columns, cell_ids)
    reject_duplicate_rows(
        tidy,
        ["mouse", "cell", "time_s"],
        path,
        "the same event is",
        "remove the repeated row (an event detected twice)",
    )
    tidy = tidy.sort_values(["mouse", "cell", "time_s"], kind="stable").reset_index(drop=True)
    tidy.attrs["source"] = path
    return tidy


def read_recording_durations(
    path: str | Path,
    columns: Mapping[str, str],
    time_unit: Literal["s", "ms"] = "s",
    cell_ids: CellIds = "study",
) -> pd.DataFrame:
    """Read the sEPSC recording length of every recorded cell: ``mouse``, ``cell``,
    ``recording_duration_s``. Listing every cell here, including cells without a single event,
    keeps silent cells in the frequency analysis (as 0 Hz)."""
    path = str(path)
    table = read_lab_table(path, expected=mapped_columns(columns))
    require_columns(table, columns, path)
    tidy = mouse_cell_ids(table, columns, path)
    column = columns["recording_duration_s"]
    tidy["recording_duration_s"] = _durations_s(table, column, path, _TIME_SCALE[time_unit])
    tidy["source_line"] = table["_line"].to_numpy()
    check_cell_in_one_mouse(tidy, path, columns, cell_ids)
    reject_duplicate_rows(tidy, ["mouse", "cell"], path, "the same cell is", "one row per cell")
    tidy = tidy.sort_values(["mouse", "cell"], kind="stable").reset_index(drop=True)
    tidy.attrs["source"] = path
    return tidy


def inter_event_intervals(events: pd.DataFrame) -> pd.DataFrame:
    """Inter-event intervals within each cell: ``mouse``, ``cell``, ``iei_s`` (and any other
    columns of the later event, e.g. ``group``). The first event of a cell has no interval;
    intervals never span two cells. Vectorized: one diff over the sorted table, masked at cell
    boundaries."""
    ordered = events.sort_values(["mouse", "cell", "time_s"], kind="stable")
    same_cell = (ordered["mouse"].to_numpy()[1:] == ordered["mouse"].to_numpy()[:-1]) & (
        ordered["cell"].to_numpy()[1:] == ordered["cell"].to_numpy()[:-1]
    )
    iei = np.diff(ordered["time_s"].to_numpy())
    later = ordered.iloc[1:][same_cell].copy()
    later["iei_s"] = iei[same_cell]
    keep = [c for c in later.columns if c not in ("time_s", "amplitude_pa", "source_line")]
    return later[keep].reset_index(drop=True)


def sepsc_per_cell(events: pd.DataFrame, durations: pd.DataFrame | None = None) -> pd.DataFrame:
    """sEPSC frequency and amplitude of every cell (:data:`SEPSC_COLUMNS`).

    ``frequency = n_events / recording_duration_s``; amplitude median and mean over the cell's
    events; median IEI. ``durations`` (:func:`read_recording_durations`) lists every recorded
    cell, so a cell without events gets 0 Hz (amplitudes NaN); without it the durations come from
    the events' ``recording_duration_s`` column and cells without events are unknown. A cell with
    events but no duration, or an event after the end of its cell's recording, is an error.
    """
    keys = ["mouse", "cell"]
    source = events.attrs.get("source", "the sEPSC event table")
    if durations is None:
        if "recording_duration_s" not in events.columns:
            raise data_error(
                source,
                "no recording durations",
                "map recording_duration_s to a column, or give a table of durations per cell",
            )
        durations = events.groupby(keys, as_index=False)["recording_duration_s"].first()
    durations = durations[[*keys, "recording_duration_s"]]
    counted = events.groupby(keys).agg(
        n_events=("time_s", "size"),
        sepsc_amplitude_median_pa=("amplitude_pa", "median"),
        sepsc_amplitude_mean_pa=("amplitude_pa", "mean"),
        last_event_s=("time_s", "max"),
    )
    iei = inter_event_intervals(events[[*keys, "time_s"]])
    counted["sepsc_iei_median_s"] = iei.groupby(keys)["iei_s"].median()
    merged = durations.merge(counted.reset_index(), on=keys, how="outer", indicator=True)
    orphan = merged[merged["_merge"] == "right_only"]
    if len(orphan):
        raise data_error(
            durations.attrs.get("source", source),
            f"cell {orphan['cell'].iloc[0]} (mouse {orphan['mouse'].iloc[0]}) has sEPSC events "
            "but no recording duration",
            "add the cell to the table of recording durations",
        )
    late = merged["last_event_s"] > merged["recording_duration_s"]
    if late.any():
        row = merged[late].iloc[0]
        raise data_error(
            source,
            f"cell {row['cell']} has an event at {row['last_event_s']:g} s, after the end of its "
            f"{row['recording_duration_s']:g} s recording",
            "check the time unit and the recording duration",
        )
    merged["n_events"] = merged["n_events"].fillna(0).astype(int)
    merged["sepsc_frequency_hz"] = merged["n_events"] / merged["recording_duration_s"]
    return merged.sort_values(keys, kind="stable").reset_index(drop=True)[SEPSC_COLUMNS]


def pooled_distribution(
    events: pd.DataFrame,
    value: str,
    group: str = "group",
    per_cell: int | None = None,
    min_values: int = 1,
) -> pd.DataFrame:
    """Equal-weight pool of one per-event value (``amplitude_pa``, ``iei_s``) for cumulative plots.

    Every cell contributes the same number of values — ``per_cell``, default the smallest count
    among the cells kept — as its quantiles at the probabilities (k - 0.5)/n
    (:func:`exneuro.stats.pooling.equal_weight_pool`, ``method="quantile"``: deterministic), so a
    cell with 500 events weighs as much as one with 40. Cells with fewer than ``min_values``
    values are left out (listed in ``attrs['dropped_cells']``).

    Returns ``group``, ``mouse``, ``cell``, ``value`` sorted by group and value, with the cumulative
    fraction ``ecdf`` within each group. A KS test of two such pools is descriptive: the values of
    one cell are not independent, and neither are cells of one mouse — test per-cell summaries
    with the mouse as the unit for inference.
    """
    needed = [group, "mouse", "cell", value]
    missing = [c for c in needed if c not in events.columns]
    if missing:
        raise KeyError(f"columns not found: {missing}")
    data = events.dropna(subset=[value])
    counts = data.groupby(["mouse", "cell"])[value].size()
    small = counts[counts < max(1, int(min_values))]
    keep = counts[counts >= max(1, int(min_values))].index
    data = data.set_index(["mouse", "cell"]).loc[keep].reset_index()
    if data.empty:
        raise InputDataError(f"no cell has at least {min_values} values of {value} to pool")
    unit = data["mouse"].astype(str) + "\x1f" + data["cell"].astype(str)
    pooled = equal_weight_pool(
        data[value].to_numpy(float), unit.to_numpy(), n_per_unit=per_cell, method="quantile"
    )
    first = data.assign(unit=unit).drop_duplicates("unit").set_index("unit")
    pooled[group] = first.loc[pooled["unit"], group].to_numpy()
    pooled["mouse"] = first.loc[pooled["unit"], "mouse"].to_numpy()
    pooled["cell"] = first.loc[pooled["unit"], "cell"].to_numpy()
    pooled = pooled.rename(columns={"value": value})[[group, "mouse", "cell", value]]
    pooled = pooled.sort_values([group, value], kind="stable").reset_index(drop=True)
    pooled["ecdf"] = (pooled.groupby(group).cumcount() + 1) / pooled.groupby(group)[
        value
    ].transform("size")
    pooled.attrs["per_cell"] = int(pooled.groupby(["mouse", "cell"]).size().iloc[0])
    pooled.attrs["dropped_cells"] = [f"{m}/{c}" for m, c in small.index]
    return pooled
