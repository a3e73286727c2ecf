"""Smoke runs of every benchmark script at a small size: each finishes and prints its figures, so
that no benchmark breaks unseen. The sizes are far below the goals' sizes; the figures printed
here are not measurements."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO


def run_benchmark(name: str, *arguments: str) -> list[str]:
    """The printed lines of ``bench/<name>`` run with ``arguments``; fails with its error output."""
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / name), *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines()


@pytest.mark.slow
def test_example_benchmark_prints_cold_noop_and_per_rule_times():
    lines = run_benchmark(
        "example_bench.py", "--configfile", "config/two_group/config.yaml", "--no-report"
    )
    assert lines[0].endswith("jobs: 8"), lines[0]
    assert lines[1].startswith("cold run") and lines[2].startswith("no-op rerun")
    rules = {line.split()[0]: int(line.split()[1]) for line in lines[4:]}
    assert rules["treadmill_metrics"] == 1 and rules["paper_figure"] == 1
    assert sum(rules.values()) == 8


def test_photometry_benchmark_recovers_the_planted_fit_slope():
    lines = run_benchmark(
        "photometry_bench.py", "--fs", "50", "--minutes", "60", "--repeats", "1",
        "--rlm-samples", "20000",
    )  # fmt: skip
    default = next(line for line in lines if line.startswith("default chain"))
    slope = float(default.split("fit slope ")[1].split()[0])
    assert slope == pytest.approx(1.5, abs=0.01)
    assert any(line.startswith("speed-up over RLM") for line in lines)


def test_readers_benchmark_reads_every_format():
    lines = run_benchmark(
        "photometry_readers_bench.py", "--minutes", "1", "--repeats", "1", "--warm"
    )
    assert any(line.startswith("warm cache: the page cache was not dropped") for line in lines)
    for name in ("generic CSV", "Doric CSV", "pyPhotometry .ppd", "Neurophotometrics", "TDT"):
        row = next(line for line in lines if line.startswith(name)).split()
        assert float(row[-7]) > 0, row  # samples/s
        if name != "TDT":  # read from an object in memory: no file for dd
            assert float(row[-3]) > 0 and float(row[-2]) > 0, row  # cold-read and dd MB/s
            assert row[-1].endswith("%"), row  # the reader's share of dd


def test_rnaseq_benchmark_times_every_step_and_finds_the_planted_genes():
    lines = run_benchmark("rnaseq_bench.py", "--genes", "2100", "--samples", "16")
    assert any(line.startswith("DESeq2 fit + 3 contrasts") for line in lines)
    found = next(line for line in lines if line.startswith("DE genes at FDR"))
    assert found.endswith("{'training_control': 367, 'training_silenced': 72, 'interaction': 242}")


def test_workbook_benchmark_prints_the_memory_and_time_of_a_write():
    lines = run_benchmark("workbook_bench.py", "--mice", "20", "--bins", "50", "--repeats", "1")
    assert lines[0] == "table: 1000 rows x 5 columns (5000 cells)"
    figures = {line.split(":")[0]: float(line.split(": ")[1].split()[0]) for line in lines[1:]}
    assert figures["workbook"] > 0 and figures["CPU per write"] > 0
    assert figures["peak traced Python allocations while writing"] > 0
    assert figures["writing added to peak RSS"] >= 0


@pytest.mark.e2e
def test_scale_benchmark_runs_every_stage_the_cohort_the_reader_rate_and_the_dag():
    lines = run_benchmark(
        "scale_bench.py", "--mice", "6", "--sessions", "2", "--minutes", "75", "--rate", "20",
        "--genes", "2100", "--factors", "1", "--per-job", "4", "--cohort-sessions", "40", "80",
        "--dag-recordings", "40",
    )  # fmt: skip
    assert any(line.startswith("read rate of the .ppd files") for line in lines)
    assert lines[-1].startswith("dry run of a DAG of 40 recordings") and "CPU-s" in lines[-1]
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["factor", "mice"])
    row = dict(zip(lines[header].split(), lines[header + 1].split(), strict=True))
    assert int(row["recordings"]) == 12 and float(row["total_s"]) > 0
    cost = next(line for line in lines if line.startswith("recordings stage at 12 recordings"))
    assert float(cost.split(": ")[1].split()[0]) > 0 and "CPU-s per recording" in cost
    for size in (40, 80):
        cohort = next(line for line in lines if line.startswith(f"photometry cohort at {size} "))
        assert all(f"{step} " in cohort for step in ("combine", "statistics", "figure")), cohort
    # per step the exponents of wall, CPU and peak memory between the two sizes
    header = lines.index("cohort steps' exponents (b of figure ~ sessions^b between sizes):")
    assert lines[header + 1].split() == ["step", "sessions", "b_wall", "b_CPU", "b_memory"]
    exponents = [line.split() for line in lines[header + 2 : header + 5]]
    assert [row[:2] for row in exponents] == [
        [step, "40->80"] for step in ("combine", "statistics", "figure")
    ]
    assert all(np.isfinite(float(value)) for row in exponents for value in row[2:])


@pytest.mark.slow
def test_de_benchmark_prints_our_time_beside_r_deseq2():
    lines = run_benchmark("rnaseq_de_bench.py", "--small")
    assert lines[0].startswith("matrix: 2500 genes x 32 samples"), lines[0]
    assert lines[1].startswith("exneuro DESeq2 engine") and float(lines[1].split()[3]) > 0
    assert lines[2].startswith("R DESeq2 ") and lines[3].startswith("ratio (ours / R)")
    agreement = lines[4:]
    if "measured now" in lines[2]:  # R installed: DESeq2's calls on all four contrasts
        assert len(agreement) == 4
        for line in agreement:
            words = line.split()
            assert float(words[words.index("Jaccard") + 1]) >= 0.98, line
            assert float(words[-1]) < 0.01, line
    else:
        assert "recorded" in lines[2] and not agreement
