"""Malformed-input cases made of files and one call: the lab's file(s), written under a fresh
folder, and the reader or step the workflow's script calls on them.

The corpus modules of lab tables (``test_malformed_declared.py``, ``test_malformed_cellular.py``,
``test_malformed_rnaseq.py``, ``test_malformed_treadmill.py``) list ``(Case, Scenario)`` entries
made with :func:`stop` and :func:`flag`; their test runs each with :func:`check_scenario`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from malformed import CLEAR_STOP, FLAGGED, Case, assert_one_line, digests

from exneuro.errors import ExneuroError
from exneuro.lab_tables import using_table_format

#: A file's content: its text, its bytes, or a function writing it at the path given.
FileContent = str | bytes | Callable[[Path], None]


@dataclass(frozen=True)
class Scenario:
    """A case's files (name under the case folder -> text or bytes), the call the workflow's
    script makes (it raises for a stop, returns the flag for a flagged case) and the study's
    ``lab_tables`` settings."""

    files: dict[str, FileContent]
    call: Callable[[], object]
    lab_tables: dict | None = None


def stop(id: str, kind: str, expected: str, files, call, lab_tables=None):
    """A case that stops with the one line ``expected``."""
    return Case(id, kind, CLEAR_STOP, expected), Scenario(files, call, lab_tables)


def flag(id: str, kind: str, expected: str, files, call, lab_tables=None):
    """A case that runs on; its call returns the flag ``expected``."""
    return Case(id, kind, FLAGGED, expected), Scenario(files, call, lab_tables)


def write_files(root: Path, files: dict[str, FileContent]) -> list[Path]:
    """Write each file under ``root``; returns their paths."""
    paths = []
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


def check_scenario(case: Case, scenario: Scenario, tmp_path: Path, monkeypatch) -> None:
    """Run the case in ``tmp_path``: the exact one line (or flag), and the raw files unchanged."""
    monkeypatch.chdir(tmp_path)
    paths = write_files(tmp_path, scenario.files)
    before = digests(paths)
    with using_table_format(scenario.lab_tables):
        if case.outcome == CLEAR_STOP:
            with pytest.raises(ExneuroError) as raised:
                scenario.call()
            message = str(raised.value)
            assert_one_line(message)
            assert message == case.expected
        else:
            assert scenario.call() == case.expected
    assert digests(paths) == before
