"""The heatmap panel of the photometry figure: every mouse x time on one day, mice grouped by
group (and, with a fixed model factor such as sex, by level within group)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import transforms

from exneuro.figures.photometry_metric import QC_FAILED
from exneuro.figures.treadmill import split_levels


def plot_heatmap(
    axis,
    traces: pd.DataFrame,
    day,
    group_order: Sequence[str],
    labels: Mapping[str, str],
    run_duration_s: float | None = None,
    failed_qc: Mapping[str, str] | None = None,
    x_label: str = "Time from run onset (min)",
    unit_s: float = 60.0,
    zero_is_event: bool = True,
    split: str | None = None,
) -> pd.DataFrame:
    """Mice × time heatmap of ΔF/F (%) on ``day``, mice grouped in ``group_order`` (symmetric
    diverging colour scale at the 99th percentile of |ΔF/F|); the event at time 0 (unless
    ``zero_is_event`` is False: whole sessions) and the run's end dashed. Spans
    left out of a session (disconnected, excluded) stay blank. ``failed_qc`` (mouse → QC reasons
    of its session on ``day``): those rows are marked with a red cross at the right edge and the
    source data gain a ``qc_failed`` column. ``split`` (a column of ``traces``, a fixed model
    factor such as sex): within each group the mice are grouped by level, each block named at
    its left edge and set off by a dotted line; the source data gain the column."""
    data = traces[traces["day"] == day]
    order = {group: index for index, group in enumerate(group_order)}
    levels = split_levels(data, split)
    split = split if levels != [None] else None
    if split:
        data = data.assign(**{split: data[split].astype(str)})
    level_rank = {level: index for index, level in enumerate(levels)}
    mice = (
        data[["mouse", "group", *([split] if split else [])]]
        .drop_duplicates("mouse")
        .assign(
            rank=lambda f: f["group"].map(order),
            level_rank=lambda f: f[split].map(level_rank) if split else 0,
        )
        .sort_values(["rank", "level_rank", "mouse"])
    )
    wide = data.pivot_table(index="mouse", columns="time_s", values="dff", aggfunc="mean")
    wide = wide.reindex(mice["mouse"])
    values = wide.to_numpy() * 100
    times = wide.columns.to_numpy(float) / unit_s
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    limit = float(np.nanpercentile(np.abs(values), 99)) if np.isfinite(values).any() else 1.0
    image = axis.imshow(
        values,
        aspect="auto",
        interpolation="nearest",
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        extent=(times[0] - step / 2, times[-1] + step / 2, len(mice), 0),
    )
    counts = mice["group"].value_counts().reindex(list(group_order)).fillna(0).astype(int)
    bounds = np.cumsum(counts.to_numpy())
    for bound in bounds[:-1]:
        axis.axhline(bound, color="black", lw=0.6)
    centres = bounds - counts.to_numpy() / 2.0
    shown = counts.to_numpy() > 0
    axis.set_yticks(
        centres[shown],
        [labels.get(g, g) for g in counts.index[shown]],
        rotation=90,
        va="center",
    )
    axis.tick_params(axis="y", length=0)
    if split:
        _label_levels(axis, mice, split)
    edges = [0.0] if zero_is_event else []
    edges += [run_duration_s / unit_s] if run_duration_s else []
    for edge in edges:
        axis.axvline(edge, color="black", lw=0.5, ls="--")
    axis.set_xlabel(x_label)
    axis.set_title(f"Day {day}")
    columns = ["mouse", "group", *([split] if split else []), "day", "time_s", "dff"]
    long = data.merge(mice[["mouse"]], on="mouse")
    if failed_qc is not None:
        rows = np.flatnonzero(mice["mouse"].isin(list(failed_qc)).to_numpy())
        if rows.size:
            axis.plot(
                np.full(rows.size, times[-1] + step / 2),
                rows + 0.5,
                "x",
                color=QC_FAILED,
                ms=3,
                clip_on=False,
                label="failed QC",
            )
            axis.legend(loc="lower left", bbox_to_anchor=(0.0, 1.08), handlelength=0.8)
        long = long.assign(qc_failed=long["mouse"].map(dict(failed_qc)).fillna(""))
        columns.append("qc_failed")
    colourbar = axis.figure.colorbar(image, ax=axis, fraction=0.06, pad=0.02)
    colourbar.set_label("ΔF/F (%)")
    colourbar.outline.set_linewidth(0.5)
    ranks = {"group": order, **({split: level_rank} if split else {})}
    # rows in drawing order: group, level of the split, mouse
    return long[columns].sort_values(
        ["group", *([split] if split else []), "mouse", "time_s"],
        key=lambda s: s.map(ranks[s.name]) if s.name in ranks else s,
    )


def _label_levels(axis, mice: pd.DataFrame, split: str) -> None:
    """Each group x level block of heatmap rows named at its left edge (a dotted line between
    the levels of one group); ``mice`` in drawing order."""
    blocks = mice.groupby(["rank", "level_rank"], sort=True)
    start = 0
    for (_, level_index), block in blocks:
        if level_index > 0:
            axis.axhline(start, color="black", lw=0.5, ls=":")
        axis.text(
            0.01,
            start + len(block) / 2.0,
            str(block[split].iloc[0]),
            transform=transforms.blended_transform_factory(axis.transAxes, axis.transData),
            va="center",
            ha="left",
            fontsize=plt.rcParams["font.size"] - 1,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.8},
        )
        start += len(block)
