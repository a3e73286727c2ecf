"""One way to read a lab's table (CSV, TSV, Excel): separator, title rows, header, missing codes.

Labs keep tables in whatever their spreadsheet wrote: commas, tabs or semicolons (European
Excel), a title row or two above the header, trailing separators, 'nd' or 'NA' for a value not
measured. :func:`read_lab_table` finds the separator (or takes the declared one, naming a
mismatch), finds the header row — by the columns the caller expects, or below title rows — and
returns every cell as text with the line it came from; numbers are converted by
:func:`exneuro.lab_numbers.parse_numbers`, which knows the table's decimal mark and thousands
separator. A problem is one line naming the file, the line and the fix.

The study's settings (``lab_tables`` in the config: separator, decimal mark, thousands
separator, missing-value codes) apply to every lab table read inside :func:`using_table_format`;
outside it the defaults apply (detection, and :data:`DEFAULT_MISSING_VALUES`).
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import difflib
import gzip
import logging
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.errors import damaged_gzip_error, data_error

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
#: Cell texts that mean "no value" in every lab table unless the config says otherwise.
DEFAULT_MISSING_VALUES = ("NA", "na", "N/A", "n/a", "nd", "ND", "n.d.", "NaN", "nan", "-", "—")
SEPARATORS = {"\t": "tab", ";": "semicolon", ",": "comma"}
#: Rows searched for the header below title rows.
HEADER_SEARCH_ROWS = 30


@dataclass(frozen=True)
class TableFormat:
    """How a study's lab tables are written: ``auto`` detects, anything else is declared."""

    separator: str = "auto"
    decimal: str = "auto"
    thousands: str = "auto"
    missing_values: tuple[str, ...] = DEFAULT_MISSING_VALUES

    @classmethod
    def from_config(cls, section: Mapping | None) -> TableFormat:
        """The ``lab_tables`` section of a validated config (absent keys keep the defaults)."""
        section = dict(section or {})
        names = {"tab": "\t", "semicolon": ";", "comma": ","}
        if "separator" in section:
            section["separator"] = names.get(section["separator"], section["separator"])
        if "missing_values" in section:
            section["missing_values"] = tuple(str(v) for v in section["missing_values"])
        return cls(**section)


_FORMAT: contextvars.ContextVar[TableFormat | None] = contextvars.ContextVar(
    "lab_table_format", default=None
)


@contextlib.contextmanager
def using_table_format(section: Mapping | TableFormat | None) -> Iterator[TableFormat]:
    """Read every lab table inside the block with the study's ``lab_tables`` settings."""
    table_format = section if isinstance(section, TableFormat) else TableFormat.from_config(section)
    token = _FORMAT.set(table_format)
    try:
        yield table_format
    finally:
        _FORMAT.reset(token)


def current_format() -> TableFormat:
    """The settings lab tables are read with here (the study's, or the defaults)."""
    return _FORMAT.get() or TableFormat()


def missing_codes(extra: Sequence[str] = ()) -> set[str]:
    """The missing-value codes in force, with a table's own ``extra`` codes."""
    return {*current_format().missing_values, *map(str, extra)}


