"""Dendritic spines: reading counts and morphology, classifying spine types, computing densities.

Two kinds of raw table are read, whatever program wrote them (the lab maps its own column names
to the canonical ones in the config):

* **per segment** (Neurolucida Explorer branched-structure export, Imaris Filament Tracer
  statistics, or hand counts in Excel): one row per traced dendritic segment with its mouse,
  neuron, segment id, traced length (µm) and the number of spines of each configured type;
* **per spine** (Imaris/Neurolucida 360 spine statistics): one row per spine with head width,
  neck length and total length (µm), classified here by ordered, configurable rules.

Densities are spines per ``per_um`` µm of dendrite (per 10 µm by default, as most Golgi and
dye-fill studies report). A neuron's or mouse's density is **length-weighted**: the sum of its
counts over the sum of its traced lengths, i.e. the density of all its dendrite pooled, so a
15 µm segment does not weigh as much as a 40 µm one. This is the standard definition (the count
of spines per unit length over the sampled dendrite) and the one the per-mouse statistics use.

Spine types follow the classic morphological classes — thin, stubby, mushroom and filopodia
(Peters & Kaiserman-Abramof 1970, *Am J Anat* 127:321-355; Harris, Jensen & Tsao 1992,
*J Neurosci* 12:2685-2705). Thresholds differ between labs and methods, so the rules are
configuration and the published source is recorded with every classification. The default
rules are a simplified version of the decision tree of Risher et al. 2014 (*PLoS ONE*
9:e107591, "Rapid Golgi analysis method for efficient and unbiased classification of dendritic
spines"): filopodia are long (>= 2 µm) without a head (<= 0.3 µm), mushroom spines have a head
>= 0.6 µm wide, stubby spines are <= 1 µm long, every other protrusion is thin.
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
    "DEFAULT_CRITERIA",
    "DEFAULT_CRITERIA_SOURCE",
    "DEFAULT_SPINE_TYPES",
    "SPINE_MEASUREMENTS",
    "TOTAL",
    "classify_spine_table",
    "classify_spines",
    "count_column",
    "density_column",
    "mouse_density",
    "neuron_density",
    "read_segment_table",
    "read_spine_table",
    "segment_density",
    "spine_counts_per_segment",
]

#: The four classic morphological classes, in display order.
DEFAULT_SPINE_TYPES: tuple[str, ...] = ("thin", "stubby", "mushroom", "filopodia")

#: The spine_type label of all spines together in density tables (reserved: not a type name).
TOTAL = "total"

#: Canonical measurements of the per-spine table (µm); ``length_to_head_width`` is derived.
SPINE_MEASUREMENTS: tuple[str, ...] = ("head_width_um", "neck_length_um", "length_um")
DERIVED_MEASUREMENTS: dict[str, tuple[str, str]] = {
    "length_to_head_width": ("length_um", "head_width_um"),
}

#: Ordered rules, first match wins (see :func:`classify_spines`).
DEFAULT_CRITERIA: tuple[dict, ...] = (
    {"type": "filopodia", "when": {"length_um": {"min": 2.0}, "head_width_um": {"max": 0.3}}},
    {"type": "mushroom", "when": {"head_width_um": {"min": 0.6}}},
    {"type": "stubby", "when": {"length_um": {"max": 1.0}}},
    {"type": "thin", "when": {}},
)
DEFAULT_CRITERIA_SOURCE = (
    "after Risher et al. 2014, PLoS ONE 9:e107591 (filopodia >= 2 um long with head <= 0.3 um; "
    "mushroom head >= 0.6 um; stubby <= 1 um long; thin otherwise)"
)

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


def _spine_types(spine_types: Sequence[str], where: str = "spine_types") -> list[str]:
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
    types = _spine_types(spine_types)
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


# ------------------------------------------------------------------------------------------------
# Classification
# ------------------------------------------------------------------------------------------------


def _rule_masks(
    spines: pd.DataFrame, criteria: Sequence[Mapping], types: list[str] | None
) -> tuple[list[str], list[np.ndarray]]:
    """Validate the ordered rules and evaluate each on every spine (vectorised)."""
    if isinstance(criteria, Mapping) or not len(criteria):
        raise ConfigError(
            "spine classification criteria must be a non-empty list of rules "
            "({type: ..., when: {...}}), tried in order"
        )
    available = [m for m in (*SPINE_MEASUREMENTS, *DERIVED_MEASUREMENTS) if _has(spines, m)]
    rule_types, masks = [], []
    for number, rule in enumerate(criteria, start=1):
        if not isinstance(rule, Mapping) or "type" not in rule:
            raise ConfigError(
                f"spine classification rule {number} must be a mapping with 'type' and 'when'"
            )
        extra = sorted(set(rule) - {"type", "when"})
        if extra:
            raise ConfigError(
                f"spine classification rule {number} ('{rule['type']}') has unknown key(s) "
                f"{extra} — a rule has only 'type' and 'when'"
            )
        name = str(rule["type"])
        if types is not None and name not in types:
            raise ConfigError(
                f"spine classification rule {number} assigns type '{name}', which is not in the "
                f"configured spine types {types} — add it to spine_types or fix the rule"
            )
        when = rule.get("when") or {}
        if not isinstance(when, Mapping):
            raise ConfigError(
                f"spine classification rule {number} ('{name}'): 'when' must map measurements "
                "to {min: ..., max: ...}"
            )
        mask = np.ones(len(spines), dtype=bool)
        for measurement, bounds in when.items():
            if measurement not in available:
                raise ConfigError(
                    f"spine classification rule {number} ('{name}') uses measurement "
                    f"'{measurement}', which the spine table does not have — use one of "
                    f"{available}"
                )
            if not isinstance(bounds, Mapping) or not bounds or set(bounds) - {"min", "max"}:
                raise ConfigError(
                    f"spine classification rule {number} ('{name}'), '{measurement}': give "
                    f"{{min: <number>}}, {{max: <number>}} or both, not {bounds!r}"
                )
            try:
                low = float(bounds.get("min", -np.inf))
                high = float(bounds.get("max", np.inf))
            except (TypeError, ValueError):
                raise ConfigError(
                    f"spine classification rule {number} ('{name}'), '{measurement}': min and "
                    f"max must be numbers, not {bounds!r}"
                ) from None
            if low > high:
                raise ConfigError(
                    f"spine classification rule {number} ('{name}'), '{measurement}': min "
                    f"{low:g} is above max {high:g} — no spine could match"
                )
            values = _measurement(spines, measurement)
            mask &= (values >= low) & (values <= high)
        rule_types.append(name)
        masks.append(mask)
    return rule_types, masks


def _has(spines: pd.DataFrame, measurement: str) -> bool:
    if measurement in DERIVED_MEASUREMENTS:
        return all(c in spines.columns for c in DERIVED_MEASUREMENTS[measurement])
    return measurement in spines.columns


def _measurement(spines: pd.DataFrame, measurement: str) -> np.ndarray:
    if measurement in DERIVED_MEASUREMENTS:
        top, bottom = DERIVED_MEASUREMENTS[measurement]
        with np.errstate(divide="ignore", invalid="ignore"):
            return spines[top].to_numpy(float) / spines[bottom].to_numpy(float)
    return spines[measurement].to_numpy(float)


def classify_spines(
    spines: pd.DataFrame,
    criteria: Sequence[Mapping] = DEFAULT_CRITERIA,
    source: str = DEFAULT_CRITERIA_SOURCE,
    spine_types: Sequence[str] | None = None,
) -> pd.Series:
    """Assign every spine a type by ordered rules: the first rule whose conditions all hold wins.

    A rule is ``{"type": "mushroom", "when": {"head_width_um": {"min": 0.6}}}``: each condition
    bounds one measurement of the spine table (``head_width_um``, ``neck_length_um``,
    ``length_um``, or the derived ``length_to_head_width`` ratio) with an inclusive ``min``
    (value >= min) and/or ``max`` (value <= max); an empty ``when`` matches every spine, which
    makes a catch-all last rule. Evaluated for all spines at once (``numpy.select``).

    ``source`` names the published criteria (e.g. "Risher et al. 2014 PLoS ONE 9:e107591" or
    "Harris et al. 1992 J Neurosci 12:2685"); it is kept in ``result.attrs["source"]`` and
    written as a column by :func:`classify_spine_table`. ``spine_types``, when given, is the
    configured list every rule's type must belong to.

    Raises :class:`~exneuro.errors.ConfigError` for a rule that names an unknown measurement or
    type, and :class:`~exneuro.errors.InputDataError` naming the line of the first spine that no
    rule matches.
    """
    if not str(source).strip():
        raise ConfigError(
            "spine classification needs its published source (e.g. 'Risher et al. 2014, "
            "PLoS ONE 9:e107591') so that the criteria are reported with the result"
        )
    types = _spine_types(spine_types) if spine_types is not None else None
    rule_types, masks = _rule_masks(spines, criteria, types)
    codes = np.select(masks, np.arange(len(masks)), default=-1)
    unmatched = codes < 0
    if unmatched.any():
        first = spines.iloc[int(np.argmax(unmatched))]
        shown = ", ".join(f"{m} {first[m]:g}" for m in SPINE_MEASUREMENTS if m in spines.columns)
        line = first.get("source_line")
        raise data_error(
            spines.attrs.get("path", "spine table"),
            f"spine on segment '{first['segment']}' of neuron '{first['neuron']}' (mouse "
            f"{first['mouse']}; {shown}) matches no classification rule "
            f"({int(unmatched.sum())} such spines)",
            "add a catch-all last rule ({type: thin, when: {}}) or widen the criteria",
            line=int(line) if line is not None and pd.notna(line) else None,
        )
    result = pd.Series(
        np.asarray(rule_types, dtype=object)[codes], index=spines.index, name="spine_type"
    )
    result.attrs["source"] = str(source)
    result.attrs["criteria"] = [dict(rule) for rule in criteria]
    return result


def classify_spine_table(
    spines: pd.DataFrame,
    criteria: Sequence[Mapping] = DEFAULT_CRITERIA,
    source: str = DEFAULT_CRITERIA_SOURCE,
    spine_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The spine table with ``spine_type`` and ``classification_source`` columns added."""
    classified = spines.copy()
    classified["spine_type"] = classify_spines(spines, criteria, source, spine_types)
    classified["classification_source"] = str(source)
    return classified


