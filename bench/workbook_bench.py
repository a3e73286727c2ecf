"""Peak memory and CPU time of writing a source-data workbook of a long table.

Usage: python bench/workbook_bench.py [--mice 1250] [--bins 512] [--repeats 3]

The table is a photometry heatmap panel's source data in long format, one row per mouse and
time bin (``mouse``, ``group``, ``day``, ``time_s``, ``dff``: text, integers and numbers), the
table a cohort of many sessions gives the figure job. It is written with
:func:`exneuro.figures.workbook.write_workbook` ``--repeats`` times. Printed: the table's size;
the CPU seconds of one write (median of the repeats; CPU, not wall time, so that a busy machine
does not inflate it); the process's peak resident memory before and after the writes (ru_maxrss,
a high-water mark, so the difference is what writing added above the table); and the peak of
Python's own allocations during one more write traced with tracemalloc, apart from the timed
ones because tracing slows the writer several times.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.figures.workbook import write_workbook


def peak_rss_mb() -> float:
    """Maximum resident set size of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def heatmap_source(mice: int, bins: int, seed: int = 1) -> pd.DataFrame:
    """A heatmap panel's source data: ``mice`` x ``bins`` rows of ΔF/F on one day."""
    rng = np.random.default_rng(seed)
    names = np.array([f"M{k:05d}" for k in range(mice)], dtype=object)
    groups = np.array(["sedentary", "runner"], dtype=object)[np.arange(mice) % 2]
    return pd.DataFrame(
        {
            "mouse": np.repeat(names, bins),
            "group": np.repeat(groups, bins),
            "day": np.full(mice * bins, 14, dtype=np.int64),
            "time_s": np.tile(np.arange(bins) * 0.5 - 60.0, mice),
            "dff": rng.normal(0.0, 0.02, mice * bins),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mice", type=int, default=1250)
    parser.add_argument("--bins", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    table = heatmap_source(arguments.mice, arguments.bins)
    rows, columns = table.shape
    print(f"table: {rows} rows x {columns} columns ({rows * columns} cells)")
    before = peak_rss_mb()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "source_data.xlsx"
        seconds = []
        for _ in range(arguments.repeats):
            started = time.process_time()
            write_workbook({"panel_A": table}, path)
            seconds.append(time.process_time() - started)
        after = peak_rss_mb()
        size = path.stat().st_size
        tracemalloc.start()
        write_workbook({"panel_A": table}, path)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(f"workbook: {size} bytes")
    print(f"CPU per write: {statistics.median(seconds):.3f} s (median of {arguments.repeats})")
    print(f"peak RSS: {before:.0f} MB with the table, {after:.0f} MB after writing")
    print(f"writing added to peak RSS: {after - before:.0f} MB")
    print(f"peak traced Python allocations while writing: {traced:.1f} MB")


if __name__ == "__main__":
    main()
