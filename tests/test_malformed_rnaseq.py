"""Malformed RNA-seq tables: count matrices (damaged gzip, a sample without reads, negative,
fractional or duplicated counts) and precomputed DE tables.

Each case writes the file under ``data/`` of a fresh folder, runs the reader the workflow's
script calls, and asserts the exact one-line message and that the raw file is byte-identical
afterwards.
"""

from __future__ import annotations

import gzip

import pandas as pd
import pytest
from malformed import Case
from malformed_files import check_scenario, stop

from exneuro.rnaseq import readers as rnaseq
from exneuro.rnaseq.precomputed_de import read_de_table
from exneuro.rnaseq.samples import match_samples

COUNTS = "rnaseq counts"
DE_TABLE = "rnaseq summary"
DE_COLUMNS = {"gene_id": "gene_id", "log2FoldChange": "log2FoldChange", "padj": "padj"}


def count_matrix(path: str = "data/counts.tsv"):
    return rnaseq.read_counts(path, "matrix")


def zero_sample() -> None:
    table = count_matrix()
    sheet = pd.DataFrame({"mouse_id": ["M1", "M2", "M3"], "rna": ["S1", "S2", "S3"]})
    match_samples(table.counts, sheet, "rna", counts_path="data/counts.tsv")


def truncated_gzip() -> bytes:
    whole = gzip.compress(("gene_id\tS1\tS2\n" + "G1\t5\t7\n" * 2000).encode())
    return whole[: len(whole) // 2]


ENTRIES = [
    # ---------------------------------------------------------------- RNA-seq counts
    stop(
        "tables-rnaseq-truncated-gzip",
        COUNTS,
        "data/counts.tsv.gz: the gzip file is truncated or damaged (Compressed file ended "
        "before the end-of-stream marker was reached) — copy or download it again (gzip -t "
        "checks a file)",
        {"data/counts.tsv.gz": truncated_gzip()},
        lambda: count_matrix("data/counts.tsv.gz"),
    ),
    stop(
        "tables-rnaseq-all-zero-sample",
        COUNTS,
        "data/counts.tsv: sample(s) with no reads (every count is 0): S2 — check that the "
        "right file or column was exported, or leave the sample out with rnaseq "
        "exclude_samples (its size factor would be 0)",
        {"data/counts.tsv": "gene_id\tS1\tS2\tS3\nG1\t5\t0\t7\nG2\t9\t0\t3\n"},
        zero_sample,
    ),
    stop(
        "tables-rnaseq-negative-count",
        COUNTS,
        "data/counts.tsv line 3, column 'S2': gene 'G2', sample 'S2': negative count -3 (1 "
        "such value(s) in the file) — read counts cannot be negative; check the file",
        {"data/counts.tsv": "gene_id\tS1\tS2\nG1\t5\t4\nG2\t9\t-3\n"},
        count_matrix,
    ),
    stop(
        "tables-rnaseq-fractional-count",
        COUNTS,
        "data/counts.tsv line 2, column 'S1': gene 'G1', sample 'S1': '5.5' is not a whole "
        "number of reads (1 such value(s) in the file) — DESeq2 needs integer counts: give "
        "raw counts, or set round_estimated_counts: true for salmon/RSEM estimated counts",
        {"data/counts.tsv": "gene_id\tS1\tS2\nG1\t5.5\t4\nG2\t9\t3\n"},
        count_matrix,
    ),
    stop(
        "tables-rnaseq-duplicated-gene",
        COUNTS,
        "data/counts.tsv, column 'gene_id': gene id 'G1' appears 2 times (lines 2, 4); 1 gene "
        "id(s) are duplicated — each gene must be one row: sum or remove duplicated rows "
        "before the analysis",
        {"data/counts.tsv": "gene_id\tS1\tS2\nG1\t5\t4\nG2\t9\t3\nG1\t1\t1\n"},
        count_matrix,
    ),
    # ---------------------------------------------------------------- RNA-seq DE tables
    stop(
        "tables-rnaseq-de-mixed-decimal-marks",
        DE_TABLE,
        "data/de.csv, column 'padj': the column mixes decimal points ('0.5', line 3) and decimal "
        "commas ('0,01', line 2) — use one decimal mark in the whole table (or declare "
        "lab_tables.decimal)",
        {"data/de.csv": "gene_id;log2FoldChange;padj\nG1;1,5;0,01\nG2;-0,2;0.5\n"},
        lambda: read_de_table("data/de.csv", DE_COLUMNS),
    ),
    stop(
        "tables-rnaseq-de-misnamed-column",
        DE_TABLE,
        "data/de.csv: no column 'padj' (configured for 'padj') — the closest is 'p_adj'; "
        "columns found: gene_id, log2FoldChange, p_adj; fix the column name in the config or "
        "the file's header",
        {"data/de.csv": "gene_id,log2FoldChange,p_adj\nG1,1.5,0.01\n"},
        lambda: read_de_table("data/de.csv", DE_COLUMNS),
    ),
    stop(
        "tables-rnaseq-de-header-only",
        DE_TABLE,
        "data/de.csv: the header (line 1) has no data rows below it — fill in the table, or "
        "remove it from the config",
        {"data/de.csv": "gene_id,log2FoldChange,padj\n"},
        lambda: read_de_table("data/de.csv", DE_COLUMNS),
    ),
]

CASES = [case for case, _ in ENTRIES]
SCENARIOS = {case.id: scenario for case, scenario in ENTRIES}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed_table(case: Case, tmp_path, monkeypatch):
    check_scenario(case, SCENARIOS[case.id], tmp_path, monkeypatch)
