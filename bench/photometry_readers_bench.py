"""Read speed and peak memory of the photometry readers on hour-long recordings.

Usage: python bench/photometry_readers_bench.py [--minutes 60] [--rate 1000] [--repeats 3]
[--cold-repeats 5] [--ppd-sizes 75x100] [--formats ppd ...]

Writes, to a temporary folder, one recording of ``--minutes`` per format — two channels at
``--rate`` Hz as a generic CSV, a Doric CSV (two-line header) and a pyPhotometry .ppd
(2EX_2EM_continuous, v1.0 header), a Neurophotometrics FP3002 CSV at 40 frames/s (415/470 nm
interleaved, two fibres, TTL bits in LedState) — and builds a TDT ``read_block``-shaped object at
1017.25 Hz in memory. Each reader then runs in its own Python process, so that its peak resident
memory (Linux ``VmHWM``) is its own: the number printed is that peak, and beside it the process's
peak after importing the library (and, for TDT, loading the streams), before reading. Time is
the best of ``--repeats`` reads (the file is in the OS cache: this is parsing speed, not disk
speed). MB/s is the file size over that time; samples/s counts time points of the signal decoded
per second (each with its control).

Beside it, for every reader of a file, the cold-cache rate: the page cache is dropped
(``sync; echo 3 > /proc/sys/vm/drop_caches``, as root) and ``dd`` reads the file (its wall time,
process start included); after its warm reads the reader's process drops the cache and reads the
file once more, timed (imports and first-call costs are not counted). Both are repeated
``--cold-repeats`` times and the medians are printed, so one disturbed read does not decide. The
ratio reader/dd says how close the reader comes to reading the bytes off the disk. Without the
right to drop the cache both are warm reads, and the header says so. The last lines give each
cold read's CPU time (every thread of the process: a reader may decode on two processors) and
its page faults (fresh memory for the decoded arrays; large pages make them few).

The .ppd reader is measured at more than one size (``--ppd-sizes``, default 75 min at 100 Hz, the
size of a scale-benchmark recording, besides ``--minutes`` at ``--rate``): at small sizes fixed
costs per call dominate, for the reader and for ``dd`` alike. ``dd``'s own start-up (its wall time
on an empty input) is printed last, so that its share of dd's time at each size can be seen.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

VPD = 3.3 / (1 << 15)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux ``VmHWM`` (high-water mark of this address space; an exec starts a new one), because
    ``ru_maxrss`` survives fork+exec and would report the parent's peak in each reader's process.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def traces(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bleaching GCaMP and isosbestic traces (volts) with shared motion and noise."""
    t = np.arange(n) / n
    motion = 0.02 * np.sin(2 * np.pi * 37 * t)
    signal = 1.2 + 0.3 * np.exp(-3 * t) + motion + 0.01 * rng.standard_normal(n)
    control = 0.8 + 0.2 * np.exp(-3 * t) + motion + 0.01 * rng.standard_normal(n)
    return signal, control


def write_csv(path: Path, columns: dict[str, np.ndarray], first_line: str = "") -> None:
    """A plain CSV written by pyarrow (fast enough to write 3.6 M rows in seconds)."""
    table = pa.table(columns)
    options = pacsv.WriteOptions(quoting_style="none")
    if first_line:
        with open(path, "wb") as handle:
            handle.write(first_line.encode())
            pacsv.write_csv(table, handle, write_options=options)
    else:
        pacsv.write_csv(table, path, write_options=options)


