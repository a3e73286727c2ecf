"""A copy of the project's own files — what a fresh clone holds, without results or
environment — for the test suite and the benchmarks, which run studies in a copy."""

from __future__ import annotations

import shutil
from pathlib import Path

#: The project's own files and folders, relative to its root.
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


def copy_project(source: Path, target: Path) -> Path:
    """Copy the project at ``source`` (its :data:`PROJECT_PARTS`) into ``target``; returns it."""
    target.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        if (source / part).is_dir():
            shutil.copytree(
                source / part, target / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(source / part, target / part)
    return target
