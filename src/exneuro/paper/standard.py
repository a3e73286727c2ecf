"""The standard figure of each analysis, declared as a paper figure is and drawn by the same
composer (:func:`exneuro.paper.compose.compose_figure`), through the one panel registry
(:mod:`exneuro.figures.registry`).

Each ``*_layout`` function builds the figure's declaration in code (a grid, then its panels
with their ``plot`` type and options, exactly the shape of a ``paper.figures`` entry), so every
panel an analysis's own figure draws is a panel type a paper figure can use too. Each figure
function gathers the tables the panels read into a :class:`~exneuro.paper.panels.Study`, named
by their path in the output folder as the panel types declare them, with the analysis's own
statistics table, and composes the figure: its files, one source-data table per panel and the
checker's findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from exneuro.cellular.ephys_stats import CELL_OUTCOMES, DISTRIBUTIONS
from exneuro.cellular.spines import TOTAL
from exneuro.paper.catalogue import SAMPLE_SHEET
from exneuro.paper.cellular import CELLS, EVENTS, SECTIONS, SPINES, STEPS
from exneuro.paper.compose import compose_figure
from exneuro.paper.panels import Study

#: Height of one row of panels of a standard figure (mm).
ROW_MM = 52.0


def _letter(index: int) -> str:
    return chr(ord("A") + index)


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
            {"letter": _letter(i), "plot": plot, "at": [0, i], "cohort": cohort_id}
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
    keys = [key for key, _ in data.groupby(splits, sort=True)] if splits else [()]
    levels = [tuple(str(v) for v in (k if isinstance(k, tuple) else (k,))) for k in keys]
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
                "letter": _letter(at[0] * columns + at[1]),
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


def _cellular_settings(
    section: str,
    settings: Mapping,
    cohort_id: str,
    order: Sequence[str],
    groups: Sequence[Mapping],
    split: str | None,
    animals: str,
) -> dict:
    """The study settings a cellular figure's panels read: its cohort (the groups in drawing
    order, control first), the section (with the split factor as its model factor) and the
    animals' word."""
    statistics = dict(settings.get("statistics", {}))
    statistics["model_factors"] = {"fixed": [split] if split else []}
    cohort = {"id": cohort_id, "groups": list(order), "control_group": order[0]}
    return {
        "groups": list(groups),
        "cohorts": [cohort],
        section: {**settings, "cohort": cohort_id, "statistics": statistics},
        "animal": {"plural": animals},
    }


def spine_layout(cohort_id: str, spine_types: Sequence[str]) -> dict:
    """The spine figure: all spines (A), then one panel per spine type, in one row."""
    kinds = [TOTAL, *spine_types]
    return {
        "id": "spines",
        "title": f"Dendritic spines of cohort {cohort_id}",
        "width": "full",
        "height_mm": ROW_MM,
        "rows": 1,
        "columns": len(kinds),
        "panels": [
            {"letter": _letter(i), "plot": "spine_density", "at": [0, i], "spine_type": kind}
            for i, kind in enumerate(kinds)
        ],
    }


def spine_figure(
    density: pd.DataFrame,
    statistics: pd.DataFrame,
    spine_types: Sequence[str],
    order: Sequence[str],
    groups: Sequence[Mapping],
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
    *,
    per_um: float = 10.0,
    subset: Mapping[str, object],
    split: str | None = None,
    animals: str = "mice",
) -> None:
    """Spine density SuperPlots of the cohort ``subset['cohort']``: all spines, then one panel
    per spine type (:func:`spine_layout`); stars from the mixed model's group contrast.

    ``density`` is the long segment table of :func:`exneuro.cellular.spines.segment_density`
    with the group (and the ``split`` factor, e.g. sex, when declared) joined; ``order``: the
    groups, control first; ``animals``: the study's word under each group's n."""
    cohort_id = str(subset["cohort"])
    settings = _cellular_settings(
        "spines", {"per_um": per_um}, cohort_id, order, groups, split, animals
    )
    compose_figure(
        spine_layout(cohort_id, spine_types),
        Study({SPINES: density}, statistics, settings),
        style,
        figure_paths,
        source_data_dir,
        where="the spine figure",
    )


def histology_layout(cohort_id: str, markers: Sequence[str]) -> dict:
    """The histology figure: one panel per marker, in one row."""
    return {
        "id": "histology",
        "title": f"Marker-positive neurons of cohort {cohort_id}",
        "width": "single" if len(markers) <= 2 else "full",
        "height_mm": ROW_MM,
        "rows": 1,
        "columns": len(markers),
        "panels": [
            {"letter": _letter(i), "plot": "histology_percent", "at": [0, i], "marker": marker}
            for i, marker in enumerate(markers)
        ],
    }


