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
