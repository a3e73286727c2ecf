"""The cells of the sample sheet as the lab saved it: tab-separated text, a CSV (comma or
semicolon, as European spreadsheet programs write it) or an Excel workbook.

The separator follows the file's suffix, so a sheet is never half-read with the wrong one: a
``.tsv`` (or ``.txt``) is tab-separated, and one whose header holds no tab but commas or
semicolons is named as such; a ``.csv`` is read with the separator its header line uses. In an
Excel sheet, title rows above the header are skipped: the header is the first row holding
``mouse_id``. Every cell stays text, and each row keeps its line (row) number in the user's file
for messages.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from exneuro.errors import ConfigError
from exneuro.yaml_files import undecodable_place

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
#: The column every sheet's header holds; it marks the header row below any title rows.
ID_COLUMN = "mouse_id"
#: How far down a workbook's title rows may push the header.
MAX_TITLE_ROWS = 20


def read_sheet_cells(path: str | Path) -> tuple[pd.DataFrame, list[int]]:
    """The sheet's rows as text (header names stripped) and each row's line in the file.

    Blank rows are dropped. An empty file, a header without ``mouse_id`` or a ``.tsv`` written
    with another separator stops with a :class:`ConfigError` naming the file, line and fix.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: sample sheet not found (config key 'samples')")
    rows = _excel_rows(path) if path.suffix.lower() in EXCEL_SUFFIXES else _text_rows(path)
    numbered = [(n, row) for n, row in enumerate(rows, start=1) if any(c.strip() for c in row)]
    if not numbered:
        raise ConfigError(
            f"{path}: the sample sheet is empty — write a header line (mouse_id, cohort, sex, "
            "group) and one row per mouse, or remove the config key 'samples'"
        )
    header_at = next(
        (i for i, (_, row) in enumerate(numbered[:MAX_TITLE_ROWS]) if ID_COLUMN in _stripped(row)),
        None,
    )
    if header_at is None:
        line, row = numbered[0]
        raise ConfigError(
            f"{path} line {line}: no header with the column '{ID_COLUMN}' (found: "
            f"{', '.join(c for c in _stripped(row) if c)[:120]}) — the header names the columns "
            "mouse_id, cohort, sex, group (see config/README.md)"
        )
    header = _stripped(numbered[header_at][1])
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise ConfigError(
            f"{path} line {numbered[header_at][0]}, column '{repeated[0]}': the column is in the "
            "header twice — keep one (which one holds the right values cannot be guessed)"
        )
    body = numbered[header_at + 1 :]
    width = len(header)
    for line, row in body:
        if len([c for c in row[width:] if c.strip()]):
            raise ConfigError(
                f"{path} line {line}: {len(row)} cells where the header has {width} — remove the "
                "extra cells or add their column to the header"
            )
    cells = pd.DataFrame(
        [[*row[:width], *[""] * (width - len(row))] for _, row in body],
        columns=[name or f"#{i}" for i, name in enumerate(header, start=1)],
        dtype=str,
    )
    for position in [i for i, name in enumerate(header, start=1) if not name]:
        filled = cells[f"#{position}"].str.strip() != ""
        if filled.any():
            raise ConfigError(
                f"{path} line {body[int(filled.to_numpy().argmax())][0]}: a value in column "
                f"{position}, which has no name in the header (line {numbered[header_at][0]}) — "
                "name the column or delete the value"
            )
        cells = cells.drop(columns=f"#{position}")
    cells.attrs["header_line"] = numbered[header_at][0]
    return cells, [line for line, _ in body]


def _stripped(row: list[str]) -> list[str]:
    return [cell.strip() for cell in row]


def _excel_rows(path: Path) -> list[list[str]]:
    table = pd.read_excel(path, header=None, dtype=str, keep_default_na=False)
    return table.to_numpy(str).tolist()


def _text_rows(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} {undecodable_place(error)}: not UTF-8 text — save the sheet as UTF-8 text"
        ) from None
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    separator = _separator(path, first)
    return list(csv.reader(io.StringIO(text), delimiter=separator))


def _separator(path: Path, header: str) -> str:
    """The sheet's separator: tab for .tsv/.txt, the header's comma or semicolon for .csv."""
    commas, semicolons = header.count(","), header.count(";")
    if path.suffix.lower() == ".csv":
        return ";" if semicolons > commas else ","
    if "\t" not in header and (commas or semicolons):
        found = "semicolons" if semicolons > commas else "commas"
        raise ConfigError(
            f"{path} line 1: the header is separated by {found}, not tabs: the wrong separator for "
            f"a {path.suffix or 'tab-separated'} sheet — save it as tab-separated text, or rename "
            "it to .csv"
        )
    return "\t"
