"""The standard figures of whole-animal outcomes: each cohort's endurance figure and each
declared table's figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from exneuro.paper.catalogue import SAMPLE_SHEET
from exneuro.paper.compose import compose_figure
from exneuro.paper.panels import Study
from exneuro.paper.standard import ROW_MM, letter


def treadmill_layout(cohort_id: str) -> dict:
    """A cohort's endurance figure: the outcome across training (A), the gain from baseline at
    the last test (B) and the fitted rise of each mouse's adaptation curve (C)."""
    panels = ("treadmill_course", "treadmill_gain", "treadmill_adaptation")
    return {
        "id": f"treadmill_{cohort_id}",
        "title": f"Endurance of cohort {cohort_id}",
        "width": "full",
        "height_mm": 58.0,
        "rows": 1,
        "columns": 3,
        "column_widths": [2.2, 1.0, 1.0],
        "panels": [
            {"letter": letter(i), "plot": plot, "at": [0, i], "cohort": cohort_id}
            for i, plot in enumerate(panels)
        ],
    }


def cohort_figure(
    tests: pd.DataFrame,
    statistics: pd.DataFrame,
    adaptation: pd.DataFrame,
    cohort: Mapping,
    groups: Sequence[Mapping],
    treadmill: Mapping,
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
    sheet: pd.DataFrame | None = None,
) -> None:
    """Draw and save the cohort's endurance figure with one source-data table per panel; with
    a fixed model factor declared (e.g. sex), every panel is split by its first one."""
    tables = {
        "treadmill/tests.parquet": tests,
        f"treadmill/{cohort['id']}/adaptation.tsv": adaptation,
    }
    if sheet is not None:
        tables[SAMPLE_SHEET] = sheet
    settings = {"groups": list(groups), "cohorts": [cohort], "treadmill": treadmill}
    compose_figure(
        treadmill_layout(cohort["id"]),
        Study(tables, statistics, settings),
        style,
        figure_paths,
        source_data_dir,
        where=f"the endurance figure of cohort {cohort['id']}",
    )


def table_layout(key: str, data: pd.DataFrame, declaration: Mapping) -> dict:
    """A declared table's figure: a panel per outcome and level of ``split_by`` (e.g. each
    cohort), a row per level; a single outcome puts the levels side by side."""
    splits = list(declaration["split_by"])
    parts = [values for values, _ in data.groupby(splits, sort=True)] if splits else [()]
    levels = [tuple(str(v) for v in (p if isinstance(p, tuple) else (p,))) for p in parts]
    outcomes = list(declaration["outcomes"])
    side_by_side = len(outcomes) == 1
    rows, columns = (1, len(levels)) if side_by_side else (len(levels), len(outcomes))
    panels = []
    for row, values in enumerate(levels):
        split = dict(zip(splits, values, strict=True))
        title = "; ".join(f"{k}: {v}" for k, v in split.items()).replace("_", " ")
        for column, outcome in enumerate(outcomes):
            at = [0, row] if side_by_side else [row, column]
            panel = {
                "letter": letter(at[0] * columns + at[1]),
                "plot": "table_plot",
                "at": at,
                "table": key,
                "outcome": outcome,
            }
            if split:
                panel |= {"split": split, "title": title}
            panels.append(panel)
    return {
        "id": f"table_{key}",
        "title": f"Table {key}",
        "width": "single" if columns <= 2 else "full",
        "height_mm": ROW_MM * rows,
        "rows": rows,
        "columns": columns,
        "panels": panels,
    }


def table_figure(
    data: pd.DataFrame,
    statistics: pd.DataFrame,
    declaration: Mapping,
    groups: Sequence[Mapping],
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
    *,
    key: str,
) -> None:
    """Draw the declared table ``key``'s standard figure and write one source-data table per
    panel."""
    settings = {"groups": list(groups), "cohorts": [], "tables": {key: declaration}}
    compose_figure(
        table_layout(key, data, declaration),
        Study({f"tables/{key}/data.tsv": data}, statistics, settings),
        style,
        figure_paths,
        source_data_dir,
        where=f"the figure of table {key}",
    )
