"""Supplementary panels over the whole study: a table of the main tests from the statistics
table, and a forest plot of effect sizes with their confidence intervals."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib import transforms

from exneuro.figures.legend import in_animal_words, statistic_text, term_text
from exneuro.figures.registry import draws
from exneuro.figures.treadmill import AXIS_LABELS, metric_name
from exneuro.paper.panels import Panel, Study, require

COLUMNS = ["analysis", "outcome", "subset", "test", "term"]
CHANGE = "_pct_change"


def outcome_text(outcome: str) -> str:
    """An outcome's display name: 'Distance (m)', 'Distance change (%)' (no metre unit on a
    percentage); other outcomes with their underscores as spaces."""
    if outcome.endswith(CHANGE) and outcome[: -len(CHANGE)] in AXIS_LABELS:
        return f"{metric_name(outcome[: -len(CHANGE)])} change (%)"
    return AXIS_LABELS.get(outcome, outcome.replace("_", " "))


def subset_text(subset: str, labels: Mapping[str, str]) -> str:
    """'cohort=post_inhibition; session=d15' -> 'post inhibition, d15' (labels where known)."""
    values = [part.partition("=")[2] for part in str(subset).split("; ") if part]
    return ", ".join(labels.get(v, v).replace("_", " ") for v in values)


def _session_labels(study: Study) -> dict[str, str]:
    sessions = (study.settings.get("treadmill") or {}).get("sessions", [])
    return {**study.labels, **{s["id"]: s.get("label", s["id"]) for s in sessions}}


def _selected(panel: Mapping, study: Study) -> pd.DataFrame:
    """Rows matching the panel's ``select`` (column -> value or list), table order."""
    rows = study.rows(**dict(panel.get("select", {})))
    require(len(rows) > 0, f"no statistics rows match {dict(panel.get('select', {}))}")
    return rows


@draws("statistics_table")
def statistics_table(axis, panel: Mapping, study: Study) -> Panel:
    """The selected rows of the statistics table as a table: test, statistic (df), p, n."""
    rows = _selected(panel, study)
    labels = _session_labels(study)
    adjusted = ~rows["correction"].fillna("none").astype(str).str.startswith("none")
    shown = pd.DataFrame(
        {
            "Outcome": rows["outcome"].astype(str).map(outcome_text),
            "Subset": rows["subset"].fillna("").map(lambda s: subset_text(s, labels)),
            "Test": rows["test"]
            .str.replace("_", " ")
            .map(lambda test: in_animal_words(test, study.animal)),
            "Term": rows["term"].map(lambda t: term_text(t, labels)),
            "Statistic": [statistic_text(r) for r in rows.to_dict("records")],
            "p": [_plain_p(p) for p in rows["p"]],
            "p adj.": [
                _plain_p(p) if a else "" for p, a in zip(rows["p_adj"], adjusted, strict=True)
            ],
            f"n {study.animal['plural']}": rows["n_mice"].map(
                lambda n: "" if pd.isna(n) else str(int(n))
            ),
        }
    )
    axis.axis("off")
    _draw_table(axis, shown)
    plotted = (
        f"{len(rows)} rows of the study's statistics table (results/statistics/statistics.tsv); "
        "p as tested, p adj. after the correction the row names (sphericity or multiplicity)"
    )
    return Panel(rows[COLUMNS + ["statistic", "df_num", "df_den", "p", "p_adj"]], plotted)


def _draw_table(axis, shown: pd.DataFrame, size: float = 5.0) -> None:
    """``shown`` as a table filling the axis, each column as wide as its widest text as the
    renderer measures it; the font shrinks (to 3.5 pt at least) until every cell fits."""
    renderer = axis.figure.canvas.get_renderer()
    available = axis.get_window_extent(renderer).width * 0.75  # the layout may narrow it
    while True:
        table = axis.table(
            cellText=shown.to_numpy(),
            colLabels=list(shown.columns),
            cellLoc="left",
            bbox=[0.0, 0.0, 1.0, 1.0],
        )
        table.auto_set_font_size(False)
        table.set_fontsize(size)
        cells = table.get_celld()
        pad = 2 * size * axis.figure.dpi / 72  # the cell's text margins, both sides
        needed = [
            max(
                cells[r, c].get_text().get_window_extent(renderer).width
                for r in range(len(shown) + 1)
            )
            + pad
            for c in range(shown.shape[1])
        ]
        if sum(needed) <= available or size <= 3.5:
            break
        table.remove()
        size -= 0.5
    for (_, column), cell in cells.items():
        cell.set_linewidth(0.3)
        cell.set_width(needed[column] / sum(needed))


def _plain_p(p: float) -> str:
    """p for a table drawn in the figure font (no superscript glyphs): 0.015, 1.4e-05."""
    return "" if pd.isna(p) else (f"{p:.2g}" if p < 1e-3 else f"{p:.3f}")


@draws("effect_sizes")
def effect_sizes(axis, panel: Mapping, study: Study) -> Panel:
    """Forest plot of the selected rows' estimates with their confidence intervals."""
    rows = _selected(panel, study)
    rows = rows[rows["estimate"].notna()]
    require(len(rows) > 0, "the selected statistics rows carry no estimate to plot")
    y = np.arange(len(rows))[::-1]
    axis.errorbar(
        rows["estimate"],
        y,
        xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
        fmt="o",
        ms=2.5,
        color="black",
        elinewidth=0.7,
        capsize=1.5,
    )
    axis.axvline(0, color="0.5", lw=0.5, ls="--")
    labels = _session_labels(study)
    names = [
        f"{outcome_text(r.outcome)}, {subset_text(str(r.subset).split('; ')[0], labels)}: "
        f"{term_text(r.term, labels)}"
        for r in rows.itertuples()
    ]
    axis.set_yticks([])
    axis.spines["left"].set_visible(False)
    axis.set_ylim(-0.6, len(rows) - 0.2)
    # each name above its interval, from the left edge, wrapped to the axis width
    width_pt = axis.get_position().width * axis.figure.get_figwidth() * 72
    characters = max(int(width_pt / (0.5 * 5.5)), 20)
    left_edge = transforms.blended_transform_factory(axis.transAxes, axis.transData)
    for height, name in zip(y, names, strict=True):
        text = textwrap.fill(name, characters)
        axis.text(
            0.01, height + 0.22, text, va="bottom", ha="left", fontsize=5.5, transform=left_edge
        )
    axis.set_xlabel("Estimate (95% CI)")
    level = rows["ci_level"].dropna()
    share = f"{100 * level.iloc[0]:g}%" if len(level) else "95%"
    plotted = f"Estimates with {share} confidence intervals of {len(rows)} tests"
    return Panel(rows[COLUMNS + ["estimate", "ci_low", "ci_high", "p", "p_adj"]], plotted, rows)
