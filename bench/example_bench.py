"""Wall time of the whole example study: cold run, no-op rerun, and where the time goes by rule.

Usage: python bench/example_bench.py [--configfile config/config.yaml] [--cores 2]

Copies the project's own files (no results, no environment) into a temporary folder and, there:

1. runs the workflow from scratch (``snakemake --cores N``): the cold time after set-up;
2. runs it again, as ``make run`` does (``snakemake`` then the report only if a result is newer
   than it): the no-op time, which should be Snakemake's start-up and DAG build alone;
3. reads each job's start and end from Snakemake's own metadata (``.snakemake/metadata``) and
   prints, per rule, the number of jobs, their summed job time and the longest job.

The goals (the example on two cores): cold <= 60 s, no-op <= 2 s. Numbers depend on the machine's
load: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROJECT_PARTS = [
    "Snakefile",
    "workflow",
    "scripts",
    "src",
    "config",
    "data",
    "profiles",
    "envs",
    "requirements.lock",
]


def copy_project(root: Path) -> Path:
    """The project's own files in ``root``, without results or environment."""
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / part)
    return root


def timed(command: list[str], cwd: Path) -> float:
    """Wall seconds of one command; stops the benchmark with its error output if it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def job_times(root: Path) -> dict[str, list[float]]:
    """Seconds of every job by rule, from Snakemake's metadata (a record per output file; a job
    is known by its log file, one per job)."""
    starts: dict[tuple[str, tuple], float] = {}
    ends: dict[tuple[str, tuple], float] = {}
    for record in (root / ".snakemake" / "metadata").iterdir():
        meta = json.loads(record.read_text())
        if meta.get("starttime") is None or meta.get("endtime") is None:
            continue
        job = (meta["rule"], tuple(meta["log"]))
        starts[job] = min(starts.get(job, meta["starttime"]), meta["starttime"])
        ends[job] = max(ends.get(job, meta["endtime"]), meta["endtime"])
    by_rule: dict[str, list[float]] = defaultdict(list)
    for job, start in starts.items():
        by_rule[job[0]].append(ends[job] - start)
    return by_rule


def report_is_current(results: Path, report: Path) -> bool:
    """True when no result file is newer than the report (``make run`` then skips it)."""
    if not report.exists():
        return False
    newest = max(path.stat().st_mtime for path in results.rglob("*") if path.is_file())
    return newest <= report.stat().st_mtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--no-report", action="store_true", help="skip the report step")
    args = parser.parse_args()
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    command = [snakemake, "--cores", str(args.cores), "--configfile", args.configfile]
    with tempfile.TemporaryDirectory(prefix="exneuro-example-bench-") as folder:
        root = copy_project(Path(folder))
        cold = timed(command, root)
        report = root / "results" / "report.html"
        if not args.no_report:
            timed([snakemake, "--configfile", args.configfile, "--report", str(report)], root)
        start = time.perf_counter()
        timed(command, root)
        if not args.no_report and not report_is_current(root / "results", report):
            timed([snakemake, "--configfile", args.configfile, "--report", str(report)], root)
        noop = time.perf_counter() - start
        by_rule = job_times(root)
    jobs = sum(len(times) for times in by_rule.values())
    print(f"config: {args.configfile}  cores: {args.cores}  jobs: {jobs}")
    print(f"cold run (after set-up): {cold:8.1f} s   goal <= 60 s on 2 cores (example)")
    print(f"no-op rerun (make run):  {noop:8.2f} s   goal <= 2 s")
    print(f"{'rule':<28}{'jobs':>6}{'job s':>10}{'longest s':>11}")
    for rule, times in sorted(by_rule.items(), key=lambda item: -sum(item[1])):
        print(f"{rule:<28}{len(times):>6}{sum(times):>10.1f}{max(times):>11.1f}")


if __name__ == "__main__":
    main()
