"""Slice electrophysiology plots: F–I curves, sEPSC distributions (the per-cell properties are
SuperPlots, :mod:`exneuro.figures.superplot`); the figure is declared in
:mod:`exneuro.paper.standard.cellular`.

F–I curve, firing rate at each depolarizing step. Each mouse's curve is the mean of its
cells (thin lines); the group curve is the **mean ± SEM over mice** (n = mice, the experimental
unit — not over cells, which would shrink the error bars by pseudoreplication). Stars: the mixed
model's group contrast at each current (``emm_contrast`` rows, adjusted p).
sEPSC panels: cumulative distributions of sEPSC inter-event intervals and amplitudes per group
(per group x level of a fixed model factor such as sex, when declared), every cell contributing
the same number of values (equal-weight pool); the KS D and p printed on the panel are
descriptive (events are not independent).
Per-cell panels: one SuperPlot per per-cell property (:func:`exneuro.figures.superplot.superplot`,
Lord et al. 2020): cells as small points coloured by mouse, mouse means as large points, mean ±
SEM of the mouse means; stars from the mixed model's group contrast.

Every number drawn is written to ``panel_<letter>.tsv`` beside the figure; stars and KS values
are read from the statistics table, never recomputed here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from exneuro.cellular.ephys_outcomes import ANALYSIS
from exneuro.figures.marks import draw_mark
from exneuro.figures.style import (
    legend_above,
    title_above_legend,
)
from exneuro.figures.treadmill import SPLIT_LINES, SPLIT_MARKERS, split_levels
from exneuro.stats.table import subset_label

AXIS_LABELS = {
    "firing_rate_hz": "Firing rate (Hz)",
    "rheobase_pa": "Rheobase (pA)",
    "fi_slope_hz_per_pa": "F–I gain (Hz/pA)",
    "max_rate_hz": "Max. firing rate (Hz)",
    "input_resistance_mohm": "Input resistance (MΩ)",
    "resting_potential_mv": "Resting potential (mV)",
    "spike_threshold_mv": "Spike threshold (mV)",
    "capacitance_pf": "Capacitance (pF)",
    "sag_ratio": "Sag ratio",
    "membrane_tau_ms": "Membrane τ (ms)",
    "ap_amplitude_mv": "AP amplitude (mV)",
    "ap_half_width_ms": "AP half-width (ms)",
    "ap_max_upstroke_mv_per_ms": "Max. upstroke (mV/ms)",
    "ap_max_downstroke_mv_per_ms": "Max. downstroke (mV/ms)",
    "ap_fast_ahp_mv": "Fast AHP (mV)",
    "first_spike_latency_ms": "First-spike latency (ms)",
    "mean_isi_ms": "Mean ISI (ms)",
    "adaptation_index": "Adaptation index",
    "sepsc_frequency_hz": "sEPSC frequency (Hz)",
    "sepsc_amplitude_median_pa": "sEPSC amplitude (pA)",
    "sepsc_amplitude_mean_pa": "sEPSC amplitude, mean (pA)",
    "iei_s": "Inter-event interval (s)",
    "amplitude_pa": "sEPSC amplitude (pA)",
}


def statistics_row(statistics: pd.DataFrame, **match: str | None) -> pd.Series | None:
    """The first statistics row whose columns equal ``match``; a ``None`` (or empty) value
    matches a blank cell, however the table was read (NA, NaN or '')."""
    mask = pd.Series(True, index=statistics.index)
    for column, value in match.items():
        text = statistics[column].astype("string").fillna("").replace({"nan": "", "<NA>": ""})
        mask &= text == ("" if value is None else str(value))
    rows = statistics[mask]
    return rows.iloc[0] if len(rows) else None


def plot_fi(axis, steps, statistics, order, colours, labels, context, min_current_pa, split=None):
    """F–I curves: each mouse's mean curve, and mean ± SEM over mice per group (per group x
    level of ``split``, e.g. sex, told apart by marker and line style, when it is in the model);
    stars from the group contrasts at each current."""
    data = steps[steps["current_pa"] >= min_current_pa]
    levels = split_levels(data, split)
    split = split if levels != [None] else None
    keys = ["group", *([split] if split else []), "mouse", "current_pa"]
    per_mouse = (
        data.groupby(keys, as_index=False)
        .agg(value=("firing_rate_hz", "mean"), n_cells=("cell", "nunique"))
        .sort_values(keys, kind="stable")
    )
    records = [per_mouse.assign(kind="mouse")]
    top = 0.0
    for group in order:
        for k, level in enumerate(levels):
            part = per_mouse[per_mouse["group"] == group]
            if split:
                part = part[part[split].astype(str) == level]
            for _, mouse in part.groupby("mouse", sort=True):
                axis.plot(
                    mouse["current_pa"],
                    mouse["value"],
                    color=colours[group],
                    lw=0.35,
                    alpha=0.3,
                    ls=SPLIT_LINES[k],
                )
            summary = (
                part.groupby("current_pa")["value"].agg(["mean", "std", "count"]).reset_index()
            )
            summary["sem"] = summary["std"] / np.sqrt(summary["count"])
            axis.errorbar(
                summary["current_pa"],
                summary["mean"],
                yerr=summary["sem"],
                color=colours[group],
                lw=1.0,
                marker=SPLIT_MARKERS[k],
                ls=SPLIT_LINES[k],
                ms=2.2,
                capsize=1.2,
                elinewidth=0.6,
                label=labels[group] + (f", {level}" if split else ""),
                zorder=3,
            )
            top = max(top, float(np.nanmax(summary["mean"] + summary["sem"].fillna(0))))
            records.append(
                pd.DataFrame(
                    {
                        "kind": "group",
                        "group": group,
                        **({split: level} if split else {}),
                        "current_pa": summary["current_pa"],
                        "value": summary["mean"],
                        "sem": summary["sem"],
                        "n_mice": summary["count"],
                        "sem_over": "mice",
                    }
                )
            )
    for group in order[1:]:
        for current in sorted(data["current_pa"].unique()):
            current_label = int(current) if float(current).is_integer() else current
            row = statistics_row(
                statistics,
                analysis=ANALYSIS,
                test="emm_contrast",
                outcome="firing_rate_hz",
                term=f"{group} - {order[0]}",
                subset=subset_label(**context, current_pa=current_label),
            )
            if row is not None:
                draw_mark(
                    axis,
                    current,
                    top * 1.03,
                    row,
                    show_ns=False,
                    color=colours[group],
                    fontsize=plt.rcParams["font.size"] - 2,
                )
    axis.set_xlabel("Injected current (pA)")
    axis.set_ylabel(AXIS_LABELS["firing_rate_hz"])
    axis.set_ylim(0, top * 1.22 if top > 0 else 1)
    if split:  # group x level entries: above the plot, where they cover no curve
        legend_above(axis, ncols=len(levels))
    else:
        axis.legend(loc="upper left", handlelength=1.2)
    axis.text(
        0.98,
        0.02,
        "mean ± SEM of mice",
        transform=axis.transAxes,
        ha="right",
        va="bottom",
        fontsize=plt.rcParams["font.size"] - 1,
    )
    return pd.concat(records, ignore_index=True)


def plot_cdf(
    axis,
    pooled,
    value,
    outcome,
    statistics,
    order,
    colours,
    labels,
    context,
    split=None,
    level_order=None,
):
    """Cumulative fraction of the equal-weight pool per group (``pooled``:
    :func:`exneuro.cellular.sepsc.pooled_distribution`), the KS D and p of each group against
    the first printed as descriptive. ``split`` (a column of ``pooled``, a fixed model factor
    such as sex): one curve per group x level in the group's colour, the levels' line styles
    named in the legend (the fraction counted within the level); the KS rows, which pool the
    levels, say so. ``level_order``: the levels in drawing order (default: first appearance),
    so that every panel of a figure gives a level the same line style."""
    per_cell = pooled.attrs.get("per_cell")
    levels = split_levels(pooled, split)
    if level_order is not None and levels != [None]:
        levels = [level for level in level_order if level in levels]
    split = split if levels != [None] else None
    if split:
        pooled = pooled.assign(**{split: pooled[split].astype(str)})
        pooled = pooled.sort_values(["group", split, value], kind="stable")
        within = pooled.groupby(["group", split])
        pooled = pooled.assign(ecdf=(within.cumcount() + 1) / within[value].transform("size"))
    for group in order:
        for k, level in enumerate(levels):
            part = pooled[pooled["group"] == group]
            if split:
                part = part[part[split] == level]
            axis.step(
                part[value],
                part["ecdf"],
                where="post",
                color=colours[group],
                lw=0.9,
                ls=SPLIT_LINES[k],
                label=None if split else labels[group],
            )
    axis.set_xlim(0, float(pooled[value].quantile(0.99)) if len(pooled) else 1)
    axis.set_ylim(0, 1.02)
    axis.set_xlabel(AXIS_LABELS[value])
    axis.set_ylabel("Cumulative fraction")
    texts = []
    for group in order[1:]:
        row = statistics_row(
            statistics,
            analysis=ANALYSIS,
            test="ks_2samp",
            outcome=outcome,
            term=f"{group} vs {order[0]}",
            subset=subset_label(**context),
        )
        if row is not None:
            texts.append(f"KS D = {float(row['statistic']):.2f}, p = {float(row['p']):.2g}")
    if texts:
        axis.text(
            0.98,
            0.04,
            "\n".join(texts) + (f"\n(descriptive, {split} pooled)" if split else "\n(descriptive)"),
            transform=axis.transAxes,
            ha="right",
            va="bottom",
            fontsize=plt.rcParams["font.size"] - 1,
        )
    title = f"{per_cell} values per cell" if per_cell else ""
    if split:  # the levels' line styles above the plot (colours: the groups, as in panel A)
        handles = [
            Line2D([], [], color="black", lw=0.9, ls=SPLIT_LINES[k], label=level)
            for k, level in enumerate(levels)
        ]
        legend = axis.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.01),
            borderaxespad=0.0,
            ncols=len(levels),
            handlelength=1.6,
            columnspacing=1.0,
            title=split,
        )
        legend.rows = 2  # its title and one row of levels, cleared by the panel title
        title_above_legend(axis, title, fontsize=6)
    else:
        axis.set_title(title, fontsize=6)
    return pooled.assign(per_cell=per_cell)
