"""The standard photometry figure: session traces of each group, the heatmap of the last day,
the window metric across training days and the peri-event waveforms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from exneuro.figures.photometry import trace_alignment
from exneuro.paper.activity import INTERVALS, METRICS, QC, WAVEFORMS, default_event
from exneuro.paper.catalogue import ALIGNED_TRACES, SAMPLE_SHEET
from exneuro.paper.compose import compose_figure
from exneuro.paper.panels import Study
from exneuro.paper.standard import letter
from exneuro.photometry.aligned_traces import AlignedTraces

#: Height of the photometry figure: two rows of panels (mm).
HEIGHT_MM = 112.0


def photometry_layout(order: Sequence[str], days: Sequence | None) -> dict:
    """The photometry figure: on the top row one trace panel per group of ``order`` (``days``:
    the two days compared, default the first and last) and the heatmap of the last of them; on
    the bottom row the window metric across days and the peri-event waveforms, each half the
    width."""
    width = len(order) + 1  # top row: one column per group and the heatmap
    shown = {"days": list(days)} if days else {}
    panels = [
        {"letter": letter(i), "plot": "photometry_trace", "at": [0, 2 * i], "span": [1, 2]}
        | {"group": group}
        | shown
        for i, group in enumerate(order)
    ]
    heatmap = {"day": list(days)[-1]} if days else {}
    panels.append(
        {
            "letter": letter(len(order)),
            "plot": "photometry_heatmap",
            "at": [0, 2 * len(order)],
            "span": [1, 2],
        }
        | heatmap
    )
    for k, plot in enumerate(("photometry_window", "photometry_peri_event")):
        panels.append(
            {"letter": letter(width + k), "plot": plot, "at": [1, k * width], "span": [1, width]}
        )
    return {
        "id": "photometry",
        "title": "Fiber photometry",
        "width": "full",
        "height_mm": HEIGHT_MM,
        "rows": 2,
        "columns": 2 * width,
        "column_widths": [1.0] * (2 * len(order)) + [1.35, 1.35],
        "panels": panels,
    }


def photometry_figure(
    aligned: AlignedTraces | pd.DataFrame,
    metrics: pd.DataFrame,
    qc: pd.DataFrame,
    waveforms: pd.DataFrame,
    intervals: pd.DataFrame,
    statistics: pd.DataFrame,
    cohort: Mapping,
    settings: Mapping,
    groups: Sequence[Mapping],
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
    sheet: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Draw and save the photometry figure of ``cohort`` (:func:`photometry_layout`) from the
    workflow's tables; return each panel's source data.

    ``settings``: the config's photometry section (``figure``, ``peri_event``, ``run_event``,
    ``statistics``); ``aligned``: the combined traces (read in parts, only the days drawn: a
    :class:`~exneuro.photometry.aligned_traces.AlignedTraces`, or the whole table). A fixed
    model factor declared there or in the cohort (e.g. sex, a column of ``sheet``) draws the
    traces, heatmap and window metric apart by its levels. Only the groups of the cohort with
    included sessions get a trace panel.
    """
    aligned = aligned if isinstance(aligned, AlignedTraces) else AlignedTraces(aligned)
    event = default_event(settings)
    present = set(aligned.extent(trace_alignment(event).alignment, "dff").groups)
    order = [group for group in cohort["groups"] if group in present]
    tables = {ALIGNED_TRACES: aligned, METRICS: metrics, QC: qc, WAVEFORMS: waveforms}
    tables[INTERVALS] = intervals
    if sheet is not None:
        tables[SAMPLE_SHEET] = sheet
    study_settings = {
        "groups": list(groups),
        "cohorts": [cohort],
        "photometry": {**settings, "cohort": cohort["id"]},
    }
    panels = compose_figure(
        photometry_layout(order, settings["figure"].get("days")),
        Study(tables, statistics, study_settings),
        style,
        figure_paths,
        source_data_dir,
        where="the photometry figure",
    )
    return {name: panel.source for name, panel in panels.items()}
