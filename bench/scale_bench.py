"""Scaling of the whole workflow with the size of the study: prints a table, asserts nothing.

Usage: python bench/scale_bench.py [--mice 24] [--sessions 8] [--minutes 90] [--rate 1000]
                                   [--genes 20000] [--factors 1 2 4] [--cores 2]
                                   [--per-job N] [--cohort-sessions 1000 ...]
                                   [--folder DIR] [--dag-recordings 10000]

The cohort steps alone, at three sizes (no recordings stage, no reader rate, no DAG):
python bench/scale_bench.py --factors --minutes 75 --rate 100 --genes 2100
                            --cohort-sessions 1000 3000 10000 --dag-recordings 0

For each factor f, a study with f x ``--mice`` photometry mice (``--sessions`` recordings each,
``--minutes`` at ``--rate`` Hz, as pyPhotometry .ppd files) is simulated into ``DIR/f<f>`` and
analysed from scratch in stages, each a separate Snakemake run timed with GNU time:

1. ``recordings``: every recording job (read, preprocess, metrics, QC figure), ``--per-job``
   recordings per job (``photometry.recordings_per_job``; default: the config's default);
2. ``photometry``: combine, statistics and figure of the photometry cohort;
3. ``rest``: everything else (treadmill, cellular, RNA-seq, the statistics table).

Printed per factor: recordings, raw MB, wall time per stage and in total, the largest resident
memory of any process of the stage (a job or Snakemake itself), the recordings stage's cost per
recording in core-seconds (stage wall x cores / recordings, as a lab would pay for it, and the
CPU seconds all its processes used / recordings, which a busy machine does not inflate), MB/s
and samples/s. Then the exponents b of ``wall ~ recordings^b`` (1 = linear); the photometry
cohort's combine, statistics and figure steps on each of ``--cohort-sessions`` sizes (their
recording folders made from one analysed recording, with noise, so that no recording is
preprocessed): wall, CPU and peak memory of each step and size, and the exponents b of wall, CPU
and peak memory ``~ sessions^b`` between consecutive sizes (time: 1 = linear; memory: 0 = flat);
with no factor (``--factors`` alone) the recordings stage is skipped and the analysed recording
comes from a study of six one-session mice (``--minutes`` at ``--rate``); the read rate of
the .ppd reader against a raw sequential read of the same files with ``dd``; and the dry-run
time of a DAG of ``--dag-recordings`` recordings (empty placeholder files).
"""

from __future__ import annotations

import argparse
import math
import resource
import shutil
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


