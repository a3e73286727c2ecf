"""Smoke runs of the benchmark scripts at a small size: each finishes and prints its figures, so
that no benchmark breaks unseen."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.slow
def test_example_benchmark_prints_cold_noop_and_per_rule_times():
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "example_bench.py"),
            "--configfile",
            "config/two_group/config.yaml",
            "--no-report",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].endswith("jobs: 8"), lines[0]
    assert lines[1].startswith("cold run") and lines[2].startswith("no-op rerun")
    rules = {line.split()[0]: int(line.split()[1]) for line in lines[4:]}
    assert rules["treadmill_metrics"] == 1 and rules["paper_figure"] == 1
    assert sum(rules.values()) == 8


@pytest.mark.slow
def test_de_benchmark_prints_our_time_beside_r_deseq2():
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "rnaseq_de_bench.py"), "--small"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
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
