"""RNA-seq sample QC panels: library sizes and sample-to-sample distances, samples grouped and
coloured by condition (the QC figure adds the PCA of :mod:`exneuro.figures.rnaseq`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from exneuro.figures.rnaseq import sample_order


def _sample_ticks(axis, names: Sequence[str], rotation: float = 0, max_names: int = 24) -> None:
    """Sample names as tick labels, every k-th one when there are more than ``max_names`` (a
    figure column has no room for 50 names), in a small font."""
    step = max(1, int(np.ceil(len(names) / max_names)))
    positions = np.arange(0, len(names), step)
    axis.set_ticks(positions, [names[k] for k in positions], rotation=rotation)
    axis.set_tick_params(labelsize=plt.rcParams["font.size"] - 2.5)


def library_size_bars(
    axis,
    sizes: pd.DataFrame,
    samples: pd.DataFrame,
    column: str,
    order: Sequence[str],
    colours: Mapping[str, str],
) -> pd.DataFrame:
    """Library size (million reads) of every sample, grouped and coloured by condition."""
    ordered = sample_order(samples, column, order)
    table = sizes.set_index("sample").loc[ordered].reset_index()
    table["condition"] = [samples.at[s, column] for s in ordered]
    axis.bar(
        np.arange(len(table)),
        table["library_size"] / 1e6,
        color=[colours.get(c, "#999999") for c in table["condition"]],
        width=0.8,
        lw=0,
    )
    _sample_ticks(axis.xaxis, list(table["sample"]), rotation=90)
    axis.set_ylabel("Library size (million reads)")
    return table


def distance_heatmap(
    axis, distances: pd.DataFrame, samples: pd.DataFrame, column: str, order: Sequence[str]
) -> pd.DataFrame:
    """Sample-to-sample Euclidean distances of the VST matrix, samples grouped by condition."""
    ordered = sample_order(samples, column, order)
    matrix = distances.loc[ordered, ordered]
    values = matrix.to_numpy(float).copy()
    np.fill_diagonal(values, np.nan)  # the zero diagonal would swamp the colour scale
    image = axis.imshow(
        values,
        cmap="viridis_r",
        interpolation="nearest",
        vmin=np.nanmin(values),
        vmax=np.nanmax(values),
    )
    _sample_ticks(axis.xaxis, ordered, rotation=90)
    _sample_ticks(axis.yaxis, ordered)
    axis.figure.colorbar(image, ax=axis, fraction=0.046, pad=0.02, label="Euclidean distance (VST)")
    return matrix.rename_axis("sample").reset_index()
