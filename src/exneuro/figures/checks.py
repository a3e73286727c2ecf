"""The figure checker: a drawn figure examined as a view of the statistics table.

:func:`check_figure` takes a matplotlib figure (after drawing), optionally the study's statistics
table and, per panel, the rows it asks to mark and the n its legend states, and returns one
sentence per problem:

- marks: every star or 'ns' on the figure was drawn from a statistics row
  (:func:`exneuro.figures.marks.draw_mark`), that row exists in the table and the mark is the
  bin of its adjusted p; every significant row a panel asks for has its mark on that panel;
- n: the n per group a legend states equals the points drawn (mice in the source data);
- layout: no two texts overlap, no text overlaps a tick label, no text lies outside the figure,
  a table cell's text fits its cell, and no legend covers data points — measured with the
  renderer's extents of what is actually drawn;
- identifiers: no visible text is a raw identifier (contains '_' outside mathtext, or is a
  config id whose label differs).

It knows nothing of the study's layout, so it can run on any figure; the paper figures and every
figure the workflow saves run it and write the findings beside their source data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.legend import Legend
from matplotlib.table import Table
from matplotlib.text import Text

from exneuro.figures.marks import P_COLUMN, row_key
from exneuro.stats.table import significance_stars

MARK = re.compile(r"^(\*{1,4}|ns)$")
MATHTEXT = re.compile(r"\$[^$]*\$")
#: Resolution at which the checker draws and measures a figure.
CHECK_DPI = 100
#: Overlaps smaller than this many pixels (at the check's resolution) are not reported.
TOLERANCE_PX = 0.5


@dataclass(frozen=True)
class PanelCheck:
    """What one panel promises: the statistics rows it marks (each significant one must have
    its mark on ``axis``) and the n per group its legend states, with the n drawn."""

    letter: str
    axis: object
    asked: pd.DataFrame = field(default_factory=pd.DataFrame)
    legend_n: Mapping[str, int] | None = None
    drawn_n: Mapping[str, int] | None = None


def drawn_texts(figure) -> list[Text]:
    """Every text artist the renderer actually draws (visible, non-empty, inside a drawn
    parent: tick labels outside the view and hidden axes are left out), in drawing order."""
    drawn: list[Text] = []
    original = Text.draw

    def recording(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return original(self, renderer)

    Text.draw = recording  # every text class draws through Text.draw
    try:
        figure.canvas.draw()
    finally:
        Text.draw = original
    return list(dict.fromkeys(drawn))


def _owner(text: Text):
    """The axes a text belongs to (tick labels know their axes only through their axis)."""
    if text.axes is not None:
        return text.axes
    for axis in text.figure.axes if text.figure else []:
        labels = axis.xaxis.get_ticklabels(which="both") + axis.yaxis.get_ticklabels(which="both")
        if any(label is text for label in labels):
            return axis
    return None


def _letter(text: Text, panels: Sequence[PanelCheck]) -> str:
    axis = _owner(text)
    for panel in panels:
        if axis is panel.axis:
            return f"panel {panel.letter}"
    return "figure"


def _where(text: Text, panels: Sequence[PanelCheck]) -> str:
    return f"{_letter(text, panels)}: '{text.get_text()}'"


def mark_problems(
    texts: Sequence[Text], statistics: pd.DataFrame | None, panels: Sequence[PanelCheck]
) -> list[str]:
    """Marks without a row, with a row the table lacks or of another p bin; significant asked
    rows without their mark."""
    problems = []
    table = {}
    if statistics is not None and len(statistics):
        table = {row_key(r): r for r in statistics.to_dict("records")}
    marks = [t for t in texts if MARK.match(t.get_text().strip())]
    for text in marks:
        key = getattr(text, "statistics_key", None)
        if key is None:
            problems.append(f"{_where(text, panels)} is a mark drawn from no statistics row")
            continue
        p = table[key][P_COLUMN] if key in table else getattr(text, "statistics_p", None)
        if statistics is not None and key not in table:
            problems.append(f"{_where(text, panels)} shows a row missing from the table: {key}")
        elif significance_stars(float(p)) != text.get_text().strip():
            problems.append(
                f"{_where(text, panels)} does not match p_adj = {float(p):.3g} of the row {key}"
            )
    for panel in panels:
        if panel.asked is None or not len(panel.asked):
            continue
        on_panel = {getattr(t, "statistics_key", None) for t in marks if t.axes is panel.axis}
        for row in panel.asked.to_dict("records"):
            p = row.get(P_COLUMN)
            if p is not None and np.isfinite(p) and p < 0.05 and row_key(row) not in on_panel:
                problems.append(
                    f"panel {panel.letter}: the significant row {row_key(row)} (p_adj = {p:.3g}) "
                    "has no mark"
                )
    return problems


def n_problems(panels: Sequence[PanelCheck]) -> list[str]:
    """Legend n per group against the points drawn."""
    problems = []
    for panel in panels:
        if panel.legend_n is None or panel.drawn_n is None:
            continue
        if dict(panel.legend_n) != dict(panel.drawn_n):
            problems.append(
                f"panel {panel.letter}: the legend states n = {dict(panel.legend_n)}, "
                f"the panel draws {dict(panel.drawn_n)}"
            )
    return problems


def _corners(text: Text, renderer) -> np.ndarray:
    """The four corners of the text's (possibly rotated) box in display pixels: the unrotated
    size, turned by the rotation about the centre of the drawn extent."""
    box = Text.get_window_extent(text, renderer)  # an annotation's text, not its arrow
    angle = np.deg2rad(text.get_rotation())
    if abs(np.sin(angle)) < 1e-9 and abs(np.cos(angle)) > 1 - 1e-9:
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    rotation = text.get_rotation()
    text.set_rotation(0)
    flat = Text.get_window_extent(text, renderer)
    text.set_rotation(rotation)
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [flat.width / 2, flat.height / 2]
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return half @ turn.T + [(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2]


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Convex quadrilaterals overlap by more than the tolerance (separating axis test)."""
    for polygon in (a, b):
        for k in range(4):
            edge = polygon[(k + 1) % 4] - polygon[k]
            normal = np.array([-edge[1], edge[0]]) / (np.hypot(*edge) or 1.0)
            pa, pb = a @ normal, b @ normal
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= TOLERANCE_PX:
                return False
    return True


