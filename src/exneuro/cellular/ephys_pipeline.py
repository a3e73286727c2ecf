"""The slice-electrophysiology steps the workflow runs: the lab's files -> tidy cell tables.

Exported tables (current steps, cell properties, sEPSC events and recording durations) and raw
Axon ``.abf`` current-clamp sweeps become three tidy tables with each cell's mouse and group:
steps (one row per cell and current step), cells (one row per cell: F-I features, passive and
active properties, sEPSC frequency and amplitude) and events (one row per sEPSC). A study may
have only ``.abf`` files (no exported step table). Where a cell has both an exported step table
and an ``.abf`` file, the two are compared and every disagreement is listed in the QC table, as
is every cell whose declared baseline window is not at the holding current.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

from exneuro.cellular import abf, ephys, fi_curve, sepsc
from exneuro.errors import ConfigError

QC_COLUMNS = ["mouse", "cell", "current_pa", "check", "detail", "action"]


def _abf_steps(paths: Sequence[str], settings: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Steps and per-cell properties from every ``.abf`` file (file names give mouse and cell)."""
    options = {**settings, "name_pattern": re.sub(r".*/", "", settings["files"])}
    steps, cells = [], []
    for path in paths:
        file_steps, cell = abf.read_abf_steps(path, options)
        steps.append(file_steps)
        cells.append(cell)
    if not steps:
        no_steps = pd.DataFrame(columns=fi_curve.STEP_COLUMNS)
        return no_steps, pd.DataFrame(columns=abf.ABF_CELL_COLUMNS)
    return pd.concat(steps, ignore_index=True), pd.concat(cells, ignore_index=True)


def _baseline_qc(abf_cells: pd.DataFrame) -> pd.DataFrame:
    """A QC row for every cell whose baseline window is not at holding."""
    noted = abf_cells[abf_cells["passive_note"].astype(str) != ""]
    return pd.DataFrame(
        {
            "mouse": noted["mouse"],
            "cell": noted["cell"],
            "current_pa": float("nan"),
            "check": "baseline window at holding",
            "detail": noted["source_file"] + ": " + noted["passive_note"],
            "action": "kept; resting potential and input resistance include injected current: "
            "set ephys.abf baseline_start_s/baseline_end_s (or the protocol's) to a stretch at "
            "holding",
        }
    )


def _missing_qc(properties: pd.DataFrame | None) -> pd.DataFrame:
    """A QC row for every missing value of the cell-property table: the cell keeps its other
    properties and is left out of this one's statistics (its n says so)."""
    missing = properties.attrs.get("missing") if properties is not None else None
    if missing is None or missing.empty:
        return pd.DataFrame(columns=QC_COLUMNS)
    values = missing["value"].map(lambda v: f"'{v}'" if v else "empty cell")
    return pd.DataFrame(
        {
            "mouse": missing["mouse"],
            "cell": missing["cell"],
            "current_pa": float("nan"),
            "check": "missing value",
            "detail": missing["file"]
            + " line "
            + missing["line"].astype(str)
            + ", column '"
            + missing["column"]
            + "': "
            + values,
            "action": "left out of the statistics of '" + missing["column"] + "' only",
        }
    )


def ephys_tables(
    section: Mapping,
    sheet: pd.DataFrame,
    abf_paths: Sequence[str] = (),
    sheet_path: str = "the sample sheet",
) -> dict[str, pd.DataFrame]:
    """Steps, cells, events and QC tables of one study's slice recordings."""
    ids = section["cell_ids"]
    if not section.get("step_table") and not section.get("abf"):
        raise ConfigError(
            "config: ephys needs a step_table or abf files; name the exported current-step "
            "table or the .abf pattern"
        )
    qc = pd.DataFrame(columns=QC_COLUMNS)
    abf_cells = None
    steps_source = section.get("step_table") or section.get("abf", {}).get("files")
    if section.get("abf"):
        abf_steps, abf_cells = _abf_steps(abf_paths, section["abf"])
        qc = pd.concat([qc, _baseline_qc(abf_cells)], ignore_index=True)
    if section.get("step_table"):
        steps = fi_curve.read_step_table(
            section["step_table"],
            section["step_columns"],
            section["step_duration_ms"],
            cell_ids=ids,
        )
        if abf_cells is not None and len(abf_cells):
            steps, compared = fi_curve.combine_steps(steps, abf_steps)
            qc = pd.concat([compared, qc], ignore_index=True)
    else:
        steps = abf_steps
    properties = (
        ephys.read_cell_properties(
            section["cell_properties"], section["property_columns"], cell_ids=ids
        )
        if section.get("cell_properties")
        else None
    )
    if properties is not None:
        qc = pd.concat([qc, _missing_qc(properties)], ignore_index=True)
    events = durations = None
    if section.get("sepsc_events"):
        events = sepsc.read_sepsc_events(
            section["sepsc_events"],
            section["event_columns"],
            section["event_time_unit"],
            cell_ids=ids,
        )
        if section.get("sepsc_recordings"):
            durations = sepsc.read_recording_durations(
                section["sepsc_recordings"],
                section["recording_columns"],
                section["event_time_unit"],
                cell_ids=ids,
            )
    per_cell = sepsc.sepsc_per_cell(events, durations) if events is not None else None
    features = fi_curve.fi_features(steps, section.get("fi_fit_steps"))
    cells = ephys.cell_table(features, properties, abf_cells, per_cell)
    attach = {"sheet": sheet, "sheet_path": sheet_path}
    return {
        "steps": ephys.attach_groups(steps, source=steps_source, **attach),
        "cells": ephys.attach_groups(cells, source="cell table", **attach),
        "events": (
            ephys.attach_groups(events, source=section["sepsc_events"], **attach)
            if events is not None
            else pd.DataFrame()
        ),
        "qc": qc,
    }
