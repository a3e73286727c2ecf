"""Malformed lab tables: declared tables, ephys, spine and histology tables, RNA-seq counts and
DE tables, treadmill summaries and stage logs.

Each case writes the lab's file(s) under ``data/`` of a fresh folder, runs the reader the
workflow's script calls (with the study's ``lab_tables`` settings where the case declares
some), and asserts the exact one-line message, or the flag the QC/statistics table carries, and
that the raw files are byte-identical afterwards. Three cases also go through Snakemake.
"""

from __future__ import annotations

import copy
import gzip
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from malformed import (
    CLEAR_STOP,
    FLAGGED,
    STAGE_COLUMNS,
    SUMMARY_COLUMNS,
    Case,
    assert_one_line,
    digests,
)

from exneuro.cellular import ephys, fi_curve
from exneuro.cellular.ephys_pipeline import ephys_tables
from exneuro.cellular.ephys_stats import cell_property_statistics, fi_curve_statistics
from exneuro.cellular.morphology_pipeline import histology_tables
from exneuro.cellular.morphology_stats import histology_statistics, spine_statistics
from exneuro.cellular.nested import join_sample_sheet
from exneuro.cellular.spine_density import segment_density
from exneuro.cellular.spines import read_segment_table
from exneuro.config import validate_config
from exneuro.errors import ExneuroError
from exneuro.lab_tables import using_table_format
from exneuro.rnaseq import readers as rnaseq
from exneuro.tables.design import read_declared_table
from exneuro.tables.statistics import declared_statistics
from exneuro.treadmill.readers import read_stage_log, read_summary_table

DECLARED = "declared table"
EPHYS = "ephys table"
SPINES = "spine table"
HISTOLOGY = "histology table"
COUNTS = "rnaseq counts"
DE_TABLE = "rnaseq summary"
TREADMILL = "treadmill summary"

MINIMAL = {
    "study": {"id": "corpus", "title": "malformed tables"},
    "groups": [
        {"id": "ctl", "label": "Control", "color": "#000000"},
        {"id": "run", "label": "Runner", "color": "#111111"},
    ],
    "cohorts": [{"id": "c", "groups": ["ctl", "run"], "control_group": "ctl"}],
}
SERUM = "mouse\tgroup\tBDNF\n"
GLUCOSE_HEADER = "mouse,group,minute,glucose\n"
STEP_COLUMNS = {
    "mouse": "Mouse",
    "cell": "Cell",
    "current_pa": "I (pA)",
    "n_spikes": "Spikes",
    "step_duration_ms": "Duration (ms)",
}
PROPERTY_COLUMNS = {"mouse": "Mouse", "cell": "Cell", "input_resistance_mohm": "Rin (MOhm)"}
SEGMENT_COLUMNS = {
    "mouse": "Animal",
    "neuron": "Cell",
    "segment": "Seg",
    "length_um": "Length (µm)",
    "counts": {"thin": "Thin", "mushroom": "Mushroom"},
}
SECTION_COLUMNS = {
    "mouse": "Mouse",
    "section": "Section",
    "n_labelled": "SF1+",
    "positives": {"Fos": "Fos+"},
}
DE_COLUMNS = {"gene_id": "gene_id", "log2FoldChange": "log2FoldChange", "padj": "padj"}


def _schema() -> dict:
    from exneuro.config import load_yaml

    return load_yaml(Path(__file__).parent.parent / "workflow" / "schemas" / "config.schema.yaml")


def declaration(**table) -> dict:
    """A declared table with every default filled, as the config gives it."""
    config = copy.deepcopy(MINIMAL) | {"tables": {"t": {"join_sample_sheet": False, **table}}}
    return validate_config(config, _schema(), "config.yaml")["tables"]["t"]


def declared_notes(**table) -> str:
    """The notes of the declared table's statistics rows (one text, distinct notes joined)."""
    spec = declaration(**table)
    data = read_declared_table(spec, None, "t")
    notes = declared_statistics(data, spec, "t")["notes"].dropna()
    return " | ".join(dict.fromkeys(notes))


def note_on(outcome: str, notes: str) -> str:
    """The note of the statistics rows about ``outcome``'s missing values."""
    return next(n for n in notes.split("; ") if n.startswith(f"{outcome}: "))


def serum(**extra) -> str:
    spec = {"file": "data/serum.tsv", "subject": "mouse", "between": ["group"]}
    return declared_notes(**spec | {"outcomes": ["BDNF"], "tests": ["two_group"]} | extra)


def glucose(**extra) -> str:
    spec = {"file": "data/glucose.csv", "subject": "mouse", "between": ["group"]}
    spec |= {"within": ["minute"], "outcomes": ["glucose"], "tests": ["rm_anova"]}
    return declared_notes(**spec | extra)


