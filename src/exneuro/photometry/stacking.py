"""The recordings' folders stacked into the cohort's tables, with memory bounded by a chunk.

A cohort of 10,000 recordings has 16 million rows of binned traces (``aligned``): stacked at
once in pandas they take gigabytes, and a copy more for each flag added. They are streamed into
one Parquet file a chunk of recordings at a time instead; the small per-recording tables (QC row,
metrics, anomalies, faults) are stacked in memory.

Each chunk is written as one row group per value of :data:`ROW_GROUP_KEY` (included or not,
alignment, column, day), so that a step reading one day of one alignment reads only the row
groups holding it (:mod:`exneuro.photometry.aligned_traces`): every row group's statistics
then name exactly one value of each key column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from exneuro.io import read_table

#: Recordings whose binned traces are held in memory at once while they are streamed.
CHUNK = 250
#: The columns whose values split a chunk into row groups (one value of each per row group).
ROW_GROUP_KEY = ["included", "alignment", "column", "day"]


def stack_tables(folders: Sequence[Path], name: str) -> pd.DataFrame:
    """Every recording's ``<name>.parquet``, one under the other in the folders' order."""
    return pd.concat([read_table(Path(f) / f"{name}.parquet") for f in folders], ignore_index=True)


def write_flagged_aligned(
    folders: Sequence[Path], included: Mapping[str, bool], path: str | Path, chunk: int = CHUNK
) -> None:
    """Every recording's ``aligned.parquet`` (binned traces and peri-event waveforms) in one
    Parquet file at ``path``, each row with its session's ``included`` flag, written ``chunk``
    recordings at a time in the cohort's schema (the first chunk's). A chunk is one row group
    per value of :data:`ROW_GROUP_KEY` in sorted order, each keeping the folders' order of its
    rows; the file holds the chunks in the folders' order."""
    writer = None
    try:
        for start in range(0, len(folders), chunk):
            frame = stack_tables(folders[start : start + chunk], "aligned")
            frame = frame.assign(included=frame["session"].map(included))
            schema = writer.schema if writer else None
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            slices = frame.groupby(ROW_GROUP_KEY, sort=True, dropna=False).indices
            for rows in slices.values():
                writer.write_table(table.take(rows), row_group_size=len(rows))
    finally:
        if writer:
            writer.close()
