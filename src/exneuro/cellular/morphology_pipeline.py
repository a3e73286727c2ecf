"""The spine and histology steps the workflow runs: the lab's files -> tidy tables and QC.

Spines: the per-segment table (Neurolucida Explorer, Imaris or hand counts) gives densities per
10 um by type, segment -> neuron -> mouse. A per-spine morphology table, when configured, is
classified by the configured rules and its per-segment counts are compared with the segment
table; every disagreement is listed in the QC table. Histology: per-section counts of
marker-positive cells among labelled neurons, pooled per mouse.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from exneuro.cellular import histology, spine_classification, spine_density, spines
from exneuro.cellular.nested import join_sample_sheet

QC_COLUMNS = ["mouse", "neuron", "segment", "spine_type", "segment_table", "spine_table"]


def _cohort_rows(table: pd.DataFrame, sheet: pd.DataFrame, cohort: str, path: str) -> pd.DataFrame:
    joined = join_sample_sheet(table, sheet, path)
    return joined[joined["cohort"] == cohort].reset_index(drop=True)


def spine_tables(section: Mapping, sheet: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Segment densities (long), neuron and mouse densities, classified spines and QC."""
    types = section["spine_types"]
    segments = spines.read_segment_table(
        section["segment_table"],
        section["segment_columns"],
        types,
        neuron_ids=section["neuron_ids"],
    )
    segments = _cohort_rows(segments, sheet, section["cohort"], section["segment_table"])
    density = spine_density.segment_density(segments, types, section["per_um"])
    tables = {
        "density": density,
        "neurons": spine_density.neuron_density(density, section["per_um"]),
        "mice": spine_density.mouse_density(density, section["per_um"]),
        "classified": pd.DataFrame(),
        "qc": pd.DataFrame(columns=QC_COLUMNS),
    }
    if section.get("spine_table"):
        rules = section["classification"]
        table = spines.read_spine_table(
            section["spine_table"], section["spine_columns"], neuron_ids=section["neuron_ids"]
        )
        classified = spine_classification.classify_spine_table(
            table, rules["criteria"], rules["source"], types
        )
        tables["classified"] = classified
        tables["qc"] = _compare_counts(classified, segments, types)
    return tables


def _compare_counts(classified: pd.DataFrame, segments: pd.DataFrame, types) -> pd.DataFrame:
    """Per-segment counts of the classified spines against the segment table's counts, for the
    segments the spine table covers."""
    keys = ["mouse", "neuron", "segment"]
    covered = segments.merge(classified[keys].drop_duplicates(), on=keys)
    from_spines = spine_classification.spine_counts_per_segment(
        classified, types, covered[[*keys, "length_um"]]
    )
    both = covered.merge(from_spines, on=keys, suffixes=("_segment_table", "_spine_table"))
    rows = []
    for spine_type in types:
        column = spines.count_column(spine_type)
        differ = both[f"{column}_segment_table"] != both[f"{column}_spine_table"]
        rows.append(
            both.loc[differ, keys].assign(
                spine_type=spine_type,
                segment_table=both.loc[differ, f"{column}_segment_table"],
                spine_table=both.loc[differ, f"{column}_spine_table"],
            )
        )
    return pd.concat(rows, ignore_index=True)[QC_COLUMNS]


def histology_tables(section: Mapping, sheet: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per-section counts and per-mouse percent positive of each marker."""
    sections = histology.read_section_counts(section["section_table"], section["columns"])
    sections = _cohort_rows(sections, sheet, section["cohort"], section["section_table"])
    return {"sections": sections, "mice": histology.percent_positive(sections)}
