"""Shared fixtures: the repository root, the schemas, the example config, a copy of the project
and the two-group study run once; and how the tests are shared out between parallel workers.

``make test`` runs the fast tier on two workers (pytest-xdist, ``-n 2``; the pyproject sets
``--dist loadfile --no-loadscope-reorder``). A worker receives whole modules, so a module's
fixtures are built once, on one worker; the modules listed in ``SAME_WORKER`` go to one worker
together (they read one study run, or run full studies, never two at once); and the modules that
run workflows are handed out first, so that the longest runs do not start last.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from exneuro import project_copy
from exneuro.config import load_yaml, validate_config
from exneuro.config_files import load_config

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "workflow" / "schemas"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
#: Test modules that must run on the same worker (pytest-xdist): those reading the one run of the
#: two-group study, and those with full-study (``e2e``) tests, so that two never run at once.
SAME_WORKER = {
    "tests/test_workflow.py": "two-group study",
    "tests/test_malformed_faults.py": "two-group study",
    "tests/test_example_study.py": "full studies",
    "tests/test_benchmarks.py": "full studies",
    "tests/test_photometry_batches.py": "full studies",
}


def snakemake(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, check=False)


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by its path relative to it, with its bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def copy_project(root: Path) -> Path:
    """Copy the project's own files (no results, no environment) into ``root``."""
    return project_copy.copy_project(REPO, root)


@pytest.fixture(scope="session")
def config_schema() -> dict:
    return load_yaml(SCHEMAS / "config.schema.yaml")


@pytest.fixture(scope="session")
def sheet_schema() -> dict:
    return load_yaml(SCHEMAS / "samples.schema.yaml")


@pytest.fixture(scope="session")
def raw_example_config() -> dict:
    return load_config(REPO / "config" / "config.yaml")


@pytest.fixture()
def example_config(raw_example_config, config_schema) -> dict:
    """The validated example config (a fresh copy per test)."""
    return validate_config(copy.deepcopy(raw_example_config), config_schema, "config/config.yaml")


@dataclass(frozen=True)
class StudyRun:
    root: Path  #: the copy of the project it ran in
    results: dict[str, bytes]  #: every file under ``results/``, as the run wrote it, by path


@pytest.fixture(scope="session")
def two_group_study(tmp_path_factory) -> StudyRun:
    """The two-group study run once, from scratch, in a copy of the project, as a user runs it.
    The workflow tests go on to change its folder (edited configs, reruns); ``results`` keeps
    what the first run wrote."""
    root = copy_project(tmp_path_factory.mktemp("two_group_study"))
    result = snakemake("--cores", "2", "--configfile", "config/two_group/config.yaml", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return StudyRun(root, files_under(root / "results"))


def _worker_scope(nodeid: str) -> str:
    """The unit of work a worker receives: the test's module, or its ``SAME_WORKER`` group."""
    module = nodeid.split("::", 1)[0]
    return SAME_WORKER.get(module, module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """With ``--dist loadfile``: whole modules per worker, the ``SAME_WORKER`` ones together."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _worker_scope(nodeid)

    return ModulesTogether(config, log)


def _check_same_worker(item: pytest.Item) -> None:
    """A full-study test, or a test reading the shared two-group run, in a module not listed in
    ``SAME_WORKER`` would run beside its peers on the other worker: stop the collection."""
    module = item.nodeid.split("::", 1)[0]
    for needed, group in (
        (item.get_closest_marker("e2e") is not None, "full studies"),
        ("two_group_study" in item.fixturenames, "two-group study"),
    ):
        if needed and SAME_WORKER.get(module) != group:
            raise pytest.UsageError(
                f"{item.nodeid}: add '{module}': '{group}' to SAME_WORKER in tests/conftest.py"
            )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check ``SAME_WORKER``; on a pytest-xdist worker, order the units of work that run
    workflows (most ``slow`` tests first) before the others; within a unit the order of the tests
    is kept. A serial run keeps the modules' order."""
    for item in items:
        _check_same_worker(item)
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    scope = {item: _worker_scope(item.nodeid) for item in items}
    position = {item: index for index, item in enumerate(items)}
    first: dict[str, int] = {}
    slow: dict[str, int] = {}
    for item in items:
        first.setdefault(scope[item], position[item])
        slow[scope[item]] = slow.get(scope[item], 0) + bool(item.get_closest_marker("slow"))
    items.sort(key=lambda item: (-slow[scope[item]], first[scope[item]], position[item]))
