"""Spine types from per-spine morphology: ordered, configurable rules (the first that matches
wins), and the per-segment counts of the classified spines.

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

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from exneuro.cellular.spines import (
    SEGMENT_ID_FIELDS,
    SPINE_MEASUREMENTS,
    count_column,
    validated_spine_types,
)
from exneuro.errors import ConfigError, data_error

__all__ = [
    "DEFAULT_CRITERIA",
    "DEFAULT_CRITERIA_SOURCE",
    "classify_spine_table",
    "classify_spines",
    "spine_counts_per_segment",
]

#: Measurements the rules may use beyond the table's own: name -> (numerator, denominator).
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
    types = validated_spine_types(spine_types) if spine_types is not None else None
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
    types = validated_spine_types(spine_types)
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
