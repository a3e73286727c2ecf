"""A job script's process: figure jobs start without the model-fitting stack; a job ends as soon
as its script has succeeded, with its outputs and log written, and skips the interpreter's
teardown; called from a test, the same entry point returns."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
from conftest import REPO

from exneuro.workflow import run

#: Every module a figure job's script imports (paper figures and each modality's figures).
FIGURE_JOB_MODULES = [
    "exneuro.paper.compose",
    "exneuro.paper.panels",
    "exneuro.figures.ephys",
    "exneuro.figures.photometry",
    "exneuro.figures.rnaseq",
    "exneuro.figures.rnaseq_genes",
    "exneuro.figures.rnaseq_qc",
    "exneuro.figures.superplot",
    "exneuro.figures.tables",
    "exneuro.figures.treadmill",
    "exneuro.rnaseq.summary",
    "exneuro.tables.design",
    "exneuro.model_factors",
    "exneuro.config",
    "exneuro.io",
]
#: What fitting models needs and drawing does not: about a second of start-up per process.
MODEL_FITTING_STACK = ["statsmodels", "formulaic", "patsy", "scipy.stats"]


def test_figure_jobs_start_without_the_model_fitting_stack():
    code = (
        f"import sys, {', '.join(FIGURE_JOB_MODULES)}; "
        f"print(' '.join(m for m in {MODEL_FITTING_STACK!r} if m in sys.modules))"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )
    assert result.stdout.strip() == ""


def _write_output(job) -> None:
    import logging

    logging.getLogger("exneuro").info("table written")
    with open(job.output[0], "w", encoding="utf-8") as file:
        file.write("done\n")


def test_a_job_script_ends_once_done_with_its_output_and_log_written(tmp_path):
    log, output = tmp_path / "logs" / "job.log", tmp_path / "table.tsv"
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import atexit
            import logging
            from types import SimpleNamespace

            from exneuro.workflow import run

            atexit.register(lambda: print("teardown ran"))
            snakemake = SimpleNamespace(log=[{str(log)!r}], output=[{str(output)!r}])

            def main(job):
                logging.getLogger("exneuro").info("table written")
                with open(job.output[0], "w", encoding="utf-8") as file:
                    file.write("done\\n")

            run(snakemake, main)
            print("after run")
            """
        )
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=environment, check=False
    )
    assert result.returncode == 0, result.stderr
    assert output.read_text() == "done\n"
    assert log.read_text() == "INFO table written\n"
    assert result.stderr == "INFO table written\n"
    assert result.stdout == ""  # neither the code after run() nor the teardown ran


def test_run_called_from_other_code_returns(tmp_path):
    log, output = tmp_path / "job.log", tmp_path / "table.tsv"
    job = SimpleNamespace(log=[str(log)], output=[str(output)])
    assert run(job, _write_output) is None
    assert output.read_text() == "done\n"
    assert log.read_text() == "INFO table written\n"


def _stopped_job(tmp_path, stop: str):
    """A job script that writes a table and a folder of its outputs, then is stopped by
    ``stop`` (a signal's name) before it ends."""
    outputs = [tmp_path / "table.tsv", tmp_path / "source_data"]
    log = tmp_path / "job.log"
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os
            import signal
            import time
            from pathlib import Path
            from types import SimpleNamespace

            from exneuro.workflow import run

            snakemake = SimpleNamespace(log=[{str(log)!r}], output={[str(p) for p in outputs]!r})

            def main(job):
                Path(job.output[0]).write_text("half\\n")
                Path(job.output[1]).mkdir()
                Path(job.output[1], "panel_A.tsv").write_text("x\\n")
                os.kill(os.getpid(), signal.{stop})
                time.sleep(10)
                Path(job.output[1], "panel_B.tsv").write_text("x\\n")

            run(snakemake, main)
            """
        )
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=environment, timeout=60
    )
    return result, outputs, log


def test_a_job_stopped_by_ctrl_c_or_sigterm_removes_what_it_wrote(tmp_path):
    """Snakemake clears a failed job's "incomplete" mark before it removes the job's outputs; a
    Ctrl-C that stops Snakemake between the two must not leave half-written outputs that the
    next run would take as finished. So the job removes them itself, files and folders."""
    for stop in ("SIGINT", "SIGTERM"):
        folder = tmp_path / stop
        folder.mkdir()
        result, outputs, log = _stopped_job(folder, stop)
        assert result.returncode == 130, (stop, result.stderr)
        assert not any(path.exists() for path in outputs), stop
        assert "Traceback" not in result.stderr
        assert "stopped before the end" in log.read_text(), stop


def test_a_stopped_run_called_from_other_code_is_interrupted_after_the_clean_up(tmp_path):
    output = tmp_path / "table.tsv"

    def interrupted(job):
        output.write_text("half\n")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(SimpleNamespace(log=[str(tmp_path / "job.log")], output=[str(output)]), interrupted)
    assert not output.exists()
