"""The standard figures of cellular analyses: spine densities, marker-positive neurons and
slice electrophysiology, cells or segments drawn inside their mouse."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from exneuro.cellular.ephys_stats import CELL_OUTCOMES, DISTRIBUTIONS
from exneuro.cellular.spines import TOTAL
from exneuro.paper.catalogue import SAMPLE_SHEET
from exneuro.paper.cellular import CELLS, EVENTS, SECTIONS, SPINES, STEPS
from exneuro.paper.compose import compose_figure
from exneuro.paper.panels import Study
from exneuro.paper.standard import ROW_MM, letter, one_row_layout


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
    return one_row_layout(
        "spines",
        f"Dendritic spines of cohort {cohort_id}",
        "full",
        "spine_density",
        "spine_type",
        kinds,
    )


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
    return one_row_layout(
        "histology",
        f"Marker-positive neurons of cohort {cohort_id}",
        "single" if len(markers) <= 2 else "full",
        "histology_percent",
        "marker",
        list(markers),
    )


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
            {"letter": letter(1 + k), "plot": "ephys_cdf", "at": [0, 2 + k], "value": value}
            for k, value in enumerate(DISTRIBUTIONS)
        ]
    panels += [
        {
            "letter": letter(len(panels) + k),
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
            "outcomes": properties,
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
