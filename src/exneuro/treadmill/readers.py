"""Readers for treadmill endurance data: the lab's per-test summary table and per-test stage logs.

Both become tidy tables with canonical column names and units; nothing downstream knows the lab's
column names or file layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.io import (
    header_metadata,
    parse_durations_s,
    parse_numbers,
    read_lab_table,
    require_columns,
)
from exneuro.treadmill.protocol import incline_to_degrees, integrate_stages

SUMMARY_REQUIRED = ("mouse", "session", "protocol", "body_mass_g")
SUMMARY_OPTIONAL_NUMBERS = {
    "distance_m": "summary_distance_m",
    "final_speed_m_min": "summary_final_speed_m_min",
    "incline": "summary_incline_deg",
}


def read_summary_table(
    path: str | Path,
    columns: Mapping[str, str],
    time_unit: str = "s",
    incline_unit: str = "degrees",
    missing_values: Sequence[str] = (),
) -> pd.DataFrame:
    """Read the lab's per-test summary table into canonical columns.

    Returns one row per test: ``mouse``, ``session``, ``protocol``, ``date``, ``body_mass_g``,
    ``summary_time_s`` and the lab's own ``summary_distance_m``, ``summary_final_speed_m_min``,
    ``summary_incline_deg`` when present (NaN otherwise), and ``source_line``. Two rows for one
    mouse and session are an error. A row holding one of ``missing_values`` ('nd', 'Dead') is
    a test not done: left out, and named in ``attrs['not_done']`` ((mouse, session) -> the
    value and its line) for the QC table.
    """
    path = str(path)
    table = read_lab_table(path, expected=[columns[field] for field in SUMMARY_REQUIRED])
    require_columns(table, {field: columns[field] for field in SUMMARY_REQUIRED}, path)
    table, not_done = _drop_not_done(table, columns, missing_values)
    tidy = pd.DataFrame(
        {
            "mouse": table[columns["mouse"]].str.strip(),
            "session": table[columns["session"]].str.strip(),
            "protocol": table[columns["protocol"]].str.strip(),
            "date": table[columns["date"]].str.strip() if columns["date"] in table else "",
            "body_mass_g": parse_numbers(table, columns["body_mass_g"], path),
        }
    )
    time_column = columns["time_to_exhaustion"]
    tidy["summary_time_s"] = (
        parse_durations_s(table, time_column, path, time_unit) if time_column in table else np.nan
    )
    for field, name in SUMMARY_OPTIONAL_NUMBERS.items():
        column = columns[field]
        values = parse_numbers(table, column, path, required=False) if column in table else np.nan
        tidy[name] = incline_to_degrees(values, incline_unit) if field == "incline" else values
    tidy["source_line"] = table["_line"].to_numpy()
    for column in ("mouse", "session", "protocol"):
        empty = tidy[column] == ""
        if empty.any():
            line = int(tidy.loc[empty, "source_line"].iloc[0])
            raise data_error(path, "empty cell", "fill it in", line=line, column=columns[column])
    _reject_duplicate_tests(tidy, path)
    tidy.attrs["not_done"] = not_done
    return tidy


def _drop_not_done(
    table: pd.DataFrame, columns: Mapping[str, str], codes: Sequence[str]
) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
    """The rows without a missing-value code, and (mouse, session) -> what marked the others."""
    if not codes:
        return table, {}
    cells = table.drop(columns="_line").apply(lambda column: column.str.strip())
    marked = cells.isin(list(codes))
    rows = marked.any(axis=1)
    not_done = {
        (cells.at[i, columns["mouse"]], cells.at[i, columns["session"]]): (
            f"'{cells.loc[i][marked.loc[i]].iloc[0]}' on line {table.at[i, '_line']} of the "
            "summary table"
        )
        for i in table.index[rows]
    }
    return table[~rows].reset_index(drop=True), not_done


def _reject_duplicate_tests(tests: pd.DataFrame, path: str) -> None:
    repeated = tests[tests.duplicated(["mouse", "session"], keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        lines = repeated.loc[
            (repeated["mouse"] == first["mouse"]) & (repeated["session"] == first["session"]),
            "source_line",
        ].tolist()
        raise data_error(
            path,
            f"mouse {first['mouse']} has {len(lines)} tests for session '{first['session']}' "
            f"(lines {', '.join(map(str, lines))})",
            "keep one row per mouse and session, or give the repeat its own session id",
        )


def read_stage_log(
    path: str | Path, columns: Mapping[str, str], incline_unit: str = "degrees"
) -> pd.DataFrame:
    """Read one test's stage log: a row per stage start, then one 'exhausted' row.

    Returns the stage rows with ``elapsed_s``, ``stage``, ``speed_m_min``, ``incline_deg`` and the
    exhaustion time in ``attrs['exhausted_s']``; header comment lines (``# key: value``) go to
    ``attrs['metadata']``. Times that go backwards, a missing or early 'exhausted' event and
    negative speeds are errors naming the line.
    """
    path = str(path)
    table = read_lab_table(path, comment="#", expected=list(columns.values()))
    require_columns(table, columns, path)
    elapsed = parse_numbers(table, columns["elapsed_s"], path)
    speed = parse_numbers(table, columns["speed_m_min"], path)
    incline = parse_numbers(table, columns["incline"], path)
    event = table[columns["event"]].str.strip().str.lower()
    lines = table["_line"].to_numpy()
    backwards = np.flatnonzero(np.diff(elapsed) < 0)
    if len(backwards):
        raise data_error(
            path,
            "time goes backwards",
            "the log must be in time order",
            line=int(lines[backwards[0] + 1]),
            column=columns["elapsed_s"],
        )
    if np.any(speed < 0):
        raise data_error(
            path,
            "negative belt speed",
            "speeds are m/min, zero or more",
            line=int(lines[np.argmax(speed < 0)]),
            column=columns["speed_m_min"],
        )
    unknown = ~event.isin(["stage_start", "exhausted"])
    if unknown.any():
        raise data_error(
            path,
            f"unknown event '{event[unknown].iloc[0]}'",
            "expected stage_start or exhausted",
            line=int(lines[unknown.to_numpy()][0]),
            column=columns["event"],
        )
    exhausted = np.flatnonzero(event.to_numpy() == "exhausted")
    if len(exhausted) != 1 or exhausted[0] != len(event) - 1:
        raise data_error(
            path,
            "the log must end with exactly one 'exhausted' event",
            "a test without exhaustion cannot give a time to exhaustion; exclude it in the config",
        )
    if len(event) == 1:
        raise data_error(
            path,
            f"no stage_start row before the 'exhausted' event (line {lines[0]})",
            "add a stage_start row for every stage run, from the first one at 0 s",
        )
    stages = pd.DataFrame(
        {
            "elapsed_s": elapsed[:-1],
            "stage": pd.to_numeric(table[columns["stage"]].iloc[:-1]).to_numpy(),
            "speed_m_min": speed[:-1],
            "incline_deg": incline_to_degrees(incline[:-1], incline_unit),
        }
    )
    stages.attrs["exhausted_s"] = float(elapsed[-1])
    stages.attrs["metadata"] = header_metadata(path)
    return stages


def stage_log_metrics(stages: pd.DataFrame) -> dict[str, float]:
    """Time to exhaustion, distance, vertical distance, top speed and final incline of one log."""
    result = integrate_stages(
        stages["elapsed_s"].to_numpy(),
        stages["speed_m_min"].to_numpy(),
        stages["incline_deg"].to_numpy(),
        stages.attrs["exhausted_s"],
    )
    metrics = {name: float(values[0]) for name, values in result.items() if name != "final_stage"}
    metrics["time_to_exhaustion_s"] = stages.attrs["exhausted_s"]
    return metrics
