"""Slice electrophysiology from the tables a lab exports: current-clamp steps, cell properties and
spontaneous EPSCs, as tidy tables of one row per cell × step, per cell, or per event.

What is measured, and why
-------------------------
* **F–I curve.** Whole-cell current clamp, a family of square current steps; the number of action
  potentials per step divided by the step duration is the firing rate (Hz) at that current. The
  curve's features per cell (:func:`fi_features`) are the **rheobase** — the smallest depolarizing
  step that evokes at least one spike (a step protocol only brackets the true threshold current,
  so the rheobase has the resolution of the step increment) — the maximal rate, and the **F–I
  gain**, the least-squares slope of rate against current over the suprathreshold steps.
  Increased intrinsic excitability shows as a left-shifted (lower rheobase) and/or steeper curve.
* **Passive and active properties** (input resistance, resting potential, spike threshold) are
  read as the lab's analysis software exported them (:func:`read_cell_properties`) or measured
  from raw ``.abf`` sweeps (:mod:`exneuro.cellular.abf`).
* **sEPSCs.** One row per detected event (time, amplitude) from MiniAnalysis, Easy
  Electrophysiology, Clampfit event detection or similar. Per cell: frequency = events /
  recording duration, median and mean amplitude; inter-event intervals (IEI) within the cell.
  A cell can have no event at all, so the recording duration of each cell should come from a
  separate table (:func:`read_recording_durations`) — a cell absent from the event table then
  counts as 0 Hz instead of disappearing.
* **Pooled distributions** (:func:`pooled_distribution`): cumulative plots of IEI and amplitude
  pool events over cells; pooling raw events lets a busy cell dominate, so every cell gives the
  same number of values (its quantiles, :func:`exneuro.stats.compare.equal_weight_pool`). A
  Kolmogorov–Smirnov test on such pools still treats events as independent, so its p is
  descriptive; the inference is on per-cell values with the mouse as unit (mixed model, mouse
  means; :mod:`exneuro.cellular.ephys_stats`).

Cells are nested within mice: every table carries ``mouse`` and ``cell``, and a cell is the pair
(mouse, cell). With ``cell_ids="study"`` (default) cell ids are unique across the study and a
cell listed under two mice is an error (a typo in a mouse id, or a reused id); with
``cell_ids="mouse"`` cells are numbered within each mouse (cell 1, 2, ... of every mouse).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from exneuro.errors import InputDataError, data_error
from exneuro.io import parse_numbers, read_lab_table, require_columns
from exneuro.lab_numbers import missing_cells
from exneuro.lab_tables import mapped_columns
from exneuro.stats.pooling import equal_weight_pool

CellIds = Literal["study", "mouse"]

#: Columns of the tidy step table (plus ``source_line`` or ``sweep``), whatever the source.
STEP_COLUMNS = ["mouse", "cell", "current_pa", "n_spikes", "step_duration_ms", "firing_rate_hz"]
#: Columns of :func:`fi_features`.
FI_COLUMNS = [
    "mouse",
    "cell",
    "rheobase_pa",
    "block_from_pa",
    "max_rate_hz",
    "fi_slope_hz_per_pa",
    "n_steps",
    "n_suprathreshold_steps",
    "max_current_pa",
    "rheobase_note",
]
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
#: Plausible ranges of common cell properties: a value outside is almost always a sign or unit
#: slip (e.g. a resting potential typed without its minus sign, a resistance in GOhm).
PROPERTY_RANGES = {
    "input_resistance_mohm": (0.0, 20000.0, "input resistance", "a positive resistance in MOhm"),
    "resting_potential_mv": (-120.0, 0.0, "resting potential", "a negative potential in mV"),
    "spike_threshold_mv": (-90.0, 20.0, "spike threshold", "a potential in mV (e.g. -38.5)"),
    "capacitance_pf": (0.0, 1000.0, "capacitance", "a positive capacitance in pF"),
}


# ------------------------------------------------------------------------------------------------
# Shared checks
# ------------------------------------------------------------------------------------------------
def _ids(table: pd.DataFrame, columns: Mapping[str, str], path: str) -> pd.DataFrame:
    """``mouse`` and ``cell`` as stripped text, with an error for an empty id."""
    ids = pd.DataFrame(
        {
            "mouse": table[columns["mouse"]].astype(str).str.strip(),
            "cell": table[columns["cell"]].astype(str).str.strip(),
        }
    )
    for field in ("mouse", "cell"):
        empty = (ids[field] == "").to_numpy()
        if empty.any():
            raise data_error(
                path,
                f"empty {field} id",
                f"give every row its {field}",
                line=int(table["_line"].to_numpy()[empty][0]),
                column=columns[field],
            )
    return ids


def _check_cell_in_one_mouse(
    tidy: pd.DataFrame, path: str, columns: Mapping[str, str], cell_ids: CellIds
) -> None:
    """With study-wide cell ids, a cell id under two mice is a typo or a reused id."""
    if cell_ids == "mouse":
        return
    if cell_ids != "study":
        raise ValueError("cell_ids must be 'study' or 'mouse'")
    mice_per_cell = tidy.groupby("cell", sort=False)["mouse"].nunique()
    crossed = mice_per_cell[mice_per_cell > 1]
    if len(crossed):
        cell = crossed.index[0]
        rows = tidy[tidy["cell"] == cell].drop_duplicates("mouse")
        listing = ", ".join(
            f"{m} (line {int(line)})"
            for m, line in zip(rows["mouse"], rows["source_line"], strict=True)
        )
        raise data_error(
            path,
            f"cell {cell} is listed under two mice: {listing}",
            "correct the mouse id, or set cell_ids: mouse if cells are numbered within each mouse",
            column=columns["cell"],
        )


def _reject_duplicates(tidy: pd.DataFrame, keys: list[str], path: str, what: str, fix: str) -> None:
    repeated = tidy[tidy.duplicated(keys, keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        same = (repeated[keys] == first[keys]).all(axis=1)
        lines = ", ".join(str(int(x)) for x in repeated.loc[same, "source_line"])
        described = ", ".join(
            f"{k} {first[k]:g}" if isinstance(first[k], float) else f"{k} {first[k]}" for k in keys
        )
        raise data_error(path, f"{what} listed twice ({described}; lines {lines})", fix)


def _first_bad(table: pd.DataFrame, mask: np.ndarray) -> int:
    return int(table["_line"].to_numpy()[np.asarray(mask)][0])


def _check_range(
    table: pd.DataFrame, values: np.ndarray, field: str, column: str, path: str
) -> None:
    if field not in PROPERTY_RANGES:
        return
    low, high, name, expected = PROPERTY_RANGES[field]
    bad = np.isfinite(values) & ((values <= low) | (values >= high))
    if bad.any():
        value = values[bad][0]
        raise data_error(
            path,
            f"{value:g} is not a plausible {name}",
            f"enter {expected}",
            line=_first_bad(table, bad),
            column=column,
        )


# ------------------------------------------------------------------------------------------------
# Current-clamp step table and F-I features
# ------------------------------------------------------------------------------------------------
def read_step_table(
    path: str | Path,
    columns: Mapping[str, str],
    step_duration_ms: float | None = None,
    cell_ids: CellIds = "study",
) -> pd.DataFrame:
    """Read an exported current-clamp step table: one row per cell × current step.

    ``columns`` maps the fields ``mouse``, ``cell``, ``current_pa``, ``n_spikes`` and
    ``step_duration_ms`` to the lab's column names (CSV, TSV or Excel, as Clampfit, Easy
    Electrophysiology or a hand-made sheet write them). When the table has no duration column, give
    the protocol's ``step_duration_ms`` instead (it then applies to every row).

    Returns :data:`STEP_COLUMNS` + ``source_line``, with ``firing_rate_hz = n_spikes /
    (step_duration_ms / 1000)``, sorted by mouse, cell and current. Errors (one line each, naming
    file, line and column): a missing column, a value that is not a number, a negative or
    fractional spike count, a step duration that is not positive, a cell listed under two mice,
    the same cell and current listed twice.
    """
    path = str(path)
    table = read_lab_table(path, expected=mapped_columns(columns))
    duration_column = columns.get("step_duration_ms")
    has_duration = bool(duration_column) and duration_column in table.columns
    needed = ["mouse", "cell", "current_pa", "n_spikes"]
    if step_duration_ms is None:
        needed.append("step_duration_ms")
    missing_fields = [field for field in needed if not columns.get(field)]
    if missing_fields:
        raise data_error(
            path,
            f"no column configured for {', '.join(missing_fields)}",
            "name the lab's column for each field in the config"
            + (" (or give the protocol's step duration)" if not has_duration else ""),
        )
    require_columns(table, {field: columns[field] for field in needed}, path)
    tidy = _ids(table, columns, path)
    tidy["current_pa"] = parse_numbers(table, columns["current_pa"], path)
    spikes = parse_numbers(table, columns["n_spikes"], path)
    negative = spikes < 0
    if negative.any():
        raise data_error(
            path,
            f"negative spike count {spikes[negative][0]:g}",
            "a spike count is 0 or more",
            line=_first_bad(table, negative),
            column=columns["n_spikes"],
        )
    fractional = spikes != np.round(spikes)
    if fractional.any():
        raise data_error(
            path,
            f"spike count {spikes[fractional][0]:g} is not a whole number",
            "enter the number of spikes (not a rate) in this column",
            line=_first_bad(table, fractional),
            column=columns["n_spikes"],
        )
    tidy["n_spikes"] = spikes.astype(int)
    if has_duration:
        duration = parse_numbers(table, duration_column, path)
    else:
        duration = np.full(len(table), float(step_duration_ms))
    not_positive = ~(duration > 0)
    if not_positive.any():
        raise data_error(
            path,
            f"step duration {duration[not_positive][0]:g} ms is not positive",
            "enter the duration of the current step in ms",
            line=_first_bad(table, not_positive),
            column=duration_column if has_duration else None,
        )
    tidy["step_duration_ms"] = duration
    tidy["firing_rate_hz"] = tidy["n_spikes"] / (duration / 1000.0)
    tidy["source_line"] = table["_line"].to_numpy()
    _check_cell_in_one_mouse(tidy, path, columns, cell_ids)
    _reject_duplicates(
        tidy,
        ["mouse", "cell", "current_pa"],
        path,
        "the same cell and current step is",
        "keep one row per cell and current step (average or drop the repeated sweep)",
    )
    return tidy.sort_values(["mouse", "cell", "current_pa"], kind="stable").reset_index(drop=True)


def fi_features(steps: pd.DataFrame, fit_steps: int | None = None) -> pd.DataFrame:
    """F–I features of every cell of a step table (:func:`read_step_table` or ``read_abf_steps``).

    Per cell (:data:`FI_COLUMNS`):

    * ``rheobase_pa``: the smallest depolarizing (> 0 pA) step with at least one spike. NaN when
      the cell never fires, with ``rheobase_note`` saying up to which current it was tested
      (report such cells rather than dropping them silently);
    * ``block_from_pa``: the smallest step in depolarization block (the table's
      ``depolarization_block`` column, from the ``.abf`` route; NaN without block). Steps from
      there up leave the F–I fit and the maximal rate: a cell in block fires one or two spikes,
      which is not its rate at that current;
    * ``max_rate_hz``: the highest firing rate over the steps before block;
    * ``fi_slope_hz_per_pa``: the least-squares slope of rate on current over the suprathreshold
      steps before block (current >= rheobase; the first ``fit_steps`` of them if given, to keep
      to the linear part of the curve). NaN with fewer than two such steps;
    * ``n_steps``, ``n_suprathreshold_steps`` (those fitted), ``max_current_pa``.

    Vectorized over cells (grouped sums; the slope is Sxy/Sxx of each cell's fitted steps).
    """
    data = steps[["mouse", "cell", "current_pa", "firing_rate_hz", "n_spikes"]].copy()
    blocked = (
        steps["depolarization_block"].astype("boolean").fillna(False).astype(bool)
        if "depolarization_block" in steps
        else pd.Series(False, index=steps.index)
    )
    data["blocked"] = blocked.to_numpy()
    data = data.sort_values(["mouse", "cell", "current_pa"], kind="stable")
    keys = ["mouse", "cell"]
    grouped = data.groupby(keys, sort=True)
    out = grouped.agg(n_steps=("current_pa", "size"), max_current_pa=("current_pa", "max"))
    out["block_from_pa"] = data[data["blocked"]].groupby(keys)["current_pa"].min()
    block_from = data.join(out["block_from_pa"], on=keys)["block_from_pa"]
    before = data[~(data["current_pa"] >= block_from)]
    out["max_rate_hz"] = before.groupby(keys)["firing_rate_hz"].max()
    firing = before[(before["current_pa"] > 0) & (before["n_spikes"] >= 1)]
    out["rheobase_pa"] = firing.groupby(keys)["current_pa"].min().reindex(out.index)
    rheobase = before.join(out["rheobase_pa"], on=keys)["rheobase_pa"]
    supra = before[before["current_pa"] >= rheobase].copy()
    if fit_steps is not None:
        supra = supra[supra.groupby(keys).cumcount() < int(fit_steps)]
    x, y = supra["current_pa"], supra["firing_rate_hz"]
    supra["x_centred"] = x - x.groupby([supra["mouse"], supra["cell"]]).transform("mean")
    supra["sxy"] = supra["x_centred"] * y
    supra["sxx"] = supra["x_centred"] ** 2
    sums = supra.groupby(keys)[["sxy", "sxx"]].sum().reindex(out.index)
    counts = supra.groupby(keys).size().reindex(out.index).fillna(0).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = sums["sxy"] / sums["sxx"]
    out["fi_slope_hz_per_pa"] = slope.where(counts >= 2)
    out["n_suprathreshold_steps"] = counts
    never = out["rheobase_pa"].isna()
    out["rheobase_note"] = ""
    out.loc[never, "rheobase_note"] = [
        f"no spike at any depolarizing step (tested up to {current:g} pA)"
        for current in out.loc[never, "max_current_pa"]
    ]
    return out.reset_index()[FI_COLUMNS]


# ------------------------------------------------------------------------------------------------
# Cell properties
# ------------------------------------------------------------------------------------------------
def read_cell_properties(
    path: str | Path, columns: Mapping[str, str], cell_ids: CellIds = "study"
) -> pd.DataFrame:
    """Read a per-cell table of passive and active properties, one row per cell.

    ``columns`` maps ``mouse`` and ``cell`` and every property to read — e.g.
    ``input_resistance_mohm``, ``resting_potential_mv``, ``spike_threshold_mv``,
    ``capacitance_pf`` — to the lab's column names; each property becomes a float column of that
    name (an empty cell is a missing value, NaN). Values outside a plausible range
    (:data:`PROPERTY_RANGES`: e.g. a positive resting potential, almost always a dropped minus
    sign) are errors naming the line, as are a cell listed twice or under two mice. Every
    missing value (empty or a missing-value code) is listed in ``attrs['missing']`` (``line``,
    ``column``, ``value``, ``mouse``, ``cell``, ``file``) for the QC table.
    """
    path = str(path)
    table = read_lab_table(path, expected=mapped_columns(columns))
    require_columns(table, columns, path)
    tidy = _ids(table, columns, path)
    for field, column in columns.items():
        if field in ("mouse", "cell"):
            continue
        values = parse_numbers(table, column, path, required=False)
        _check_range(table, values, field, column, path)
        tidy[field] = values
    tidy["source_line"] = table["_line"].to_numpy()
    _check_cell_in_one_mouse(tidy, path, columns, cell_ids)
    _reject_duplicates(tidy, ["mouse", "cell"], path, "the same cell is", "keep one row per cell")
    tidy = tidy.sort_values(["mouse", "cell"], kind="stable").reset_index(drop=True)
    properties = [c for f, c in columns.items() if f not in ("mouse", "cell")]
    missing = missing_cells(table, properties)
    ids = tidy.set_index("source_line")[["mouse", "cell"]]
    tidy.attrs["missing"] = missing.join(ids, on="line").assign(file=path)
    return tidy


# ------------------------------------------------------------------------------------------------
# sEPSC events
# ------------------------------------------------------------------------------------------------
_TIME_SCALE = {"s": 1.0, "ms": 1e-3}


def _durations_s(table: pd.DataFrame, column: str, path: str, scale: float) -> np.ndarray:
    """Recording durations in seconds; a duration of zero or less is an error naming its line."""
    duration = parse_numbers(table, column, path) * scale
    if not (duration > 0).all():
        raise data_error(
            path,
            "recording duration is not positive",
            "enter the length of the recording",
            line=_first_bad(table, ~(duration > 0)),
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
    tidy = _ids(table, columns, path)
    scale = _TIME_SCALE[time_unit]
    tidy["time_s"] = parse_numbers(table, columns["time_s"], path) * scale
    amplitude = parse_numbers(table, columns["amplitude_pa"], path)
    negative_time = tidy["time_s"].to_numpy() < 0
    if negative_time.any():
        raise data_error(
            path,
            "negative event time",
            "event times run from the start of the recording",
            line=_first_bad(table, negative_time),
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
            line=_first_bad(table, odd),
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
                line=_first_bad(table, varies.to_numpy()),
                column=duration_column,
            )
        late = tidy["time_s"] > tidy["recording_duration_s"]
        if late.any():
            raise data_error(
                path,
                "event after the end of the recording",
                f"check the time unit ({time_unit}) and the recording duration",
                line=_first_bad(table, late.to_numpy()),
                column=columns["time_s"],
            )
    tidy["source_line"] = table["_line"].to_numpy()
    _check_cell_in_one_mouse(tidy, path, columns, cell_ids)
    _reject_duplicates(
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
    tidy = _ids(table, columns, path)
    column = columns["recording_duration_s"]
    tidy["recording_duration_s"] = _durations_s(table, column, path, _TIME_SCALE[time_unit])
    tidy["source_line"] = table["_line"].to_numpy()
    _check_cell_in_one_mouse(tidy, path, columns, cell_ids)
    _reject_duplicates(tidy, ["mouse", "cell"], path, "the same cell is", "one row per cell")
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
    (:func:`exneuro.stats.compare.equal_weight_pool`, ``method="quantile"``: deterministic), so a
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


# ------------------------------------------------------------------------------------------------
# Joining tables
# ------------------------------------------------------------------------------------------------
def attach_groups(
    table: pd.DataFrame,
    sheet: pd.DataFrame,
    source: str,
    sheet_path: str = "the sample sheet",
    drop_excluded: bool = True,
) -> pd.DataFrame:
    """Add each row's ``group`` (and ``cohort`` if the sheet has it) from the sample sheet
    (``mouse_id``, ``group``); a mouse missing from the sheet is an error naming it.

    Rows of mice the sheet excludes (non-empty ``excluded_reason``, e.g. virus off target) are
    dropped when ``drop_excluded``; their ids are listed in ``attrs['excluded_mice']``.
    """
    extra = [c for c in ("group", "cohort") if c in sheet.columns]
    lookup = sheet.drop_duplicates("mouse_id").set_index("mouse_id")
    unknown = ~table["mouse"].isin(lookup.index)
    if unknown.any():
        row = table[unknown].iloc[0]
        line = int(row["source_line"]) if "source_line" in table.columns else None
        raise data_error(
            source,
            f"mouse {row['mouse']} is not in {sheet_path}",
            f"add the mouse to {sheet_path} or correct its id",
            line=line,
        )
    out = table.drop(columns=[c for c in extra if c in table.columns])
    excluded: list[str] = []
    if drop_excluded and "excluded_reason" in lookup.columns:
        reason = lookup["excluded_reason"].fillna("").astype(str).str.strip()
        excluded = sorted(set(out["mouse"]) & set(reason[reason != ""].index))
        out = out[~out["mouse"].isin(excluded)]
    out = out.join(lookup[extra], on="mouse").reset_index(drop=True)
    out.attrs["excluded_mice"] = excluded
    return out


def cell_table(*tables: pd.DataFrame | None) -> pd.DataFrame:
    """One row per cell from per-cell tables (F–I features, properties, sEPSC summary, ``.abf``
    measurements), joined on (mouse, cell); a cell may lack some measurements (NaN). Where
    several tables have a column, the first table's value wins and later tables only fill its
    gaps (e.g. the exported input resistance, completed from ``.abf`` files for other cells)."""
    keys = ["mouse", "cell"]
    merged: pd.DataFrame | None = None
    for table in tables:
        if table is None or table.empty:
            continue
        table = table.drop(columns=[c for c in ("source_line", "source_file") if c in table])
        if merged is None:
            merged = table.copy()
            continue
        merged = merged.merge(table, on=keys, how="outer", suffixes=("", "__later"))
        for column in [c for c in merged.columns if c.endswith("__later")]:
            base = column.removesuffix("__later")
            merged[base] = merged[base].where(merged[base].notna(), merged[column])
            merged = merged.drop(columns=column)
    if merged is None:
        return pd.DataFrame(columns=keys)
    return merged.sort_values(keys, kind="stable").reset_index(drop=True)


def combine_steps(
    table_steps: pd.DataFrame, abf_steps: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The exported step table completed with the cells only ``.abf`` files have, and a QC table
    of the cells both sources have: every step whose spike count differs, or that one source
    lacks (columns ``mouse``, ``cell``, ``current_pa``, ``check``, ``detail``, ``action``).

    The exported table is kept for the cells it has (it is what the lab analysed); a
    disagreement usually means a different spike criterion or a mislabelled file.
    """
    keys = ["mouse", "cell"]
    columns = [*STEP_COLUMNS, "source_line"]
    if "depolarization_block" in abf_steps.columns:
        columns.append("depolarization_block")
    table_cells = table_steps[keys].drop_duplicates()
    in_table = abf_steps.merge(table_cells, on=keys, how="left", indicator=True)["_merge"]
    extra = abf_steps.loc[(in_table == "left_only").to_numpy()]
    steps = pd.concat(
        [table_steps.reindex(columns=columns), extra.reindex(columns=columns)], ignore_index=True
    ).sort_values([*keys, "current_pa"], kind="stable")
    shared = abf_steps.loc[(in_table == "both").to_numpy()]
    both = table_steps.merge(shared[keys].drop_duplicates(), on=keys).merge(
        shared[[*keys, "current_pa", "n_spikes"]],
        on=[*keys, "current_pa"],
        how="outer",
        suffixes=("_table", "_abf"),
    )
    differs = both["n_spikes_table"] != both["n_spikes_abf"]
    qc = both.loc[differs, [*keys, "current_pa", "n_spikes_table", "n_spikes_abf"]].copy()
    qc["check"] = "table vs abf spike count"
    qc["detail"] = [
        f"table {t:g} spikes, abf {a:g}"
        if pd.notna(t) and pd.notna(a)
        else ("step only in the abf file" if pd.isna(t) else "step only in the table")
        for t, a in zip(qc["n_spikes_table"], qc["n_spikes_abf"], strict=True)
    ]
    qc["action"] = "kept the exported table; check the spike criterion and the file's cell id"
    qc = qc[[*keys, "current_pa", "check", "detail", "action"]].reset_index(drop=True)
    return steps.reset_index(drop=True), qc
