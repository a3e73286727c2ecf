"""Read a table a lab declares in the config, check the declaration against it, and order its
levels.

The checks stop the run with one line naming the file, line and column and the fix: a declared
column that does not exist, a factor with one level, a subject in two groups, a row repeated
within a design cell, a subject to exclude that the table does not hold. Missing-value codes
('nd', 'Dead') become empty cells; a subject can be the combination of several columns. The
levels of every factor come in the order the study gives them (:func:`default_level_order`),
never alphabetically: the first level is the reference of every contrast.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError, data_error
from exneuro.io import parse_numbers, read_lab_table
from exneuro.lab_numbers import describe_missing, missing_cells
from exneuro.lab_tables import closest_column, missing_codes

ROW_SUBJECT = "@row"


def read_declared_table(declaration: Mapping, sheet: pd.DataFrame | None, key: str) -> pd.DataFrame:
    """Read a declared table, check the declaration against it, and join the sample sheet.

    Numbers stay numbers; factor columns become text. With ``join_sample_sheet`` the subject
    column holds mouse ids and the sheet's columns (group, cohort, sex ...) are added; a subject
    missing from the sheet is an error naming the line.
    """
    path = declaration["file"]
    codes = declaration.get("missing_values", [])
    raw = read_lab_table(path, expected=_declared_columns(declaration))
    table = _blank_missing_codes(raw, codes)
    subject = declaration["subject"]
    combined = declaration.get("subject_columns", [])
    if combined:
        _require(table, combined, path, key, "a subject_columns")
        table[subject] = table[combined].apply(lambda c: c.str.strip()).agg("_".join, axis=1)
    if subject == ROW_SUBJECT:
        table[ROW_SUBJECT] = "row" + table["_line"].astype(str)
    if declaration["wide"]:
        table = _stack_wide(table, declaration, path, key)
    if declaration["join_sample_sheet"]:
        if sheet is None:
            raise ConfigError(f"tables.{key}: join_sample_sheet needs the sample sheet")
        _require(table, [subject], path, key, "subject")
        unknown = ~table[subject].isin(sheet["mouse_id"])
        if unknown.any():
            raise data_error(
                path,
                f"subject '{table.loc[unknown, subject].iloc[0]}' is not in the sample sheet",
                "add the mouse to the sheet or remove the row",
                line=int(table.loc[unknown, "_line"].iloc[0]),
                column=subject,
            )
        extra = [c for c in sheet.columns if c not in table.columns and c != "mouse_id"]
        table = table.merge(
            sheet[["mouse_id", *extra]], left_on=subject, right_on="mouse_id", how="left"
        ).drop(columns="mouse_id")
        included = sheet.set_index("mouse_id")["excluded_reason"]
        table = table[table[subject].map(included).fillna("") == ""]
    table = _exclude_subjects(table, declaration, path, key)
    for column, values in declaration["subset"].items():
        _require(table, [column], path, key, "subset")
        table = table[table[column].isin([str(v) for v in values])]
    top = [declaration["random_group"]] if declaration.get("random_group") else []
    factors = [
        subject,
        *top,
        *declaration["between"],
        *declaration["within"],
        *declaration["nested"],
    ]
    numbers = [*declaration["outcomes"], *declaration["covariates"]]
    _require(table, factors, path, key, "a factor")
    _require(table, numbers, path, key, "an outcome or covariate")
    for column in numbers:
        table[column] = parse_numbers(table, column, path, required=False)
    for column in factors:  # an empty factor cell is a missing value, never a level ""
        table[column] = table[column].str.strip().replace("", np.nan)
    _check_factors(table, declaration, path, key)
    _check_one_row_per_cell(table, declaration, path)
    table = table.reset_index(drop=True)
    table.attrs["missing"] = _missing_notes(raw, table, declaration, codes)
    return table


def _declared_columns(declaration: Mapping) -> list[str]:
    """The columns a declaration names: the header row is the row that holds them."""
    wide = declaration["wide"]["columns"] if declaration["wide"] else []
    named = [
        *declaration.get("subject_columns", []),
        *declaration["between"],
        *declaration["within"],
        *declaration["nested"],
        *declaration["covariates"],
        *([] if wide else declaration["outcomes"]),
        *wide,
    ]
    if declaration["subject"] != ROW_SUBJECT and not declaration.get("subject_columns"):
        named.append(declaration["subject"])
    if wide:
        named = [c for c in named if c != declaration["wide"]["factor"]]
    return list(dict.fromkeys(named))


def _missing_notes(
    raw: pd.DataFrame, table: pd.DataFrame, declaration: Mapping, codes: list[str]
) -> dict[str, str]:
    """Per outcome, the trace of its missing values among the rows analysed: how many, which
    codes, which lines ('' when none). Statistics leave them out; their notes say so."""
    kept = raw[raw["_line"].isin(table["_line"])]
    wide = declaration["wide"]
    notes = {}
    for outcome in declaration["outcomes"]:
        columns = wide["columns"] if wide else [outcome]
        notes[outcome] = describe_missing(missing_cells(kept, columns, codes))
    return notes


def read_declared_data(path: str, declaration: Mapping) -> pd.DataFrame:
    """A declared table as :func:`read_declared_table` returned it, from the TSV the workflow
    wrote of it (without ``_line``).

    Types are those of the declaration, not guessed from the values: the outcomes and
    covariates are numbers, every other column is text (a level such as week '1' or '007'
    stays the text the statistics saw) and an empty factor cell is a missing value.
    """
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for column in [*declaration["outcomes"], *declaration["covariates"]]:
        table[column] = table[column].where(table[column] != "").astype(float)
    factors = [
        declaration["subject"],
        *declaration["between"],
        *declaration["within"],
        *declaration["nested"],
    ]
    for column in dict.fromkeys(factors):
        table[column] = table[column].where(table[column] != "")
    return table


def _exclude_subjects(table: pd.DataFrame, declaration: Mapping, path: str, key: str):
    """The table without the subjects its declaration leaves out (this analysis only)."""
    subject = declaration["subject"]
    excluded = [str(entry["subject"]) for entry in declaration.get("exclude_subjects", [])]
    if not excluded:
        return table
    _require(table, [subject], path, key, "subject")
    unknown = sorted(set(excluded) - set(table[subject].astype(str).str.strip()))
    if unknown:
        raise ConfigError(
            f"tables.{key}.exclude_subjects: {', '.join(unknown)} not in {path} "
            f"(column '{subject}') — fix the id or remove the entry"
        )
    return table[~table[subject].astype(str).str.strip().isin(excluded)]


def _blank_missing_codes(table: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Cells holding a missing-value code — the study's (``lab_tables.missing_values``) or the
    table's own ('nd', 'Dead') — become empty."""
    cells = table.drop(columns="_line")
    blanked = cells.where(~cells.apply(lambda c: c.str.strip()).isin(missing_codes(codes)), "")
    return blanked.assign(_line=table["_line"])


