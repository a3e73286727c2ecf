"""Endurance plots of one cohort: performance across training, gain from baseline, adaptation.

:func:`plot_course`: the primary outcome at every test, each mouse as a thin line, group mean
+/- SEM on top, stars for the post-hoc group difference at each session. :func:`plot_points`:
a value per mouse (% change from baseline at a test, the fitted rise of each mouse's adaptation
curve) as points with the group mean +/- SEM and the two-group test's bracket. Stars and n come
from the statistics table, never recomputed here. The panel types that draw them are in
:mod:`exneuro.paper.behaviour`; a cohort's endurance figure is declared in
:mod:`exneuro.paper.standard.behaviour`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from exneuro.figures.marks import draw_mark
from exneuro.figures.style import (
    legend_above,
)

#: Marker shapes and line styles that tell the levels of a split factor (e.g. sex) apart; the
#: colour stays the group's (colour-blind safe: shape and dash, never hue, carry the factor).
SPLIT_MARKERS = ("o", "s", "^", "D", "v", "P")
SPLIT_LINES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (1, 2)))
AXIS_LABELS = {
    "distance_m": "Distance (m)",
    "time_to_exhaustion_s": "Time to exhaustion (s)",
    "max_speed_m_min": "Maximal speed (m/min)",
    "work_j": "Work (J)",
    "work_kg_m": "Work (kg m)",
    "power_w": "Power (W)",
    "power_kg_m_per_s": "Power (kg m/s)",
}


def outlier_caveat(data: pd.DataFrame, column: str, labels: Mapping[str, str]) -> str:
    """Legend sentence naming the tests the QC flagged as possible outliers and kept (drawn as
    open circles): they enter every test of their session."""
    if "outlier_flag" not in data:
        return ""
    flagged = data[data["outlier_flag"].astype(bool) & data[column].notna()]
    if not len(flagged):
        return ""
    items = [f"{r.mouse} at {labels.get(r.session, r.session)}" for r in flagged.itertuples()]
    one = len(items) == 1
    return (
        f"Open circle{'' if one else 's'}: {', '.join(items)}, flagged by quality control as "
        f"{'a possible outlier' if one else 'possible outliers'} and kept (treadmill/qc.tsv); "
        f"the tests of {'that session include it' if one else 'those sessions include them'}."
    )


def metric_name(column: str) -> str:
    """'Distance' for 'distance_m': the axis label without its unit."""
    return AXIS_LABELS.get(column, column.replace("_", " ")).split(" (")[0]


def change_label(column: str, session: str, baseline: str) -> str:
    """Axis label of a change from baseline: 'Distance, change (%)' over 'D15 vs Pre' (a
    percentage carries no metre unit)."""
    return f"{metric_name(column)}, change (%)\n{session} vs {baseline}"


def spread_offsets(values: np.ndarray, width: float = 0.28) -> np.ndarray:
    """Deterministic horizontal offsets for points of one group: spread by rank, so that equal
    inputs always give the same picture (no random jitter)."""
    n = len(values)
    if n <= 1:
        return np.zeros(n)
    offsets = np.linspace(-width / 2, width / 2, n)
    return offsets[np.argsort(np.argsort(values, kind="stable"), kind="stable")]


def _mean_sem(values: pd.Series) -> tuple[float, float, int]:
    values = values.dropna()
    sem = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
    return float(values.mean()), float(sem), len(values)


def find_row(statistics: pd.DataFrame, **match: str) -> pd.Series | None:
    """The one statistics row whose columns equal ``match`` (None when absent)."""
    mask = pd.Series(True, index=statistics.index)
    for column, value in match.items():
        mask &= statistics[column].astype(str) == value
    rows = statistics[mask]
    return rows.iloc[0] if len(rows) else None


def split_levels(data: pd.DataFrame, split: str | None) -> list:
    """The levels of the split factor in the data (first appearance); [None] without one or
    without data."""
    if not split:
        return [None]
    return list(dict.fromkeys(data[split].dropna().astype(str))) or [None]


def plot_course(
    axis, data, column, cohort, groups, sessions, labels, statistics, colours, split=None
):
    """Every mouse as a thin line, group mean ± SEM, and above each session the stars of the
    mixed model's post-hoc contrast of each group against control (one row of the statistics
    table each, adjusted p; one line of marks per group, in its colour). With a ``split``
    factor in the model (e.g. sex), each group x level has its own mean, told apart by marker
    shape and line style (colour stays the group's), so that no mean mixes the levels; the
    stars stay those of the group contrast, averaged over the levels as the model does."""
    records = []
    positions = {session: index for index, session in enumerate(sessions)}
    levels = split_levels(data, split)
    split = split if levels != [None] else None
    for group in cohort["groups"]:
        for index, level in enumerate(levels):
            subset = data[data["group"] == group]
            if split:
                subset = subset[subset[split].astype(str) == level]
            style = {"marker": SPLIT_MARKERS[index], "ls": SPLIT_LINES[index]}
            for _, tests in subset.groupby("mouse"):
                x = tests["session"].map(positions)
                axis.plot(
                    x,
                    tests[column],
                    color=colours[group],
                    lw=0.4,
                    alpha=0.35,
                    zorder=1,
                    ls=style["ls"],
                )
            means = [(_mean_sem(subset.loc[subset["session"] == s, column]), s) for s in sessions]
            axis.errorbar(
                np.arange(len(sessions)),
                np.array([m[0][0] for m in means]),
                yerr=np.array([m[0][1] for m in means]),
                color=colours[group],
                lw=1.0,
                ms=2.5,
                capsize=1.5,
                elinewidth=0.6,
                label=groups[group]["label"] + (f", {level}" if split else ""),
                zorder=3,
                **style,
            )
            for (mean, sem, n), session in means:
                records.append(
                    {
                        "group": group,
                        **({split: level} if split else {}),
                        "session": session,
                        "mean": mean,
                        "sem": sem,
                        "n_mice": n,
                    }
                )
    flagged = data[data["outlier_flag"].astype(bool)] if "outlier_flag" in data else data[:0]
    if len(flagged):
        axis.scatter(
            flagged["session"].map(positions),
            flagged[column],
            s=22,
            facecolors="none",
            edgecolors="black",
            linewidths=0.6,
            zorder=5,
            label="QC-flagged outlier, kept",
        )
    low, high = float(np.nanmin(data[column])), float(np.nanmax(data[column]))
    span = high - low if high > low else 1.0
    others = [g for g in cohort["groups"] if g != cohort["control_group"]]
    for line, group in enumerate(others):
        for session in sessions:
            row = find_row(
                statistics,
                test="emm_contrast",
                outcome=column,
                term=f"{group} - {cohort['control_group']}",
                subset=f"cohort={cohort['id']}; session={session}",
            )
            if row is not None:
                draw_mark(
                    axis,
                    positions[session],
                    high + span * (0.03 + 0.09 * line),
                    row,
                    show_ns=False,
                    color=colours[group],
                )
    axis.set_ylim(low - 0.05 * span, high + span * (0.05 + 0.09 * len(others)))
    axis.set_xticks(range(len(sessions)), [labels[s] for s in sessions])
    axis.set_xlabel("Endurance test")
    axis.set_ylabel(AXIS_LABELS.get(column, column))
    entries = len(cohort["groups"]) * len(levels) + (1 if len(flagged) else 0)
    legend_above(axis, ncols=len(levels) if split else entries)
    kept = ["mouse", "group", *([split] if split else []), "session", column]
    mice = data[kept].rename(columns={column: "value"})
    return pd.concat(
        [mice.assign(kind="mouse"), pd.DataFrame(records).assign(kind="group")], ignore_index=True
    )


def plot_points(
    axis,
    values: pd.DataFrame,
    value_column,
    cohort,
    groups,
    colours,
    statistics,
    outcome,
    ylabel,
    bars=True,
    counts: Mapping[str, str] | None = None,
    split: str | None = None,
):
    """Every mouse as a point per group (bars mean ± SEM, or a mean line), and the two-group
    test of each group against control as a bracket with its stars (the row's adjusted p).
    ``counts`` adds a line under each group's tick label (e.g. '3 of 8 fitted'). With a
    ``split`` factor, each group x level is drawn side by side with its own mean and marker."""
    records = []
    order = cohort["groups"]
    levels = split_levels(values, split)
    split = split if levels != [None] else None
    width = 0.6 / len(levels)
    for index, group in enumerate(order):
        for k, level in enumerate(levels):
            subset = values[values["group"] == group]
            if split:
                subset = subset[subset[split].astype(str) == level]
            x = index + (k - (len(levels) - 1) / 2) * width
            mean, sem, n = _mean_sem(subset[value_column])
            if bars:
                axis.bar(x, mean, width=0.9 * width, color=colours[group], alpha=0.35, lw=0)
            axis.errorbar(
                x,
                mean,
                yerr=sem,
                color="black",
                capsize=2,
                lw=0.8,
                zorder=3,
                marker="_" if not bars else None,
                ms=8,
            )
            vals = subset[value_column].to_numpy(float)
            axis.scatter(
                x + spread_offsets(vals, width=0.45 * width),
                vals,
                s=6,
                color=colours[group],
                lw=0,
                zorder=4,
                marker=SPLIT_MARKERS[k],
                label=level if split and index == 0 else None,
            )
            records.append(
                {
                    "group": group,
                    **({split: level} if split else {}),
                    "mean": mean,
                    "sem": sem,
                    "n_mice": n,
                }
            )
    finite = values[value_column].dropna()
    high = float(finite.max()) if len(finite) else 1.0
    low = min(0.0, float(finite.min())) if len(finite) else 0.0
    span = high - low if high > low else 1.0
    brackets = 0
    for index, group in enumerate(order):
        if group == cohort["control_group"]:
            continue
        row = find_row(
            statistics,
            outcome=outcome,
            term=f"{group} - {cohort['control_group']}",
            test=str(_two_group_test_name(statistics, outcome)),
        )
        if row is None:
            continue
        height = high + span * (0.08 + 0.12 * brackets)
        tick = 0.03 * span
        axis.plot(
            [0, 0, index, index], [height - tick, height, height, height - tick], "k-", lw=0.6
        )
        draw_mark(axis, index / 2, height, row)
        brackets += 1
    axis.set_ylim(low - 0.04 * span, high + span * (0.1 + 0.12 * max(brackets, 1)))
    names = [groups[g]["label"] for g in order]
    if counts:
        names = [f"{name}\n{counts[g]}" for name, g in zip(names, order, strict=True)]
    axis.set_xticks(range(len(order)), names, rotation=30, ha="right", rotation_mode="anchor")
    axis.set_ylabel(ylabel)
    axis.axhline(0, color="black", lw=0.5)
    if split:
        legend_above(axis, ncols=len(levels), title=split, handletextpad=0.2)
    kept = ["mouse", "group", *([split] if split else []), value_column]
    table = values[kept].rename(columns={value_column: "value"})
    return pd.concat(
        [table.assign(kind="mouse"), pd.DataFrame(records).assign(kind="group")], ignore_index=True
    )


def gain_test_rows(statistics: pd.DataFrame, column: str, subset: str) -> pd.DataFrame:
    """The rows whose stars a gain panel draws at one session: the baseline-adjusted ANCOVA of
    ``column`` when the study ran it (the gain test), else the test of the % change."""
    at_session = statistics[statistics["subset"] == subset]
    ancova = at_session[(at_session["test"] == "ancova") & (at_session["outcome"] == column)]
    return ancova if len(ancova) else at_session[at_session["outcome"] == f"{column}_pct_change"]


def _two_group_test_name(statistics: pd.DataFrame, outcome: str) -> str | None:
    tests = statistics.loc[statistics["outcome"] == outcome, "test"].dropna().unique()
    return tests[0] if len(tests) else None
