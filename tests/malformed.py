"""The malformed-input corpus: one record per bad input a lab can hand the pipeline.

Every ``tests/test_malformed_<area>.py`` module lists its cases in ``CASES`` (a list of
:class:`Case`) and tests each: the exact message (or the QC flag) and that the raw files are
unchanged afterwards. ``tests/test_malformed_corpus.py`` counts the whole corpus by outcome.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: A case stops with one clear line naming the user's file, the place and the fix.
CLEAR_STOP = "clear stop"
#: A case runs on, and the problem is flagged in a QC table (and kept out of the statistics
#: where the policy says so).
FLAGGED = "handled and flagged"
OUTCOMES = (CLEAR_STOP, FLAGGED)

#: The treadmill readers' column mappings for a lab whose headers are the pipeline's own names
#: (the summary table's, then the stage log's), for the cases that break those files.
SUMMARY_COLUMNS = {
    "mouse": "mouse",
    "date": "date",
    "session": "session",
    "protocol": "protocol",
    "time_to_exhaustion": "time_to_exhaustion",
    "distance_m": "distance_m",
    "final_speed_m_min": "final_speed_m_min",
    "incline": "incline",
    "body_mass_g": "body_mass_g",
}
STAGE_COLUMNS = {
    "elapsed_s": "elapsed_s",
    "stage": "stage",
    "speed_m_min": "speed_m_min",
    "incline": "incline",
    "event": "event",
}


@dataclass(frozen=True)
class Case:
    """One malformed input: what it is, which input kind it breaks, what the user gets."""

    id: str
    kind: str
    outcome: str
    expected: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"case {self.id}: outcome must be one of {OUTCOMES}")
        if not self.expected:
            raise ValueError(f"case {self.id}: the expected message or flag is empty")


def digests(paths: Iterable[Path]) -> dict[Path, str]:
    """SHA-256 of every file under ``paths`` (files or folders), to prove raw data untouched."""
    found: dict[Path, str] = {}
    for path in map(Path, paths):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            found[file] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


def assert_one_line(message: str) -> None:
    """The user's message is one line, without a Python traceback."""
    assert "Traceback" not in message, message
    assert "\n" not in message.strip(), message