def read_lab_table(
    path: str | Path, comment: str | None = None, expected: Sequence[str] = ()
) -> pd.DataFrame:
    """Read a CSV, TSV or Excel table as text, adding ``_line``: the row's line in the file.

    Everything stays text so that no value is silently coerced; callers convert columns with
    :func:`exneuro.lab_numbers.parse_numbers`, which reports the line of any value that does not
    parse. Blank lines are dropped. The header is the row holding the most ``expected`` columns
    (title rows above it are skipped, logged, and counted in ``attrs['title_rows']``), else the
    first row after title rows of a single cell. Stops with one line on: a missing or empty file, a
    header with no data rows, a column named twice, a row with more cells than the header, and a
    declared separator the file does not use.
    """
    path = Path(path)
    if not path.exists():
        raise data_error(str(path), "file not found", "check the path in the config")
    if path.stat().st_size == 0:
        raise data_error(str(path), "the file is empty", "export the table again, with its header")
    if path.suffix.lower() in EXCEL_SUFFIXES:
        rows, lines = _excel_rows(path)
        separator = None
    else:
        rows, lines, separator = _text_rows(path, comment)
    if not rows:
        blank = separator is None or not _decoded_text(path).strip()
        problem = "the file is empty" if blank else "only comment lines, no table"
        raise data_error(str(path), problem, "export the table again, with its header")
    header_at = _header_index(rows, [str(c).strip() for c in expected])
    header = [cell.strip() for cell in rows[header_at]]
    body, body_lines = rows[header_at + 1 :], lines[header_at + 1 :]
    width = len(header)
    for row, line in zip(body, body_lines, strict=True):
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            raise data_error(
                str(path),
                f"{len(row)} cells but the header (line {lines[header_at]}) has {width}",
                "a separator inside a value? quote the value, or check the separator "
                f"({SEPARATORS.get(separator, separator) if separator else 'Excel'})",
                line=line,
            )
    cells = [[*row[:width], *[""] * (width - len(row))] for row in body]
    table = pd.DataFrame(cells, columns=range(width), dtype=object).astype(str)
    table.columns = _column_names(header, table, str(path), lines[header_at])
    table = table.loc[:, [c is not None for c in table.columns]]
    table["_line"] = np.asarray(body_lines, dtype=int)
    blank = (table.drop(columns="_line").apply(lambda c: c.str.strip()) == "").all(axis=1)
    table = table.loc[~blank].reset_index(drop=True)
    if table.empty:
        raise data_error(
            str(path),
            f"the header (line {lines[header_at]}) has no data rows below it",
            "fill in the table, or remove it from the config",
        )
    if header_at:
        logging.getLogger("exneuro").info(
            "%s: header on line %d; %d title row(s) above it skipped",
            path,
            lines[header_at],
            header_at,
        )
    table.attrs["title_rows"] = header_at
    table.attrs["separator"] = separator
    table.attrs["decimal_evidence"] = decimal_evidence(table)
    return table


def _excel_rows(path: Path) -> tuple[list[list[str]], list[int]]:
    try:
        sheet = pd.read_excel(path, dtype=str, header=None, keep_default_na=False)
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise data_error(
            str(path),
            f"not a readable Excel workbook ({error})",
            "save it again from Excel, or export the sheet as CSV",
        ) from None
    rows = sheet.astype(str).to_numpy().tolist()
    lines = list(range(1, len(rows) + 1))
    kept = [
        (row, line) for row, line in zip(rows, lines, strict=True) if any(c.strip() for c in row)
    ]
    return [r for r, _ in kept], [line for _, line in kept]


