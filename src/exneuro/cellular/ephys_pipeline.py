"""The slice-electrophysiology steps the workflow runs: the lab's files -> tidy cell tables.

Exported tables (current steps, cell properties, sEPSC events and recording durations) and raw
Axon ``.abf`` current-clamp sweeps become three tidy tables with each cell's mouse and group:
steps (one row per cell and current step), cells (one row per cell: F-I features, passive and
active properties, sEPSC frequency and amplitude) and events (one row per sEPSC). Where a cell
has both an exported step table and an ``.abf`` file, the two are compared and every
disagreement is listed in the QC table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

from exneuro.cellular import abf, ephys


def _abf_steps(paths: Sequence[str], settings: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Steps and per-cell properties from every ``.abf`` file (file names give mouse and cell)."""
    pattern = re.sub(r".*/", "", settings["files"])
    steps, cells = [], []
    for path in paths:
        file_steps, cell = abf.read_abf_steps(
            path,
            settings["step_start_s"],
            settings["step_end_s"],
            settings["first_step_pa"],
            settings["step_increment_pa"],
            settings["threshold_mv"],
            min_interval_ms=settings["min_interval_ms"],
            dvdt_threshold_mv_per_ms=settings["dvdt_threshold_mv_per_ms"],
            steady_state_ms=settings["steady_state_ms"],
            name_pattern=pattern,
            channel=settings["channel"],
            command_tolerance_pa=settings["command_tolerance_pa"],
        )
        steps.append(file_steps)
        cells.append(cell)
    if not steps:
        return pd.DataFrame(), pd.DataFrame()
    return pd.concat(steps, ignore_index=True), pd.concat(cells, ignore_index=True)


def ephys_tables(
    section: Mapping,
    sheet: pd.DataFrame,
    abf_paths: Sequence[str] = (),
    sheet_path: str = "the sample sheet",
) -> dict[str, pd.DataFrame]:
    """Steps, cells, events and QC tables of one study's slice recordings."""
    ids = section["cell_ids"]
    steps = ephys.read_step_table(
        section["step_table"], section["step_columns"], section["step_duration_ms"], cell_ids=ids
    )
    qc = pd.DataFrame()
    abf_cells = None
    if section.get("abf") and abf_paths:
        abf_steps, abf_cells = _abf_steps(abf_paths, section["abf"])
        steps, qc = ephys.combine_steps(steps, abf_steps)
    properties = (
        ephys.read_cell_properties(
            section["cell_properties"], section["property_columns"], cell_ids=ids
        )
        if section.get("cell_properties")
        else None
    )
    events = durations = None
    if section.get("sepsc_events"):
        events = ephys.read_sepsc_events(
            section["sepsc_events"],
            section["event_columns"],
            section["event_time_unit"],
            cell_ids=ids,
        )
        if section.get("sepsc_recordings"):
            durations = ephys.read_recording_durations(
                section["sepsc_recordings"],
                section["recording_columns"],
                section["event_time_unit"],
                cell_ids=ids,
            )
    per_cell = ephys.sepsc_per_cell(events, durations) if events is not None else None
    cells = ephys.cell_table(ephys.fi_features(steps), properties, abf_cells, per_cell)
    attach = {"sheet": sheet, "sheet_path": sheet_path}
    return {
        "steps": ephys.attach_groups(steps, source=section["step_table"], **attach),
        "cells": ephys.attach_groups(cells, source="cell table", **attach),
        "events": (
            ephys.attach_groups(events, source=section["sepsc_events"], **attach)
            if events is not None
            else pd.DataFrame()
        ),
        "qc": qc,
    }
