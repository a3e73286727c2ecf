"""Dendritic spines: the tables a lab exports, read into canonical columns, and the names every
spine module shares (spine types, count and density columns).

Two kinds of raw table are read, whatever program wrote them (the lab maps its own column names
to the canonical ones in the config):

* **per segment** (Neurolucida Explorer branched-structure export, Imaris Filament Tracer
  statistics, or hand counts in Excel): one row per traced dendritic segment with its mouse,
  neuron, segment id, traced length (µm) and the number of spines of each configured type;
* **per spine** (Imaris/Neurolucida 360 spine statistics): one row per spine with head width,
  neck length and total length (µm), classified by ordered, configurable rules
  (:mod:`exneuro.cellular.spine_classification`).

Densities per segment, neuron and mouse are computed by :mod:`exneuro.cellular.spine_density`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError, data_error
from exneuro.io import parse_numbers, read_lab_table, require_columns
from exneuro.lab_tables import mapped_columns

__all__ = [
    "DEFAULT_SPINE_TYPES",
    "SPINE_MEASUREMENTS",
    "TOTAL",
    "count_column",
    "density_column",
    "read_segment_table",
    "read_spine_table",
    "validated_spine_types",
]

#: The four classic morphological classes, in display order.
DEFAULT_SPINE_TYPES: tuple[str, ...] = ("thin", "stubby", "mushroom", "filopodia")

#: The spine_type label of all spines together in density tables (reserved: not a type name).
TOTAL = "total"

#: Canonical measurements of the per-spine table (µm); ``length_to_head_width`` is derived.
SPINE_MEASUREMENTS: tuple[str, ...] = ("head_width_um", "neck_length_um", "length_um")

SEGMENT_ID_FIELDS = ("mouse", "neuron", "segment")
SPINE_REQUIRED_FIELDS = ("mouse", "neuron", "segment", "head_width_um", "length_um")
SPINE_OPTIONAL_FIELDS = ("neck_length_um", "spine")
NEURON_ID_MODES = ("unique", "per_mouse")
_TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def count_column(spine_type: str) -> str:
    """'thin' -> 'thin_count': the per-segment count column of a spine type."""
    return f"{spine_type}_count"


def density_column(per_um: float = 10.0) -> str:
    """'density_per_10um' for ``per_um`` = 10: the density column, unit in its name."""
    if not per_um > 0:
        raise ValueError(f"per_um must be positive, got {per_um}")
    return f"density_per_{per_um:g}um".replace(".", "p")


def validated_spine_types(spine_types: Sequence[str], where: str = "spine_types") -> list[str]:
    """Validate the configured spine types: names usable in column names, unique, not 'total'."""
    if isinstance(spine_types, str):
        raise ConfigError(
            f"{where}: give a list of spine types, not the single text {spine_types!r}"
        )
    types = [str(t) for t in spine_types]
    for name in types:
        if not _TYPE_NAME.match(name):
            raise ConfigError(
                f"{where}: spine type {name!r} is not a valid name — use letters, digits and _"
                " (e.g. thin, stubby, mushroom, filopodia)"
            )
        if name == TOTAL:
            raise ConfigError(
                f"{where}: '{TOTAL}' is reserved for all spines together — name the type "
                "differently (e.g. 'all_spines')"
            )
    repeated = sorted({t for t in types if types.count(t) > 1})
    if repeated:
        raise ConfigError(f"{where}: spine type(s) {repeated} listed twice — list each once")
    return types


# ------------------------------------------------------------------------------------------------
# Readers
# ------------------------------------------------------------------------------------------------


def _id_column(table: pd.DataFrame, column: str, path: str) -> pd.Series:
    """Stripped text ids; an empty cell is an error naming its line."""
    values = table[column].astype(str).str.strip()
    empty = values == ""
    if empty.any():
        raise data_error(
            path,
            "empty cell",
            "fill in the id (mouse, neuron and segment identify every row)",
            line=int(table.loc[empty, "_line"].iloc[0]),
            column=column,
        )
    return values


def _check_neuron_ids(tidy: pd.DataFrame, path: str, neuron_column: str, neuron_ids: str) -> None:
    """With unique neuron ids, a neuron listed under two mice is a typo to fix."""
    if neuron_ids not in NEURON_ID_MODES:
        raise ConfigError(f"neuron_ids must be one of {list(NEURON_ID_MODES)}, not {neuron_ids!r}")
    if neuron_ids == "per_mouse":
        return
    mice = tidy.groupby("neuron", sort=False)["mouse"].nunique()
    crossed = mice[mice > 1]
    if len(crossed):
        neuron = crossed.index[0]
        rows = tidy[tidy["neuron"] == neuron].drop_duplicates("mouse")
        first, second = rows.iloc[0], rows.iloc[1]
        raise data_error(
            path,
            f"neuron '{neuron}' is listed under mouse {first['mouse']} (line "
            f"{first['source_line']}) and mouse {second['mouse']} (line {second['source_line']})",
            "correct the mouse or neuron id; if neurons are numbered within each mouse (N1, N2 in "
            "every mouse) set neuron_ids: per_mouse",
            line=int(second["source_line"]),
            column=neuron_column,
        )


def _positive_numbers(
    table: pd.DataFrame, column: str, path: str, what: str, allow_zero: bool = False
) -> np.ndarray:
    """Numbers from a text column that must be > 0 (or >= 0): errors name line and column."""
    values = parse_numbers(table, column, path)
    bad = values < 0 if allow_zero else values <= 0
    if bad.any():
        first = int(np.argmax(bad))
        raise data_error(
            path,
            f"{what} {values[first]:g} is {'negative' if values[first] < 0 else 'zero'}",
            f"enter the {what} in µm ({'0 or more' if allow_zero else 'greater than 0'}); "
            "remove rows that were not measured",
            line=int(table["_line"].iloc[first]),
            column=column,
        )
    return values


def _counts(table: pd.DataFrame, column: str, path: str, what: str) -> np.ndarray:
    """Whole, non-negative counts from a text column: errors name line and column."""
    values = parse_numbers(table, column, path)
    negative = values < 0
    if negative.any():
        first = int(np.argmax(negative))
        raise data_error(
            path,
            f"negative {what} ({values[first]:g})",
            "counts are whole numbers, 0 or more",
            line=int(table["_line"].iloc[first]),
            column=column,
        )
    fractional = values != np.round(values)
    if fractional.any():
        first = int(np.argmax(fractional))
        raise data_error(
            path,
            f"{what} {values[first]:g} is not a whole number",
            "counts are whole numbers of cells or spines; check for a typed decimal or a "
            "density entered in a count column",
            line=int(table["_line"].iloc[first]),
            column=column,
        )
    return values.astype(np.int64)


def _reject_duplicate_segments(tidy: pd.DataFrame, path: str, segment_column: str) -> None:
    repeated = tidy[tidy.duplicated(["mouse", "neuron", "segment"], keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        same = repeated[
            (repeated["mouse"] == first["mouse"])
            & (repeated["neuron"] == first["neuron"])
            & (repeated["segment"] == first["segment"])
        ]
        lines = ", ".join(str(v) for v in same["source_line"])
        raise data_error(
            path,
            f"segment '{first['segment']}' of neuron '{first['neuron']}' (mouse "
            f"{first['mouse']}) appears {len(same)} times (lines {lines})",
            "give every segment of a neuron its own id, or delete the repeated row",
            line=int(same["source_line"].iloc[1]),
            column=segment_column,
        )


def _count_mapping(columns: Mapping, types: list[str]) -> dict[str, str]:
    counts = columns.get("counts", {}) or {}
    if not isinstance(counts, Mapping):
        raise ConfigError(
            "columns.counts must map each spine type to its column, e.g. {thin: 'Thin spines'}"
        )
    missing = [t for t in types if t not in counts]
    if missing:
        raise ConfigError(
            f"columns.counts has no column for spine type(s) {missing} — add "
            f"'{missing[0]}: <column name>' under counts, or remove the type from spine_types"
        )
    extra = [t for t in counts if t not in types]
    if extra:
        raise ConfigError(
            f"columns.counts names spine type(s) {extra} that are not in spine_types {types} — "
            "add them to spine_types or remove them from counts"
        )
    return {t: str(counts[t]) for t in types}


def _require_fields(columns: Mapping, fields: Sequence[str], what: str) -> None:
    missing = [f for f in fields if f not in columns]
    if missing:
        raise ConfigError(
            f"the {what} column mapping has no entry for {missing} — map each canonical field to "
            "the lab's column name"
        )


def read_segment_table(
    path: str | Path,
    columns: Mapping[str, object],
    spine_types: Sequence[str] = DEFAULT_SPINE_TYPES,
    neuron_ids: str = "unique",
) -> pd.DataFrame:
    """Read a per-segment spine-count table (CSV, TSV or Excel) into canonical columns.

    ``columns`` maps each canonical field to the lab's column: ``mouse``, ``neuron``,
    ``segment``, ``length_um`` (the traced length in µm) and ``counts``, a mapping of every
    configured spine type to its count column (``{thin: "Thin spines", ...}``). With
    ``spine_types=[]`` only the segment lengths are read (for :func:`spine_counts_per_segment`).

    Returns one row per segment: ``mouse``, ``neuron``, ``segment``, ``length_um``, one
    ``<type>_count`` column per type (whole numbers) and ``source_line``. Stops with an error
    naming the file, line and column on: a neuron listed under two mice (unless ``neuron_ids``
    is ``"per_mouse"``: neurons numbered within each mouse), a length that is zero, negative or
    not a number, a negative or fractional count, and a segment id used twice within a neuron.
    """
    path = str(path)
    types = validated_spine_types(spine_types)
    _require_fields(columns, (*SEGMENT_ID_FIELDS, "length_um"), "segment table")
    unknown = sorted(set(columns) - {*SEGMENT_ID_FIELDS, "length_um", "counts"})
    if unknown:
        raise ConfigError(
            f"the segment table column mapping has unknown field(s) {unknown}; known: "
            f"{[*SEGMENT_ID_FIELDS, 'length_um', 'counts']}"
        )
    counts = _count_mapping(columns, types)
    table = read_lab_table(path, expected=mapped_columns(columns))
    plain = {f: str(columns[f]) for f in (*SEGMENT_ID_FIELDS, "length_um")}
    require_columns(table, {**plain, **{f"counts.{t}": c for t, c in counts.items()}}, path)
    tidy = pd.DataFrame(
        {field: _id_column(table, plain[field], path) for field in SEGMENT_ID_FIELDS}
    )
    tidy["length_um"] = _positive_numbers(table, plain["length_um"], path, "segment length")
    for spine_type, column in counts.items():
        tidy[count_column(spine_type)] = _counts(table, column, path, f"{spine_type} count")
    tidy["source_line"] = table["_line"].to_numpy()
    _check_neuron_ids(tidy, path, plain["neuron"], neuron_ids)
    _reject_duplicate_segments(tidy, path, plain["segment"])
    tidy.attrs["path"] = path
    return tidy


def read_spine_table(
    path: str | Path, columns: Mapping[str, str], neuron_ids: str = "unique"
) -> pd.DataFrame:
    """Read a per-spine morphology table (CSV, TSV or Excel) into canonical columns.

    ``columns`` maps ``mouse``, ``neuron``, ``segment``, ``head_width_um`` and ``length_um``
    (total spine length, base to tip) to the lab's columns, and optionally ``neck_length_um``
    and ``spine`` (the spine's own id). Returns one row per spine with those canonical columns
    and ``source_line``. Head width and length must be positive numbers, neck length zero or
    more (stubby spines have no neck); a neuron under two mice is an error as in
    :func:`read_segment_table`.
    """
    path = str(path)
    _require_fields(columns, SPINE_REQUIRED_FIELDS, "spine table")
    unknown = sorted(set(columns) - set(SPINE_REQUIRED_FIELDS) - set(SPINE_OPTIONAL_FIELDS))
    if unknown:
        raise ConfigError(
            f"the spine table column mapping has unknown field(s) {unknown}; known: "
            f"{[*SPINE_REQUIRED_FIELDS, *SPINE_OPTIONAL_FIELDS]}"
        )
    table = read_lab_table(path, expected=mapped_columns(columns))
    mapping = {f: str(c) for f, c in columns.items()}
    require_columns(table, mapping, path)
    tidy = pd.DataFrame(
        {field: _id_column(table, mapping[field], path) for field in SEGMENT_ID_FIELDS}
    )
    if "spine" in mapping:
        tidy["spine"] = table[mapping["spine"]].astype(str).str.strip().to_numpy()
    tidy["head_width_um"] = _positive_numbers(
        table, mapping["head_width_um"], path, "spine head width"
    )
    if "neck_length_um" in mapping:
        tidy["neck_length_um"] = _positive_numbers(
            table, mapping["neck_length_um"], path, "spine neck length", allow_zero=True
        )
    tidy["length_um"] = _positive_numbers(table, mapping["length_um"], path, "spine length")
    tidy["source_line"] = table["_line"].to_numpy()
    _check_neuron_ids(tidy, path, mapping["neuron"], neuron_ids)
    tidy.attrs["path"] = path
    return tidy
