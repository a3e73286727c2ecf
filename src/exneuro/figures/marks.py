"""Significance marks drawn from rows of the statistics table, each carrying the row it shows.

Every star or "ns" on a figure is drawn by :func:`draw_mark` from one row of the study's
statistics table: its text is the bin of that row's adjusted p (:func:`significance_stars`), and
the text artist keeps the row's key and p so that :mod:`exneuro.figures.checks` can verify,
after drawing, that each mark matches a row and that each significant row a panel asks for has
its mark. Nothing here computes a p value.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from exneuro.stats.table import significance_stars

#: Columns that identify one row of the statistics table.
KEY_COLUMNS = ("analysis", "outcome", "subset", "test", "term")
P_COLUMN = "p_adj"


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def row_key(row: Mapping) -> str:
    """'analysis | outcome | subset | test | term' of a statistics row (empty parts kept)."""
    return " | ".join(_text(row.get(column)) for column in KEY_COLUMNS)


def draw_mark(axis, x: float, y: float, row: Mapping, *, show_ns: bool = True, **style):
    """Draw the stars (or 'ns') of ``row``'s adjusted p at (x, y) in data coordinates, upright
    and centred above the point; return the text artist (None when nothing is drawn: p missing,
    or not significant and ``show_ns`` is false)."""
    p = row.get(P_COLUMN)
    stars = significance_stars(float(p)) if p is not None else ""
    if not stars or (stars == "ns" and not show_ns):
        return None
    options = {"ha": "center", "va": "bottom", "fontsize": plt.rcParams["font.size"]}
    options.update(style)
    text = axis.text(x, y, stars, rotation=0, **options)
    text.statistics_key = row_key(row)
    text.statistics_p = float(p)
    return text
