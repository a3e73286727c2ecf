"""Slice electrophysiology from the tables a lab exports: what is measured, the checks every
ephys table reader shares, the per-cell property table, and the joins that make one row per cell.

What is measured, and why
-------------------------
* **F–I curve** (:mod:`exneuro.cellular.fi_curve`). Whole-cell current clamp, a family of
  square current steps; the number of action potentials per step divided by the step duration
  is the firing rate (Hz) at that current. The curve's features per cell are the **rheobase** —
  the smallest depolarizing step that evokes at least one spike (a step protocol only brackets
  the true threshold current, so the rheobase has the resolution of the step increment) — the
  maximal rate, and the **F–I gain**, the least-squares slope of rate against current over the
  suprathreshold steps. Increased intrinsic excitability shows as a left-shifted (lower
  rheobase) and/or steeper curve.
* **Passive and active properties** (input resistance, resting potential, spike threshold) are
  read as the lab's analysis software exported them (:func:`read_cell_properties`) or measured
  from raw ``.abf`` sweeps (:mod:`exneuro.cellular.abf`).
* **sEPSCs** (:mod:`exneuro.cellular.sepsc`). One row per detected event (time, amplitude) from
  MiniAnalysis, Easy Electrophysiology, Clampfit event detection or similar. Per cell: frequency
  = events / recording duration, median and mean amplitude; inter-event intervals (IEI) within
  the cell. A cell can have no event at all, so the recording duration of each cell should come
  from a separate table — a cell absent from the event table then counts as 0 Hz instead of
  disappearing. Cumulative plots pool events over cells with every cell giving the same number
  of values; the inference is on per-cell values with the mouse as unit (mixed model, mouse
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

from exneuro.errors import data_error
from exneuro.io import parse_numbers, read_lab_table, require_columns
from exneuro.lab_numbers import missing_cells
from exneuro.lab_tables import mapped_columns

CellIds = Literal["study", "mouse"]

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
def mouse_cell_ids(table: pd.DataFrame, columns: Mapping[str, str], path: str) -> pd.DataFrame:
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


def check_cell_in_one_mouse(
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


def reject_duplicate_rows(
    tidy: pd.DataFrame, keys: list[str], path: str, what: str, fix: str
) -> None:
    """Stop on rows repeating the same ``keys`` (a cell, step or event listed twice), naming the
    repeated values and every line they stand on."""
    repeated = tidy[tidy.duplicated(keys, keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        same = (repeated[keys] == first[keys]).all(axis=1)
        lines = ", ".join(str(int(x)) for x in repeated.loc[same, "source_line"])
        described = ", ".join(
            f"{k} {first[k]:g}" if isinstance(first[k], float) else f"{k} {first[k]}" for k in keys
        )
        raise data_error(path, f"{what} listed twice ({described}; lines {lines})", fix)


def first_bad_line(table: pd.DataFrame, mask: np.ndarray) -> int:
    """The file line of the first row where ``mask`` is true (for the error message)."""
    return int(table["_line"].to_numpy()[np.asarray(mask)][0])


def _check_range(
    table: pd.DataFrame, values: np.ndarray, field: str, column: str, path: str
) -> None:
    """Stop on the first value of a known property outside :data:`PROPERTY_RANGES`."""
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
            line=first_bad_line(table, bad),
            column=column,
        )


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
    tidy = mouse_cell_ids(table, columns, path)
    for field, column in columns.items():
        if field in ("mouse", "cell"):
            continue
        values = parse_numbers(table, column, path, required=False)
        _check_range(table, values, field, column, path)
        tidy[field] = values
    tidy["source_line"] = table["_line"].to_numpy()
    check_cell_in_one_mouse(tidy, path, columns, cell_ids)
    reject_duplicate_rows(
        tidy, ["mouse", "cell"], path, "the same cell is", "keep one row per cell"
    )
    tidy = tidy.sort_values(["mouse", "cell"], kind="stable").reset_index(drop=True)
    properties = [c for f, c in columns.items() if f not in ("mouse", "cell")]
    missing = missing_cells(table, properties)
    ids = tidy.set_index("source_line")[["mouse", "cell"]]
    tidy.attrs["missing"] = missing.join(ids, on="line").assign(file=path)
    return tidy


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
