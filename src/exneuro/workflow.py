"""Glue for the Snakemake ``script:`` entry points: logging to the job's log and clear failures
(the digest that makes changed code rerun is :mod:`exneuro.code_digest`)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import signal
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from exneuro.errors import ExneuroError


def use_library_source(source: str | Path) -> None:
    """Put the library's source folder first on the import path of every job.

    Jobs run their scripts in new Python processes (and, with ``--use-conda``, in another
    environment), so the folder goes into ``PYTHONPATH``: every job imports this checkout's
    library, installed or not.
    """
    source = str(source)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != source]
    os.environ["PYTHONPATH"] = os.pathsep.join([source, *paths])


def use_this_python() -> None:
    """Put the folder of the Python running Snakemake first on ``PATH``.

    Rules with a ``shell:`` command call ``python``; without ``--use-conda`` that must be the
    interpreter (virtual environment) Snakemake runs in, activated or not. With ``--use-conda``
    the job's environment is put before it.
    """
    folder = str(Path(sys.executable).parent)
    paths = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != folder]
    os.environ["PATH"] = os.pathsep.join([folder, *paths])


#: Held (``flock``) by the Snakemake process of a run for as long as it lives; the kernel releases
#: it when that process ends in any way, ``kill -9`` included.
RUN_LOCK = "exneuro-run.lock"
#: Snakemake options after which it only reads the folder (plans, checks, reports): no run.
READ_ONLY_OPTIONS = {
    "-n", "--dry-run", "--dryrun", "--lint", "--unlock", "--report", "--summary", "-S",
    "--detailed-summary", "-D", "--list", "-l", "--list-rules", "--list-target-rules", "--lt",
    "--dag", "--rulegraph", "--filegraph", "--d3dag", "--list-changes", "--lc",
    "--list-input-changes", "--li", "--list-params-changes", "--lp", "--list-code-changes",
    "--archive", "--containerize", "--print-compilation", "--cleanup-metadata", "--version",
    "-v", "--help", "-h",
}  # fmt: skip
_held_run_lock: list = []


def is_run(argv: list[str]) -> bool:
    """Whether a Snakemake command line executes jobs (not a dry run, lint, report, listing).

    Short options may be grouped (``-np``); any group holding ``n`` is a dry run.
    """
    for word in argv[1:]:
        option = word.split("=", 1)[0]
        if option in READ_ONLY_OPTIONS:
            return False
        if word.startswith("-") and not word.startswith("--") and "n" in word[1:]:
            return False
    return True


def guard_the_run(argv: list[str], state_dir: str | Path = ".snakemake") -> None:
    """Refuse a second run in a folder where one is running; clear the locks of a killed one.

    Snakemake locks the output folder while it runs, but a run killed with ``kill -9`` (or a
    power loss) leaves its lock behind and the same command then stops until ``--unlock``. A run
    holds an ``flock`` on ``<state_dir>/exneuro-run.lock`` for its whole life. When this process
    can take it, no run is alive, so any Snakemake lock left in ``<state_dir>/locks`` belongs to
    a run that no longer exists and is removed: the same command resumes (outputs the killed jobs
    left half-written are redone: ``rerun-incomplete`` in the profile). When another run holds
    it, a run stops with one line saying so; a dry run, lint or report goes on (Snakemake lets
    them read a locked folder).
    """
    import fcntl

    from exneuro.errors import ConfigError

    if _held_run_lock:
        return
    running = is_run(argv)
    state = Path(state_dir)
    state.mkdir(exist_ok=True)
    handle = open(state / RUN_LOCK, "a+")  # noqa: SIM115 -- held open for the whole run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        if not running:
            return
        raise ConfigError(
            f"another run of this workflow is in progress in this folder ({owner}): wait for it "
            "to finish, or stop it, before starting a run here (a dry run, -n, is always "
            "possible)"
        ) from None
    stale = sorted((state / "locks").glob("*.lock")) if (state / "locks").is_dir() else []
    for lock in stale:
        lock.unlink()
    if stale:
        print("note: removed the locks of an interrupted run; resuming it", file=sys.stderr)
    if not running:
        handle.close()
        return
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()}\n")
    handle.flush()
    _held_run_lock.append(handle)


def run_command_line(main: Callable[..., None], description: str) -> None:
    """Run a ``shell:`` rule's entry point as :func:`run` runs a ``script:`` one.

    The command line carries ``--params`` (JSON object), ``--log`` and the outputs; ``main``
    receives an object with ``params``, ``output`` and ``log`` like Snakemake's.
    """
    import argparse
    import json
    from types import SimpleNamespace

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", required=True, help="the rule's params as a JSON object")
    parser.add_argument("--log", required=True)
    parser.add_argument("output", nargs="+")
    args = parser.parse_args()
    job = SimpleNamespace(
        params=SimpleNamespace(**json.loads(args.params)), output=args.output, log=[args.log]
    )
    run(job, main, job_process=True)


#: Captions of the report, relative to the rule files (``workflow/rules/``).
CAPTIONS = "../report"


def in_report(path: str, caption: str, category: str):
    """``path`` flagged for ``snakemake --report``, captioned by ``workflow/report/<caption>.rst``
    (a function here because ``report`` opens a directive in ``.smk`` files)."""
    from snakemake.io import report

    return report(path, caption=f"{CAPTIONS}/{caption}.rst", category=category)


def report_files(stem: str, formats: list[str], caption: str, category: str) -> list:
    """``stem.<format>`` for every format; the report shows one (PNG, else the first)."""
    shown = "png" if "png" in formats else formats[0]
    return [
        in_report(f"{stem}.{fmt}", caption, category) if fmt == shown else f"{stem}.{fmt}"
        for fmt in formats
    ]


#: Faults of the disk the results are written to: what happened, and what the user does.
STORAGE_FAULTS = {
    errno.ENOSPC: ("no space left on device", "free space"),
    errno.EDQUOT: ("disk quota exceeded", "free space or raise the quota"),
    errno.EROFS: ("the folder is read-only", "make it writable"),
    errno.EACCES: ("permission denied", "give this user write access to it"),
    errno.EPERM: ("permission denied", "give this user write access to it"),
}


def storage_fault(
    error: BaseException, outputs: Iterable[str], log: str | None = None
) -> str | None:
    """One line for a full, read-only or forbidden results folder, or None for another error.

    The fault is found on the error or on what caused it (a writer library may wrap the
    ``OSError``); it names the file the system names, else the job's output folder (``outputs``:
    the files the job writes). A forbidden file outside the folders of the outputs and the
    ``log`` is an input: the fix is read access. Snakemake removes the outputs of a failed
    job when it can (not from a folder turned read-only), and `rule all` asks for every output
    of every job, so the same command rebuilds whatever is missing once the cause is fixed.
    """
    outputs = [str(path) for path in outputs]
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in STORAGE_FAULTS:
            problem, fix = STORAGE_FAULTS[seen.errno]
            where = _as_seen(seen.filename) if seen.filename else output_folder(outputs)
            written = [*outputs, *([log] if log else [])]
            if seen.errno in (errno.EACCES, errno.EPERM) and not _written(where, written):
                fix = "give this user read access to it"
            return (
                f"{where}: {problem} — {fix} and rerun the same command; finished results are kept"
            )
        seen = seen.__cause__ or seen.__context__
    return None


def _as_seen(path: str | os.PathLike) -> str:
    """A path as the user sees it: relative to the project folder when inside it (a library
    may name the file it failed on by its absolute path)."""
    path = os.fspath(path)
    if os.path.isabs(path):
        inside = os.path.relpath(path)
        if not inside.startswith(os.pardir):
            return inside
    return path


def _written(path: str | os.PathLike, outputs: list[str]) -> bool:
    """Whether ``path`` is in (or is) the folder of one of ``outputs``."""
    target = Path(os.path.abspath(path))
    folders = {Path(os.path.abspath(os.path.dirname(out) or ".")) for out in outputs}
    return any(target == folder or folder in target.parents for folder in folders)


def output_folder(outputs: Iterable[str]) -> str:
    """The folder holding every output of a job (as the user sees it: relative)."""
    folders = [os.path.dirname(str(path)) or "." for path in outputs]
    return os.path.commonpath(folders) if folders else "the results folder"


def results_folder_fault(folder: str | Path) -> str | None:
    """One line when the results folder cannot be written (full, read-only, forbidden), else None.

    Checked when a run ends: Snakemake itself stops with its own words when it cannot create a
    job's output folder; this names the cause and the fix. A small probe file is written (4 KiB,
    so a full disk shows) and removed; a folder not created yet is no fault.
    """
    folder = Path(folder)
    probe = folder / ".exneuro-write-probe"
    if not folder.is_dir():
        return None
    try:
        with open(probe, "wb") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        return storage_fault(OSError(error.errno, error.strerror), [f"{folder}/"])
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


class StorageTracebackFilter(logging.Filter):
    """Snakemake's own traceback when it cannot write the results folder (e.g. it cannot remove
    a failed job's outputs from a folder turned read-only) becomes one line: the run's last line
    (:func:`report_results_folder_fault`) names the folder and the fix."""

    PATTERN = re.compile(r"(PermissionError|OSError): \[Errno (\d+)\] ([^\n]*)")

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        found = self.PATTERN.search(text) if "Traceback" in text else None
        if found and int(found.group(2)) in STORAGE_FAULTS:
            record.msg = f"Snakemake stopped: {found.group(3)}"
            record.args = ()
        return True


def quiet_storage_tracebacks() -> None:
    """Attach :class:`StorageTracebackFilter` to Snakemake's logger (the main process only)."""
    logging.getLogger("snakemake.logging").addFilter(StorageTracebackFilter())