def _table_cells(figure) -> dict[int, object]:
    """id(text) -> the table cell holding it."""
    return {
        id(cell.get_text()): cell
        for table in figure.findobj(Table)
        for cell in table.get_celld().values()
    }


def layout_problems(figure, texts: Sequence[Text], panels: Sequence[PanelCheck]) -> list[str]:
    """Overlapping texts, texts outside the figure, clipped table cells."""
    renderer = figure.canvas.get_renderer()
    bounds = figure.bbox
    cells = _table_cells(figure)
    extents = [(text, Text.get_window_extent(text, renderer)) for text in texts]
    corners = [_corners(text, renderer) for text in texts]
    in_legend = {id(t) for legend in figure.findobj(Legend) for t in legend.get_texts()}
    problems = []
    for text, box in extents:
        outside = (
            box.x0 < bounds.x0 - TOLERANCE_PX
            or box.y0 < bounds.y0 - TOLERANCE_PX
            or box.x1 > bounds.x1 + TOLERANCE_PX
            or box.y1 > bounds.y1 + TOLERANCE_PX
        )
        if outside:
            problems.append(f"{_where(text, panels)} lies partly outside the figure")
        cell = cells.get(id(text))
        if cell is not None:
            frame = cell.get_window_extent(renderer)
            if box.x0 < frame.x0 - TOLERANCE_PX or box.x1 > frame.x1 + TOLERANCE_PX:
                problems.append(f"{_where(text, panels)} is clipped by its table cell")
    laid_out = set(cells) | in_legend  # table cells and legend entries have their own layout
    for i, first in enumerate(texts):
        for j in range(i + 1, len(texts)):
            second = texts[j]
            if id(first) in laid_out and id(second) in laid_out:
                continue
            if _overlap(corners[i], corners[j]):
                problems.append(f"{_where(first, panels)} overlaps {_where(second, panels)}")
    return problems