def write_ppd(path: Path, minutes: float, rate: float, rng: np.random.Generator) -> Path:
    """A pyPhotometry 1.0 file (2EX_2EM_continuous): two channels, a 30 s on/off TTL on
    digital input 1."""
    n = int(minutes * 60 * rate)
    signal, control = traces(n, rng)
    ttl = ((np.arange(n) / rate % 60) > 30).astype(np.int64)
    header = json.dumps(
        {
            "subject_ID": "m1",
            "date_time": "2026-01-05T10:00:00",
            "mode": "2EX_2EM_continuous",
            "sampling_rate": int(rate),
            "volts_per_division": [VPD, VPD],
            "n_analog_signals": 2,
            "n_digital_signals": 2,
            "version": "1.0.2",
        }
    ).encode()
    adc = np.column_stack([signal, control]) / VPD
    words = (adc.astype(np.uint16) << 1) | np.column_stack([ttl, np.zeros(n, int)]).astype(
        np.uint16
    )
    path.write_bytes(len(header).to_bytes(2, "little") + header + words.astype("<u2").tobytes())
    return path


def ppd_size(text: str) -> tuple[float, float]:
    """``MINUTESxRATE`` (``75x100``) as (minutes, Hz)."""
    minutes, _, rate = text.partition("x")
    try:
        return float(minutes), float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not MINUTESxRATE, e.g. 75x100") from None


def write_files(
    folder: Path, minutes: float, rate: float, ppd_sizes: list[tuple[float, float]] = ()
) -> dict[str, dict]:
    """Write every benchmark file; return {reader: {path, config, ...}}."""
    rng = np.random.default_rng(20260105)
    n = int(minutes * 60 * rate)
    signal, control = traces(n, rng)
    t = np.arange(n) / rate
    ttl = ((t % 60) > 30).astype(np.int64)
    jobs = {}

    csv = folder / "generic.csv"
    write_csv(csv, {"time_s": t, "gcamp": signal, "iso": control, "ttl": ttl})
    jobs["generic CSV"] = {
        "format": "csv",
        "path": str(csv),
        "config": {
            "time_column": "time_s",
            "signal_column": "gcamp",
            "control_column": "iso",
            "event_columns": {"run": "ttl"},
        },
    }

    doric = folder / "doric.csv"
    write_csv(
        doric,
        {
            "Time(s)": t + 0.5,
            "AIn-1 - Dem (AOut-1)": control,
            "AIn-1 - Dem (AOut-2)": signal,
            "DI/O-1": ttl,
        },
        first_line="---,Analog In. | Ch.1,Analog In. | Ch.1,Digital I/O | Ch.1\n",
    )
    jobs["Doric CSV"] = {
        "format": "doric",
        "path": str(doric),
        "config": {
            "signal_column": "AIn-1 - Dem (AOut-2)",
            "control_column": "AIn-1 - Dem (AOut-1)",
        },
    }

    ppd_rng = np.random.default_rng(20260106)
    ppd = write_ppd(folder / "mouse.ppd", minutes, rate, ppd_rng)
    jobs["pyPhotometry .ppd"] = {"format": "ppd", "path": str(ppd), "config": {}}
    for size_minutes, size_rate in ppd_sizes:
        name = f"mouse_{size_minutes:g}x{size_rate:g}.ppd"
        path = write_ppd(folder / name, size_minutes, size_rate, ppd_rng)
        label = f"  .ppd {size_minutes:g} min {size_rate:g} Hz"
        jobs[label] = {"format": "ppd", "path": str(path), "config": {}}

    for npm_minutes in (minutes, minutes * 1.25):  # an hour and a 75-min session by default
        label = "Neurophotometrics CSV" if npm_minutes == minutes else f"NPM {npm_minutes:g} min"
        npm = folder / f"npm_{npm_minutes:g}min.csv"
        write_npm(npm, npm_minutes, rng)
        jobs[label] = {"format": "neurophotometrics", "path": str(npm), "config": {}}

    n_tdt = int(minutes * 60 * 24414.0625 / 24)
    s_tdt, c_tdt = traces(n_tdt, rng)
    tdt_file = folder / "tdt.npz"
    np.savez(tdt_file, signal=s_tdt.astype(np.float32), control=c_tdt.astype(np.float32))
    jobs["TDT (read_block object)"] = {
        "format": "tdt",
        "path": str(tdt_file),
        "config": {"signal": "_465A", "control": "_405A"},
    }
    return jobs


