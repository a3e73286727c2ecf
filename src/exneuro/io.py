"""Reading lab tables (CSV, TSV, Excel) and writing results deterministically."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.lab_numbers import parse_numbers
from exneuro.lab_tables import EXCEL_SUFFIXES, closest_column, read_lab_table

#: Lab tables are read by :mod:`exneuro.lab_tables` and :mod:`exneuro.lab_numbers`; their
#: readers are importable from here too.
__all__ = [
    "EXCEL_SUFFIXES",
    "header_metadata",
    "parse_durations_s",
    "parse_numbers",
    "read_lab_table",
    "read_named_tables",
    "read_table",
    "require_columns",
    "write_table",
]


def header_metadata(path: str | Path, comment: str = "#") -> dict[str, str]:
    """'key: value' pairs from the comment lines at the top of a file (instrument headers)."""
    metadata = {}
    with open(path, encoding="utf-8-sig") as handle:
        for line in handle:
            if not line.startswith(comment):
                break
            match = re.match(rf"{re.escape(comment)}\s*([^:]+):\s*(.*)", line.rstrip())
            if match:
                metadata[match.group(1).strip().lower()] = match.group(2).strip()
    return metadata


def require_columns(table: pd.DataFrame, columns: Mapping[str, str], path: str) -> None:
    """Raise a clear error when a configured column is absent from a lab table: it names the
    expected column, the closest one the file has, and every column found."""
    present = [c for c in table.columns if c != "_line"]
    for field, column in columns.items():
        if column not in present:
            closest = closest_column(column, present)
            hint = f"the closest is '{closest}'; " if closest else ""
            raise data_error(
                path,
                f"no column '{column}' (configured for '{field}')",
                f"{hint}columns found: {', '.join(present)}; fix the column name in the config "
                "or the file's header",
            )


def parse_durations_s(table: pd.DataFrame, column: str, path: str, numeric_unit: str) -> np.ndarray:
    """Durations in seconds from 'mm:ss', 'h:mm:ss' text or plain numbers in ``numeric_unit``."""
    text = table[column].astype(str).str.strip()
    parts = text.str.split(":", expand=True).reindex(columns=range(3))
    is_clock = text.str.contains(":", regex=False)
    numbers = parts.apply(pd.to_numeric, errors="coerce")
    n_fields = text.str.count(":") + 1
    clock_s = np.where(
        n_fields == 3,
        numbers[0] * 3600 + numbers[1] * 60 + numbers[2],
        numbers[0] * 60 + numbers[1],
    )
    scale = {"s": 1.0, "min": 60.0}[numeric_unit]
    plain = pd.to_numeric(text, errors="coerce").to_numpy(float) * scale
    seconds = np.where(is_clock, clock_s, plain)
    bad = ~np.isfinite(seconds) | (n_fields > 3)
    if bad.any():
        first = int(np.argmax(bad))
        raise data_error(
            path,
            f"'{text.iloc[first]}' is not a duration",
            f"write mm:ss, h:mm:ss or a number of {numeric_unit}",
            line=int(table["_line"].iloc[first]),
            column=column,
        )
    return seconds.astype(float)


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a TSV (or Parquet, by suffix) with fixed float formatting: reproducible bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, sep="\t", index=False, float_format="%.10g", lineterminator="\n")


#: Columns of identifiers: read back as the text they were written as ('1001', '007'), never
#: as numbers that no longer match the same names elsewhere (a count table's column '1001').
ID_COLUMNS = ("sample", "mouse", "mouse_id", "gene_id", "gene_name", "subject")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (identifier columns as text)."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t", dtype=dict.fromkeys(ID_COLUMNS, str))


def read_named_tables(names, paths) -> dict[str, pd.DataFrame]:
    """``{name: table}`` for paths given in the same order as their names (e.g. one DE table per
    contrast, or a figure's inputs by their path in the output folder)."""
    return {name: read_table(path) for name, path in zip(names, paths, strict=True)}
