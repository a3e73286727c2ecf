"""Numbers from a lab table's text cells, with the table's decimal mark and thousands separator.

A spreadsheet writes 1234.5 as ``1234.5``, ``1,234.5``, ``1234,5`` or ``1.234,5`` depending on
the locale it ran in. Reading ``1,234`` as 1.234 (or ``12,5`` as 125) is a silent wrong number,
so the mark is decided, never guessed per cell: declared in the config (``lab_tables.decimal``,
``lab_tables.thousands``), else taken from the cells where it can only be a decimal mark
(``12,5``, ``0.75``) in the column, else in the whole table. A cell the decided format cannot
read — a decimal comma in a table of decimal points, a thousands separator declared absent, a
``1,234`` with no evidence either way — stops the run with one line naming the file, line,
column, the text and the fix. Missing-value codes (``nd``, ``NA``) are missing values, counted
by :func:`missing_cells` for the QC tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.lab_tables import TableFormat, current_format, decimal_only, missing_codes

MARK_NAMES = {".": "decimal point", ",": "decimal comma"}
#: Thousands separators understood when ``lab_tables.thousands`` is auto (besides the mark
#: that is not the decimal one): spaces, no-break spaces and apostrophes (Swiss).
GROUPING_MARKS = (" ", "\u00a0", "\u202f", "'", "\u2019")


def parse_numbers(
    table: pd.DataFrame,
    column: str,
    path: str,
    *,
    required: bool = True,
    missing: Sequence[str] = (),
) -> np.ndarray:
    """Convert a text column to floats with the table's number format.

    An empty cell or a missing-value code (the study's ``lab_tables.missing_values`` and the
    table's own ``missing``) is NaN; with ``required`` it stops the run instead. Any other
    text that is not a number in the table's format stops the run naming it.
    """
    fmt = current_format()
    text = table[column].astype(str).str.strip()
    absent = (text == "") | text.isin(missing_codes(missing))
    if required and absent.any():
        first = int(np.argmax(absent.to_numpy()))
        value = text.iloc[first]
        problem = "empty cell" if value == "" else f"'{value}' is a missing-value code"
        raise data_error(
            path,
            problem,
            "this column needs a value on every row: enter it, or remove the row",
            line=int(table["_line"].iloc[first]),
            column=column,
        )
    present = text.where(~absent, "")
    decimal, source = _decimal_mark(present, table, column, path, fmt)
    values = _convert(present, decimal, fmt)
    bad = values.isna() & ~absent
    if bad.any():
        first = int(np.argmax(bad.to_numpy()))
        raise _number_error(
            present.iloc[first], decimal, source, fmt, path, int(table["_line"].iloc[first]), column
        )
    return values.to_numpy(float)


def missing_cells(
    table: pd.DataFrame, columns: Sequence[str], missing: Sequence[str] = ()
) -> pd.DataFrame:
    """Every cell of ``columns`` holding a missing-value code or nothing: ``line``, ``column``,
    ``value`` (the text, '' for an empty cell), in file order — the trace a QC table keeps of
    the values left out."""
    codes = missing_codes(missing)
    parts = []
    for column in columns:
        text = table[column].astype(str).str.strip()
        hit = (text == "") | text.isin(codes)
        parts.append(
            pd.DataFrame({"line": table.loc[hit, "_line"], "column": column, "value": text[hit]})
        )
    found = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if found.empty:
        return pd.DataFrame(columns=["line", "column", "value"])
    return found.sort_values(["line"], kind="stable").reset_index(drop=True)


def describe_missing(found: pd.DataFrame) -> str:
    """'3 missing values: 'nd' x2, empty x1 (lines 4, 9, 12)' for :func:`missing_cells`."""
    if found.empty:
        return ""
    counts = found["value"].replace("", "empty").value_counts(sort=False)
    kinds = ", ".join(f"{'empty' if v == 'empty' else repr(v)} x{n}" for v, n in counts.items())
    lines = ", ".join(map(str, found["line"].drop_duplicates().tolist()[:10]))
    more = ", ..." if found["line"].nunique() > 10 else ""
    plural = "s" if len(found) > 1 else ""
    return f"{len(found)} missing value{plural}: {kinds} (line{plural} {lines}{more})"


def _decimal_mark(
    present: pd.Series, table: pd.DataFrame, column: str, path: str, fmt: TableFormat
) -> tuple[str | None, str]:
    """The column's decimal mark and why: declared, or found in the column or the table.
    ``None`` when nothing decides it (then a '.' is decimal and a lone ',ddd' is ambiguous)."""
    if fmt.decimal != "auto":
        return fmt.decimal, "lab_tables.decimal in the config"
    hits = {mark: decimal_only(present, mark) for mark in MARK_NAMES}
    if hits["."].any() and hits[","].any():
        point = int(np.argmax(hits["."].to_numpy()))
        comma = int(np.argmax(hits[","].to_numpy()))
        raise data_error(
            path,
            f"the column mixes decimal points ('{present.iloc[point]}', line "
            f"{table['_line'].iloc[point]}) and decimal commas ('{present.iloc[comma]}', line "
            f"{table['_line'].iloc[comma]})",
            "use one decimal mark in the whole table (or declare lab_tables.decimal)",
            column=column,
        )
    for mark, hit in hits.items():
        if hit.any():
            first = int(np.argmax(hit.to_numpy()))
            return mark, f"'{present.iloc[first]}' on line {table['_line'].iloc[first]}"
    evidence = table.attrs.get("decimal_evidence") or {}
    found = [mark for mark in MARK_NAMES if evidence.get(mark)]
    if len(found) == 1:
        text, line, where = evidence[found[0]]
        return found[0], f"'{text}' on line {line}, column '{where}'"
    return None, ""


def _grouping(decimal: str, fmt: TableFormat) -> str:
    """The characters a thousands group may be separated by (a regex class, or '')."""
    if fmt.thousands == "none":
        return ""
    if fmt.thousands != "auto":
        return re.escape(fmt.thousands)
    other = "," if decimal == "." else "."
    return re.escape(other + "".join(GROUPING_MARKS))


def _convert(present: pd.Series, decimal: str | None, fmt: TableFormat) -> pd.Series:
    """Floats of the cells that are numbers in the format (NaN elsewhere). Undecided (None):
    '.' is the decimal mark, and a ',' is read only where it cannot be a decimal comma
    ('1,234,567', '1,234.5')."""
    mark = decimal or "."
    plain = present.str.fullmatch(
        rf"[+-]?(?:\d+(?:{re.escape(mark)}\d*)?|{re.escape(mark)}\d+)(?:[eE][+-]?\d+)?"
    )
    grouping = _grouping(mark, fmt)
    normal = present.where(plain, "")
    if grouping:
        grouped = present.str.fullmatch(
            rf"[+-]?\d{{1,3}}(?P<g>[{grouping}])\d{{3}}(?:(?P=g)\d{{3}})*(?:{re.escape(mark)}\d+)?"
        )
        if decimal is None:  # '1,234' alone could be 1.234: only read when not ambiguous
            grouped &= ~present.str.fullmatch(r"[+-]?\d{1,3},\d{3}")
        stripped = present.str.replace(rf"[{grouping}]", "", regex=True)
        normal = normal.where(~grouped, stripped)
    normal = normal.str.replace(mark, ".", regex=False) if mark == "," else normal
    return pd.to_numeric(normal.where(normal != "", None), errors="coerce")


def _number_error(
    value: str,
    decimal: str | None,
    source: str,
    fmt: TableFormat,
    path: str,
    line: int,
    column: str,
):
    """The one-line message for a cell the table's number format cannot read."""
    where = {"line": line, "column": column}
    if decimal is None and re.fullmatch(r"[+-]?\d{1,3},\d{3}", value):
        whole = value.replace(",", "")
        return data_error(
            path,
            f"'{value}' is ambiguous: {whole} with a thousands separator, or "
            f"{value.replace(',', '.')} with a decimal comma",
            "declare the table's decimal mark (lab_tables.decimal: '.' or ',') in the config, "
            "or write the number without a separator",
            **where,
        )
    mark = decimal or "."
    other = "," if mark == "." else "."
    if re.fullmatch(rf"[+-]?\d*{re.escape(other)}\d+", value):
        if fmt.thousands == "none" and re.fullmatch(
            rf"[+-]?\d{{1,3}}{re.escape(other)}\d{{3}}", value
        ):
            return data_error(
                path,
                f"'{value}' has a thousands separator, but lab_tables.thousands is none",
                f"write {value.replace(other, '')}, or set lab_tables.thousands in the config",
                **where,
            )
        because = f" (decided by {source})" if source else ""
        return data_error(
            path,
            f"'{value}' has a {MARK_NAMES[other]}, but this table's decimal mark is the "
            f"{MARK_NAMES[mark]}{because}",
            "use one decimal mark in the whole table, or declare lab_tables.decimal",
            **where,
        )
    if fmt.thousands == "none" and re.fullmatch(
        r"[+-]?\d{1,3}([^\d])\d{3}(\1\d{3})*([.,]\d+)?", value
    ):
        return data_error(
            path,
            f"'{value}' has a thousands separator, but lab_tables.thousands is none",
            "write the number without it, or set lab_tables.thousands in the config",
            **where,
        )
    return data_error(
        path,
        f"'{value}' is not a number",
        f"enter a plain number ({MARK_NAMES[mark]}, no units)",
        **where,
    )
