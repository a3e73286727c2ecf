"""SuperPlots of nested data (the spine, histology and per-cell ephys panels draw them).

A SuperPlot (Lord, Velle, Mullins & Fritz-Laylin 2020, *J Cell Biol* 219:e202001064) shows every
cell (here: every dendritic segment or section) as a small point coloured by the mouse it came
from, each mouse's mean as a large point of the same colour, and the group summary computed from
the mouse means — so the reader sees both the spread of cells and that n = mice. Here each
mouse gets a shade of its group's configured colour (deterministic: mice in sorted order from dark
to light), points are spread by rank within bins of value (no random jitter, so the same data
give the same bytes), and the group line is the mean ± SEM of the mouse means. Significance
stars come from a row of the statistics table, never recomputed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import to_hex, to_rgb

from exneuro.figures.marks import draw_mark
from exneuro.figures.style import (
    legend_above,
)
from exneuro.figures.treadmill import SPLIT_MARKERS, split_levels, spread_offsets

__all__ = ["mouse_shades", "superplot"]


def mouse_shades(colour: str, n: int, spread: float = 0.55) -> list[str]:
    """``n`` shades of ``colour`` from darker to lighter (the colour itself in the middle).

    Shade k mixes the colour with black (first half) or white (second half) by up to ``spread``,
    so mice of one group read as one colour family and stay distinguishable.
    """
    base = np.array(to_rgb(colour))
    if n <= 1:
        return [to_hex(base)]
    shades = []
    for f in np.linspace(-spread, spread, n):
        rgb = base * (1 + f) if f < 0 else base + (1 - base) * f
        shades.append(to_hex(np.clip(rgb, 0, 1)))
    return shades


def _swarm_offsets(values: np.ndarray, width: float, n_bins: int = 20) -> np.ndarray:
    """Deterministic beeswarm: points binned by value, spread by rank within their bin
    (:func:`~exneuro.figures.treadmill.spread_offsets`), bin width scaled by its count."""
    values = np.asarray(values, dtype=float)
    offsets = np.zeros(values.size)
    if values.size <= 1:
        return offsets
    low, high = np.nanmin(values), np.nanmax(values)
    if high <= low:
        return spread_offsets(np.arange(values.size, dtype=float), width)
    bins = np.minimum(((values - low) / (high - low) * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    for b in np.flatnonzero(counts):
        inside = np.flatnonzero(bins == b)
        offsets[inside] = spread_offsets(values[inside], width * counts[b] / counts.max())
    return offsets


def _weighted_mean(values: pd.Series, weights: pd.Series | None) -> float:
    if weights is None:
        return float(values.mean())
    w = weights.to_numpy(float)
    return float(np.sum(values.to_numpy(float) * w) / np.sum(w))


def superplot(
    axis,
    data: pd.DataFrame,
    value: str,
    group: str,
    mouse: str,
    order: Sequence[str],
    colours: Mapping[str, str],
    *,
    labels: Mapping[str, str] | None = None,
    statistics_row: pd.Series | None = None,
    p_column: str = "p_adj",
    weight: str | None = None,
    ylabel: str | None = None,
    width: float = 0.62,
    point_size: float = 2.0,
    mouse_size: float = 18.0,
    split: str | None = None,
    animals: str = "mice",
) -> pd.DataFrame:
    """Draw a SuperPlot of ``value`` by ``group`` on ``axis``; return every point drawn.

    ``data`` has one row per cell/segment/section with ``value``, ``group`` and ``mouse``;
    ``order`` lists the groups left to right; ``colours`` maps groups to colours. Each mouse's
    mean is the ``weight``-weighted mean of its rows when ``weight`` is given (e.g. length_um
    for densities, n_labelled for section percentages: the mouse's pooled value). The group bar
    is the mean ± SEM of the mouse means. ``statistics_row`` (a row of the statistics table)
    gives the stars over the two groups (from ``p_column``) — pass the test you report. With a
    ``split`` column (a factor of the model, e.g. sex) each group is drawn as one column per
    level, mouse means with the level's marker shape, and each level has its own mean ± SEM, so
    that no drawn mean mixes the levels (a legend names the shapes).

    The returned source data has one row per point: ``kind`` ('cell', 'mouse' or 'group'),
    ``group``, ``mouse``, ``value``, ``x`` (position drawn), ``colour``, and for group rows
    ``sem`` and ``n_mice`` (and the ``split`` level). ``animals``: the word under each group's n
    ('mice', 'rats').
    """
    labels = dict(labels or {})
    levels = split_levels(data, split)
    split = split if levels != [None] else None
    part_width = width / len(levels)
    records = []
    n_mice = {}
    for index, name in enumerate(order):
        in_group = data[data[group].astype(str) == str(name)]
        mice = sorted(in_group[mouse].astype(str).unique())
        shades = dict(zip(mice, mouse_shades(colours[name], len(mice)), strict=True))
        n_mice[name] = len(mice)
        for k, level in enumerate(levels):
            part = in_group[in_group[split].astype(str) == level] if split else in_group
            centre = index + (k - (len(levels) - 1) / 2) * part_width
            records += _superplot_column(
                axis,
                part,
                value,
                mouse,
                weight,
                shades,
                centre,
                part_width,
                0.3 / len(levels),
                SPLIT_MARKERS[k],
                point_size,
                mouse_size,
                {"group": str(name), **({split: level} if split else {})},
                colours[name],
            )
    top = float(np.nanmax(data[value])) if len(data) else 1.0
    low = min(0.0, float(np.nanmin(data[value]))) if len(data) else 0.0
    span = top - low if top > low else 1.0
    if statistics_row is not None and len(order) >= 2:
        height = top + 0.07 * span
        mark = dict(statistics_row)
        mark["p_adj"] = statistics_row[p_column]
        if draw_mark(axis, (len(order) - 1) / 2, height, mark) is not None:
            tick = 0.025 * span
            axis.plot(
                [0, 0, len(order) - 1, len(order) - 1],
                [height - tick, height, height, height - tick],
                color="black",
                lw=0.6,
            )
    if split:
        for k, level in enumerate(levels):
            axis.scatter(
                [],
                [],
                s=mouse_size,
                marker=SPLIT_MARKERS[k],
                c="white",
                edgecolors="black",
                linewidths=0.5,
                label=level,
            )
        legend_above(axis, ncols=len(levels), title=split, handletextpad=0.2)
    axis.set_xticks(
        range(len(order)), [f"{labels.get(g, g)}\n{n_mice[g]} {animals}" for g in order]
    )
    axis.set_xlim(-0.6, len(order) - 0.4)
    axis.set_ylim(low, top + 0.2 * span)
    if ylabel:
        axis.set_ylabel(ylabel)
    source = pd.concat(records, ignore_index=True)
    kept = ["kind", "group", *([split] if split else []), "mouse", "value", "x", "colour"]
    return source[[*kept, "sem", "n_mice"]]


def _superplot_column(
    axis,
    part,
    value,
    mouse,
    weight,
    shades,
    centre,
    width,
    half_bar,
    marker,
    point_size,
    mouse_size,
    keys: Mapping[str, str],
    colour: str,
) -> list[pd.DataFrame]:
    """One column of a SuperPlot (a group, or a group x level): its cells, its mouse means and
    their mean ± SEM; the source-data rows of what was drawn."""
    mice = sorted(part[mouse].astype(str).unique())
    vals = part[value].to_numpy(float)
    x = centre + _swarm_offsets(vals, width)
    cell_colours = part[mouse].astype(str).map(shades).to_numpy()
    axis.scatter(x, vals, s=point_size, c=list(cell_colours), lw=0, alpha=0.75, zorder=2)
    means = np.array(
        [
            _weighted_mean(
                part.loc[part[mouse].astype(str) == m, value],
                part.loc[part[mouse].astype(str) == m, weight] if weight else None,
            )
            for m in mice
        ]
    )
    mx = centre + spread_offsets(means, width * 0.45)
    axis.scatter(
        mx,
        means,
        s=mouse_size,
        c=[shades[m] for m in mice],
        marker=marker,
        edgecolors="black",
        linewidths=0.5,
        zorder=4,
    )
    n = len(means)
    mean = float(means.mean()) if n else np.nan
    sem = float(means.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    axis.errorbar(
        centre, mean, yerr=sem, color="black", capsize=2.5, lw=0.8, capthick=0.8, zorder=5
    )
    axis.plot([centre - half_bar, centre + half_bar], [mean, mean], color="black", lw=1.0, zorder=5)
    cells = pd.DataFrame(
        {
            "kind": "cell",
            **keys,
            "mouse": part[mouse].astype(str).to_numpy(),
            "value": vals,
            "x": x,
            "colour": cell_colours,
        }
    )
    mouse_rows = pd.DataFrame(
        {
            "kind": "mouse",
            **keys,
            "mouse": mice,
            "value": means,
            "x": mx,
            "colour": [shades[m] for m in mice],
        }
    )
    summary = pd.DataFrame(
        [
            {
                "kind": "group",
                **keys,
                "value": mean,
                "x": float(centre),
                "colour": colour,
                "sem": sem,
                "n_mice": n,
            }
        ]
    )
    return [cells, mouse_rows, summary]
