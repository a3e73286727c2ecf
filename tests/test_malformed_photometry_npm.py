"""Malformed Neurophotometrics frames: LED states that are no bit field, fibres that cannot be
paired, empty fibre columns, blank lines and lost frames. Each stops with one line naming the file,
the line and the column, or is flagged in the anomaly table on the line of the user's file; the
raw file is never changed. The cases run at the reader the recording job calls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from malformed import CLEAR_STOP, FLAGGED, Case, assert_one_line, digests

from exneuro.errors import InputDataError
from exneuro.photometry.readers import read_photometry
from exneuro.simulate.photometry_files import write_npm

CASES = [
    Case(
        "photometry-npm-led-state-fraction",
        "npm",
        CLEAR_STOP,
        "{f} line 10, column 'LedState': unknown LED state '17.5' (expected 1=415 nm, 2=470 nm, "
        "4=560 nm plus I/O bits 8-512) — check that the column is the LED state of a "
        "Neurophotometrics file",
    ),
    Case(
        "photometry-npm-led-state-beyond-16-bits",
        "npm",
        CLEAR_STOP,
        "{f} line 21, column 'LedState': unknown LED state '65553' (expected 1=415 nm, 2=470 nm, "
        "4=560 nm plus I/O bits 8-512) — check that the column is the LED state of a "
        "Neurophotometrics file",
    ),
    Case(
        "photometry-npm-no-signal-frame-between-controls",
        "npm",
        CLEAR_STOP,
        "{f}, column 'LedState': region 'Region0G': no 470 nm frame has a 415 nm frame on both "
        "sides to take its control from — the recording is too short, or the LEDs were not "
        "interleaved",
    ),
    Case(
        "photometry-npm-empty-fibre-column",
        "npm",
        CLEAR_STOP,
        "{f}: no values in the fibre column(s) Region0G — check the column mapping under regions, "
        "or re-export the file",
    ),
    Case(
        "photometry-npm-blank-lines-before-a-clock-step",
        "npm",
        FLAGGED,
        "time goes back by 0.5 s at line 63 (from 2.9 to 2.4 s): the clock or the rows are out "
        "of order there, not a missing sample",
    ),
    Case(
        "photometry-npm-lost-frames",
        "npm",
        FLAGGED,
        "3 frame(s) missing: the frame counter jumps from 40 to 44",
    ),
]

CYCLES = 100  # 415/470 pairs at 20 frames/s: 10 s
WRITTEN: dict[str, dict] = {}


def _npm(folder: Path) -> Path:
    t = np.arange(CYCLES) / 10
    path, _ = write_npm(folder / "M1_d1.csv", None, 1000 + 50 * np.sin(t), 800 + 10 * t, 20.0)
    return path


def _edit(path: Path, edit: Callable[[list[str]], list[str]]) -> Path:
    """Rewrite the file's lines (line 1 is the header: ``lines[n - 1]`` is line n)."""
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


def _set_cell(lines: list[str], line: int, column: int, value: str) -> list[str]:
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)
    return lines


def _470_then_415_only(lines: list[str]) -> list[str]:
    """Three 470 nm frames, then only 415 nm frames: no 470 nm frame has a control before it."""
    for line in range(2, len(lines) + 1):
        _set_cell(lines, line, 2, "2" if line <= 4 else "1")
    return lines


def _stop(call: Callable[[], object]) -> str:
    with pytest.raises(InputDataError) as caught:
        call()
    return str(caught.value)


def _anomaly(path: Path, kind: str) -> str:
    recording = read_photometry(path, "neurophotometrics")["Region0G"]
    rows = recording.anomalies[recording.anomalies["kind"] == kind]
    assert len(rows) == 1, recording.anomalies
    return rows["detail"].iloc[0]


def run_case(case_id: str, folder: Path) -> tuple[Path, str]:
    """Build the case's file, record its digest, return the file and what the user sees."""
    path = _npm(folder)
    if case_id == "photometry-npm-led-state-fraction":
        _edit(path, lambda lines: _set_cell(lines, 10, 2, "17.5"))
    elif case_id == "photometry-npm-led-state-beyond-16-bits":
        _edit(path, lambda lines: _set_cell(lines, 21, 2, "65553"))  # 2**16 + 17
    elif case_id == "photometry-npm-no-signal-frame-between-controls":
        _edit(path, _470_then_415_only)
    elif case_id == "photometry-npm-empty-fibre-column":
        _edit(path, lambda lines: lines[:1] + [line.rsplit(",", 1)[0] + "," for line in lines[1:]])
    elif case_id == "photometry-npm-blank-lines-before-a-clock-step":
        # two blank lines after line 40, then the clock steps back at what is line 63 of the file
        _edit(path, lambda lines: _set_cell(lines[:40] + ["", ""] + lines[40:], 63, 1, "2.4"))
    elif case_id == "photometry-npm-lost-frames":
        _edit(path, lambda lines: lines[:41] + lines[44:])  # frames 41-43 lost
    else:
        raise KeyError(case_id)
    WRITTEN[case_id] = digests([path])
    if case_id == "photometry-npm-blank-lines-before-a-clock-step":
        return path, _anomaly(path, "time_backwards")
    if case_id == "photometry-npm-lost-frames":
        return path, _anomaly(path, "dropped_frames")
    return path, _stop(lambda: read_photometry(path, "neurophotometrics"))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_malformed_npm_frames(case, tmp_path):
    path, text = run_case(case.id, tmp_path)
    assert digests([path]) == WRITTEN.pop(case.id)  # the raw file is as the lab left it
    assert_one_line(text)
    assert text == case.expected.format(f=path)
