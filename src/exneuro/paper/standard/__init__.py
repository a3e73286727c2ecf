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

#: Height of one row of panels of a standard figure (mm).
ROW_MM = 52.0


def letter(index: int) -> str:
    """The panel letter of the ``index``-th panel (0: 'A')."""
    return chr(ord("A") + index)


def one_row_layout(
    figure_id: str, title: str, width: str, plot: str, option: str, values: list
) -> dict:
    """A one-row figure of one ``plot`` panel per value of its ``option`` (a spine type, a
    marker ...), lettered from A in that order."""
    return {
        "id": figure_id,
        "title": title,
        "width": width,
        "height_mm": ROW_MM,
        "rows": 1,
        "columns": len(values),
        "panels": [
            {"letter": letter(i), "plot": plot, "at": [0, i], option: value}
            for i, value in enumerate(values)
        ],
    }
