"""Nested data (cells within mice): the cluster-level test and the hierarchical bootstrap.

Cells from one mouse are not independent, so a t test over cells is anti-conservative
(pseudoreplication). :func:`cluster_level_test` tests per-mouse means (n = mice) and
:func:`hierarchical_bootstrap` resamples mice and then cells within mice (Saravanan, Berman &
Sober 2020, *Neurons, Behavior, Data analysis, and Theory* 3(5)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from exneuro.stats.effect_sizes import _check_level
from exneuro.stats.table import format_n_by_group, stats_frame
from exneuro.stats.two_group import _two_group_record

# ------------------------------------------------------------------------------------------------
# Nested data: cells within mice
# ------------------------------------------------------------------------------------------------


#: What a row of the naive test (every innermost unit as n) says of itself, ``{unit}`` and
#: ``{units}`` the unit's name: shown beside the mouse-level tests, never used for inference.
NAIVE_NOTE = (
    "naive (pseudoreplicated): every {unit} treated as an independent n although {units} of one "
    "mouse are not independent; anti-conservative (false positives far above the nominal rate "
    "when mice differ); reported only to show the cost of pseudoreplication, not for inference"
)


def _group_labels(column: pd.Series, labels: Sequence[str] | None) -> tuple[str, str]:
    """The two groups to compare: ``labels`` if given, else categories / sorted unique values."""
    present = pd.unique(column.dropna())
    if labels is not None:
        chosen = tuple(labels)
        missing = [g for g in chosen if g not in set(present)]
        if len(chosen) != 2 or missing:
            raise ValueError(f"labels must name two groups present in the data; missing {missing}")
        return chosen[0], chosen[1]
    if isinstance(column.dtype, pd.CategoricalDtype):
        ordered = [c for c in column.cat.categories if c in set(present)]
    else:
        ordered = sorted(present)
    if len(ordered) != 2:
        raise ValueError(f"expected exactly two groups, found {list(ordered)}; pass labels")
    return ordered[0], ordered[1]


def _check_nesting(data: pd.DataFrame, group: str, cluster: str) -> None:
    groups_per_cluster = data.groupby(cluster, observed=True)[group].nunique()
    crossed = groups_per_cluster[groups_per_cluster > 1]
    if len(crossed):
        raise ValueError(f"{cluster} ids occur in more than one group: {list(crossed.index)[:5]}")


def cluster_level_test(
    data: pd.DataFrame,
    value: str,
    group: str,
    cluster: str,
    test: Literal["welch", "student", "mann_whitney"] = "welch",
    labels: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Two-group test on per-cluster (per-mouse) means of nested data; n = clusters.

    Averaging the cells of each mouse first makes the mouse the unit of analysis, so the test
    keeps its nominal false-positive rate however many cells each mouse contributes (at the cost
    of ignoring unequal cell counts; see :func:`hierarchical_bootstrap`). The row is that of
    :func:`two_group_test` on the means, with ``test`` suffixed ``_<cluster>_means``, ``n_mice``
    = clusters and ``n_cells`` = rows averaged.
    """
    return stats_frame([_cluster_record(data, value, group, cluster, test, labels, level)])


def _cluster_record(
    data: pd.DataFrame,
    value: str,
    group: str,
    cluster: str,
    test: str,
    labels: Sequence[str] | None,
    level: float,
) -> dict[str, object]:
    frame = data[[value, group, cluster]].dropna(subset=[value, group, cluster])
    first, second = _group_labels(frame[group], labels)
    frame = frame[frame[group].isin([first, second])]
    _check_nesting(frame, group, cluster)
    means = frame.groupby([group, cluster], observed=True)[value].mean()
    a = means.xs(first, level=group).to_numpy()
    b = means.xs(second, level=group).to_numpy()
    record = _two_group_record(a, b, test, (str(first), str(second)), level, "mice")
    cells = frame.groupby(group, observed=True).size()
    record.update(
        test=f"{record['test']}_{cluster}_means",
        model=f"mean({value}) per {cluster} ~ {group}",
        n_cells=len(frame),
        n_obs=len(frame),
        notes=(
            f"{value} averaged within each {cluster} first ({first}: {int(cells[first])} rows, "
            f"{second}: {int(cells[second])} rows), then the test on {cluster} means (n = "
            f"{len(a) + len(b)} {cluster}s); " + str(record["notes"])
        ),
    )
    return record


