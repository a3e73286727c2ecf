"""Each rule's code digest covers the library code its script runs: the imports found by reading
the source (``exneuro.code_digest``) contain every module an import of the script loads, and an
edit reruns the jobs whose scripts reach the edited code, and only those."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO
from test_workflow import copy_project, planned_jobs, snakemake

from exneuro.code_digest import (
    PACKAGE_ROOT,
    imported_modules,
    library_files,
    module_closure,
    script_files,
)

SCRIPTS = sorted((REPO / "scripts").glob("*.py"))
TWO_GROUP = "config/two_group/config.yaml"


def library_names(files) -> set[str]:
    """Library files as paths inside the package (``stats/table.py``); a file outside it (the
    script itself) is left out."""
    return {
        path.resolve().relative_to(PACKAGE_ROOT).as_posix()
        for path in files
        if path.resolve().is_relative_to(PACKAGE_ROOT)
    }


def test_imports_are_resolved_as_python_resolves_them():
    source = textwrap.dedent(
        '''
        """A docstring: the lines below import the figure code."""
        import numpy as np
        from . import style
        from ..stats import (
            table,
            posthoc,
        )
        from exneuro.io import read_table


        def draw():
            import exneuro.figures.legend as legend  # lazy: runs when draw() does
            from exneuro.paper import *
        '''
    )
    found = imported_modules(source, "exneuro.figures.treadmill")
    assert found == {
        "exneuro",
        "exneuro.figures",
        "exneuro.figures.style",
        "exneuro.stats",
        "exneuro.stats.table",
        "exneuro.stats.posthoc",
        "exneuro.io",  # read_table is a function of it, not a module
        "exneuro.figures.legend",
        "exneuro.paper",
    }


def test_relative_imports_of_a_package_start_from_the_package_itself():
    assert imported_modules("from .table import concat_stats\n", "exneuro.stats") == {
        "exneuro",
        "exneuro.stats",
        "exneuro.stats.table",
    }


def test_a_file_that_only_parses_whole_is_parsed_whole():
    # a backslash continuation and prose starting with "import" at the start of a line
    source = 'from exneuro.stats import \\\n    mixed\n"""\nimport the tables first\n"""\n'
    assert "exneuro.stats.mixed" in imported_modules(source)


def test_source_that_does_not_compile_gives_the_imports_found_line_by_line():
    # the job running it fails with Python's message; planning the workflow does not
    source = "from exneuro.stats import mixed\nimport the tables\ndef broken(:\n"
    assert imported_modules(source) == {"exneuro", "exneuro.stats", "exneuro.stats.mixed"}


def test_closure_follows_imports_through_other_modules():
    # model_factors reaches the mixed-model engine through stats.mixed
    closure = module_closure({"exneuro.model_factors"})
    assert {"exneuro.stats.mixed", "exneuro.stats.lmm_fit", "exneuro.stats"} <= closure
    assert "exneuro.figures.style" not in closure


def test_paper_figure_digest_covers_the_statistics_and_analysis_code_it_runs():
    files = library_names(script_files(REPO / "scripts" / "paper_figure.py"))
    # the figure checker reads the statistics table; the panels fit and label models
    assert {"stats/table.py", "figures/checks.py", "stats/mixed.py", "model_factors.py"} <= files
    # and the analyses' own code the panels call (every modality the paper can draw)
    assert {"treadmill/metrics.py", "cellular/ephys.py", "rnaseq/summary.py"} <= files
    assert {"tables/design.py", "figures/photometry.py"} <= files
    assert "figures/fonts/LiberationSans-Regular.ttf" in files  # the fonts change figure bytes
    assert "simulate/study.py" not in files  # the simulator never runs in a job


def test_package_data_belongs_to_the_modules_that_read_it():
    figure = library_names(script_files(REPO / "scripts" / "treadmill_figure.py"))
    statistics = library_names(script_files(REPO / "scripts" / "treadmill_statistics.py"))
    de = library_names(script_files(REPO / "scripts" / "rnaseq_de.py"))
    assert "figures/fonts/LiberationSans-Bold.ttf" in figure
    assert not any(name.startswith("figures/fonts/") for name in statistics)
    assert "rnaseq/deseq2_prior_simulation.tsv.gz" in de
    assert "rnaseq/deseq2_prior_simulation.tsv.gz" not in statistics


def test_shell_entry_script_digest_covers_the_script_and_the_recording_chain():
    script = REPO / "scripts" / "photometry_session.py"
    files = script_files(script)
    assert files[0] == script  # a shell rule's own trigger does not hash the script
    names = library_names(files)
    assert {"photometry/recording_job.py", "photometry/preprocess.py"} <= names
    assert "figures/photometry_qc.py" in names  # each recording draws its QC figure


def test_library_files_are_every_module_and_data_file():
    names = library_names(library_files())
    assert {"code_digest.py", "simulate/study.py", "figures/fonts/LICENSE"} <= names
    assert not any("__pycache__" in name for name in names)


#: Imports each script's top-level imports in a child process of its own (forked after the
#: third-party libraries are loaded) and prints the library files then loaded, per script.
LOADED_BY_IMPORTS = r"""
import ast, json, os, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot, numpy, pandas, scipy.stats

