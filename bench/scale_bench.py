"""Scaling of the whole workflow with the size of the study: prints a table, asserts nothing.

Usage: python bench/scale_bench.py [--mice 24] [--sessions 8] [--minutes 90] [--rate 1000]
                                   [--genes 20000] [--factors 1 2 4] [--cores 2]
                                   [--folder DIR] [--dag-recordings 10000]

For each factor f, a study with f x ``--mice`` photometry mice (``--sessions`` recordings each,
``--minutes`` at ``--rate`` Hz, as pyPhotometry .ppd files) is simulated into ``DIR/f<f>`` and
analysed from scratch in stages, each a separate Snakemake run timed with GNU time:

1. ``recordings``: every per-recording job (read, preprocess, metrics, QC figure);
2. ``photometry``: combine, statistics and figure of the photometry cohort;
3. ``rest``: everything else (treadmill, cellular, RNA-seq, the statistics table).

Printed per factor: recordings, raw MB, wall time per stage and in total, the largest resident
memory of any process of the stage (a job or Snakemake itself), photometry MB/s and samples/s
of the recordings stage, and the dry-run time of the whole DAG. Then the exponent b of
``total wall ~ recordings^b`` (1 = linear), the read rate of the .ppd reader against a raw
sequential read of the same files with ``dd``, and the dry-run time of a DAG of
``--dag-recordings`` recordings (empty placeholder files).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def timed_run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and largest resident memory (MB) of any process of ``command``."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        result = subprocess.run(
            ["/usr/bin/time", "-o", report.name, "-f", "%M", *command],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if result.returncode:
            sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-3000:]}")
        return wall, int(report.read().split()[-1]) / 1024


def snakemake(config: Path, cores: int, *targets: str, dry: bool = False) -> list[str]:
    """A Snakemake command line (targets first: ``--quiet`` takes the words after it)."""
    options = ["--cores", str(cores), "--configfile", str(config), "--quiet"]
    return [SNAKEMAKE, *targets, *options, *(["-n"] if dry else [])]


def one_study(folder: Path, args: argparse.Namespace, factor: int) -> dict:
    study = folder / f"f{factor}"
    mice = args.mice * factor
    started = time.perf_counter()
    simulated = subprocess.run(
        [
            sys.executable,
            "-m",
            "exneuro.simulate",
            "scaled",
            str(study),
            f"--mice={mice}",
            f"--sessions={args.sessions}",
            f"--minutes={args.minutes}",
            f"--rate={args.rate}",
            f"--genes={args.genes}",
            f"--jobs={args.cores}",
        ],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    if simulated.returncode != 0:
        sys.exit(f"simulating the study failed: {simulated.stderr.strip().splitlines()[-1]}")
    simulate_s = time.perf_counter() - started
    config = study / "config" / "config.yaml"
    out = yaml.safe_load(config.read_text())["output_dir"]
    sheet = pd.read_csv(study / "config" / "photometry_recordings.tsv", sep="\t")
    sessions = [
        f"{out}/photometry/sessions/{m}_d{d}"
        for m, d in zip(sheet["mouse"], sheet["day"], strict=True)
    ]
    raw_mb = sum(Path(f).stat().st_size for f in sheet["file"]) / 1e6
    dag_s, _ = timed_run(snakemake(config, args.cores, dry=True))
    stages = {
        "recordings": snakemake(config, args.cores, *sessions),
        "photometry": snakemake(config, args.cores, f"{out}/figures/photometry/photometry.pdf"),
        "rest": snakemake(config, args.cores),
    }
    row = {"factor": factor, "mice": mice, "recordings": len(sheet), "raw_MB": raw_mb}
    row["simulate_s"] = simulate_s
    row["dry_run_s"] = dag_s
    total = 0.0
    for name, command in stages.items():
        wall, peak = timed_run(command)
        row[f"{name}_s"], row[f"{name}_peak_MB"] = wall, peak
        total += wall
    row["total_s"] = total
    samples = len(sheet) * args.minutes * 60 * args.rate
    row["MB_per_s"] = raw_mb / row["recordings_s"]
    row["Msamples_per_s"] = samples / row["recordings_s"] / 1e6
    return row


def read_rates(files: list[str]) -> tuple[float, float, str]:
    """MB/s of the .ppd reader and of ``dd`` over the same files (page cache dropped first
    when this process may, else said)."""
    from exneuro.photometry.readers import read_photometry

    def drop_caches() -> str:
        try:
            subprocess.run(["sync"], check=True)
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            return "cold cache"
        except OSError:
            return "warm cache (could not drop the page cache)"

    size = sum(Path(f).stat().st_size for f in files) / 1e6
    cache = drop_caches()
    started = time.perf_counter()
    for f in files:
        subprocess.run(["dd", f"if={f}", "of=/dev/null", "bs=4M"], check=True, capture_output=True)
    dd_rate = size / (time.perf_counter() - started)
    drop_caches()
    started = time.perf_counter()
    for f in files:
        read_photometry(f, "ppd", {"region": "VMH"})
    reader_rate = size / (time.perf_counter() - started)
    return reader_rate, dd_rate, cache


def dag_of(n_recordings: int, folder: Path) -> float:
    """Dry-run seconds of the photometry DAG of ``n_recordings`` empty placeholder files."""
    from exneuro.config_files import load_config

    config = load_config(ROOT / "config" / "config.yaml")  # with the files it includes
    for section in ("treadmill", "ephys", "spines", "histology", "rnaseq", "paper"):
        config.pop(section, None)
    config["tables"] = {}
    days = 8
    n_mice = math.ceil(n_recordings / days)
    mice = [f"P{i:05d}" for i in range(n_mice)]
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "mouse_id": mice,
            "cohort": "activity",
            "sex": "female",
            "group": ["control", "silenced"] * (n_mice // 2) + ["control"] * (n_mice % 2),
        }
    ).to_csv(folder / "samples.tsv", sep="\t", index=False)
    rows = []
    for mouse in mice:
        for day in range(1, days + 1):
            path = raw / f"{mouse}_{day}.ppd"
            path.touch()
            rows.append({"mouse": mouse, "day": day, "file": str(path), "format": "ppd"})
    pd.DataFrame(rows[:n_recordings]).to_csv(folder / "recordings.tsv", sep="\t", index=False)
    config.update(samples=str(folder / "samples.tsv"), output_dir=str(folder / "results"))
    config["photometry"].update(recordings=str(folder / "recordings.tsv"), exclude_sessions=[])
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    wall, _ = timed_run(snakemake(path, 1, dry=True))
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mice", type=int, default=24)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=90.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--factors", type=int, nargs="*", default=[1, 2, 4], help="none: DAG only")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--dag-recordings", type=int, default=10000)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="exneuro-scale-"))
    print(f"studies in {folder}; {args.cores} cores")
    rows = []
    for factor in args.factors:
        rows.append(one_study(folder, args, factor))
        print(pd.DataFrame(rows[-1:]).round(2).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    if rows:
        print("\n" + table.round(2).to_string(index=False))
    if len(table) > 1:
        slope = np.polyfit(np.log(table["recordings"]), np.log(table["total_s"]), 1)[0]
        per = np.polyfit(np.log(table["recordings"]), np.log(table["recordings_s"]), 1)[0]
        print(
            f"\nscaling exponent (total wall ~ recordings^b): b = {slope:.2f}; "
            f"recordings stage b = {per:.2f}"
        )
    if rows:
        sheet = pd.read_csv(
            folder / f"f{args.factors[0]}" / "config" / "photometry_recordings.tsv", sep="\t"
        )
        reader, dd, cache = read_rates(sheet["file"].tolist())
        print(
            f"read rate of the .ppd files ({cache}): reader {reader:.0f} MB/s, "
            f"dd {dd:.0f} MB/s ({reader / dd:.0%} of dd)"
        )
    if args.dag_recordings:
        seconds = dag_of(args.dag_recordings, folder / "dag")
        print(f"dry run of a DAG of {args.dag_recordings} recordings: {seconds:.1f} s")


if __name__ == "__main__":
    main()
