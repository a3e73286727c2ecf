"""Wall time and peak memory of RNA-seq normalization + DESeq2 on a simulated matrix.

Usage: python bench/rnaseq_bench.py [--genes 15000] [--samples 50] [--shrink]

Simulates a control/silenced x sedentary/trained experiment (exneuro.simulate.rnaseq), then
times each step of what the workflow runs: size factors, TMM, VST, PCA and outlier QC, and
DESeq2 (one fit of ``~ batch + group_training``, three contrasts incl. the interaction).
Peak memory is the process's maximum resident set size (``resource.getrusage``), printed with
the size before the work so that the libraries' own footprint can be told apart; tracemalloc
is not used because it slows the per-gene Python loops of pydeseq2 (VST, shrinkage).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np

from exneuro.rnaseq import de, normalize
from exneuro.simulate.rnaseq import RnaseqEffects, rnaseq_mice, simulate_counts


def peak_rss_mb() -> float:
    """Maximum resident set size of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(label: str, start: float) -> None:
    """One line: step, seconds since ``start``, peak RSS so far."""
    elapsed = time.perf_counter() - start
    print(f"{label:<40s} {elapsed:8.2f} s   peak RSS {peak_rss_mb():6.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=15000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--shrink", action="store_true", help="also apeGLM-shrink the LFCs")
    parser.add_argument("--seed", type=int, default=20260212)
    args = parser.parse_args()

    per_cell = -(-args.samples // 4)
    effects = RnaseqEffects(n_genes=args.genes, mice_per_cell=per_cell)
    mice = rnaseq_mice(effects).head(args.samples)
    mice = mice.assign(group_training=mice["group"] + "_" + mice["training"])
    counts, _ = simulate_counts(effects, mice, np.random.default_rng(args.seed))
    samples = mice.set_index("rnaseq_sample").loc[counts.columns]
    print(
        f"matrix: {counts.shape[0]} genes x {counts.shape[1]} samples; python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    print(f"peak RSS before the work: {peak_rss_mb():.0f} MB")

    contrasts = [
        {
            "name": "training_control",
            "factor": "group_training",
            "level": "control_trained",
            "reference": "control_sedentary",
        },
        {
            "name": "training_silenced",
            "factor": "group_training",
            "level": "silenced_trained",
            "reference": "silenced_sedentary",
        },
        {
            "name": "interaction",
            "cells": [
                {"weight": 1, "where": {"group_training": "silenced_trained"}},
                {"weight": -1, "where": {"group_training": "silenced_sedentary"}},
                {"weight": -1, "where": {"group_training": "control_trained"}},
                {"weight": 1, "where": {"group_training": "control_sedentary"}},
            ],
        },
    ]
    steps = {
        "size factors (median of ratios)": lambda: normalize.size_factors(counts),
        "TMM factors": lambda: normalize.tmm_factors(counts),
        "VST (nsub = 1000)": lambda: normalize.vst(counts),
    }
    total = time.perf_counter()
    results = {}
    for name, step in steps.items():
        start = time.perf_counter()
        results[name] = step()
        report(name, start)
    start = time.perf_counter()
    matrix = results["VST (nsub = 1000)"]
    normalize.pca(matrix)
    normalize.sample_outliers(matrix, samples["group_training"])
    report("PCA + outlier QC", start)
    start = time.perf_counter()
    tables = de.run_deseq2(
        counts, samples, "~ batch + group_training", contrasts, lfc_shrink=args.shrink, n_cpus=1
    )
    label = "DESeq2 fit + 3 contrasts" + (" + shrink" if args.shrink else "")
    report(label, start)
    report("total", total)
    n_de = {name: int((table["padj"] < 0.05).sum()) for name, table in tables.items()}
    print(f"DE genes at FDR 0.05: {n_de}")


if __name__ == "__main__":
    main()
