"""A sequencing facility's precomputed DE table for one contrast (``rnaseq.precomputed_de``),
read into the columns :func:`exneuro.rnaseq.de.run_deseq2` writes, so that the summaries and
figures treat it as the pipeline's own DESeq2 result.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.io import parse_numbers, read_lab_table, require_columns
from exneuro.rnaseq.readers import NA_TEXT, check_gene_ids

DE_REQUIRED = ("gene_id", "log2FoldChange", "padj")
DE_OPTIONAL = ("gene_name", "baseMean", "pvalue", "lfcSE", "stat")


def read_de_table(path: str | Path, columns: Mapping[str, str]) -> pd.DataFrame:
    """Read a facility's precomputed DE table for one contrast.

    ``columns`` maps our names to the file's: ``gene_id``, ``log2FoldChange``, ``padj``
    (required) and ``pvalue``, ``baseMean``, ``gene_name``, ``lfcSE``, ``stat`` (optional). 'NA'
    and empty cells are missing values (DESeq2 writes NA for filtered genes), as are the
    study's missing-value codes; the file is read as every lab table is (separator, decimal
    mark, title rows: :func:`exneuro.lab_tables.read_lab_table`). Returns those
    columns under our names, the same as :func:`exneuro.rnaseq.de.run_deseq2`'s tables.
    """
    path = Path(path)
    unknown = sorted(set(columns) - set(DE_REQUIRED) - set(DE_OPTIONAL))
    if unknown:
        raise data_error(
            str(path),
            f"unknown DE column key(s) {', '.join(unknown)}",
            f"use {', '.join(DE_REQUIRED + DE_OPTIONAL)}",
        )
    missing_keys = [k for k in DE_REQUIRED if k not in columns]
    if missing_keys:
        raise data_error(
            str(path),
            f"no column configured for {', '.join(missing_keys)}",
            "map them under the DE table's columns in the config",
        )
    table = read_lab_table(path, expected=list(columns.values()))
    require_columns(table, dict(columns), str(path))
    check_gene_ids(table, columns["gene_id"], str(path))
    out = pd.DataFrame({"gene_id": table[columns["gene_id"]].str.strip()})
    if "gene_name" in columns:
        out["gene_name"] = table[columns["gene_name"]].str.strip()
    for key in ("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"):
        if key not in columns:
            continue
        column = columns[key]
        values = parse_numbers(table, column, str(path), required=False, missing=NA_TEXT)
        if key in ("pvalue", "padj"):
            outside = (values < 0) | (values > 1)
            if outside.any():
                first = int(np.argmax(outside))
                raise data_error(
                    str(path),
                    f"{key} {values[first]:g} is outside 0-1",
                    "map the p-value column, not a -log10 p-value or a statistic",
                    line=int(table["_line"].iloc[first]),
                    column=column,
                )
        out[key] = values
    return out.reset_index(drop=True)