loaded = {}
for script in sys.argv[1:]:
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(read)
        try:
            tree = ast.parse(open(script, encoding="utf-8").read())
            body = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
            exec(compile(ast.Module(body=body, type_ignores=[]), script, "exec"), {})
            files = sorted(
                module.__file__
                for name, module in list(sys.modules.items())
                if name.split(".")[0] == "exneuro" and getattr(module, "__file__", None)
            )
        except Exception as error:
            files = {"error": repr(error)}
        with os.fdopen(write, "w") as pipe:
            pipe.write(json.dumps(files))
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        loaded[script] = json.loads(pipe.read())
    os.wait()
print(json.dumps(loaded))
"""


@pytest.fixture(scope="module")
def loaded_by_imports() -> dict[str, list[str]]:
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-c", LOADED_BY_IMPORTS, *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_digest_covers_every_library_module_the_script_loads(script, loaded_by_imports):
    loaded = loaded_by_imports[str(script)]
    assert isinstance(loaded, list), loaded  # else the error the imports raised
    names = library_names(map(Path, loaded))
    assert len(names) == len(loaded) and {"__init__.py", "workflow.py", "errors.py"} <= names
    missed = names - library_names(script_files(script))
    assert not missed, f"{script.name} loads {sorted(missed)}, which its digest omits"


@pytest.fixture(scope="module")
def ran_copy(tmp_path_factory) -> Path:
    """A copy of the project in which the two-group study has been run once."""
    root = copy_project(tmp_path_factory.mktemp("project"))
    result = snakemake("--cores", "2", "--configfile", TWO_GROUP, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def jobs_after_edit(root: Path, library_file: str, edit: bytes) -> set[str]:
    """The rules a dry run plans after ``edit`` is appended to a library file (then restored)."""
    path = root / "src" / "exneuro" / library_file
    original = path.read_bytes()
    path.write_bytes(original + edit)
    try:
        return set(planned_jobs("--configfile", TWO_GROUP, cwd=root))
    finally:
        path.write_bytes(original)


def test_edited_statistics_module_reruns_the_figures_that_draw_its_numbers(ran_copy):
    # the statistics table's columns, read by the statistics jobs and by the figure checker
    jobs = jobs_after_edit(ran_copy, "stats/table.py", b"\n# a change\n")
    assert jobs == {
        "treadmill_statistics",
        "statistics_table",
        "treadmill_figure",
        "paper_figure",
        "provenance",  # records the whole library's digest
        "all",
    }


def test_edited_figure_module_reruns_no_statistics_job(ran_copy):
    jobs = jobs_after_edit(ran_copy, "figures/marks.py", b"\n# a change\n")
    assert jobs == {"treadmill_figure", "paper_figure", "provenance", "all"}


def test_changed_bundled_font_rerenders_the_figures_only(ran_copy):
    jobs = jobs_after_edit(ran_copy, "figures/fonts/LiberationSans-Regular.ttf", b"\0")
    assert jobs == {"treadmill_figure", "paper_figure", "provenance", "all"}


def test_edited_simulator_reruns_no_analysis(ran_copy):
    jobs = jobs_after_edit(ran_copy, "simulate/study.py", b"\n# a change\n")
    assert jobs == {"provenance", "all"}


def test_rule_passing_another_scripts_digest_stops_with_one_line(tmp_path):
    root = copy_project(tmp_path)
    rules = root / "workflow" / "rules" / "paper.smk"
    text = rules.read_text()
    own = 'code=script_code("../../scripts/paper_figure.py")'
    assert own in text
    rules.write_text(text.replace(own, 'code=script_code("../../scripts/treadmill_figure.py")'))
    result = snakemake("-n", "--cores", "1", "--configfile", TWO_GROUP, cwd=root)
    assert result.returncode == 1
    assert (
        "Error: workflow/rules/paper.smk: rule 'paper_figure' runs ../../scripts/paper_figure.py "
        "but its params do not pass its code digest: add "
        'code=script_code("../../scripts/paper_figure.py")'
    ) in result.stderr
    assert "Traceback" not in result.stderr


def test_digest_of_a_missing_script_stops_with_one_line(tmp_path):
    root = copy_project(tmp_path)
    rules = root / "workflow" / "rules" / "paper.smk"
    own = 'script_code("../../scripts/paper_figure.py")'
    rules.write_text(rules.read_text().replace(own, 'script_code("../../scripts/paper.py")'))
    result = snakemake("-n", "--cores", "1", "--configfile", TWO_GROUP, cwd=root)
    assert result.returncode == 1
    expected = 'Error: script_code("../../scripts/paper.py"): there is no file scripts/paper.py'
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