def spine_counts_per_segment(
    spines: pd.DataFrame,
    spine_types: Sequence[str],
    segment_lengths: pd.DataFrame,
) -> pd.DataFrame:
    """Turn classified spines into the per-segment table of :func:`read_segment_table`.

    ``spines`` has one row per spine with ``mouse``, ``neuron``, ``segment`` and ``spine_type``
    (from :func:`classify_spine_table`); ``segment_lengths`` the traced length of each segment
    (``mouse``, ``neuron``, ``segment``, ``length_um``), e.g. ``read_segment_table(...,
    spine_types=[])``. Every segment of each neuron present in ``spines`` is returned, with zero
    counts where no spine was found; neurons absent from ``spines`` were not analysed and are left
    out. A spine on a segment with no traced length, or of a type not configured, is an error.
    """
    types = _spine_types(spine_types)
    keys = list(SEGMENT_ID_FIELDS)
    missing = [c for c in [*keys, "spine_type"] if c not in spines.columns]
    if missing:
        raise KeyError(f"spine table lacks column(s) {missing}; classify the spines first")
    missing = [c for c in [*keys, "length_um"] if c not in segment_lengths.columns]
    if missing:
        raise KeyError(f"segment-length table lacks column(s) {missing}")
    unknown = sorted(set(spines["spine_type"]) - set(types))
    if unknown:
        raise ConfigError(
            f"spines were classified as {unknown}, which are not in the configured spine types "
            f"{types} — add them to spine_types or change the classification rules"
        )
    lengths = segment_lengths.drop(
        columns=[c for c in segment_lengths.columns if c.endswith("_count")]
    )
    ids = lengths[keys].astype(str).agg("\x1f".join, axis=1)
    spine_ids = spines[keys].astype(str).agg("\x1f".join, axis=1)
    orphan = ~spine_ids.isin(set(ids))
    if orphan.any():
        first = spines.loc[orphan.to_numpy()].iloc[0]
        line = first.get("source_line")
        raise data_error(
            spines.attrs.get("path", "spine table"),
            f"segment '{first['segment']}' of neuron '{first['neuron']}' (mouse {first['mouse']}) "
            "has spines but no traced length in the segment table",
            "add the segment and its length to the segment table, or correct the ids",
            line=int(line) if line is not None and pd.notna(line) else None,
        )
    neuron_key = spines[["mouse", "neuron"]].astype(str).agg("\x1f".join, axis=1)
    analysed = (
        lengths[["mouse", "neuron"]].astype(str).agg("\x1f".join, axis=1).isin(set(neuron_key))
    )
    out = lengths.loc[analysed.to_numpy()].reset_index(drop=True)
    segment_code = pd.Index(ids[analysed.to_numpy()]).get_indexer(spine_ids)
    type_code = pd.Index(types).get_indexer(spines["spine_type"])
    table = np.zeros((len(out), len(types)), dtype=np.int64)
    np.add.at(table, (segment_code, type_code), 1)
    for k, spine_type in enumerate(types):
        out[count_column(spine_type)] = table[:, k]
    order = [*keys, "length_um", *(count_column(t) for t in types)]
    return out[order + [c for c in out.columns if c not in order]]