def report_results_folder_fault(folder: str | Path) -> None:
    """Print :func:`results_folder_fault`'s line, if any, as the run's last words."""
    fault = results_folder_fault(folder)
    if fault:
        print(f"Error: {fault}", file=sys.stderr)


def _log_handlers(log: str | None) -> list[logging.Handler]:
    """stderr, and the job's log file when there is one (created with its folder)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log, mode="w", encoding="utf-8"))
    return handlers


def run(snakemake, main: Callable[..., None], *, job_process: bool | None = None) -> None:
    """Run ``main(snakemake)`` with logging to the job's log file and one-line errors.

    A problem with the user's data or config (:class:`ExneuroError`) is written to the log and to
    stderr as one line and ends the job with exit code 1. So is a full, read-only or forbidden
    results folder (:func:`storage_fault`): a log that cannot be written any more is skipped
    quietly. Any other exception (a bug, or an input no check foresaw) is one line on stderr
    too, naming the job's log, which keeps the full traceback (stderr gets it only when the job
    has no log). Lab tables are read with the study's ``lab_tables`` settings when the rule
    passes them as a param.

    A job stopped by Ctrl-C or SIGTERM removes what it wrote of its outputs
    (:func:`remove_outputs`) and ends with exit code 130. ``job_process`` says whether this
    process is a Snakemake job's own, to be ended without teardown once ``main`` has succeeded
    (:func:`end_job_process`); by default, when ``snakemake`` is the object Snakemake's preamble
    put in ``__main__``, so a test calling :func:`run` returns normally.
    """
    if job_process is None:
        job_process = getattr(sys.modules["__main__"], "snakemake", None) is snakemake
    outputs = list(getattr(snakemake, "output", []) or [])
    if job_process:
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        _run_logged(snakemake, main, outputs)
        if job_process:
            end_job_process()
    except KeyboardInterrupt:
        if job_process:  # a second signal must not cut the clean-up short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        remove_outputs(outputs)
        logging.getLogger("exneuro").error(
            "stopped before the end (Ctrl-C or a termination signal): what the job had written "
            "of its outputs is removed, so the next run redoes it"
        )
        if not job_process:
            raise
        sys.exit(130)


def _interrupt(signum, frame) -> None:
    """SIGTERM (``kill``, a scheduler's time limit) stops a job as Ctrl-C does: through
    :func:`run`'s clean-up, not at once."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def remove_outputs(outputs: Iterable[str]) -> None:
    """Remove what a stopped job wrote of its outputs: files, and output folders whole.

    Snakemake removes a job's outputs before it starts, so all that is there is the job's own,
    possibly half-written. Snakemake removes them too when it learns that the job failed, but
    only after it has cleared the job's "incomplete" mark: a Ctrl-C that stops Snakemake between
    the two would leave half-written outputs that the next run takes as finished.
    """
    for path in outputs:
        with contextlib.suppress(OSError):  # gone, or a folder turned read-only
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)


