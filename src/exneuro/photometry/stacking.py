"""The recordings' folders stacked into the cohort's tables, with memory bounded by a chunk.

A cohort of 10,000 recordings has 16 million rows of binned traces (``aligned``): stacked at
once in pandas they take gigabytes, and a copy more for each flag added. They are streamed into
one Parquet file a chunk of recordings at a time instead; the small per-recording tables (QC row,
metrics, anomalies, faults) are stacked in memory.
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


def stack_tables(folders: Sequence[Path], name: str) -> pd.DataFrame:
    """Every recording's ``<name>.parquet``, one under the other in the folders' order."""
    return pd.concat([read_table(Path(f) / f"{name}.parquet") for f in folders], ignore_index=True)


def write_flagged_aligned(
    folders: Sequence[Path], included: Mapping[str, bool], path: str | Path, chunk: int = CHUNK
) -> None:
    """Every recording's ``aligned.parquet`` (binned traces and peri-event waveforms) in one
    Parquet file at ``path``, each row with its session's ``included`` flag, written ``chunk``
    recordings at a time (one row group each) in the cohort's schema (the first chunk's)."""
    writer = None
    try:
        for start in range(0, len(folders), chunk):
            frame = stack_tables(folders[start : start + chunk], "aligned")
            frame = frame.assign(included=frame["session"].map(included))
            schema = writer.schema if writer else None
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer:
            writer.close()
