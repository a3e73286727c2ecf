"""Histology: per-section cell counts and each mouse's percentage of marker-positive cells.

A typical count: in each brain section, the number of labelled neurons (e.g. SF1+ cells of the
VMH, by reporter or immunostaining) and how many of them are positive for an activity or
plasticity marker (Fos, Bdnf). Sections sit within mice: the mouse is the unit of analysis, so
each mouse gets one percentage, and groups are compared on those (see
:func:`exneuro.cellular.morphology_stats.histology_statistics`).

Tables come in two layouts, both mapped from the lab's column names in the config:

* long: one row per section and marker (``marker`` and ``n_positive`` columns);
* wide: one row per section with one positive-count column per marker
  (``positives: {Fos: "Fos+ SF1+ cells", Bdnf: "Bdnf+ SF1+ cells"}``), as most spreadsheets
  kept at the microscope are.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.cellular.spines import _counts, _id_column
from exneuro.errors import ConfigError, data_error
from exneuro.io import read_lab_table, require_columns
from exneuro.lab_tables import mapped_columns

__all__ = ["percent_positive", "read_section_counts", "section_percent"]

SECTION_FIELDS = ("mouse", "section", "n_labelled")


def read_section_counts(path: str | Path, columns: Mapping[str, object]) -> pd.DataFrame:
    """Read per-section counts (CSV, TSV or Excel) into one row per section and marker.

    ``columns`` maps ``mouse``, ``section`` and ``n_labelled`` (labelled cells counted, e.g.
    SF1+) to the lab's columns, and either ``marker`` + ``n_positive`` (long layout) or
    ``positives``: {marker name: column of its positive count} (wide layout). Returns
    ``mouse``, ``section``, ``marker``, ``n_labelled``, ``n_positive`` and ``source_line``.

    Stops with an error naming file, line and column on: a count that is negative, fractional or
    not a number, more positive than labelled cells, and a mouse, section and marker given twice.
    """
    path = str(path)
    missing = [f for f in SECTION_FIELDS if f not in columns]
    wide = "positives" in columns
    if not wide:
        missing += [f for f in ("marker", "n_positive") if f not in columns]
    if missing:
        raise ConfigError(
            f"the section-count column mapping has no entry for {missing} — map mouse, section, "
            "n_labelled and either marker + n_positive (one row per marker) or positives "
            "{marker: column} (one column per marker)"
        )
    if wide and ("marker" in columns or "n_positive" in columns):
        raise ConfigError(
            "the section-count column mapping gives both 'positives' (one column per marker) "
            "and 'marker'/'n_positive' (one row per marker) — keep one layout"
        )
    positives = columns.get("positives") or {}
    if wide and (not isinstance(positives, Mapping) or not positives):
        raise ConfigError(
            "columns.positives must map each marker to its column, e.g. {Fos: 'Fos+'}"
        )
    table = read_lab_table(path, expected=mapped_columns(columns))
    base = {f: str(columns[f]) for f in SECTION_FIELDS}
    if wide:
        markers = {str(m): str(c) for m, c in positives.items()}
        require_columns(table, {**base, **{f"positives.{m}": c for m, c in markers.items()}}, path)
    else:
        markers = {}
        require_columns(
            table,
            {**base, "marker": str(columns["marker"]), "n_positive": str(columns["n_positive"])},
            path,
        )
    ids = {f: _id_column(table, base[f], path) for f in ("mouse", "section")}
    labelled = _counts(table, base["n_labelled"], path, "labelled-cell count")
    lines = table["_line"].to_numpy()
    parts = []
    if wide:
        for marker, column in markers.items():
            positive = _counts(table, column, path, f"{marker}+ count")
            parts.append((np.full(len(table), marker, dtype=object), positive, column))
    else:
        marker_names = _id_column(table, str(columns["marker"]), path).to_numpy(object)
        column = str(columns["n_positive"])
        parts.append((marker_names, _counts(table, column, path, "positive count"), column))
    frames = []
    for marker_names, positive, column in parts:
        too_many = positive > labelled
        if too_many.any():
            first = int(np.argmax(too_many))
            raise data_error(
                path,
                f"{positive[first]} positive cells but only {labelled[first]} labelled cells "
                f"(mouse {ids['mouse'].iloc[first]}, section {ids['section'].iloc[first]})",
                f"positive cells are counted among the labelled ones (column '{base['n_labelled']}'"
                "); check for swapped columns or a typo",
                line=int(lines[first]),
                column=column,
            )
        frames.append(
            pd.DataFrame(
                {
                    "mouse": ids["mouse"].to_numpy(),
                    "section": ids["section"].to_numpy(),
                    "marker": marker_names,
                    "n_labelled": labelled,
                    "n_positive": positive,
                    "source_line": lines,
                }
            )
        )
    tidy = pd.concat(frames, ignore_index=True)
    repeated = tidy[tidy.duplicated(["mouse", "section", "marker"], keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        same = repeated[
            (repeated["mouse"] == first["mouse"])
            & (repeated["section"] == first["section"])
            & (repeated["marker"] == first["marker"])
        ]
        raise data_error(
            path,
            f"section '{first['section']}' of mouse {first['mouse']} has {len(same)} rows for "
            f"{first['marker']} (lines {', '.join(str(v) for v in same['source_line'])})",
            "keep one row per mouse, section (and marker), or give the section its own id",
            line=int(same["source_line"].iloc[1]),
            column=base["section"],
        )
    tidy.attrs["path"] = path
    return tidy


def section_percent(sections: pd.DataFrame) -> pd.DataFrame:
    """The section table with ``percent_positive`` = 100 * n_positive / n_labelled per section
    (NaN for a section with no labelled cell)."""
    out = sections.copy()
    labelled = out["n_labelled"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["percent_positive"] = np.where(
            labelled > 0, 100.0 * out["n_positive"].to_numpy(float) / labelled, np.nan
        )
    return out


def percent_positive(sections: pd.DataFrame) -> pd.DataFrame:
    """Each mouse's percentage of marker-positive labelled cells, per marker.

    ``percent_positive`` = 100 * sum(n_positive) / sum(n_labelled) over the mouse's sections:
    the cells of all sections pooled, so every counted cell weighs the same and a section with
    5 SF1+ cells does not count as much as one with 80 (equivalently, section percentages
    weighted by their labelled cells). This is the value used for the statistics. The
    unweighted mean of section percentages (sections with no labelled cell left out) is given as
    ``percent_positive_section_mean`` for comparison. Also ``n_sections``, ``n_labelled`` and
    ``n_positive``. Other columns constant within a mouse (``group``, ``cohort``) are kept.
    """
    required = ["mouse", "section", "marker", "n_labelled", "n_positive"]
    missing = [c for c in required if c not in sections.columns]
    if missing:
        raise KeyError(f"section table lacks column(s) {missing}")
    per_section = section_percent(sections)
    keys = ["mouse", "marker"] + [
        c for c in sections.columns if c not in (*required, "source_line", "percent_positive")
    ]
    out = (
        per_section.groupby(keys, sort=False, observed=True, dropna=False)
        .agg(
            n_sections=("section", "size"),
            n_labelled=("n_labelled", "sum"),
            n_positive=("n_positive", "sum"),
            percent_positive_section_mean=("percent_positive", "mean"),
        )
        .reset_index()
    )
    labelled = out["n_labelled"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.where(
            labelled > 0, 100.0 * out["n_positive"].to_numpy(float) / labelled, np.nan
        )
    out.insert(out.columns.get_loc("n_positive") + 1, "percent_positive", pooled)
    return out