def _run_logged(snakemake, main: Callable[..., None], outputs: list[str]) -> None:
    """:func:`run`'s body: ``main`` with the job's logging and its one-line failures."""
    log = snakemake.log[0] if snakemake.log else None
    logging.raiseExceptions = False  # a full disk must not print a traceback per log line
    try:
        handlers = _log_handlers(log)
    except OSError as error:
        fault = storage_fault(error, [log], log)
        if fault is None:
            raise
        print(f"ERROR {fault}", file=sys.stderr)
        sys.exit(1)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(message)s", handlers=handlers, force=True
    )
    # the font subsetter's notes (one line per glyph table) are not the job's messages
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    from exneuro.lab_tables import using_table_format

    try:
        with using_table_format(getattr(getattr(snakemake, "params", None), "lab_tables", None)):
            main(snakemake)
    except ExneuroError as error:
        logging.getLogger("exneuro").error("%s", error)
        sys.exit(1)
    except Exception as error:
        fault = storage_fault(error, outputs, log)
        if fault is not None:
            logging.getLogger("exneuro").error("%s", fault)
            sys.exit(1)
        if not log:
            raise
        summary = (str(error).strip().splitlines() or [""])[0]
        logging.getLogger("exneuro").error(
            "unexpected %s: %s — not a message of this workflow: please report it with the "
            "traceback in %s",
            type(error).__name__,
            summary,
            log,
        )
        with open(log, "a", encoding="utf-8") as file:
            file.write(traceback.format_exc())
        sys.exit(1)


def end_job_process() -> None:
    """End a Snakemake job's process once its script has succeeded: flush and close the logs
    and the standard streams, then exit without the interpreter's teardown.

    The teardown frees every imported module and object one by one: 0.2-0.4 s of CPU per job
    (of 1.5-5 s), some 11 s over the example study's 42 jobs, for nothing, since the process
    ends. Every output is written and closed by then (the writers close their files), and
    Snakemake checks the outputs after the job. Only a job's own process reaches this
    (:func:`run`'s ``job_process``).
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