# ------------------------------------------------------------------------------------------------
# Densities
# ------------------------------------------------------------------------------------------------


def segment_density(
    segments: pd.DataFrame, spine_types: Sequence[str], per_um: float = 10.0
) -> pd.DataFrame:
    """Spine density of every segment, long: one row per segment and type, plus 'total'.

    density = count / length_um * per_um (spines per 10 µm by default). Returns ``mouse``,
    ``neuron``, ``segment``, ``spine_type`` (each configured type, then ``'total'``), ``count``,
    ``length_um`` and ``density_per_10um``, rows grouped by type; other columns of ``segments``
    (e.g. ``group``, ``cohort`` from the sample sheet) are carried along.
    """
    types = _spine_types(spine_types)
    counts = [count_column(t) for t in types]
    missing = [c for c in [*SEGMENT_ID_FIELDS, "length_um", *counts] if c not in segments.columns]
    if missing:
        raise KeyError(f"segment table lacks column(s) {missing}")
    carried = [
        c
        for c in segments.columns
        if c not in counts and c not in ("length_um", "source_line") and not c.endswith("_count")
    ]
    n = len(segments)
    matrix = segments[counts].to_numpy(np.int64) if counts else np.zeros((n, 0), np.int64)
    matrix = np.column_stack([matrix, matrix.sum(axis=1)])
    labels = [*types, TOTAL]
    length = segments["length_um"].to_numpy(float)
    out = segments[carried].iloc[np.tile(np.arange(n), len(labels))].reset_index(drop=True)
    out.insert(out.columns.get_loc("segment") + 1, "spine_type", np.repeat(labels, n))
    out["count"] = matrix.T.ravel()
    out["length_um"] = np.tile(length, len(labels))
    out[density_column(per_um)] = out["count"] / out["length_um"] * per_um
    return out


