"""Supplementary panels over the whole study: a table of the main tests from the statistics
table, and a forest plot of effect sizes with their confidence intervals."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from exneuro.figures.legend import statistic_text, term_text
from exneuro.paper.panels import Panel, Study, panel_kind, require

COLUMNS = ["analysis", "outcome", "subset", "test", "term"]


def _selected(panel: Mapping, study: Study) -> pd.DataFrame:
    """Rows matching the panel's ``select`` (column -> value or list), table order."""
    rows = study.rows(**dict(panel.get("select", {})))
    require(len(rows) > 0, f"no statistics rows match {dict(panel.get('select', {}))}")
    return rows


@panel_kind("statistics_table")
def statistics_table(axis, panel: Mapping, study: Study) -> Panel:
    """The selected rows of the statistics table as a table: test, statistic (df), p, n."""
    rows = _selected(panel, study)
    shown = pd.DataFrame(
        {
            "Outcome": rows["outcome"].astype(str).str.replace("_", " "),
            "Subset": rows["subset"].fillna("").astype(str).str.replace("cohort=", ""),
            "Test": rows["test"].str.replace("_", " "),
            "Term": rows["term"].map(term_text),
            "Statistic": [statistic_text(r) for r in rows.to_dict("records")],
            "p": [_plain_p(p) for p in rows["p_adj"].fillna(rows["p"])],
            "n mice": rows["n_mice"].map(lambda n: "" if pd.isna(n) else str(int(n))),
        }
    )
    axis.axis("off")
    table = axis.table(
        cellText=shown.to_numpy(),
        colLabels=list(shown.columns),
        cellLoc="left",
        bbox=[0.0, 0.0, 1.0, 1.0],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(5)
    table.auto_set_column_width(list(range(shown.shape[1])))
    characters = [max(len(str(v)) for v in [name, *shown[name]]) + 2 for name in shown.columns]
    for (_, column), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        cell.set_width(characters[column] / sum(characters))
    plotted = (
        f"{len(rows)} rows of the study's statistics table (results/statistics/statistics.tsv); "
        "p is the adjusted p where a correction applies"
    )
    return Panel(rows[COLUMNS + ["statistic", "df_num", "df_den", "p", "p_adj"]], plotted)


def _plain_p(p: float) -> str:
    """p for a table drawn in the figure font (no superscript glyphs): 0.015, 1.4e-05."""
    return "" if pd.isna(p) else (f"{p:.2g}" if p < 1e-3 else f"{p:.3f}")


@panel_kind("effect_sizes")
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
    names = [
        f"{r.outcome}, {str(r.subset).split('; ')[0].removeprefix('cohort=')}: {term_text(r.term)}"
        for r in rows.itertuples()
    ]
    axis.set_yticks(y, [name.replace("_", " ") for name in names])
    axis.set_xlabel("Estimate (95% CI)")
    level = rows["ci_level"].dropna()
    share = f"{100 * level.iloc[0]:g}%" if len(level) else "95%"
    plotted = f"Estimates with {share} confidence intervals of {len(rows)} tests"
    return Panel(rows[COLUMNS + ["estimate", "ci_low", "ci_high", "p", "p_adj"]], plotted, rows)