def histology_figure(
    sections: pd.DataFrame,
    statistics: pd.DataFrame,
    markers: Sequence[str],
    order: Sequence[str],
    groups: Sequence[Mapping],
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
    *,
    labelled_name: str = "SF1+",
    subset: Mapping[str, object],
    split: str | None = None,
    animals: str = "mice",
) -> None:
    """% marker-positive labelled cells of the cohort ``subset['cohort']``, one SuperPlot
    panel per marker (:func:`histology_layout`).

    ``sections`` is :func:`exneuro.cellular.histology.read_section_counts` with the group
    joined; ``order``: the groups, control first."""
    cohort_id = str(subset["cohort"])
    settings = _cellular_settings(
        "histology", {"labelled_name": labelled_name}, cohort_id, order, groups, split, animals
    )
    compose_figure(
        histology_layout(cohort_id, markers),
        Study({SECTIONS: sections}, statistics, settings),
        style,
        figure_paths,
        source_data_dir,
        where="the histology figure",
    )


def ephys_layout(cohort_id: str, properties: Sequence[str], with_events: bool) -> dict:
    """The electrophysiology figure: F–I curves (A, two columns wide) and, with sEPSC events,
    the distributions of their intervals and amplitudes on the first row; then the per-cell
    properties, four per row."""
    panels = [{"letter": "A", "plot": "ephys_fi", "at": [0, 0], "span": [1, 2]}]
    if with_events:
        panels += [
            {"letter": _letter(1 + k), "plot": "ephys_cdf", "at": [0, 2 + k], "value": value}
            for k, value in enumerate(DISTRIBUTIONS)
        ]
    panels += [
        {
            "letter": _letter(len(panels) + k),
            "plot": "ephys_property",
            "at": [1 + k // 4, k % 4],
            "outcome": outcome,
            "test": "emm_contrast",
        }
        for k, outcome in enumerate(properties)
    ]
    rows = 1 + -(-len(properties) // 4)
    return {
        "id": "ephys",
        "title": f"Slice electrophysiology of cohort {cohort_id}",
        "width": "full",
        "height_mm": ROW_MM * rows,
        "rows": rows,
        "columns": 4,
        "panels": panels,
    }


def ephys_figure(
    steps: pd.DataFrame,
    cells: pd.DataFrame,
    events: pd.DataFrame | None,
    statistics: pd.DataFrame,
    groups: Sequence[Mapping],
    control: str,
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
    *,
    outcomes: Sequence[str] | None = None,
    per_cell: int | None = None,
    min_events: int = 10,
    min_current_pa: float = 0.0,
    context: Mapping[str, str],
    split: str | None = None,
    sheet: pd.DataFrame | None = None,
    animals: str = "mice",
) -> None:
    """Draw and save the ephys figure of the cohort ``context['cohort']`` (:func:`ephys_layout`)
    with one source-data table per panel.

    ``steps`` (cell × step), ``cells`` (per cell) and ``events`` (per sEPSC) carry ``group``;
    ``statistics`` holds the rows of :func:`exneuro.cellular.ephys_stats.ephys_statistics` made
    with the same ``context``, ``per_cell`` and ``min_events``; ``split`` (a fixed model
    factor, e.g. sex, read from ``sheet``) draws every curve and mean per group x level; at
    most eight per-cell properties are drawn (``outcomes``, default every one measured)."""
    present = set(cells["group"].dropna())
    configured = [g["id"] for g in groups if g["id"] in present]
    order = [control, *[g for g in configured + sorted(present - set(configured)) if g != control]]
    properties = [o for o in (outcomes or CELL_OUTCOMES) if o in cells.columns][:8]
    with_events = events is not None and len(events) > 0
    tables = {STEPS: steps, CELLS: cells, **({EVENTS: events} if with_events else {})}
    if sheet is not None:
        tables[SAMPLE_SHEET] = sheet
    section = {
        "statistics": {
            "per_cell": per_cell,
            "min_events": min_events,
            "min_current_pa": min_current_pa,
        }
    }
    cohort_id = str(context["cohort"])
    settings = _cellular_settings("ephys", section, cohort_id, order, groups, split, animals)
    compose_figure(
        ephys_layout(cohort_id, properties, with_events),
        Study(tables, statistics, settings),
        style,
        figure_paths,
        source_data_dir,
        where="the electrophysiology figure",
    )