def _nesting_arrays(
    frame: pd.DataFrame, levels: Sequence[str]
) -> tuple[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Tree of one group's data for vectorised nested resampling.

    Returns the number of top-level units and, for each step down (level 1..L-1, then rows), the
    arrays (children_sorted, start, count): the children of parent unit u are
    ``children_sorted[start[u] : start[u] + count[u]]``. Units at level k are the distinct paths
    (levels[0], ..., levels[k]), so cell ids may repeat across mice.
    """
    codes = []
    for k in range(len(levels)):
        keys = frame[list(levels[: k + 1])]
        codes.append(
            keys.groupby(list(levels[: k + 1]), sort=True, observed=True).ngroup().to_numpy()
        )
    steps = []
    n_top = int(codes[0].max()) + 1
    for k in range(1, len(levels) + 1):
        parent_codes = codes[k - 1]
        if k < len(levels):
            child_codes = codes[k]
            parent_of_child = np.zeros(int(child_codes.max()) + 1, dtype=np.int64)
            parent_of_child[child_codes] = parent_codes
        else:  # rows are the children of the last named level
            parent_of_child = parent_codes
        n_parent = int(parent_codes.max()) + 1
        children_sorted = np.argsort(parent_of_child, kind="stable")
        count = np.bincount(parent_of_child, minlength=n_parent)
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        steps.append((children_sorted, start, count))
    return n_top, steps


def _resample_statistic(
    values: np.ndarray,
    n_top: int,
    steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_boot: int,
    rng: np.random.Generator,
    statistic: str,
) -> np.ndarray:
    """Statistic of every hierarchical bootstrap replicate, vectorised over replicates.

    For each replicate: draw n_top top-level units with replacement; for every drawn unit draw as
    many of its children (with replacement) as it has, level by level down to the rows; apply the
    statistic to all drawn rows pooled. Replicates are processed in chunks of bounded size (a loop
    over chunks and levels only), so memory stays bounded and the result is deterministic.
    """
    rows_per_rep = values.size
    by_value = np.argsort(values, kind="stable")
    value_rank = np.empty(values.size, dtype=np.int64)
    value_rank[by_value] = np.arange(values.size)
    chunk = int(max(1, min(n_boot, 4_000_000 // max(1, rows_per_rep))))
    out = np.empty(n_boot)
    for begin in range(0, n_boot, chunk):
        size = min(chunk, n_boot - begin)
        rep = np.repeat(np.arange(size), n_top)
        node = rng.integers(0, n_top, size=size * n_top)
        for children_sorted, start, count in steps:
            if np.all(count == 1):  # a single child each: resampling is the identity
                node = children_sorted[start[node]]
                continue
            k = count[node]
            rep = np.repeat(rep, k)
            parent = np.repeat(node, k)
            offset = rng.integers(0, count[parent])
            node = children_sorted[start[parent] + offset]
        drawn = values[node]
        n_rows = np.bincount(rep, minlength=size)
        if statistic == "mean":
            out[begin : begin + size] = np.bincount(rep, weights=drawn, minlength=size) / n_rows
        else:  # median of each replicate's pooled rows: sort by (replicate, value rank)
            key = rep.astype(np.int64) * values.size + value_rank[node]
            key.sort()
            sorted_vals = values[by_value[key % values.size]]
            first = np.concatenate([[0], np.cumsum(n_rows)[:-1]])
            lo = sorted_vals[first + (n_rows - 1) // 2]
            hi = sorted_vals[first + n_rows // 2]
            out[begin : begin + size] = 0.5 * (lo + hi)
    return out


def _prepare_nested(
    data: pd.DataFrame, value: str, levels: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    levels = [str(level) for level in levels]
    if not levels:
        raise ValueError("levels must name at least the top level (e.g. ['mouse', 'cell'])")
    missing = [c for c in [value, *levels] if c not in data.columns]
    if missing:
        raise KeyError(f"columns not found: {missing}")
    frame = data.dropna(subset=[value, *levels])
    return frame, levels


def hierarchical_bootstrap_distribution(
    data: pd.DataFrame,
    value: str,
    levels: Sequence[str] = ("mouse", "cell"),
    n_boot: int = 10000,
    seed: int | np.random.Generator = 0,
    statistic: Literal["mean", "median"] = "mean",
) -> np.ndarray:
    """Bootstrap distribution (length ``n_boot``) of a statistic of one group's nested data.

    The resampling of :func:`hierarchical_bootstrap`, for one group: useful to plot the
    distribution or to compare more than two groups.
    """
    if statistic not in ("mean", "median"):
        raise ValueError("statistic must be 'mean' or 'median'")
    frame, levels = _prepare_nested(data, value, levels)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_top, steps = _nesting_arrays(frame, levels)
    values = frame[value].to_numpy(dtype=float)
    return _resample_statistic(values, n_top, steps, int(n_boot), rng, statistic)


def hierarchical_bootstrap(
    data: pd.DataFrame,
    value: str,
    group: str,
    levels: Sequence[str] = ("mouse", "cell"),
    n_boot: int = 10000,
    seed: int = 0,
    statistic: Literal["mean", "median"] = "mean",
    labels: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Hierarchical bootstrap of the difference between two groups of nested data; one row.

    Saravanan, Berman & Sober (2020): within each group, resample mice with replacement, then,
    within each resampled mouse, resample its cells with replacement (and so on for further
    ``levels``; rows within the last named level are resampled too, which is the identity when
    each such unit has one row). The statistic (``"mean"`` or ``"median"``) is computed over all
    resampled rows of a group pooled, as in the paper. Reported:

    * estimate = statistic(second group) - statistic(first group) on the original data;
    * CI = percentile interval of the bootstrap differences;
    * p = 2·min(P*, 1 - P*), P* = proportion of bootstrap differences <= 0 (the paper's
      p_boot made two-sided); its resolution is 1/n_boot, so p = 0 means p < 1/n_boot.

    Vectorised over replicates (loops over levels and memory-bounded chunks only) and
    deterministic for a given ``seed`` (``numpy.random.default_rng``; groups drawn in label
    order).
    """
    if statistic not in ("mean", "median"):
        raise ValueError("statistic must be 'mean' or 'median'")
    level = _check_level(level)
    frame, levels = _prepare_nested(data, value, levels)
    frame = frame.dropna(subset=[group])
    first, second = _group_labels(frame[group], labels)
    frame = frame[frame[group].isin([first, second])]
    _check_nesting(frame, group, levels[0])
    rng = np.random.default_rng(seed)
    boot = {}
    observed = {}
    n_top = {}
    n_second = {}
    for name in (first, second):
        part = frame[frame[group] == name]
        top, steps = _nesting_arrays(part, levels)
        values = part[value].to_numpy(dtype=float)
        boot[name] = _resample_statistic(values, top, steps, int(n_boot), rng, statistic)
        observed[name] = float(np.mean(values) if statistic == "mean" else np.median(values))
        n_top[name] = top
        n_second[name] = (
            int(part.groupby(levels[:2], observed=True).ngroups) if len(levels) > 1 else len(part)
        )
    diff = boot[second] - boot[first]
    alpha = 1.0 - level
    ci_low, ci_high = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
    p_le = float(np.mean(diff <= 0))
    p = min(1.0, 2.0 * min(p_le, 1.0 - p_le))
    return stats_frame(
        [
            {
                "test": "hierarchical_bootstrap",
                "model": f"{statistic}({value}) ~ {group}, resampling {' > '.join(levels)}",
                "term": f"{second} - {first}",
                "estimate": observed[second] - observed[first],
                "ci_low": float(ci_low),
                "ci_high": float(ci_high),
                "ci_level": level,
                "p": p,
                "n_mice": n_top[first] + n_top[second],
                "n_cells": n_second[first] + n_second[second],
                "n_obs": len(frame),
                "n_by_group": format_n_by_group({first: n_top[first], second: n_top[second]}),
                "notes": (
                    f"hierarchical bootstrap (Saravanan et al. 2020), {int(n_boot)} resamples, "
                    f"seed {seed}: {levels[0]} resampled with replacement within group, "
                    + "".join(
                        f"then {child} within each resampled {parent}, "
                        for parent, child in zip(levels[:-1], levels[1:], strict=True)
                    )
                    + f"then rows within each {levels[-1]}"
                    + f"; statistic = {statistic} of all resampled rows pooled; estimate from the "
                    f"original data; percentile CI; p = 2 min(P*, 1 - P*) with P* = share of "
                    f"differences <= 0 (resolution {1 / n_boot:.2g}); bootstrap SE "
                    f"{float(np.std(diff, ddof=1)):.6g}"
                ),
            }
        ]
    )
