"""Equal-weight pooling of values by unit (each cell the same number of events) before a
distribution test or a cumulative plot.

NumPy and pandas only, no SciPy: the figures pool events as the statistics do, and a figure job
should not load the statistics stack to draw a curve.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike


def equal_weight_pool(
    values: ArrayLike,
    unit_ids: ArrayLike,
    n_per_unit: int | None = None,
    seed: int | None = 0,
    method: Literal["quantile", "resample"] = "quantile",
) -> pd.DataFrame:
    """Give every unit (cell) the same number of values before pooling them for a KS test.

    Pooling raw events lets a cell with 500 events outweigh a cell with 20. This returns
    ``n_per_unit`` values per unit (default: the smallest unit's count):

    * ``"quantile"`` (deterministic, preferred): each unit's quantiles at the common
      probabilities p_k = (k - 0.5)/n, k = 1..n (Hazen plotting positions, R quantile type 5).
      A unit with exactly n values is returned unchanged (sorted); larger units are summarised
      by their ECDF at the same probabilities.
    * ``"resample"``: n values drawn at random from each unit (without replacement when the unit
      has at least n values, with replacement otherwise), using ``numpy.random.default_rng(seed)``.

    Returns a frame with columns ``unit`` and ``value`` (units in order of first appearance).
    """
    vals = np.asarray(values, dtype=float).ravel()
    ids = np.asarray(unit_ids).ravel()
    if vals.shape != ids.shape:
        raise ValueError("values and unit_ids must have the same length")
    keep = ~np.isnan(vals)
    vals, ids = vals[keep], ids[keep]
    codes, uniques = pd.factorize(ids)
    if len(uniques) == 0:
        raise ValueError("no values to pool")
    counts = np.bincount(codes, minlength=len(uniques))
    n = int(counts.min()) if n_per_unit is None else int(n_per_unit)
    if n < 1:
        raise ValueError("n_per_unit must be at least 1")
    rng = np.random.default_rng(seed)
    probs = (np.arange(n) + 0.5) / n
    pieces = []
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    for k in range(len(uniques)):
        unit_vals = vals[order[starts[k] : starts[k + 1]]]
        if method == "quantile":
            picked = np.quantile(unit_vals, probs, method="hazen")
        elif method == "resample":
            picked = rng.choice(unit_vals, size=n, replace=unit_vals.size < n)
        else:
            raise ValueError("method must be 'quantile' or 'resample'")
        pieces.append(picked)
    return pd.DataFrame(
        {"unit": np.repeat(np.asarray(uniques, dtype=object), n), "value": np.concatenate(pieces)}
    )