def cpu_seconds() -> float:
    """User + system CPU seconds of every finished child process of this one (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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


def with_per_job(config: Path, per_job: int | None) -> None:
    """Set ``photometry.recordings_per_job`` in the study's config (None: leave the default)."""
    if per_job is None:
        return
    data = yaml.safe_load(config.read_text())
    data["photometry"]["recordings_per_job"] = per_job
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def simulate(
    study: Path,
    mice: int,
    args: argparse.Namespace,
    minutes: float,
    rate: float,
    sessions: int | None = None,
):
    """Simulate the scaled study into ``study`` (``sessions`` per mouse, default
    ``--sessions``); exits with its error."""
    simulated = subprocess.run(
        [
            sys.executable,
            "-m",
            "exneuro.simulate",
            "scaled",
            str(study),
            f"--mice={mice}",
            f"--sessions={sessions or args.sessions}",
            f"--minutes={minutes}",
            f"--rate={rate}",
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


def one_study(folder: Path, args: argparse.Namespace, factor: int) -> dict:
    study = folder / f"f{factor}"
    mice = args.mice * factor
    started = time.perf_counter()
    simulate(study, mice, args, args.minutes, args.rate)
    simulate_s = time.perf_counter() - started
    config = study / "config" / "config.yaml"
    with_per_job(config, args.per_job)
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
        cpu = cpu_seconds()
        wall, peak = timed_run(command)
        row[f"{name}_s"], row[f"{name}_peak_MB"] = wall, peak
        row[f"{name}_cpu_s"] = cpu_seconds() - cpu
        total += wall
    row["total_s"] = total
    row["core_s_per_recording"] = row["recordings_s"] * args.cores / len(sheet)
    row["cpu_s_per_recording"] = row["recordings_cpu_s"] / len(sheet)
    samples = len(sheet) * args.minutes * 60 * args.rate
    row["MB_per_s"] = raw_mb / row["recordings_s"]
    row["Msamples_per_s"] = samples / row["recordings_s"] / 1e6
    return row


#: The photometry cohort's steps timed on ``--cohort-sessions`` sessions.
COHORT_STEPS = ("combine", "statistics", "figure")
#: Tables of a recording the cohort's steps read (its trace is read by none of them).
COHORT_TABLES = ("qc", "metrics", "aligned", "anomalies", "faults")


def analysed_recording(folder: Path, args: argparse.Namespace) -> Path:
    """The folder of one analysed recording (``--minutes`` at ``--rate``) of a study of six mice
    with one session each, made when no study of ``--factors`` was run."""
    study = folder / "template"
    simulate(study, 6, args, args.minutes, args.rate, sessions=1)
    config = study / "config" / "config.yaml"
    out = Path(yaml.safe_load(config.read_text())["output_dir"])
    sheet = pd.read_csv(study / "config" / "photometry_recordings.tsv", sep="\t")
    session = out / "photometry" / "sessions" / f"{sheet['mouse'][0]}_d{sheet['day'][0]}"
    timed_run(snakemake(config, 1, str(session)))
    return session


def cohort_stage(folder: Path, args: argparse.Namespace, template: Path, n: int) -> dict:
    """Time and peak memory of the photometry cohort's combine, statistics and figure steps on
    ``n`` sessions (``n / --sessions`` mice): a study of short raw files is simulated, and each
    session's folder is made from the analysed recording ``template`` with its identity and
    noise on its values (metrics and binned traces), so that no recording is preprocessed."""
    study = folder / f"cohort{n}"
    mice = max(6, 2 * math.ceil(n / args.sessions / 2))
    simulate(study, mice, args, 72.0, 1.0)
    config = study / "config" / "config.yaml"
    with_per_job(config, args.per_job)
    out = Path(yaml.safe_load(config.read_text())["output_dir"])
    sheet = pd.read_csv(study / "config" / "photometry_recordings.tsv", sep="\t")
    samples = pd.read_csv(study / "config" / "samples.tsv", sep="\t").set_index("mouse_id")
    tables = {name: pd.read_parquet(template / f"{name}.parquet") for name in COHORT_TABLES}
    rng = np.random.default_rng(1)
    for mouse, day in zip(sheet["mouse"], sheet["day"], strict=True):
        session = f"{mouse}_d{day}"
        identity = {"session": session, "mouse": mouse, "group": samples.loc[mouse, "group"]}
        target = out / "photometry" / "sessions" / session
        target.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            table = table.assign(**identity, day=int(day))
            if name in ("metrics", "aligned"):
                table["value"] = table["value"] * rng.normal(1.0, 0.2, len(table))
            table.to_parquet(target / f"{name}.parquet", index=False)
    rules = ["--allowed-rules", "validated_samples", "photometry_combine", "photometry_statistics"]
    rules += ["photometry_figure"]
    steps = {
        "combine": f"{out}/photometry/qc.tsv",
        "statistics": f"{out}/photometry/statistics.tsv",
        "figure": f"{out}/figures/photometry/photometry.pdf",
    }
    row = {"sessions": len(sheet)}
    for name, target in steps.items():
        cpu = cpu_seconds()
        row[f"{name}_s"], row[f"{name}_peak_MB"] = timed_run(
            [*snakemake(config, 1, target), *rules]
        )
        row[f"{name}_cpu_s"] = cpu_seconds() - cpu
    shutil.rmtree(study)
    return row


def cohort_exponents(table: pd.DataFrame) -> pd.DataFrame:
    """Per step and pair of consecutive cohort sizes, the exponents b of ``wall ~ sessions^b``,
    ``CPU ~ sessions^b`` and ``peak memory ~ sessions^b`` (1 = linear, 0 = flat)."""
    rows = []
    records = table.to_dict("records")
    for small, large in zip(records[:-1], records[1:], strict=True):
        ratio = math.log(large["sessions"] / small["sessions"])
        for step in COHORT_STEPS:
            row = {"step": step, "sessions": f"{small['sessions']}->{large['sessions']}"}
            for figure, column in (("wall", "s"), ("CPU", "cpu_s"), ("memory", "peak_MB")):
                name = f"{step}_{column}"
                row[f"b_{figure}"] = math.log(large[name] / small[name]) / ratio
            rows.append(row)
    return pd.DataFrame(rows)


def print_cohort_scaling(table: pd.DataFrame) -> None:
    """The cohort steps' wall, CPU and peak memory per size, then their exponents."""
    rows = [
        {
            "step": step,
            "sessions": int(row["sessions"]),
            "wall_s": row[f"{step}_s"],
            "cpu_s": row[f"{step}_cpu_s"],
            "peak_MB": row[f"{step}_peak_MB"],
        }
        for step in COHORT_STEPS
        for _, row in table.iterrows()
    ]
    print("\nphotometry cohort steps:\n" + pd.DataFrame(rows).round(1).to_string(index=False))
    if len(table) > 1:
        print(
            "\ncohort steps' exponents (b of figure ~ sessions^b between sizes):\n"
            + cohort_exponents(table).round(2).to_string(index=False),
            flush=True,
        )


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


def dag_of(n_recordings: int, folder: Path, per_job: int | None) -> tuple[float, float]:
    """Dry-run wall and CPU seconds of the photometry DAG of ``n_recordings`` empty placeholder
    files, ``per_job`` recordings per job (None: the config's default)."""
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
    if per_job is not None:
        config["photometry"]["recordings_per_job"] = per_job
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    cpu = cpu_seconds()
    wall, _ = timed_run(snakemake(path, 1, dry=True))
    return wall, cpu_seconds() - cpu


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
    parser.add_argument("--per-job", type=int, default=None, help="recordings per job")
    parser.add_argument("--cohort-sessions", type=int, nargs="*", default=[1000])
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
    for row in rows:
        print(
            f"recordings stage at {row['recordings']} recordings: "
            f"{row['core_s_per_recording']:.3f} core-s per recording (wall x {args.cores} cores "
            f"/ recordings), {row['cpu_s_per_recording']:.3f} CPU-s per recording"
        )
    if len(table) > 1:
        slope = np.polyfit(np.log(table["recordings"]), np.log(table["total_s"]), 1)[0]
        per = np.polyfit(np.log(table["recordings"]), np.log(table["recordings_s"]), 1)[0]
        cpu = np.polyfit(np.log(table["recordings"]), np.log(table["recordings_cpu_s"]), 1)[0]
        print(
            f"\nscaling exponent (total wall ~ recordings^b): b = {slope:.2f}; "
            f"recordings stage b = {per:.2f} (wall), {cpu:.2f} (CPU)"
        )
    if args.cohort_sessions:
        template = (
            next((folder / f"f{args.factors[0]}" / "results" / "photometry" / "sessions").iterdir())
            if rows
            else analysed_recording(folder, args)
        )
        cohorts = []
        for n in args.cohort_sessions:
            cohorts.append(cohort_stage(folder, args, template, n))
            print(
                f"photometry cohort at {cohorts[-1]['sessions']} sessions: "
                + ", ".join(
                    f"{step} {cohorts[-1][f'{step}_s']:.1f} s "
                    f"({cohorts[-1][f'{step}_cpu_s']:.1f} CPU-s, "
                    f"peak {cohorts[-1][f'{step}_peak_MB']:.0f} MB)"
                    for step in COHORT_STEPS
                ),
                flush=True,
            )
        print_cohort_scaling(pd.DataFrame(cohorts))
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
        seconds, cpu = dag_of(args.dag_recordings, folder / "dag", args.per_job)
        print(
            f"dry run of a DAG of {args.dag_recordings} recordings: {seconds:.1f} s "
            f"({cpu:.1f} CPU-s)"
        )


if __name__ == "__main__":
    main()