def serum_rows(values: list[str], separator: str = "\t") -> str:
    rows = [
        separator.join([f"M{k}", "ctl" if k < len(values) // 2 else "run", value])
        for k, value in enumerate(values)
    ]
    return "\n".join(rows) + "\n"


def glucose_rows(values: dict[str, list[str]], separator: str = ",") -> str:
    """mouse,group,minute,glucose rows: four mice (two per group), minutes 0 and 30."""
    rows = []
    for k, mouse in enumerate(["M1", "M2", "M3", "M4"]):
        for minute in ("0", "30"):
            value = values.get(f"{mouse}/{minute}", [str(100 + 10 * k + int(minute))])[0]
            rows.append(separator.join([mouse, "ctl" if k < 2 else "run", minute, value]))
    return "\n".join(rows) + "\n"


GOOD_STEPS = "Mouse,Cell,I (pA),Spikes,Duration (ms)\nM1,c1,20,1,500\nM1,c1,40,3,500\n"
GOOD_SEGMENTS = "Animal,Cell,Seg,Length (µm),Thin,Mushroom\nM1,c1,s1,20.5,3,1\n"
SHEET = pd.DataFrame(
    {
        "mouse_id": ["A1", "A2", "A3", "B1"],
        "cohort": "c",
        "group": ["ctl", "ctl", "ctl", "run"],
        "excluded_reason": "",
    }
)


def section_flag() -> str:
    tables = histology_tables(
        {"section_table": "data/sections.csv", "columns": SECTION_COLUMNS, "cohort": "c"}, SHEET
    )
    stats = histology_statistics(tables["mice"], ("ctl", "run"), sections=tables["sections"])
    return stats["notes"].iloc[0]


def ephys_flag() -> str:
    section = {
        "cell_ids": "study",
        "step_table": "data/steps.csv",
        "step_columns": STEP_COLUMNS,
        "step_duration_ms": None,
        "cell_properties": "data/cells.csv",
        "property_columns": PROPERTY_COLUMNS,
    }
    sheet = pd.DataFrame({"mouse_id": ["M1"], "cohort": "c", "group": "ctl", "excluded_reason": ""})
    qc = ephys_tables(section, sheet)["qc"]
    missing = qc[qc["check"] == "missing value"]
    return " | ".join(missing["detail"] + " -> " + missing["action"])


def one_mouse_ephys() -> str:
    cells = ephys.read_cell_properties("data/cells.csv", PROPERTY_COLUMNS)
    cells["group"] = cells["mouse"].map(dict(zip(SHEET["mouse_id"], SHEET["group"], strict=True)))
    stats = cell_property_statistics(cells, "ctl", ["input_resistance_mohm"])
    return " | ".join(dict.fromkeys(stats["notes"]))


def one_mouse_fi() -> str:
    steps = fi_curve.read_step_table("data/steps.csv", STEP_COLUMNS)
    steps["group"] = steps["mouse"].map(dict(zip(SHEET["mouse_id"], SHEET["group"], strict=True)))
    stats = fi_curve_statistics(steps, "ctl")
    return " | ".join(dict.fromkeys(stats["notes"]))


def one_mouse_spines() -> str:
    segments = read_segment_table("data/segments.csv", SEGMENT_COLUMNS, ["thin", "mushroom"])
    segments = join_sample_sheet(segments, SHEET)
    density = segment_density(segments, ["thin", "mushroom"], 10)
    stats = spine_statistics(density, ("ctl", "run"), spine_types=["thin", "mushroom"])
    return " | ".join(dict.fromkeys(stats["notes"]))


def count_matrix(path: str = "data/counts.tsv"):
    return rnaseq.read_counts(path, "matrix")


def zero_sample() -> None:
    table = count_matrix()
    sheet = pd.DataFrame({"mouse_id": ["M1", "M2", "M3"], "rna": ["S1", "S2", "S3"]})
    rnaseq.match_samples(table.counts, sheet, "rna", counts_path="data/counts.tsv")


def truncated_gzip() -> bytes:
    whole = gzip.compress(("gene_id\tS1\tS2\n" + "G1\t5\t7\n" * 2000).encode())
    return whole[: len(whole) // 2]


@dataclass(frozen=True)
class Scenario:
    """A case's files (name under the case folder -> text or bytes), the call the workflow's
    script makes (it raises for a stop, returns the flag for a flagged case) and the study's
    ``lab_tables`` settings."""

    files: dict[str, str | bytes]
    call: Callable[[], object]
    lab_tables: dict | None = None


def _stop(id: str, kind: str, expected: str, files, call, lab_tables=None):
    return Case(id, kind, CLEAR_STOP, expected), Scenario(files, call, lab_tables)


def _flag(id: str, kind: str, expected: str, files, call, lab_tables=None):
    return Case(id, kind, FLAGGED, expected), Scenario(files, call, lab_tables)


ENTRIES = [
    # ---------------------------------------------------------------- declared tables
    _stop(
        "tables-declared-thousands-ambiguous",
        DECLARED,
        "data/serum.tsv line 2, column 'BDNF': '1,732' is ambiguous: 1732 with a thousands "
        "separator, or 1.732 with a decimal comma — declare the table's decimal mark "
        "(lab_tables.decimal: '.' or ',') in the config, or write the number without a "
        "separator",
        {"data/serum.tsv": SERUM + serum_rows(["1,732", "1,431", "1,368", "1,655"])},
        serum,
    ),
    _stop(
        "tables-declared-decimal-comma-declared-point",
        DECLARED,
        "data/glucose.csv line 2, column 'glucose': '112,5' has a decimal comma, but this "
        "table's decimal mark is the decimal point (decided by lab_tables.decimal in the "
        "config) — use one decimal mark in the whole table, or declare lab_tables.decimal",
        {
            "data/glucose.csv": GLUCOSE_HEADER.replace(",", ";")
            + glucose_rows({"M1/0": ["112,5"]}, ";")
        },
        glucose,
        {"decimal": "."},
    ),
    _stop(
        "tables-declared-mixed-decimal-marks",
        DECLARED,
        "data/glucose.csv, column 'glucose': the column mixes decimal points ('131.5', line 5) "
        "and decimal commas ('112,5', line 2) — use one decimal mark in the whole table (or "
        "declare lab_tables.decimal)",
        {
            "data/glucose.csv": GLUCOSE_HEADER.replace(",", ";")
            + glucose_rows({"M1/0": ["112,5"], "M2/30": ["131.5"]}, ";")
        },
        glucose,
    ),
    _stop(
        "tables-declared-thousands-declared-none",
        DECLARED,
        "data/serum.tsv line 3, column 'BDNF': '1,431.6' has a thousands separator, but "
        "lab_tables.thousands is none — write the number without it, or set "
        "lab_tables.thousands in the config",
        {"data/serum.tsv": SERUM + serum_rows(["732.0", "1,431.6", "368.1", "655.2"])},
        serum,
        {"thousands": "none"},
    ),
    _stop(
        "tables-declared-separator-mismatch",
        DECLARED,
        "data/glucose.csv: separator mismatch: lab_tables.separator is semicolon but the file "
        "is separated by commas — set lab_tables.separator to comma (or auto), or export the "
        "table again",
        {"data/glucose.csv": GLUCOSE_HEADER + glucose_rows({})},
        glucose,
        {"separator": "semicolon"},
    ),
    _stop(
        "tables-declared-duplicated-row",
        DECLARED,
        "data/glucose.csv line 4: mouse=M1, minute=30 is on two rows (lines 3 and 4) — keep "
        "one row per subject and level, or declare the repeated unit (e.g. cell, replicate) "
        "under 'nested'",
        {
            "data/glucose.csv": GLUCOSE_HEADER
            + glucose_rows({}).replace("M1,ctl,30,130\n", "M1,ctl,30,130\nM1,ctl,30,130\n")
        },
        glucose,
    ),
    _stop(
        "tables-declared-empty-file",
        DECLARED,
        "data/glucose.csv: the file is empty — export the table again, with its header",
        {"data/glucose.csv": ""},
        glucose,
    ),
    _stop(
        "tables-declared-header-only",
        DECLARED,
        "data/glucose.csv: the header (line 1) has no data rows below it — fill in the table, "
        "or remove it from the config",
        {"data/glucose.csv": GLUCOSE_HEADER},
        glucose,
    ),
    _stop(
        "tables-declared-misnamed-outcome",
        DECLARED,
        "tables.t: an outcome or covariate column 'glucose' is not in data/glucose.csv (the "
        "closest is 'Glucose'; columns: mouse, group, minute, Glucose) — fix the name in the "
        "config or the file's header",
        {"data/glucose.csv": GLUCOSE_HEADER.replace("glucose", "Glucose") + glucose_rows({})},
        glucose,
    ),
    _stop(
        "tables-declared-unit-in-number",
        DECLARED,
        "data/glucose.csv line 2, column 'glucose': '100 mg/dL' is not a number — enter a plain "
        "number (decimal point, no units)",
        {"data/glucose.csv": GLUCOSE_HEADER + glucose_rows({"M1/0": ["100 mg/dL"]})},
        glucose,
    ),
    _stop(
        "tables-declared-unquoted-decimal-comma",
        DECLARED,
        "data/glucose.csv line 2: 5 cells but the header (line 1) has 4 — a separator inside a "
        "value? quote the value, or check the separator (comma)",
        {"data/glucose.csv": GLUCOSE_HEADER + glucose_rows({"M1/0": ["112,5"]})},
        glucose,
    ),
    _stop(
        "tables-declared-column-twice",
        DECLARED,
        "data/glucose.csv line 1: column 'glucose' appears twice in the header — rename one of "
        "them (every column needs its own name)",
        {
            "data/glucose.csv": "mouse,group,minute,glucose,glucose\n"
            + glucose_rows({}).replace("\n", ",1\n")
        },
        glucose,
    ),
    _stop(
        "tables-declared-excel-title-row-misnamed",
        DECLARED,
        "tables.t: an outcome or covariate column 'glucose' is not in data/glucose.xlsx (the "
        "closest is 'Glucose (mg/dL)'; columns: mouse, group, minute, Glucose (mg/dL)) — fix "
        "the name in the config or the file's header",
        {"data/glucose.xlsx": b""},  # written by the test (an Excel workbook with a title row)
        lambda: glucose(file="data/glucose.xlsx"),
    ),
    _stop(
        "tables-declared-excel-not-a-workbook",
        DECLARED,
        "data/glucose.xlsx: not a readable Excel workbook (File is not a zip file) — save it "
        "again from Excel, or export the sheet as CSV",
        {"data/glucose.xlsx": b"PK\x03\x04 cut short by a failed copy"},
        lambda: glucose(file="data/glucose.xlsx"),
    ),
    _flag(
        "tables-declared-missing-codes-counted",
        DECLARED,
        "glucose: 3 missing values: 'nd' x1, 'Dead' x1, empty x1 (lines 3, 6, 9)",
        {
            "data/glucose.csv": GLUCOSE_HEADER
            + glucose_rows({"M1/30": ["nd"], "M3/0": ["Dead"], "M4/30": [""]})
        },
        lambda: note_on("glucose", glucose(missing_values=["Dead"], tests=["lmm"])),
    ),
    # ---------------------------------------------------------------- ephys tables
    _flag(
        "tables-ephys-property-missing-code",
        EPHYS,
        "data/cells.csv line 3, column 'Rin (MOhm)': 'nd' -> left out of the statistics of "
        "'Rin (MOhm)' only",
        {
            "data/steps.csv": GOOD_STEPS + "M1,c2,20,0,500\nM1,c2,40,2,500\n",
            "data/cells.csv": "Mouse,Cell,Rin (MOhm)\nM1,c1,512.5\nM1,c2,nd\n",
        },
        ephys_flag,
    ),
    _stop(
        "tables-ephys-spike-count-missing-code",
        EPHYS,
        "data/steps.csv line 3, column 'Spikes': 'n.d.' is a missing-value code — this column "
        "needs a value on every row: enter it, or remove the row",
        {"data/steps.csv": GOOD_STEPS.replace("40,3,500", "40,n.d.,500")},
        lambda: fi_curve.read_step_table("data/steps.csv", STEP_COLUMNS),
    ),
    _stop(
        "tables-ephys-misnamed-column",
        EPHYS,
        "data/cells.csv: no column 'Rin (MOhm)' (configured for 'input_resistance_mohm') — the "
        "closest is 'Rin (Mohm)'; columns found: Mouse, Cell, Rin (Mohm); fix the column name "
        "in the config or the file's header",
        {"data/cells.csv": "Mouse,Cell,Rin (Mohm)\nM1,c1,512.5\n"},
        lambda: ephys.read_cell_properties("data/cells.csv", PROPERTY_COLUMNS),
    ),
    _stop(
        "tables-ephys-header-only",
        EPHYS,
        "data/steps.csv: the header (line 1) has no data rows below it — fill in the table, or "
        "remove it from the config",
        {"data/steps.csv": GOOD_STEPS.splitlines()[0] + "\n"},
        lambda: fi_curve.read_step_table("data/steps.csv", STEP_COLUMNS),
    ),
    _stop(
        "tables-ephys-title-row-without-header",
        EPHYS,
        "data/cells.csv: no column 'Rin (MOhm)' (configured for 'input_resistance_mohm') — the "
        "closest is 'Rin'; columns found: Mouse, Cell, Rin; fix the column name in the config "
        "or the file's header",
        {"data/cells.csv": "Slice recordings 2026\n\nMouse,Cell,Rin\nM1,c1,512.5\n"},
        lambda: ephys.read_cell_properties("data/cells.csv", PROPERTY_COLUMNS),
    ),
    _flag(
        "tables-ephys-group-of-one-mouse",
        EPHYS,
        "not tested: run has 1 mouse (a group comparison needs 2 or more mice per group)",
        {
            "data/cells.csv": "Mouse,Cell,Rin (MOhm)\n"
            + "".join(
                f"{m},{m}c{k},{400 + 30 * k + n}\n"
                for n, m in enumerate(("A1", "A2", "B1"))
                for k in (1, 2)
            )
        },
        one_mouse_ephys,
    ),
    _flag(
        "tables-ephys-fi-group-of-one-mouse",
        EPHYS,
        "not tested: run has 1 mouse (a group comparison needs 2 or more mice per group)",
        {
            "data/steps.csv": GOOD_STEPS.splitlines()[0]
            + "\n"
            + "".join(
                f"{m},{m}c{c},{i},{i // 10 + c},500\n"
                for m in ("A1", "A2", "B1")
                for c in (1, 2)
                for i in (20, 40, 60)
            )
        },
        one_mouse_fi,
    ),
    # ---------------------------------------------------------------- spine tables
    _flag(
        "tables-spines-group-of-one-mouse",
        SPINES,
        "not tested: run has 1 mouse (a group comparison needs 2 or more mice per group)",
        {
            "data/segments.csv": GOOD_SEGMENTS.splitlines()[0]
            + "\n"
            + "".join(
                f"{m},{m}c{c},s1,{20 + c},{3 + c},1\n" for m in ("A1", "A2", "B1") for c in (1, 2)
            )
        },
        one_mouse_spines,
    ),
    _stop(
        "tables-spines-count-missing-code",
        SPINES,
        "data/segments.csv line 2, column 'Thin': 'nd' is a missing-value code — this column "
        "needs a value on every row: enter it, or remove the row",
        {"data/segments.csv": GOOD_SEGMENTS.replace(",3,1", ",nd,1")},
        lambda: read_segment_table("data/segments.csv", SEGMENT_COLUMNS, ["thin", "mushroom"]),
    ),
    _stop(
        "tables-spines-mixed-decimal-marks",
        SPINES,
        "data/segments.csv, column 'Length (µm)': the column mixes decimal points ('20.5', line "
        "2) and decimal commas ('18,25', line 3) — use one decimal mark in the whole table (or "
        "declare lab_tables.decimal)",
        {"data/segments.csv": GOOD_SEGMENTS + '"M1","c1","s2","18,25",2,2\n'},
        lambda: read_segment_table("data/segments.csv", SEGMENT_COLUMNS, ["thin", "mushroom"]),
    ),
    _stop(
        "tables-spines-empty-file",
        SPINES,
        "data/segments.csv: the file is empty — export the table again, with its header",
        {"data/segments.csv": "\n\n"},
        lambda: read_segment_table("data/segments.csv", SEGMENT_COLUMNS, ["thin", "mushroom"]),
    ),
    # ---------------------------------------------------------------- histology tables
    _flag(
        "tables-histology-group-of-one-mouse",
        HISTOLOGY,
        "not tested: run has 1 mouse (a group comparison needs 2 or more mice per group)",
        {
            "data/sections.csv": "Mouse,Section,SF1+,Fos+\n"
            + "".join(f"{m},S{s},60,{5 + s}\n" for m in ("A1", "A2", "A3", "B1") for s in (1, 2))
        },
        section_flag,
    ),
    _stop(
        "tables-histology-misnamed-column",
        HISTOLOGY,
        "data/sections.csv: no column 'Fos+' (configured for 'positives.Fos') — the closest is "
        "'Fos'; columns found: Mouse, Section, SF1+, Fos; fix the column name in the config or "
        "the file's header",
        {"data/sections.csv": "Mouse,Section,SF1+,Fos\nA1,S1,60,5\n"},
        section_flag,
    ),
    _stop(
        "tables-histology-count-na",
        HISTOLOGY,
        "data/sections.csv line 3, column 'Fos+': 'NA' is a missing-value code — this column "
        "needs a value on every row: enter it, or remove the row",
        {"data/sections.csv": "Mouse,Section,SF1+,Fos+\nA1,S1,60,5\nA1,S2,58,NA\n"},
        section_flag,
    ),
    # ---------------------------------------------------------------- RNA-seq counts
    _stop(
        "tables-rnaseq-truncated-gzip",
        COUNTS,
        "data/counts.tsv.gz: the gzip file is truncated or damaged (Compressed file ended "
        "before the end-of-stream marker was reached) — copy or download it again (gzip -t "
        "checks a file)",
        {"data/counts.tsv.gz": truncated_gzip()},
        lambda: count_matrix("data/counts.tsv.gz"),
    ),
    _stop(
        "tables-rnaseq-all-zero-sample",
        COUNTS,
        "data/counts.tsv: sample(s) with no reads (every count is 0): S2 — check that the "
        "right file or column was exported, or leave the sample out with rnaseq "
        "exclude_samples (its size factor would be 0)",
        {"data/counts.tsv": "gene_id\tS1\tS2\tS3\nG1\t5\t0\t7\nG2\t9\t0\t3\n"},
        zero_sample,
    ),
    _stop(
        "tables-rnaseq-negative-count",
        COUNTS,
        "data/counts.tsv line 3, column 'S2': gene 'G2', sample 'S2': negative count -3 (1 "
        "such value(s) in the file) — read counts cannot be negative; check the file",
        {"data/counts.tsv": "gene_id\tS1\tS2\nG1\t5\t4\nG2\t9\t-3\n"},
        count_matrix,
    ),
    _stop(
        "tables-rnaseq-fractional-count",
        COUNTS,
        "data/counts.tsv line 2, column 'S1': gene 'G1', sample 'S1': '5.5' is not a whole "
        "number of reads (1 such value(s) in the file) — DESeq2 needs integer counts: give "
        "raw counts, or set round_estimated_counts: true for salmon/RSEM estimated counts",
        {"data/counts.tsv": "gene_id\tS1\tS2\nG1\t5.5\t4\nG2\t9\t3\n"},
        count_matrix,
    ),
    _stop(
        "tables-rnaseq-duplicated-gene",
        COUNTS,
        "data/counts.tsv, column 'gene_id': gene id 'G1' appears 2 times (lines 2, 4); 1 gene "
        "id(s) are duplicated — each gene must be one row: sum or remove duplicated rows "
        "before the analysis",
        {"data/counts.tsv": "gene_id\tS1\tS2\nG1\t5\t4\nG2\t9\t3\nG1\t1\t1\n"},
        count_matrix,
    ),
    # ---------------------------------------------------------------- RNA-seq DE tables
    _stop(
        "tables-rnaseq-de-mixed-decimal-marks",
        DE_TABLE,
        "data/de.csv, column 'padj': the column mixes decimal points ('0.5', line 3) and decimal "
        "commas ('0,01', line 2) — use one decimal mark in the whole table (or declare "
        "lab_tables.decimal)",
        {"data/de.csv": "gene_id;log2FoldChange;padj\nG1;1,5;0,01\nG2;-0,2;0.5\n"},
        lambda: rnaseq.read_de_table("data/de.csv", DE_COLUMNS),
    ),
    _stop(
        "tables-rnaseq-de-misnamed-column",
        DE_TABLE,
        "data/de.csv: no column 'padj' (configured for 'padj') — the closest is 'p_adj'; "
        "columns found: gene_id, log2FoldChange, p_adj; fix the column name in the config or "
        "the file's header",
        {"data/de.csv": "gene_id,log2FoldChange,p_adj\nG1,1.5,0.01\n"},
        lambda: rnaseq.read_de_table("data/de.csv", DE_COLUMNS),
    ),
    _stop(
        "tables-rnaseq-de-header-only",
        DE_TABLE,
        "data/de.csv: the header (line 1) has no data rows below it — fill in the table, or "
        "remove it from the config",
        {"data/de.csv": "gene_id,log2FoldChange,padj\n"},
        lambda: rnaseq.read_de_table("data/de.csv", DE_COLUMNS),
    ),
    # ---------------------------------------------------------------- treadmill files
    _stop(
        "tables-treadmill-empty-summary",
        TREADMILL,
        "data/summary.csv: the file is empty — export the table again, with its header",
        {"data/summary.csv": ""},
        lambda: read_summary_table("data/summary.csv", SUMMARY_COLUMNS),
    ),
    _stop(
        "tables-treadmill-header-only-summary",
        TREADMILL,
        "data/summary.csv: the header (line 1) has no data rows below it — fill in the table, "
        "or remove it from the config",
        {"data/summary.csv": "mouse,session,protocol,body_mass_g\n"},
        lambda: read_summary_table("data/summary.csv", SUMMARY_COLUMNS),
    ),
    _stop(
        "tables-treadmill-semicolon-decimal-comma-declared-point",
        TREADMILL,
        "data/summary.csv line 2, column 'body_mass_g': '24,5' has a decimal comma, but this "
        "table's decimal mark is the decimal point (decided by lab_tables.decimal in the "
        "config) — use one decimal mark in the whole table, or declare lab_tables.decimal",
        {"data/summary.csv": "mouse;session;protocol;body_mass_g\nM1;T1;ramp;24,5\n"},
        lambda: read_summary_table("data/summary.csv", SUMMARY_COLUMNS),
        {"decimal": "."},
    ),
    _flag(
        "tables-treadmill-semicolon-title-row-dead",
        TREADMILL,
        "'Dead' on line 4 of the summary table",
        {
            "data/summary.csv": "Endurance tests, cohort 2;;;\n"
            "mouse;session;protocol;body_mass_g\nM1;T1;ramp;24,5\nM1;T2;ramp;Dead\n"
        },
        lambda: read_summary_table(
            "data/summary.csv", SUMMARY_COLUMNS, missing_values=["Dead"]
        ).attrs["not_done"][("M1", "T2")],
    ),
    _stop(
        "tables-treadmill-empty-stage-log",
        TREADMILL,
        "data/M1_T1.csv: the header (line 3) has no data rows below it — fill in the table, or "
        "remove it from the config",
        {"data/M1_T1.csv": "# mouse: M1\n# session: T1\n" + ",".join(STAGE_COLUMNS) + "\n"},
        lambda: read_stage_log("data/M1_T1.csv", STAGE_COLUMNS),
    ),
]

CASES = [case for case, _ in ENTRIES]
SCENARIOS = {case.id: scenario for case, scenario in ENTRIES}


def _excel_with_title_row(path: Path) -> None:
    """A workbook whose first row is a title above the header (as many labs keep them)."""
    rows = [
        ["Blood glucose after a run", "", "", ""],
        ["mouse", "group", "minute", "Glucose (mg/dL)"],
    ]
    rows += [line.split(",") for line in glucose_rows({}).splitlines()]
    pd.DataFrame(rows).to_excel(path, header=False, index=False)


def _write(root: Path, files: dict[str, str | bytes]) -> list[Path]:
    paths = []
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".xlsx") and not content:
            _excel_with_title_row(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed_table(case: Case, tmp_path, monkeypatch):
    scenario = SCENARIOS[case.id]
    monkeypatch.chdir(tmp_path)
    paths = _write(tmp_path, scenario.files)
    before = digests(paths)
    with using_table_format(scenario.lab_tables):
        if case.outcome == CLEAR_STOP:
            with pytest.raises(ExneuroError) as raised:
                scenario.call()
            message = str(raised.value)
            assert_one_line(message)
            assert message == case.expected
        else:
            assert scenario.call() == case.expected
    assert digests(paths) == before


# ------------------------------------------------------------------------------------------------
# What a lab's spreadsheet writes, read right: the numbers themselves, not only no error
# ------------------------------------------------------------------------------------------------
def _serum_estimate(text: str, tmp_path, monkeypatch, lab_tables=None) -> float:
    tmp_path.mkdir()
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, {"data/serum.tsv": text})
    spec = declaration(
        file="data/serum.tsv", subject="mouse", between=["group"], outcomes=["BDNF"],
        tests=["two_group"],
    )  # fmt: skip
    with using_table_format(lab_tables):
        data = read_declared_table(spec, None, "t")
        return float(declared_statistics(data, spec, "t")["estimate"].iloc[0])


PLAIN = ["1732.0", "1431.6", "1368.1", "1655.2", "1012.4", "1104.9", "987.3", "1120.0"]


@pytest.mark.parametrize(
    ("values", "separator", "lab_tables"),
    [
        (["1,732.0", "1,431.6", "1,368.1", "1,655.2", "1,012.4", "1,104.9", "987.3", "1,120.0"],
         "\t", None),
        (["1.732,0", "1.431,6", "1.368,1", "1.655,2", "1.012,4", "1.104,9", "987,3", "1.120,0"],
         ";", None),
        (["1732,0", "1431,6", "1368,1", "1655,2", "1012,4", "1104,9", "987,3", "1120,0"], ";",
         None),
        (["1,732", "1,432", "1,368", "1,655", "1,012", "1,105", "987", "1,120"], "\t",
         {"decimal": "."}),
        (["1 732.0", "1 431.6", "1 368.1", "1 655.2", "1 012.4", "1 104.9", "987.3", "1 120.0"],
         "\t", None),
    ],
    ids=["thousands-comma", "european", "decimal-comma", "declared-point", "thousands-space"],
)  # fmt: skip
def test_thousands_separators_and_decimal_commas_give_the_plain_estimate(
    values, separator, lab_tables, tmp_path, monkeypatch
):
    """The silent wrong answer this guards against: '1,234' read as 1.234 turned a group
    difference of about -600 into +530. Every locale's spelling gives the plain numbers'
    estimate (runners − controls)."""
    header = SERUM.replace("\t", separator)
    expected = _serum_estimate(SERUM + serum_rows(PLAIN), tmp_path / "plain", monkeypatch)
    assert expected == pytest.approx(
        sum(map(float, PLAIN[4:])) / 4 - sum(map(float, PLAIN[:4])) / 4
    )
    assert expected < -400  # read as 1.732 (decimal comma), the sign would flip
    written = header + serum_rows(values, separator)
    rounded = _serum_estimate(written, tmp_path / "locale", monkeypatch, lab_tables)
    assert rounded == pytest.approx(expected, abs=0.5)


def test_excel_title_rows_above_the_header_are_skipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, {"data/glucose.xlsx": b""})
    spec = declaration(
        file="data/glucose.xlsx", subject="mouse", between=["group"], within=["minute"],
        outcomes=["Glucose (mg/dL)"], tests=["rm_anova"],
    )  # fmt: skip
    data = read_declared_table(spec, None, "t")
    assert data["_line"].tolist()[:2] == [3, 4]
    assert data["Glucose (mg/dL)"].tolist() == [100, 130, 110, 140, 120, 150, 130, 160]


def test_csv_title_rows_and_trailing_separators_are_skipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = "Slice recordings 2026;;;\n;;;\nMouse;Cell;Rin (MOhm);\nM1;c1;512,5;\nM1;c2;498;\n"
    _write(tmp_path, {"data/cells.csv": text})
    cells = ephys.read_cell_properties("data/cells.csv", PROPERTY_COLUMNS)
    assert cells["input_resistance_mohm"].tolist() == [512.5, 498.0]
    assert cells["source_line"].tolist() == [4, 5]


# ------------------------------------------------------------------------------------------------
# Through Snakemake: the user sees the one line, never a traceback
# ------------------------------------------------------------------------------------------------
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
THROUGH_SNAKEMAKE = [
    "tables-declared-duplicated-row",
    "tables-declared-thousands-ambiguous",
    "tables-declared-unit-in-number",
]


def test_the_workflow_shows_the_one_line(tmp_path):
    """Three declared tables of a tables-only study, each malformed: each job stops with its
    one line in the job's log and on the terminal, and no Python traceback."""
    from test_workflow import copy_project

    root = copy_project(tmp_path)
    tables = {}
    for number, case_id in enumerate(THROUGH_SNAKEMAKE):
        scenario = SCENARIOS[case_id]
        ((name, content),) = scenario.files.items()
        target = f"data/corpus{number}/{Path(name).name}"
        _write(root, {target: content})
        spec = {
            "file": target, "subject": "mouse", "join_sample_sheet": False,
            "between": ["group"],
        }  # fmt: skip
        if name.endswith("serum.tsv"):
            spec |= {"outcomes": ["BDNF"], "tests": ["two_group"]}
        else:
            spec |= {"within": ["minute"], "outcomes": ["glucose"], "tests": ["rm_anova"]}
        tables[f"case{number}"] = spec
    config = copy.deepcopy(MINIMAL) | {"output_dir": "results/corpus", "tables": tables}

    (root / "corpus.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    before = digests([root / "data"])
    targets = [f"results/corpus/tables/case{n}/statistics.tsv" for n in range(3)]
    result = subprocess.run(
        [SNAKEMAKE, *targets, "--cores", "1", "--keep-going", "--configfile", "corpus.yaml"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "MissingOutputException" not in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    for number, case_id in enumerate(THROUGH_SNAKEMAKE):
        expected = next(c for c in CASES if c.id == case_id).expected
        expected = expected.replace("data/", f"data/corpus{number}/")
        log = (root / f"results/corpus/logs/tables/case{number}.log").read_text()
        assert log.strip() == f"ERROR {expected}"
        assert f"ERROR {expected}" in output
    assert digests([root / "data"]) == before


# ------------------------------------------------------------------------------------------------
# The shared reader on its own
# ------------------------------------------------------------------------------------------------
def test_separator_is_found_whatever_the_file_is_called(tmp_path):
    """A '.tsv' that Excel wrote with commas, and quoted values holding the separator."""
    from exneuro.lab_tables import read_lab_table

    path = tmp_path / "table.tsv"
    path.write_text('mouse,note,mass\nM1,"fed, then run",20.5\nM2,fasted,21\n')
    table = read_lab_table(path)
    assert table.columns.tolist() == ["mouse", "note", "mass", "_line"]
    assert table["note"].tolist() == ["fed, then run", "fasted"]
    assert table.attrs["separator"] == ","


def test_lab_tables_settings_come_from_the_config(tmp_path):
    """The schema fills the defaults; a declared decimal comma reads '1.234,5' as 1234.5 and an
    ambiguous '1,234' as 1.234."""
    from exneuro.lab_numbers import parse_numbers
    from exneuro.lab_tables import DEFAULT_MISSING_VALUES, read_lab_table

    config = validate_config(copy.deepcopy(MINIMAL) | {"samples": "s.tsv"}, _schema(), "c.yaml")
    assert config["lab_tables"] == {
        "separator": "auto",
        "decimal": "auto",
        "thousands": "auto",
        "missing_values": list(DEFAULT_MISSING_VALUES),
    }
    path = tmp_path / "table.csv"
    path.write_text("mouse;mass\nM1;1.234,5\nM2;1,234\nM3;nd\n")
    with using_table_format({"decimal": ",", "separator": "semicolon"}):
        table = read_lab_table(path)
        values = parse_numbers(table, "mass", str(path), required=False)
    assert values[:2].tolist() == [1234.5, 1.234]
    assert pd.isna(values[2])


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["1,234,567", "12"], [1234567.0, 12.0]),  # two groups: only a thousands separator
        (["-0,5", "+3"], [-0.5, 3.0]),  # a zero integer part: only a decimal comma
        (["1e-05", "2.5E3"], [1e-05, 2500.0]),
        (["1.250", "2.375"], [1.25, 2.375]),  # nothing decides: the point is decimal
        (["1'234.5", "12"], [1234.5, 12.0]),
        (["NA", "nd", "-", ""], [None] * 4),
    ],
)
def test_numbers_in_every_spelling(cells, expected, tmp_path):
    from exneuro.lab_numbers import parse_numbers
    from exneuro.lab_tables import read_lab_table

    path = tmp_path / "table.tsv"
    path.write_text("id\tvalue\n" + "".join(f"r{k}\t{c}\n" for k, c in enumerate(cells)))
    values = parse_numbers(read_lab_table(path), "value", str(path), required=False)
    assert [None if pd.isna(v) else v for v in values] == expected