def write_npm(path: Path, minutes: float, rng: np.random.Generator) -> None:
    """An FP3002 export at 40 frames/s (20 per LED, 415/470 nm interleaved), two green fibres,
    Output 0 high throughout and Input 0 high every other 30 s."""
    frames = int(minutes * 60 * 40)
    led = np.resize([1, 2], frames) | np.where((np.arange(frames) // 1200) % 2 == 1, 512, 0)
    led |= 16  # Output 0 high throughout
    g0, g1 = traces(frames, rng)
    write_csv(
        path,
        {
            "FrameCounter": np.arange(frames),
            "SystemTimestamp": 81234.5 + np.arange(frames) / 40,
            "LedState": led,
            "ComputerTimestamp": 4.2e7 + np.arange(frames) * 25.0,
            "Region0G": 3000 * g0,
            "Region1G": 3000 * g1,
        },
    )


def tdt_object(npz: str):
    """The StructType tdt.read_block would return, from the saved float32 streams."""
    import tdt

    arrays = np.load(npz)
    streams = tdt.StructType()
    for name, key in (("_465A", "signal"), ("_405A", "control")):
        streams[name] = tdt.StructType(
            name=name, fs=24414.0625 / 24, start_time=0.0, data=arrays[key]
        )
    onset = np.arange(0.0, 3600, 60)
    epocs = tdt.StructType(PtC0=tdt.StructType(name="PtC0", onset=onset, offset=onset + 30))
    return tdt.StructType(streams=streams, epocs=epocs, info=tdt.StructType(blockname="bench"))


def drop_caches() -> bool:
    """Drop the OS page cache (root only); False when this process may not or ``--warm``."""
    if "--warm" in sys.argv:
        return False
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def dd_seconds(path: str) -> float:
    """Wall time of ``dd`` reading ``path`` to /dev/null in 4 MB blocks (process start
    included)."""
    start = time.perf_counter()
    subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=4M"], check=True, capture_output=True)
    return time.perf_counter() - start


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (every thread of it)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def page_faults() -> int:
    """Page faults of this process so far that needed no disk read (fresh memory mapped in)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def cold_dd_seconds(path: str, repeats: int) -> float:
    """Median wall time of ``dd`` reading ``path``, the page cache dropped before each read."""
    times = []
    for _ in range(repeats):
        drop_caches()
        times.append(dd_seconds(path))
    return float(np.median(times))


def run_one(job: dict, repeats: int, cold_repeats: int = 1) -> dict:
    """Child process: read the file ``repeats`` times (best time and memory), then
    ``cold_repeats`` times more, each after dropping the page cache (cold; warm again when the
    cache cannot be dropped): the median of those."""
    from exneuro.photometry.readers import read_photometry

    source = tdt_object(job["path"]) if job["format"] == "tdt" else job["path"]
    before = peak_rss_mb()
    best = np.inf
    recordings = None
    for _ in range(repeats):
        recordings = None  # free the previous result: the peak is that of one read
        start = time.perf_counter()
        recordings = read_photometry(source, job["format"], job["config"])
        best = min(best, time.perf_counter() - start)
    cold_times, cold_cpu, cold_faults = [], [], []
    for _ in range(cold_repeats):
        recordings = None
        drop_caches()
        faults, cpu, start = page_faults(), cpu_seconds(), time.perf_counter()
        recordings = read_photometry(source, job["format"], job["config"])
        cold_times.append(time.perf_counter() - start)
        cold_cpu.append(cpu_seconds() - cpu)
        cold_faults.append(page_faults() - faults)
    samples = sum(r.n_samples for r in recordings.values())
    anomalies = sum(len(r.anomalies) for r in recordings.values())
    events = sum(len(r.events) for r in recordings.values())
    return {
        "cold_seconds": float(np.median(cold_times)),
        "cold_cpu_seconds": float(np.median(cold_cpu)),
        "cold_page_faults": int(np.median(cold_faults)),
        "seconds": best,
        "samples": samples,
        "fibres": len(recordings),
        "anomalies": anomalies,
        "events": events,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cold-repeats",
        type=int,
        default=5,
        help="cold reads of each file by dd and by the reader; the medians are printed",
    )
    parser.add_argument(
        "--ppd-sizes",
        type=ppd_size,
        nargs="*",
        default=[(75.0, 100.0)],
        metavar="MINUTESxRATE",
        help="more .ppd recordings to read, besides --minutes at --rate (default 75x100)",
    )
    parser.add_argument(
        "--formats",
        nargs="+",
        choices=["csv", "doric", "ppd", "neurophotometrics", "tdt"],
        help="read only these formats (default: every format)",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="do not drop the page cache (the test suite's smoke run: no effect on the machine)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(json.loads(args.child), args.repeats, args.cold_repeats)))
        return

    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f}; {args.minutes:g} min recordings, 2 channels at "
        f"{args.rate:g} Hz (NPM 40 frames/s, TDT 1017.25 Hz)"
    )
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        jobs = write_files(Path(folder), args.minutes, args.rate, args.ppd_sizes)
        if args.formats:
            jobs = {label: job for label, job in jobs.items() if job["format"] in args.formats}
        print(f"files written in {time.perf_counter() - start:.1f} s\n")
        cold = drop_caches()
        print(
            "cold cache: page cache dropped before dd and before the reader's cold read"
            if cold
            else "warm cache: the page cache was not dropped (--warm, or not root); dd and the "
            "'cold' read are warm reads"
        )
        print(
            f"{'reader':<26s}{'file MB':>9s}{'read s':>8s}{'MB/s':>8s}{'samples/s':>12s}"
            f"{'samples':>11s}{'peak RSS MB':>13s}{'(before)':>10s}"
            f"{'cold MB/s':>11s}{'dd MB/s':>9s}{'of dd':>7s}"
        )
        details = []
        for label, job in jobs.items():
            size_mb = Path(job["path"]).stat().st_size / 1e6
            dd_rate = dd_time = np.nan
            if job["format"] != "tdt":  # TDT is read from an object in memory: no file to dd
                dd_time = cold_dd_seconds(job["path"], args.cold_repeats)
                dd_rate = size_mb / dd_time
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--repeats",
                    str(args.repeats),
                    "--cold-repeats",
                    str(args.cold_repeats),
                    *(["--warm"] if args.warm else []),
                    "--child",
                    json.dumps(job),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            cold_rate = size_mb / result["cold_seconds"]
            print(
                f"{label:<26s}{size_mb:9.1f}{result['seconds']:8.2f}"
                f"{size_mb / result['seconds']:8.1f}{result['samples'] / result['seconds']:12.3g}"
                f"{result['samples']:11d}{result['peak_rss_mb']:13.0f}"
                f"{result['rss_before_mb']:10.0f}"
                f"{cold_rate:11.1f}{dd_rate:9.0f}{cold_rate / dd_rate:7.0%}",
                flush=True,
            )
            details.append((label, size_mb, result, dd_time))
        start_up = cold_dd_seconds("/dev/null", args.cold_repeats)
        print(
            f"\ndd start-up (an empty input, median of {args.cold_repeats}): "
            f"{start_up * 1e3:.1f} ms; the cold columns are medians of {args.cold_repeats} reads"
        )
        for label, size_mb, result, dd_time in details:
            if np.isnan(dd_time):
                continue
            reading = dd_time - start_up  # dd's time without its start-up
            without = (
                f"without dd's start-up dd reads {size_mb / reading:.0f} MB/s and the reader is "
                f"at {reading / result['cold_seconds']:.0%} of it"
                if reading > 0.1 * dd_time
                else "dd's start-up is most of its time here: no rate without it"
            )
            print(
                f"{label.strip()}: cold read {result['cold_seconds'] * 1e3:.1f} ms "
                f"(CPU {result['cold_cpu_seconds'] * 1e3:.1f} ms, "
                f"{result['cold_page_faults']} page faults), dd {dd_time * 1e3:.1f} ms; " + without
            )


if __name__ == "__main__":
    main()
