"""The user's input files of the two-group study, written in a malformed-input case's folder
under the paths a user keeps them at (config, sample sheet, treadmill summary), and the steps the
workflow runs on them.

Used by ``test_malformed_config.py`` and ``test_malformed_treadmill.py`` (whose cases are
setups: each writes the bad input and returns the raw files and what the user gets) and by
``test_input_errors.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SCHEMAS
from malformed import CLEAR_STOP, Case, assert_one_line, digests

from exneuro.config import load_yaml, read_sample_sheet, validate_config
from exneuro.errors import ExneuroError
from exneuro.treadmill.pipeline import test_metrics as treadmill_metrics

CONFIG = "config/config.yaml"
SHEET = "config/samples.tsv"
SUMMARY = "data/summary.csv"
CONFIG_SCHEMA = load_yaml(SCHEMAS / "config.schema.yaml")
SHEET_SCHEMA = load_yaml(SCHEMAS / "samples.schema.yaml")
TWO_GROUP = REPO / "config" / "two_group" / "config.yaml"

#: A case's setup: given the case folder, it writes the bad input and returns the raw files and
#: a call giving what the user gets (the one line, or the flag).
Setup = Callable[[Path], tuple[list[Path], Callable[[], str]]]


def case_registry() -> tuple[list[Case], dict[str, Setup], Callable]:
    """A module's ``CASES``, their setups by case id, and the decorator registering a setup."""
    cases: list[Case] = []
    setups: dict[str, Setup] = {}

    def case(name: str, kind: str, outcome: str, expected: str):
        "''Register a setup: it writes the bad input and returns (raw files, what the user gets).''"

        def register(setup):
            cases.append(Case(f"inputs-{name}", kind, outcome, expected))
            setups[f"inputs-{name}"] = setup
            return setup

        return register

    return cases, setups, case


def check_setup(case: Case, setup: Setup, tmp_path: Path, monkeypatch) -> None:
    """Run the case in ``tmp_path``: the exact one line (or flag), and the raw files unchanged."""
    monkeypatch.chdir(tmp_path)
    raw, user_gets = setup(tmp_path)
    before = digests(raw)
    got = user_gets()
    if case.outcome == CLEAR_STOP:
        assert_one_line(got)
    assert got == case.expected
    assert digests(raw) == before


def stop_message(action: Callable[[], object]) -> str:
    "''The one line the user gets; a case that runs through without stopping fails.''"
    try:
        action()
    except ExneuroError as error:
        return str(error)
    pytest.fail("the malformed input ran through without a message")


def write(path: str, text: str) -> list[Path]:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")
    return [Path(path)]


def two_group_config() -> dict:
    config = validate_config(load_yaml(TWO_GROUP), CONFIG_SCHEMA, CONFIG)
    config["samples"] = SHEET
    return config


def sheet_frame() -> pd.DataFrame:
    return pd.read_csv(
        REPO / "config" / "two_group" / "samples.tsv", sep="\t", dtype=str, keep_default_na=False
    )


def excel_with_title(frame: pd.DataFrame, path: str) -> None:
    "''The sheet as a lab exports it from Excel: a title row and a blank row above the header.''"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["Cohort 2 — mice and groups"]]).to_excel(writer, header=False, index=False)
        frame.to_excel(writer, index=False, startrow=2)


def summary_files(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> list[Path]:
    "''The two-group study's summary table as CSV text (edited) and its sample sheet.''"
    raw = pd.read_excel(
        REPO / "data" / "example_two_group" / "treadmill" / "endurance_log.xlsx",
        dtype=str,
        keep_default_na=False,
    )
    files = write(SUMMARY, edit(raw).to_csv(index=False))
    if not Path(SHEET).exists():
        files += write(SHEET, sheet_frame().to_csv(sep="\t", index=False))
    return files


def run_summary_study(**settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    config = two_group_config()
    config["study"].update(settings.pop("study", {}))
    treadmill = {**config["treadmill"], "summary_table": SUMMARY, **settings}
    from exneuro.treadmill.plausibility import fill_plausible_ranges

    treadmill["plausible_ranges"] = dict.fromkeys(treadmill["plausible_ranges"])
    assert not fill_plausible_ranges(treadmill, config["study"]["species"])
    sheet = read_sample_sheet(SHEET, SHEET_SCHEMA, config)
    return treadmill_metrics(SUMMARY, [], sheet, treadmill, sheet_path=SHEET)


def set_cell(row: int, column: str, value: str):
    def edit(frame):
        frame.loc[row, column] = value
        return frame

    return edit


FIX = (
    "correct the value, widen treadmill.plausible_ranges.{} if it is right, or set "
    "treadmill.implausible: flag to exclude such tests from the statistics"
)
