"""DESeq2's dispersion prior width for designs with 1-3 residual degrees of freedom.

With so few degrees of freedom the moment estimate ``mad(residuals)^2 - trigamma(df / 2)`` is
unreliable, and DESeq2 (``estimateDispersionsPriorVar``) instead picks the prior variance ``x``
in ``seq(0, 8, length = 200)`` whose simulated log-dispersion residuals
``log(chi^2_df / df) + N(0, x)`` (10,000 draws each, after ``set.seed(2)``) best match the
observed ones: the Kullback-Leibler divergence between the two histograms (bins of 0.5 on
(-10, 10)) is smoothed by ``loess(span = 0.2)`` (local quadratic, tricube weights) and
minimised on a 1,000-point grid; the result is at least 0.25.

The simulated histograms do not depend on the data, so they are R's own draws, stored per df
in ``deseq2_prior_simulation.tsv.gz`` (made by
``tests/reference/deseq2_prior_simulation/make_table.R``); the loess is R's, including its
interpolation between k-d tree vertices.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

TABLE = Path(__file__).with_name("deseq2_prior_simulation.tsv.gz")
BREAKS = np.arange(-20, 21) / 2.0
GRID = np.linspace(0.0, 8.0, 200)
FINE_GRID = np.linspace(0.0, 8.0, 1000)


@cache
def _simulated_densities(df: int) -> np.ndarray:
    """R's simulated histogram densities for ``df``: (200 grid variances, 40 bins)."""
    table = pd.read_csv(TABLE, sep="\t")
    counts = table.loc[table["df"] == df].sort_values("grid_index").iloc[:, 2:].to_numpy(float)
    return counts / (counts.sum(axis=1, keepdims=True) * 0.5)


def _histogram_density(values: np.ndarray) -> np.ndarray:
    """R ``hist(values, breaks = -20:20/2)$density``: right-closed bins, lowest included."""
    bins = np.clip(np.searchsorted(BREAKS, values, side="left") - 1, 0, BREAKS.size - 2)
    counts = np.bincount(bins, minlength=BREAKS.size - 1).astype(float)
    return counts / (values.size * 0.5)


def _local_quadratic(x, y, at, span):
    """Value and slope at each point of ``at`` of the local quadratic fit with tricube weights
    on the ``floor(n span)`` nearest points (Cleveland & Devlin 1988)."""
    n_near = int(np.floor(x.size * span + 1e-5))
    distance = np.abs(at[:, None] - x[None, :])
    radius = np.sort(distance, axis=1)[:, n_near - 1]
    weights = np.clip(1.0 - (distance / radius[:, None]) ** 3, 0.0, None) ** 3
    offset = x[None, :] - at[:, None]
    basis = np.stack([np.ones_like(offset), offset, offset**2], axis=-1)
    normal = np.einsum("gn,gni,gnj->gij", weights, basis, basis)
    right = np.einsum("gn,gni,n->gi", weights, basis, y)
    coefficients = np.linalg.solve(normal, right[..., None])[..., 0]
    return coefficients[:, 0], coefficients[:, 1]


def _kd_vertices(x: np.ndarray, per_cell: int) -> np.ndarray:
    """Vertices of R loess's k-d tree on sorted distinct 1-D ``x`` (``ehg126``/``ehg124``):
    the range widened by 0.5% each side, cells split at their median point (the lower
    middle one) until they hold at most ``per_cell`` points."""
    margin = 0.005 * (x[-1] - x[0])
    vertices = [x[0] - margin, x[-1] + margin]
    cells = [(0, x.size - 1, vertices[0], vertices[1])]
    while cells:  # about 2 n / per_cell cells
        low, high, left, right = cells.pop()
        middle = (low + high) // 2
        if high - low + 1 <= per_cell or x[middle] in (left, right):
            continue
        vertices.append(x[middle])
        cells += [(low, middle, left, x[middle]), (middle + 1, high, x[middle], right)]
    return np.sort(vertices)


def loess(x: np.ndarray, y: np.ndarray, at: np.ndarray, span: float, cell: float = 0.2):
    """R ``predict(loess(y ~ x, span = span), at)`` for sorted distinct 1-D ``x`` (degree 2,
    gaussian family, ``surface = "interpolate"``): local fits at the k-d tree vertices,
    cubic Hermite interpolation of their values and slopes in between (``ehg128``)."""
    vertices = _kd_vertices(x, int(np.floor(x.size * span * cell)))
    values, slopes = _local_quadratic(x, y, vertices, span)
    right = np.clip(np.searchsorted(vertices, at, side="left"), 1, vertices.size - 1)
    v0, v1 = vertices[right - 1], vertices[right]
    width = v1 - v0
    h = (at - v0) / width
    return (
        (1 - h) ** 2 * (1 + 2 * h) * values[right - 1]
        + h**2 * (3 - 2 * h) * values[right]
        + (h * (1 - h) ** 2 * slopes[right - 1] + h**2 * (h - 1) * slopes[right]) * width
    )


def simulated_prior_variance(residuals: np.ndarray, df: int) -> float:
    """DESeq2's prior variance of log dispersions for ``df`` (1-3) residual degrees of freedom,
    from the log residuals of gene-wise estimates against the trend."""
    observed = residuals[(residuals > BREAKS[0]) & (residuals < BREAKS[-1])]
    observed_density = _histogram_density(observed)
    simulated = _simulated_densities(df)
    positive = np.concatenate([observed_density[None, :].repeat(GRID.size, 0), simulated], 1)
    small = np.where(positive > 0, positive, np.inf).min(axis=1)
    divergence = np.sum(
        observed_density[None, :]
        * (np.log(observed_density[None, :] + small[:, None]) - np.log(simulated + small[:, None])),
        axis=1,
    )
    smooth = loess(GRID, divergence, FINE_GRID, span=0.2)
    return max(float(FINE_GRID[np.argmin(smooth)]), 0.25)
