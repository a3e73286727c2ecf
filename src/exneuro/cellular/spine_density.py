"""Spine densities of every segment, neuron and mouse, by spine type and in total.

Densities are spines per ``per_um`` µm of dendrite (per 10 µm by default, as most Golgi and
dye-fill studies report). A neuron's or mouse's density is **length-weighted**: the sum of its
counts over the sum of its traced lengths, i.e. the density of all its dendrite pooled, so a
15 µm segment does not weigh as much as a 40 µm one. This is the standard definition (the count
of spines per unit length over the sampled dendrite) and the one the per-mouse statistics use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from exneuro.cellular.spines import (
    SEGMENT_ID_FIELDS,
    TOTAL,
    count_column,
    density_column,
    validated_spine_types,
)

__all__ = ["mouse_density", "neuron_density", "segment_density"]


def segment_density(
    segments: pd.DataFrame, spine_types: Sequence[str], per_um: float = 10.0
) -> pd.DataFrame:
    """Spine density of every segment, long: one row per segment and type, plus 'total'.

    density = count / length_um * per_um (spines per 10 µm by default). Returns ``mouse``,
    ``neuron``, ``segment``, ``spine_type`` (each configured type, then ``'total'``), ``count``,
    ``length_um`` and ``density_per_10um``, rows grouped by type; other columns of ``segments``
    (e.g. ``group``, ``cohort`` from the sample sheet) are carried along.
    """
    types = validated_spine_types(spine_types)
    counts = [count_column(t) for t in types]
    missing = [c for c in [*SEGMENT_ID_FIELDS, "length_um", *counts] if c not in segments.columns]
    if missing:
        raise KeyError(f"segment table lacks column(s) {missing}")
    carried = [
        c
        for c in segments.columns
        if c not in counts and c not in ("length_um", "source_line") and not c.endswith("_count")
    ]
    n = len(segments)
    matrix = segments[counts].to_numpy(np.int64) if counts else np.zeros((n, 0), np.int64)
    matrix = np.column_stack([matrix, matrix.sum(axis=1)])
    labels = [*types, TOTAL]
    length = segments["length_um"].to_numpy(float)
    out = segments[carried].iloc[np.tile(np.arange(n), len(labels))].reset_index(drop=True)
    out.insert(out.columns.get_loc("segment") + 1, "spine_type", np.repeat(labels, n))
    out["count"] = matrix.T.ravel()
    out["length_um"] = np.tile(length, len(labels))
    out[density_column(per_um)] = out["count"] / out["length_um"] * per_um
    return out


def _pooled_density(
    density: pd.DataFrame, by: list[str], per_um: float, drop: Sequence[str]
) -> pd.DataFrame:
    column = density_column(per_um)
    keys = [
        c
        for c in density.columns
        if c not in (*drop, "count", "length_um", column, "source_line")
        and not c.startswith("density_per_")
    ]
    keys = by + [c for c in keys if c not in by]
    grouped = density.groupby(keys, sort=False, observed=True, dropna=False)
    out = grouped.agg(
        n_segments=("segment", "size"), count=("count", "sum"), length_um=("length_um", "sum")
    ).reset_index()
    out[column] = out["count"] / out["length_um"] * per_um
    return out


def neuron_density(density: pd.DataFrame, per_um: float = 10.0) -> pd.DataFrame:
    """Length-weighted density of every neuron and spine type from :func:`segment_density`.

    density = sum of counts / sum of traced lengths * per_um over the neuron's segments (its
    dendrite pooled): the standard definition, which weights each segment by its length rather
    than averaging segment densities. Returns the id columns, ``spine_type``, ``n_segments``,
    ``count``, ``length_um`` and the density.
    """
    return _pooled_density(density, ["mouse", "neuron", "spine_type"], per_um, ["segment"])


def mouse_density(density: pd.DataFrame, per_um: float = 10.0) -> pd.DataFrame:
    """Length-weighted density of every mouse and spine type (all its traced dendrite pooled).

    As :func:`neuron_density` one level up; also ``n_neurons`` and
    ``mean_neuron_density_per_10um``, the unweighted mean over the mouse's neurons, for
    comparison with studies that average neurons.
    """
    per_neuron = neuron_density(density, per_um)
    column = density_column(per_um)
    out = _pooled_density(density, ["mouse", "spine_type"], per_um, ["segment", "neuron"])
    keys = [c for c in out.columns if c not in ("n_segments", "count", "length_um", column)]
    neurons = (
        per_neuron.groupby(keys, sort=False, observed=True, dropna=False)
        .agg(n_neurons=("neuron", "size"), mean_neuron=(column, "mean"))
        .reset_index()
    )
    out = out.merge(neurons, on=keys, how="left", validate="one_to_one")
    out = out.rename(columns={"mean_neuron": f"mean_neuron_{column}"})
    first = [*keys, "n_neurons", "n_segments", "count", "length_um", column]
    return out[first + [c for c in out.columns if c not in first]]