def _data_points(axis) -> np.ndarray:
    """Display coordinates of the data drawn on ``axis`` (line vertices, scatter points)."""
    points = []
    for line in axis.get_lines():
        if line.get_visible() and not line.get_label().startswith("_child"):
            xy = line.get_xydata()
            if len(xy):
                points.append(line.get_transform().transform(xy))
    for collection in axis.collections:
        if isinstance(collection, PathCollection) and collection.get_visible():
            offsets = collection.get_offsets()
            if len(offsets):
                points.append(collection.get_offset_transform().transform(offsets))
    return np.vstack(points) if points else np.empty((0, 2))


def empty_panel_problems(panels: Sequence[PanelCheck]) -> list[str]:
    """Panels whose legend counts mice but whose axes show no data (no finite point, line
    vertex or bar): a drawing that silently lost its data (e.g. levels that match no value)."""
    problems = []
    for panel in panels:
        counted = sum((panel.drawn_n or {}).values())
        if not counted or panel.axis is None:
            continue
        axis = panel.axis
        lines = [line.get_xydata() for line in axis.get_lines() if line.get_visible()]
        offsets = [c.get_offsets() for c in axis.collections if isinstance(c, PathCollection)]
        drawn = any(np.isfinite(np.asarray(xy, float)).all(axis=1).any() for xy in lines + offsets)
        bars = [p for p in axis.patches if getattr(p, "get_height", lambda: 0)()]
        if not drawn and not bars and not axis.images:
            problems.append(
                f"panel {panel.letter}: draws no data although its legend counts {counted} mice"
            )
    return problems


def legend_problems(figure, panels: Sequence[PanelCheck]) -> list[str]:
    """Legends drawn over data points of their axes."""
    renderer = figure.canvas.get_renderer()
    problems = []
    for axis in figure.axes:
        legend = axis.get_legend()
        if not isinstance(legend, Legend) or not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        points = _data_points(axis)
        finite = points[np.all(np.isfinite(points), axis=1)]
        inside = (
            (finite[:, 0] > box.x0)
            & (finite[:, 0] < box.x1)
            & (finite[:, 1] > box.y0)
            & (finite[:, 1] < box.y1)
        )
        if inside.any():
            name = next((f"panel {p.letter}" for p in panels if p.axis is axis), "figure")
            problems.append(f"{name}: the legend covers {int(inside.sum())} data points")
    return problems


def identifier_problems(
    texts: Sequence[Text], panels: Sequence[PanelCheck], identifiers: Mapping[str, str]
) -> list[str]:
    """Visible raw identifiers: '_' outside mathtext, or a config id (whose label differs from
    it by more than capitals) left once every label is taken out of the text."""
    raw = {k: v for k, v in identifiers.items() if str(k).lower() != str(v).lower()}
    labels = sorted({str(label) for label in raw.values()}, key=len, reverse=True)
    problems = []
    for text in texts:
        shown = MATHTEXT.sub("", text.get_text())
        if "_" in shown:
            problems.append(f"{_where(text, panels)} shows a raw identifier")
            continue
        for label in labels:
            shown = shown.replace(label, " ")
        for key in raw:
            if re.search(rf"(?<![\w]){re.escape(str(key))}(?![\w])", shown):
                problems.append(f"{_where(text, panels)} shows the config id '{key}'")
                break
    return problems


def check_figure(
    figure,
    statistics: pd.DataFrame | None = None,
    panels: Sequence[PanelCheck] = (),
    identifiers: Mapping[str, str] | None = None,
    allowed: Iterable[str] = (),
) -> list[str]:
    """Every problem of ``figure`` (marks, n, layout, identifiers), one sentence each, less
    those containing one of the ``allowed`` substrings (documented exceptions)."""
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)  # a closed figure keeps a bare canvas; measure with Agg
    figure.set_dpi(CHECK_DPI)
    texts = drawn_texts(figure)
    problems = (
        mark_problems(texts, statistics, panels)
        + n_problems(panels)
        + layout_problems(figure, texts, panels)
        + empty_panel_problems(panels)
        + legend_problems(figure, panels)
        + identifier_problems(texts, panels, identifiers or {})
    )
    allowed = list(allowed)
    return [p for p in problems if not any(a in p for a in allowed)]
