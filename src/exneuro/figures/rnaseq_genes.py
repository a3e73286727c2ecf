"""RNA-seq plots of one contrast, gene by gene: the volcano and MA plots and their labels of the
top genes.

Deterministic: labels placed by a fixed rule (top genes by adjusted p, stacked on the side of
their point and pushed apart vertically). Every gene is drawn as one scatter layer, rasterized
inside vector formats (tens of thousands of points), the labels and axes staying vector.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from exneuro.rnaseq.summary import call_de, top_genes

UP, DOWN, NOT_DE = "#B2182B", "#2166AC", "#BDBDBD"
P_FLOOR = 1e-300


def _spread_labels(targets: np.ndarray, min_gap: float, low: float, high: float) -> np.ndarray:
    """Label positions near ``targets`` (sorted order kept) at least ``min_gap`` apart, inside
    [low, high]: a forward then a backward pass — deterministic, no iteration to converge."""
    order = np.argsort(targets, kind="stable")
    placed = np.asarray(targets, float)[order].copy()
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + min_gap)
    if len(placed) and placed[-1] > high:
        placed[-1] = high
        for i in range(len(placed) - 2, -1, -1):
            placed[i] = min(placed[i], placed[i + 1] - min_gap)
    placed = np.maximum(placed, low)
    result = np.empty_like(placed)
    result[order] = placed
    return result


def _label_points(axis, x, y, labels, x_side: np.ndarray) -> pd.DataFrame:
    """Write ``labels`` in two columns inside the axes — points left of centre labelled from
    the left edge, the others from the right edge — near their point's height, pushed apart by
    a line of text and kept below the counts written at the top, each joined to its point by a
    hairline. Nothing lands on the tick labels outside the axes."""
    if len(labels) == 0:
        return pd.DataFrame(columns=["label", "x", "y", "label_x", "label_y"])
    to_axes = axis.transAxes.inverted().transform
    points = to_axes(axis.transData.transform(np.column_stack([x, y])))
    size = plt.rcParams["font.size"] - 1.5
    height_pt = axis.get_position().height * axis.figure.get_figheight() * 72
    height_pt = max(height_pt, 1.0)
    # the layout still narrows the axes after drawing: room for a line and a half per label
    gap, top = 2.6 * size / height_pt, 1 - 4.5 * size / height_pt
    rows = []
    for side in (-1, 1):
        inside = np.flatnonzero(x_side == side)
        inside = inside[: int((top - 0.04) / gap) + 1]  # as many as fit, best first
        if not len(inside):
            continue
        label_y = _spread_labels(points[inside, 1], gap, 0.04, top)
        label_x = np.full(len(inside), 0.03 if side < 0 else 0.97)
        for k, i in enumerate(inside):
            axis.annotate(
                labels[i],
                xy=(x[i], y[i]),
                xytext=(label_x[k], label_y[k]),
                textcoords="axes fraction",
                ha="left" if side < 0 else "right",
                va="center",
                fontsize=size,
                fontstyle="italic",
                arrowprops={
                    "arrowstyle": "-",
                    "lw": 0.3,
                    "color": "0.3",
                    "shrinkA": 0,
                    "shrinkB": 1,
                },
            )
            rows.append(
                {
                    "label": labels[i],
                    "x": x[i],
                    "y": y[i],
                    "label_x": label_x[k],
                    "label_y": label_y[k],
                }
            )
    return pd.DataFrame(rows)


def _names(table: pd.DataFrame, gene_names: pd.Series | None) -> pd.Series:
    ids = table["gene_id"].astype(str)
    if gene_names is None:
        return ids
    return ids.map(gene_names.astype(str)).fillna(ids)


def _scatter_genes(axis, data: pd.DataFrame) -> None:
    """Every gene as a small dot at (``x``, ``y``) coloured by its ``direction``, the DE genes
    drawn last so that none hides under the unchanged ones."""
    colour = data["direction"].map({"up": UP, "down": DOWN, "": NOT_DE})
    order = np.argsort(data["direction"] != "", kind="stable")
    axis.scatter(
        data["x"].to_numpy()[order],
        data["y"].to_numpy()[order],
        s=2,
        c=colour.to_numpy()[order],
        linewidths=0,
        rasterized=True,
    )


def _label_top_genes(axis, data: pd.DataFrame, n_labels: int, split_x: float) -> pd.DataFrame:
    """Name the ``n_labels`` top DE genes of a drawn plot, labels pushed left of points with
    x below ``split_x`` and right otherwise; returns the plot's source data, one row per gene,
    with whether it was labelled and where its label stands."""
    top = top_genes(data[data["direction"] != ""], n_labels)
    labelled = _label_points(
        axis,
        top["x"].to_numpy(),
        top["y"].to_numpy(),
        top["gene_name"].tolist(),
        np.where(top["x"].to_numpy() < split_x, -1, 1),
    )
    data["labelled"] = data["gene_id"].isin(top["gene_id"]) & data["gene_name"].isin(
        labelled["label"]
    )
    source = data[["gene_id", "gene_name", "x", "y", "padj", "direction", "labelled"]]
    return source.merge(
        labelled.rename(columns={"label": "gene_name"})[["gene_name", "label_x", "label_y"]],
        on="gene_name",
        how="left",
    ).reset_index(drop=True)


def volcano(
    axis,
    table: pd.DataFrame,
    alpha: float = 0.05,
    lfc_threshold: float = 0.0,
    n_labels: int = 10,
    gene_names: pd.Series | None = None,
    title: str | None = None,
) -> pd.DataFrame:
    """Volcano plot: log2 fold change against -log10 p, DE genes (padj < alpha, |LFC| >=
    threshold) in red (up) and blue (down), the ``n_labels`` top genes by padj named.

    Returns one row per gene drawn (genes with no p-value — Cook's outliers, all-zero — are not
    drawn) with x, y, direction and whether it is labelled.
    """
    data = table.dropna(subset=["pvalue", "log2FoldChange"]).copy()
    data["gene_name"] = _names(data, gene_names).to_numpy()
    data["direction"] = call_de(data, alpha, lfc_threshold).to_numpy()
    data["x"] = data["log2FoldChange"]
    data["y"] = -np.log10(np.maximum(data["pvalue"], P_FLOOR))
    _scatter_genes(axis, data)
    if lfc_threshold > 0:
        for sign in (-1, 1):
            axis.axvline(sign * lfc_threshold, color="0.5", lw=0.4, ls="--")
    axis.set_xlabel("log$_2$ fold change")
    axis.set_ylabel("$-$log$_{10}$ p")
    limit = float(np.nanmax(np.abs(data["x"]))) * 1.1 if len(data) else 1.0
    axis.set_xlim(-limit, limit)
    axis.set_ylim(0, float(data["y"].max()) * 1.08 if len(data) else 1.0)
    if title:
        axis.set_title(title)
    source = _label_top_genes(axis, data, n_labels, split_x=0.0)
    n_up, n_down = int((data["direction"] == "up").sum()), int((data["direction"] == "down").sum())
    axis.text(0.02, 0.98, f"{n_down} down", transform=axis.transAxes, color=DOWN, va="top")
    axis.text(0.98, 0.98, f"{n_up} up", transform=axis.transAxes, color=UP, va="top", ha="right")
    return source


def ma_plot(
    axis,
    table: pd.DataFrame,
    alpha: float = 0.05,
    lfc_threshold: float = 0.0,
    n_labels: int = 10,
    gene_names: pd.Series | None = None,
    title: str | None = None,
) -> pd.DataFrame:
    """MA plot: mean of normalized counts (log10) against log2 fold change — the shrunk fold
    change when the table has one (as DESeq2's ``plotMA`` after ``lfcShrink``), DE genes coloured
    and the top genes named. Returns one row per gene drawn."""
    column = "log2FoldChange_shrunk" if "log2FoldChange_shrunk" in table else "log2FoldChange"
    data = table[table["baseMean"] > 0].dropna(subset=[column]).copy()
    data["gene_name"] = _names(data, gene_names).to_numpy()
    data["direction"] = call_de(data, alpha, lfc_threshold).to_numpy()
    data["x"] = np.log10(data["baseMean"])
    data["y"] = data[column]
    _scatter_genes(axis, data)
    axis.axhline(0, color="0.3", lw=0.5)
    axis.set_xlabel("log$_{10}$ mean of normalized counts")
    axis.set_ylabel("log$_2$ fold change" + (" (shrunk)" if column.endswith("shrunk") else ""))
    if title:
        axis.set_title(title)
    return _label_top_genes(axis, data, n_labels, split_x=float(data["x"].median()))