def _decoded_text(path: Path) -> str:
    """The text of a (possibly gzipped) text table: UTF-8, else Latin-1."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise damaged_gzip_error(str(path), error) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # Excel's 'CSV' on Windows


def _text_rows(path: Path, comment: str | None) -> tuple[list[list[str]], list[int], str]:
    raw = _decoded_text(path).splitlines()
    first = 0
    while comment and first < len(raw) and raw[first].startswith(comment):
        first += 1
    separator = _separator(path, raw[first:])
    rows, lines = [], []
    reader = csv.reader(raw[first:], delimiter=separator)
    for number, row in enumerate(reader, start=first + 1):
        if any(cell.strip() for cell in row):
            rows.append(row)
            lines.append(number)
    return rows, lines, separator


def _separator(path: Path, lines: list[str]) -> str:
    """The declared separator (checked against the file), or the one whose count per line is
    the most consistent over the first lines (tab, then semicolon, then comma on a tie)."""
    sample = [line for line in lines[:HEADER_SEARCH_ROWS] if line.strip()]
    scores = {}
    for candidate in SEPARATORS:
        counts = Counter(line.count(candidate) for line in sample)
        counts.pop(0, None)
        scores[candidate] = max(counts.values(), default=0)
    detected = max(SEPARATORS, key=lambda s: scores[s])  # dict order breaks ties: tab first
    declared = current_format().separator
    if declared == "auto":
        return detected if scores[detected] else "\t"
    if scores[declared] == 0 and scores[detected]:
        raise data_error(
            str(path),
            f"separator mismatch: lab_tables.separator is {SEPARATORS[declared]} but the file "
            f"is separated by {SEPARATORS[detected]}s",
            f"set lab_tables.separator to {SEPARATORS[detected]} (or auto), or export the "
            "table again",
        )
    return declared


def _header_index(rows: list[list[str]], expected: list[str]) -> int:
    """The row holding the most expected columns (two or more, or the only one expected), else
    the first row after title rows of a single cell."""
    search = rows[:HEADER_SEARCH_ROWS]
    if expected:
        found = [len(set(expected) & {cell.strip() for cell in row}) for row in search]
        best = int(np.argmax(found))
        if found[best] >= min(2, len(set(expected))) and found[best] > found[0]:
            return best
        if found[0]:
            return 0
    filled = [sum(bool(cell.strip()) for cell in row) for row in search]
    if max(filled, default=0) < 2:
        return 0
    return next(index for index, n in enumerate(filled) if n >= 2)


def _column_names(header: list[str], table: pd.DataFrame, path: str, line: int) -> list:
    """Header names; an unnamed column is dropped when empty (a trailing separator) and named
    'Unnamed: k' otherwise; a name given twice stops the run."""
    names: list = []
    for k, name in enumerate(header):
        if name:
            if name in names:
                raise data_error(
                    path,
                    f"column '{name}' appears twice in the header",
                    "rename one of them (every column needs its own name)",
                    line=line,
                )
            names.append(name)
        else:
            names.append(f"Unnamed: {k}" if (table[k].str.strip() != "").any() else None)
    return names


def decimal_only(values: pd.Series, mark: str) -> pd.Series:
    """Cells whose ``mark`` ('.' or ',') can only be a decimal mark: a number with one such
    mark followed by other than three digits, or with a zero integer part ('12,5', '0,125'),
    or one holding both marks with ``mark`` last ('1.234,5')."""
    other = "," if mark == "." else "."
    escaped, escaped_other = re.escape(mark), re.escape(other)
    single = values.str.fullmatch(rf"[+-]?\d*{escaped}\d+") & ~values.str.fullmatch(
        rf"[+-]?[1-9]\d{{0,2}}{escaped}\d{{3}}"
    )
    both = values.str.fullmatch(rf"[+-]?\d{{1,3}}(?:{escaped_other}\d{{3}})+{escaped}\d+")
    return single | both


def decimal_evidence(table: pd.DataFrame) -> dict[str, tuple[str, int, str] | None]:
    """For '.' and ',': the first cell (text, line, column) where it can only be a decimal mark,
    or None. A table's numbers share one decimal mark; this decides ambiguous cells ('1,234')."""
    evidence: dict[str, tuple[str, int, str] | None] = {".": None, ",": None}
    for column in table.columns:
        if column == "_line":
            continue
        values = table[column].str.strip()
        for mark in evidence:
            if evidence[mark] is None:
                hits = decimal_only(values, mark)
                if hits.any():
                    first = int(np.argmax(hits.to_numpy()))
                    evidence[mark] = (values.iloc[first], int(table["_line"].iloc[first]), column)
    return evidence


def mapped_columns(columns: Mapping) -> list[str]:
    """The lab's column names of a column mapping (nested mappings, e.g. one count column per
    spine type, included): the names the header row is found by."""
    names = []
    for value in columns.values():
        if isinstance(value, Mapping):
            names += mapped_columns(value)
        elif isinstance(value, str) and value:
            names.append(value)
    return names


def closest_column(name: str, present: Sequence[str]) -> str | None:
    """The column of ``present`` most like ``name`` (case, spaces and punctuation aside)."""

    def simple(text: str) -> str:
        return re.sub(r"[\W_]+", "", text.lower())

    by_simple = {simple(c): c for c in present}
    if simple(name) in by_simple:
        return by_simple[simple(name)]
    match = difflib.get_close_matches(simple(name), list(by_simple), n=1, cutoff=0.6)
    return by_simple[match[0]] if match else None
