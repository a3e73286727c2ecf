"""RNA-seq samples joined to the sample sheet: the count matrix's columns matched to the mice
through a configured sheet column (e.g. ``rnaseq_sample``).

A sample in the counts but not in the sheet, or a sheet row whose sample is absent from the
counts, stops the run with both lists named; samples left out on purpose are listed in the
config (``rnaseq.exclude_samples``), and a sample without a single read stops the run (its
DESeq2 size factor would be 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from exneuro.errors import data_error


def match_samples(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    column: str,
    *,
    counts_path: str = "counts",
    sheet_path: str = "sample sheet",
    exclude: Sequence[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join count columns to sample-sheet rows through the sheet's ``column``.

    Sheet rows with an empty ``column`` are mice that were not sequenced and are left out.
    ``exclude`` lists count samples to leave out on purpose (say why in the config). Any other
    sample in the counts without a sheet row, or sheet row without a count column, stops with
    every such name listed. Returns the counts with columns in sheet order and the sheet rows
    indexed by sample name.
    """
    if column not in sheet.columns:
        raise data_error(
            sheet_path,
            f"no column '{column}' to match the RNA-seq samples",
            "add it (the sample name in the count file for each mouse) or fix rnaseq "
            "sample_column in the config",
        )
    names = sheet[column].astype(str).str.strip()
    sequenced = sheet.loc[names != ""].copy()
    sequenced.index = pd.Index(names[names != ""], name="sample")
    if sequenced.index.duplicated().any():
        twice = sequenced.index[sequenced.index.duplicated()][0]
        raise data_error(
            sheet_path,
            f"RNA-seq sample '{twice}' is given to more than one mouse",
            "each sequenced sample belongs to one row",
            column=column,
        )
    unknown_exclusions = sorted(set(exclude) - set(counts.columns))
    if unknown_exclusions:
        raise data_error(
            counts_path,
            f"excluded sample(s) not in the counts: {', '.join(unknown_exclusions)}",
            "fix rnaseq exclude_samples in the config",
        )
    counts = counts.drop(columns=list(exclude))
    sequenced = sequenced.drop(index=[s for s in exclude if s in sequenced.index])
    extra = [s for s in counts.columns if s not in sequenced.index]
    missing = [s for s in sequenced.index if s not in counts.columns]
    if extra:
        raise data_error(
            counts_path,
            f"sample(s) in the counts but not in the sheet's '{column}': {', '.join(extra)}",
            f"add them to {sheet_path} or list them under rnaseq exclude_samples",
        )
    if missing:
        raise data_error(
            sheet_path,
            f"sample(s) in column '{column}' but not in {counts_path}: {', '.join(missing)}",
            "fix the sample names, or leave the cell empty for mice that were not sequenced",
            column=column,
        )
    counts = counts[list(sequenced.index)]
    empty = counts.columns[counts.sum(axis=0).to_numpy() == 0]
    if len(empty):
        raise data_error(
            counts_path,
            f"sample(s) with no reads (every count is 0): {', '.join(map(str, empty))}",
            "check that the right file or column was exported, or leave the sample out with "
            "rnaseq exclude_samples (its size factor would be 0)",
        )
    return counts, sequenced
