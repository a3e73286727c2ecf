"""Wall time of the whole example study: cold run, no-op rerun, and where the time goes by rule.

Usage: python bench/example_bench.py [--configfile config/config.yaml] [--cores 2]

Copies the project's own files (no results, no environment) into a temporary folder and, there:

1. runs the workflow from scratch (``snakemake --cores N``): the cold time after set-up;
2. runs it again, as ``make run`` does (``snakemake`` then the report only if a result is newer
   than it): the no-op time, which should be Snakemake's start-up and DAG build alone;
3. reads each job's start and end from Snakemake's own metadata (``.snakemake/metadata``) and
   prints, per rule, the number of jobs, their summed job time, the longest job and the jobs'
   CPU seconds.

CPU time is what a busy machine inflates least: the cold run's CPU seconds of every process
(Snakemake and its jobs) are printed beside its wall time, and each job's own CPU seconds are
recorded by a ``sitecustomize`` module the benchmark puts on the jobs' ``PYTHONPATH`` (it writes
the rule and the process's CPU time when the job's process ends).

The goals (the example on two cores): cold <= 60 s, no-op <= 2 s. Wall times depend on the
machine's load: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from exneuro import project_copy

REPO = Path(__file__).resolve().parent.parent


def copy_project(root: Path) -> Path:
    """Copy the project's own files (no results, no environment) into ``root``."""
    return project_copy.copy_project(REPO, root)


#: Written beside the copied project and put on the jobs' path: records each job's rule and CPU
#: seconds when its process ends (normally, or by ``os._exit`` as a finished job script does).
CPU_PROBE = """
import atexit, os, resource, sys


def _record():
    job = getattr(sys.modules["__main__"], "snakemake", None)
    log = os.environ.get("EXNEURO_BENCH_CPU_LOG")
    if job is not None and log:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with open(log, "a", encoding="utf-8") as file:
            file.write(f"{job.rule}\\t{usage.ru_utime + usage.ru_stime}\\n")


def _exit_recorded(code, _exit=os._exit):
    _record()
    _exit(code)


atexit.register(_record)
os._exit = _exit_recorded
"""


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process of the benchmark so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall seconds of one command; stops the benchmark with its error output if it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def probed_environment(folder: Path) -> dict[str, str]:
    """The environment of the cold run: :data:`CPU_PROBE` on the path, its log in ``folder``."""
    probe = folder / "cpu_probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(CPU_PROBE, encoding="utf-8")
    path = os.pathsep.join(filter(None, [str(probe), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "EXNEURO_BENCH_CPU_LOG": str(folder / "cpu.tsv")}


def job_cpu(log: Path) -> dict[str, float]:
    """CPU seconds of the jobs by rule, from the probe's log."""
    by_rule: dict[str, float] = defaultdict(float)
    for line in log.read_text(encoding="utf-8").splitlines() if log.exists() else []:
        rule, seconds = line.split("\t")
        by_rule[rule] += float(seconds)
    return by_rule


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
        root = copy_project(Path(folder) / "project")
        environment = probed_environment(Path(folder))
        cpu_before = children_cpu()
        cold = timed(command, root, environment)
        cold_cpu = children_cpu() - cpu_before
        cpu_by_rule = job_cpu(Path(folder) / "cpu.tsv")
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
    print(
        f"cold run (after set-up): {cold:8.1f} s   goal <= 60 s on 2 cores (example); "
        f"CPU {cold_cpu:.1f} s (Snakemake and its jobs), jobs {sum(cpu_by_rule.values()):.1f} s"
    )
    print(f"no-op rerun (make run):  {noop:8.2f} s   goal <= 2 s")
    print(f"{'rule':<28}{'jobs':>6}{'job s':>10}{'longest s':>11}{'CPU s':>9}")
    for rule, times in sorted(by_rule.items(), key=lambda item: -sum(item[1])):
        cpu = cpu_by_rule.get(rule, float("nan"))
        print(f"{rule:<28}{len(times):>6}{sum(times):>10.1f}{max(times):>11.1f}{cpu:>9.1f}")


if __name__ == "__main__":
    main()
