"""A job script's process: figure jobs start without the model-fitting stack; a job ends as soon
as its script has succeeded, with its outputs and log written, and skips the interpreter's
teardown; called from a test, the same entry point returns."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

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
