"""Plots of a declared table's outcome (its figure declares one panel per outcome and split,
:mod:`exneuro.paper.standard.behaviour`; the panel type is ``table_plot``).

'line': the outcome over the first within factor (or covariate), every subject as a thin line,
group mean +/- SEM on top. 'bars': group mean +/- SEM with every subject as a point (nested units
averaged per subject first), significance from the statistics table's two-group rows.

A design with more than one between factor (``between: [group, sex]``) draws one mean per group
x level of the others, the levels told apart by marker shape and line style (bars: side by side)
and named in the legend or tick labels: male rats of ~340 g and female rats of ~180 g averaged
into one mean would describe no animal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from exneuro.figures.marks import draw_mark
from exneuro.figures.style import (
    fit_tick_labels,
    legend_above,
)
from exneuro.figures.treadmill import SPLIT_LINES, SPLIT_MARKERS, find_row, spread_offsets

OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]


def level_colours(levels: Sequence[str], groups: Sequence[Mapping]) -> dict[str, str]:
    """Configured group colours where the levels are groups, Okabe-Ito otherwise."""
    configured = {g["id"]: g["color"] for g in groups}
    return {
        level: configured.get(level, OKABE_ITO[i % len(OKABE_ITO)])
        for i, level in enumerate(levels)
    }


def _subject_means(data: pd.DataFrame, outcome: str, keys: list[str]) -> pd.DataFrame:
    return data.groupby(keys, as_index=False, observed=True)[outcome].mean()


def level_combinations(
    means: pd.DataFrame, declaration: Mapping, levels: Mapping[str, list[str]]
) -> list[dict[str, str]]:
    """The level combinations of the between factors after the first (e.g. ``{'sex':
    'female'}``, ``{'sex': 'male'}``) present in ``means``, in level order; ``[{}]`` when the
    design has one between factor."""
    extra = list(declaration["between"][1:])
    if not extra:
        return [{}]
    present = means[extra].astype(str).drop_duplicates()
    rank = {f: {v: i for i, v in enumerate(levels[f])} for f in extra}
    ordered = present.sort_values(extra, key=lambda column: column.map(rank[column.name]))
    return ordered.to_dict("records")


def _matching(means: pd.DataFrame, combination: Mapping[str, str]) -> pd.Series:
    mask = pd.Series(True, index=means.index)
    for factor, level in combination.items():
        mask &= means[factor].astype(str) == level
    return mask


def _combination_text(combination: Mapping[str, str]) -> str:
    return ", ".join(level_text(v) for v in combination.values())


def level_text(level) -> str:
    """A factor level as shown: integers without a decimal point ('3', not '3.0')."""
    try:
        number = float(level)
    except (TypeError, ValueError):
        return str(level).replace("_", " ")
    return str(int(number)) if number.is_integer() else str(level)


def posthoc_rows(statistics, outcome, declaration, levels, subset: str) -> dict:
    """(level of the first within factor, group) -> the post-hoc contrast row of that group
    against the first group at that level (emm_contrast, adjusted p)."""
    between = declaration["between"][0] if declaration["between"] else None
    x_name = (declaration["within"] or [None])[0]
    if statistics is None or between is None or x_name is None:
        return {}
    reference = levels[between][0]
    rows = {}
    for level in levels[x_name]:
        where = "; ".join(part for part in (subset, f"{x_name}={level}") if part)
        for group in levels[between][1:]:
            row = find_row(
                statistics,
                test="emm_contrast",
                outcome=outcome,
                subset=where,
                term=f"{group} - {reference}",
            )
            if row is not None:
                rows[(level, group)] = row
    return rows


def plot_line(
    axis, data, outcome, declaration, levels, colours, labels, marks=None
) -> pd.DataFrame:
    """Every subject as a thin line over the first within factor (or covariate), group mean ±
    SEM, and the stars of ``marks`` ((level, group) -> post-hoc row, see :func:`posthoc_rows`)
    above each level, one line of marks per group in its colour. The other between factors
    (e.g. sex): one mean per group x level (:func:`level_combinations`), marker and line style
    per level."""
    subject = declaration["subject"]
    between = declaration["between"][0] if declaration["between"] else None
    x_name = (declaration["within"] or declaration["covariates"])[0]
    numeric_x = x_name in declaration["covariates"]
    keys = [subject, x_name, *declaration["between"]]
    means = _subject_means(data, outcome, keys)
    positions = (
        means[x_name].astype(float)
        if numeric_x
        else means[x_name].map({v: i for i, v in enumerate(levels[x_name])})
    )
    means = means.assign(x=positions)
    combinations = level_combinations(means, declaration, levels)
    records = []
    for group in levels[between] if between else [None]:
        in_group = means if group is None else means[means[between] == group]
        colour = colours.get(group, "#000000")
        for k, combination in enumerate(combinations):
            subset = in_group[_matching(in_group, combination)]
            for _, one in subset.groupby(subject, observed=True):
                one = one.sort_values("x")
                axis.plot(
                    one["x"],
                    one[outcome],
                    color=colour,
                    lw=0.4,
                    alpha=0.35,
                    ls=SPLIT_LINES[k],
                    zorder=1,
                )
            summary = subset.groupby("x")[outcome].agg(["mean", "sem", "count"]).reset_index()
            label = labels.get(group, group) if group is not None else None
            if combination and label is not None:
                label = f"{label}, {_combination_text(combination)}"
            axis.errorbar(
                summary["x"],
                summary["mean"],
                yerr=summary["sem"],
                color=colour,
                lw=1.0,
                marker=SPLIT_MARKERS[k],
                ls=SPLIT_LINES[k],
                ms=2.5,
                capsize=1.5,
                elinewidth=0.6,
                label=label,
                zorder=3,
            )
            records.append(summary.assign(group=group, **combination, kind="group"))
    low, high = float(means[outcome].min()), float(means[outcome].max())
    span = high - low if high > low else 1.0
    others = levels[between][1:] if between else []
    for (level, group), row in (marks or {}).items():
        line = others.index(group)
        x = float(level) if numeric_x else levels[x_name].index(level)
        y = high + span * (0.03 + 0.09 * line)
        draw_mark(axis, x, y, row, show_ns=False, color=colours.get(group, "#000000"))
    if marks:
        axis.set_ylim(low - 0.05 * span, high + span * (0.05 + 0.09 * len(others)))
    if not numeric_x:
        axis.set_xticks(range(len(levels[x_name])), [level_text(v) for v in levels[x_name]])
        fit_tick_labels(axis)
    axis.set_xlabel(x_name.replace("_", " "))
    if between:
        legend_above(axis, ncols=len(combinations) if len(combinations) > 1 else 1)
    subjects = means.rename(columns={outcome: "value"}).assign(kind="subject")
    return pd.concat(
        [subjects, pd.concat(records).rename(columns={"mean": "value"})], ignore_index=True
    )


def plot_bars(
    axis, data, outcome, declaration, levels, colours, labels, statistics, subset
) -> pd.DataFrame:
    """Group mean ± SEM as bars, every subject a point; with more between factors (e.g. sex)
    one bar per group x level side by side, the level's marker on its points and in the
    legend."""
    subject = declaration["subject"]
    between = declaration["between"][0]
    means = _subject_means(data, outcome, [subject, *declaration["between"]])
    means = means.dropna(subset=[outcome])
    combinations = level_combinations(means, declaration, levels)
    width = 0.6 / len(combinations)
    records = []
    for index, group in enumerate(levels[between]):
        for k, combination in enumerate(combinations):
            chosen = (means[between] == group) & _matching(means, combination)
            values = means.loc[chosen, outcome].to_numpy(float)
            mean = values.mean() if len(values) else np.nan
            sem = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
            x = index + (k - (len(combinations) - 1) / 2.0) * width
            bar_width = width if len(combinations) == 1 else width * 0.9  # a gap between levels
            axis.bar(x, mean, width=bar_width, color=colours[group], alpha=0.35, lw=0)
            axis.errorbar(x, mean, yerr=sem, color="black", capsize=2, lw=0.8, zorder=3)
            axis.scatter(
                x + spread_offsets(values, 0.28 * width / 0.6),
                values,
                s=6,
                marker=SPLIT_MARKERS[k],
                color=colours[group],
                lw=0,
                zorder=4,
                label=_combination_text(combination) if combination and index == 0 else None,
            )
            records.append(
                {
                    between: group,
                    **combination,
                    "value": mean,
                    "sem": sem,
                    "n": len(values),
                    "kind": "group",
                }
            )
    reference = levels[between][0]
    high = float(means[outcome].max()) if len(means) else 1.0
    low = min(0.0, float(means[outcome].min())) if len(means) else 0.0
    span = high - low if high > low else 1.0
    top = high + 0.08 * span
    axis.set_ylim(low, high + 0.22 * span)
    for index, group in enumerate(levels[between][1:], start=1):
        match = {"outcome": outcome, "term": f"{group} - {reference}"}
        if subset:
            match["subset"] = subset
        row = find_row(
            statistics[statistics["test"].isin(["welch_t", "student_t", "mann_whitney"])], **match
        )
        if row is None:
            continue
        tick = 0.03 * span
        axis.plot([0, 0, index, index], [top - tick, top, top, top - tick], color="black", lw=0.6)
        draw_mark(axis, index / 2, top, row)
    axis.set_xticks(
        range(len(levels[between])),
        [labels.get(g, level_text(g)) for g in levels[between]],
        rotation=30,
        ha="right",
        rotation_mode="anchor",
    )
    if len(combinations) > 1:
        legend_above(axis, ncols=len(combinations), title=", ".join(declaration["between"][1:]))
    subjects = means.rename(columns={outcome: "value"}).assign(kind="subject")
    return pd.concat([subjects, pd.DataFrame(records)], ignore_index=True)