def _pooled_density(
    density: pd.DataFrame, by: list[str], per_um: float, drop: Sequence[str]
) -> pd.DataFrame:
    column = density_column(per_um)
    keys = [
        c
        for c in density.columns
        if c not in (*drop, "count", "length_um", column, "source_line")
        and not c.startswith("density_per_")
    ]
    keys = by + [c for c in keys if c not in by]
    grouped = density.groupby(keys, sort=False, observed=True, dropna=False)
    out = grouped.agg(
        n_segments=("segment", "size"), count=("count", "sum"), length_um=("length_um", "sum")
    ).reset_index()
    out[column] = out["count"] / out["length_um"] * per_um
    return out


def neuron_density(density: pd.DataFrame, per_um: float = 10.0) -> pd.DataFrame:
    """Length-weighted density of every neuron and spine type from :func:`segment_density`.

    density = sum of counts / sum of traced lengths * per_um over the neuron's segments (its
    dendrite pooled): the standard definition, which weights each segment by its length rather
    than averaging segment densities. Returns the id columns, ``spine_type``, ``n_segments``,
    ``count``, ``length_um`` and the density.
    """
    return _pooled_density(density, ["mouse", "neuron", "spine_type"], per_um, ["segment"])


def mouse_density(density: pd.DataFrame, per_um: float = 10.0) -> pd.DataFrame:
    """Length-weighted density of every mouse and spine type (all its traced dendrite pooled).

    As :func:`neuron_density` one level up; also ``n_neurons`` and
    ``mean_neuron_density_per_10um``, the unweighted mean over the mouse's neurons, for
    comparison with studies that average neurons.
    """
    per_neuron = neuron_density(density, per_um)
    column = density_column(per_um)
    out = _pooled_density(density, ["mouse", "spine_type"], per_um, ["segment", "neuron"])
    keys = [c for c in out.columns if c not in ("n_segments", "count", "length_um", column)]
    neurons = (
        per_neuron.groupby(keys, sort=False, observed=True, dropna=False)
        .agg(n_neurons=("neuron", "size"), mean_neuron=(column, "mean"))
        .reset_index()
    )
    out = out.merge(neurons, on=keys, how="left", validate="one_to_one")
    out = out.rename(columns={"mean_neuron": f"mean_neuron_{column}"})
    first = [*keys, "n_neurons", "n_segments", "count", "length_um", column]
    return out[first + [c for c in out.columns if c not in first]]
