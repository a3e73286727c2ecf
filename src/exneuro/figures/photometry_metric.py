"""The window-metric panel of the photometry figure: a metric across training days, every mouse
as a thin line, the group mean ± SEM (per group x level of a model factor such as sex, told
apart by marker and line style, when the statistics include it), and the stars of each group's
contrast against control at each day, read from the statistics table (never recomputed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from exneuro.figures.marks import draw_mark
from exneuro.figures.style import legend_above, title_above_legend
from exneuro.figures.treadmill import SPLIT_LINES, SPLIT_MARKERS, split_levels
from exneuro.stats.table import significance_stars

METRIC_LABELS = {
    "mean_dff": "Mean ΔF/F (%)",
    "auc_dff_s": "AUC (ΔF/F·s)",
    "peak_dff": "Peak ΔF/F (%)",
    "mean_z": "Mean z",
    "auc_z_s": "AUC (z·s)",
    "peak_z": "Peak z",
}
PERCENT_METRICS = {"mean_dff", "peak_dff"}

#: Mark of a session that failed QC (Okabe-Ito vermillion).
QC_FAILED = "#D55E00"


def window_title(window: str, ref: str | None = None, start_s=None, end_s=None) -> str:
    """'post_0_15' -> '0-15 min after the run'; 'session' (the whole-session window of sessions
    without a run) -> 'whole session'; a window around each event (``ref`` an event name,
    ``start_s``/``end_s`` from the event) -> '0–5 s after each cue'; other names with spaces
    for underscores."""
    if ref is not None and ref not in ("onset", "offset", "session"):
        if start_s >= 0:
            return f"{start_s:g}–{end_s:g} s after each {ref}"
        return f"{start_s:g} to {end_s:g} s from each {ref}"
    parts = window.split("_")
    if len(parts) == 3 and parts[0] == "post" and all(p.isdigit() for p in parts[1:]):
        return f"{parts[1]}–{parts[2]} min after the run"
    if window == "session":
        return "whole session"
    return window.replace("_", " ")


def window_phrase(window: str, ref: str | None = None, start_s=None, end_s=None) -> str:
    """The window as the legend says it: '0–15 min after the run', 'over the whole session',
    '0–5 s after each cue', 'in the first cue period window'."""
    title = window_title(window, ref, start_s, end_s)
    if title == "whole session":
        return "over the whole session"
    if title.endswith("after the run") or " each " in title:
        return title
    return f"in the {title} window"


def window_bounds(metrics: pd.DataFrame, window: str) -> tuple:
    """``ref``, ``start_s``, ``end_s`` of ``window`` as the metrics table gives them (for a
    window around each event, relative to the event), for :func:`window_title`."""
    rows = metrics[metrics["window"] == window]
    if rows.empty or not {"ref", "start_s", "end_s"} <= set(rows.columns):
        return (None, None, None)
    first = rows.iloc[0]
    return (str(first["ref"]), float(first["start_s"]), float(first["end_s"]))


def mean_sem(values: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    """Mean, SEM (SD/√n, ddof 1) and n per ``keys``."""
    summary = values.groupby(keys, sort=True)[column].agg(["mean", "std", "count"]).reset_index()
    summary["sem"] = summary["std"] / np.sqrt(summary["count"])
    return summary.drop(columns="std").rename(columns={"count": "n_mice"})


def _subset_parts(subset: object) -> dict[str, str]:
    if not isinstance(subset, str):
        return {}
    parts = [part.split("=", 1) for part in subset.split("; ") if "=" in part]
    return {key: value for key, value in parts}


def find_contrast(
    statistics: pd.DataFrame, metric: str, term: str, window: str, day: object
) -> pd.Series | None:
    """The ``emm_contrast`` row of ``term`` for ``metric`` in ``window`` at ``day``."""
    if statistics is None or statistics.empty:
        return None
    rows = statistics[
        (statistics["test"] == "emm_contrast")
        & (statistics["outcome"] == metric)
        & (statistics["term"] == term)
    ]
    for _, row in rows.iterrows():
        parts = _subset_parts(row["subset"])
        if parts.get("window") == str(window) and parts.get("day") == str(day):
            return row
    return None


def plot_window_metric(
    axis,
    metrics: pd.DataFrame,
    window: str,
    metric: str,
    group_order: Sequence[str],
    colours: Mapping[str, str],
    labels: Mapping[str, str],
    statistics: pd.DataFrame | None = None,
    control: str | None = None,
    failed_qc: pd.DataFrame | None = None,
    split: str | None = None,
) -> pd.DataFrame:
    """``metric`` in ``window`` across training days: mice as thin lines, group mean ± SEM,
    stars of each group's contrast against ``control`` at each day from ``statistics``.
    ``failed_qc`` (``mouse``, ``day``, ``qc_reasons``): sessions that failed QC but stay in the
    analysis, each marked with a cross at its value; the source data name their reasons.
    ``split`` (a column of ``metrics``, a fixed factor of the model such as sex): one mean per
    group x level, told apart by marker and line style, the legend naming the groups' colours
    and the levels' markers (the stars stay the group contrasts, averaged over the levels as
    the model averages them)."""
    data = metrics[(metrics["window"] == window) & (metrics["metric"] == metric)].copy()
    scale = 100.0 if metric in PERCENT_METRICS else 1.0
    data["shown"] = data["value"] * scale
    days = sorted(data["day"].unique().tolist())
    position = {day: index for index, day in enumerate(days)}
    levels = split_levels(data, split)
    split = split if levels != [None] else None
    n_columns = len(group_order) * len(levels)
    step = 0.12 if len(levels) == 1 else 0.08
    records, mouse_shift = [], {}
    for column, (group, (k, level)) in enumerate(
        (g, lv) for g in group_order for lv in enumerate(levels)
    ):
        part = data[data["group"] == group]
        if split:
            part = part[part[split].astype(str) == level]
        shift = (column - (n_columns - 1) / 2.0) * step
        for name, mouse in part.groupby("mouse", sort=True):
            mouse_shift[name] = shift
            mouse = mouse.sort_values("day")
            axis.plot(
                mouse["day"].map(position) + shift,
                mouse["shown"],
                color=colours[group],
                lw=0.35,
                alpha=0.4,
                zorder=1,
                ls=SPLIT_LINES[k],
            )
        summary = mean_sem(part, ["day"], "shown")
        axis.errorbar(
            summary["day"].map(position) + shift,
            summary["mean"],
            yerr=summary["sem"],
            color=colours[group],
            marker=SPLIT_MARKERS[k],
            ls=SPLIT_LINES[k],
            ms=2.5,
            lw=1.0,
            capsize=1.5,
            elinewidth=0.6,
            label=None if split else labels.get(group, group),
            zorder=3,
        )
        records.append(
            summary.assign(group=group, **({split: level} if split else {}), kind="group")
        )
    if split:  # legend entries: each group's colour, then each level's marker and line style
        for group in group_order:
            axis.plot([], [], color=colours[group], lw=1.0, label=labels.get(group, group))
        for k, level in enumerate(levels):
            axis.plot(
                [],
                [],
                color="0.35",
                marker=SPLIT_MARKERS[k],
                ls=SPLIT_LINES[k],
                ms=2.5,
                lw=1.0,
                label=level,
            )
    top = float(np.nanmax(data["shown"])) if len(data) else 1.0
    span = top - float(np.nanmin(data["shown"])) if len(data) else 1.0
    stars_drawn = []
    if statistics is not None and control is not None:
        for g_index, group in enumerate(g for g in group_order if g != control):
            for day in days:
                row = find_contrast(statistics, metric, f"{group} - {control}", window, day)
                if row is None:
                    continue
                stars = significance_stars(float(row["p_adj"]))
                stars_drawn.append(
                    {"group": group, "day": day, "p_adj": row["p_adj"], "stars": stars}
                )
                draw_mark(
                    axis,
                    position[day],
                    top + span * (0.04 + 0.08 * g_index),
                    row,
                    show_ns=False,
                    color=colours[group],
                )
    if stars_drawn:
        n_rows = len([g for g in group_order if g != control])
        axis.set_ylim(top=top + span * (0.1 + 0.08 * n_rows))
    kept = ["mouse", "group", *([split] if split else []), "day", "shown"]
    mice = data[kept].rename(columns={"shown": "value"})
    if failed_qc is not None and len(failed_qc):
        reasons = failed_qc[["mouse", "day", "qc_reasons"]]
        mice = mice.merge(reasons, on=["mouse", "day"], how="left")
        flagged = mice[mice["qc_reasons"].notna()]
        if len(flagged):
            axis.scatter(
                flagged["day"].map(position) + flagged["mouse"].map(mouse_shift),
                flagged["value"],
                marker="x",
                s=12,
                lw=0.7,
                color=QC_FAILED,
                zorder=4,
                label="failed QC",
            )
        mice = mice.rename(columns={"qc_reasons": "qc_failed"})
    axis.set_xticks(range(len(days)), [str(day) for day in days])
    axis.set_xlabel("Training day")
    axis.set_ylabel(METRIC_LABELS.get(metric, metric))
    # mice and means fill the axes
    entries = len(axis.get_legend_handles_labels()[1])
    legend_above(axis, ncols=min(entries, 4) if split else len(group_order) + 1)
    title_above_legend(axis, window_title(window, *window_bounds(metrics, window)))
    table = pd.concat(
        [mice.assign(kind="mouse"), pd.concat(records).rename(columns={"mean": "value"})],
        ignore_index=True,
    )
    if stars_drawn:
        table = table.merge(pd.DataFrame(stars_drawn), on=["group", "day"], how="left")
    return table