def _stack_wide(table: pd.DataFrame, declaration: Mapping, path: str, key: str) -> pd.DataFrame:
    """One row per subject and level from a wide table (one column per level of a factor)."""
    wide = declaration["wide"]
    if len(declaration["outcomes"]) != 1:
        raise ConfigError(f"tables.{key}: a wide table holds one outcome; declare exactly one")
    _require(table, wide["columns"], path, key, "a wide")
    keep = [c for c in table.columns if c not in wide["columns"]]
    long = table.melt(
        id_vars=keep,
        value_vars=wide["columns"],
        var_name=wide["factor"],
        value_name=declaration["outcomes"][0],
    )
    return long.sort_values(
        ["_line", wide["factor"]],
        key=lambda c: (
            c.map({v: i for i, v in enumerate(wide["columns"])}) if c.name == wide["factor"] else c
        ),
        kind="stable",
    ).reset_index(drop=True)


def _require(table: pd.DataFrame, columns, path: str, key: str, role: str) -> None:
    present = [c for c in table.columns if c != "_line"]
    for column in columns:
        if column not in table.columns:
            closest = closest_column(column, present)
            hint = f"the closest is '{closest}'; " if closest else ""
            raise ConfigError(
                f"tables.{key}: {role} column '{column}' is not in {path} "
                f"({hint}columns: {', '.join(present)}) — fix the name in the config or the "
                "file's header"
            )


def _check_factors(table: pd.DataFrame, declaration: Mapping, path: str, key: str) -> None:
    for factor in [*declaration["between"], *declaration["within"]]:
        levels = table[factor].dropna().unique()
        if len(levels) < 2:
            raise ConfigError(
                f"tables.{key}: factor '{factor}' has only one level "
                f"({', '.join(map(str, levels))}) in {path} — a factor needs two"
            )
    subject = declaration["subject"]
    top = [declaration["random_group"]] if declaration.get("random_group") else []
    for factor in [*declaration["between"], *top]:
        per_subject = table.groupby(subject)[factor].nunique()
        if (per_subject > 1).any():
            mouse = per_subject.index[per_subject > 1][0]
            found = sorted(table.loc[table[subject] == mouse, factor].unique())
            raise data_error(
                path,
                f"subject {mouse} appears in more than one {factor} ({', '.join(found)})",
                f"'{factor}' must be a between-subject factor: fix the rows, declare it under "
                "'within', or, when ids are numbered within each group, give the columns that "
                "together identify a subject under 'subject_columns'",
            )


def _check_one_row_per_cell(table: pd.DataFrame, declaration: Mapping, path: str) -> None:
    """Without nested units a subject has one row per design cell; a repeated row (a pasted
    duplicate, or a measure repeated within the cell) is named by its line."""
    if declaration["nested"]:
        return
    keys = [
        declaration["subject"],
        *declaration["split_by"],
        *declaration["within"],
        *declaration["covariates"],
    ]
    repeated = table.duplicated(subset=list(dict.fromkeys(keys)), keep="first")
    if repeated.any():
        row = table[repeated].iloc[0]
        same = table[keys].astype(str).eq(row[keys].astype(str)).all(axis=1)
        first = table[same].iloc[0]
        cell = ", ".join(f"{k}={row[k]}" for k in keys)
        raise data_error(
            path,
            f"{cell} is on two rows (lines {first['_line']} and {row['_line']})",
            "keep one row per subject and level, or declare the repeated unit (e.g. cell, "
            "replicate) under 'nested'",
            line=int(row["_line"]),
        )


def _ordered(present: list[str], order: list[str]) -> list[str]:
    return [level for level in order if level in present] + [
        level for level in present if level not in order
    ]


def _natural_key(text: str):
    """Sort 'w2' before 'w10' and numbers numerically: digit runs compare as numbers."""
    try:
        return ((0, float(text)),)
    except ValueError:
        parts = re.split(r"(\d+(?:\.\d+)?)", text)
        return tuple((0, float(p)) if i % 2 else (1, p) for i, p in enumerate(parts) if p)


def default_level_order(present: list[str], factor: str, declaration: Mapping) -> list[str]:
    """The levels of a factor with no declared order, in the order the design gives them.

    The wide columns in the order the file has them (``pre`` before ``post``); the study's
    groups in the config's order with the control groups first (so every contrast is
    ``other - control``); levels that carry a number (weeks, days, ``w10``) by that number;
    any other text in the order it first appears in the file — never alphabetically, which
    would put ``post`` before ``pre``.
    """
    wide = declaration.get("wide")
    if wide and factor == wide["factor"]:
        return _ordered(present, list(wide["columns"]))
    groups = list(declaration.get("group_order", []))
    if groups and set(present) <= set(groups):
        return _ordered(present, groups)
    if all(re.search(r"\d", level) for level in present):
        return sorted(present, key=_natural_key)
    return present


def factor_levels(data: pd.DataFrame, declaration: Mapping) -> dict[str, list[str]]:
    """Levels of every factor in display and reference order (first = reference): the
    declared ``level_order``, else :func:`default_level_order`."""
    order = {f: [str(v) for v in levels] for f, levels in declaration["level_order"].items()}
    levels = {}
    for factor in [*declaration["between"], *declaration["within"]]:
        present = list(dict.fromkeys(data[factor].dropna().astype(str)))
        levels[factor] = (
            _ordered(present, order[factor])
            if factor in order
            else default_level_order(present, factor, declaration)
        )
    return levels
