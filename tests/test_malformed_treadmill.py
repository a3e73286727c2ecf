"""Malformed treadmill inputs: implausible values in the summary table and the stage logs
(units slipped, typos, a typed distance the protocol contradicts), each stopping with one line or
flagged in the QC table and kept out of the statistics, and damaged treadmill files stopping at
the reader; the raw files are never changed.

The value cases run the treadmill metrics step on the two-group study's summary table, or on
two mice of the example study with metrics from their stage logs, from a folder holding the
user's files under relative paths, as a user runs the workflow.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO
from malformed import CLEAR_STOP, FLAGGED, STAGE_COLUMNS, SUMMARY_COLUMNS, Case
from malformed_files import check_scenario, flag, stop
from study_inputs import (
    CONFIG,
    CONFIG_SCHEMA,
    FIX,
    SHEET,
    SHEET_SCHEMA,
    SUMMARY,
    case_registry,
    check_setup,
    run_summary_study,
    set_cell,
    sheet_frame,
    stop_message,
    summary_files,
    write,
)

from exneuro.config import read_sample_sheet, validate_config
from exneuro.config_files import load_config
from exneuro.treadmill.pipeline import test_metrics as treadmill_metrics
from exneuro.treadmill.readers import read_stage_log, read_summary_table

LOGS = "data/logs/{mouse}_{session}.csv"

SETUP_CASES, SETUPS, case = case_registry()


@case(
    "sheet-unknown-mouse-names-the-users-sheet",
    "sample sheet",
    CLEAR_STOP,
    "data/summary.csv line 6: mouse 'M002' is not in the sample sheet config/samples.tsv — add "
    "the mouse to config/samples.tsv or remove the row",
)
def _(tmp):
    raw = summary_files(lambda frame: frame)
    raw += write(SHEET, sheet_frame().drop(index=1).to_csv(sep="\t", index=False))
    return raw, lambda: stop_message(run_summary_study)


# --- treadmill summary (two-group study: summary source, times in minutes, distances typed) -----


def summary_case(name, edit, expected, **settings):
    case(name, "treadmill summary", CLEAR_STOP, expected)(
        lambda tmp: (
            summary_files(edit),
            lambda: stop_message(lambda: run_summary_study(**settings)),
        )
    )


summary_case(
    "summary-body-mass-in-kg",
    set_cell(3, "Weight (g)", "0.0241"),
    "data/summary.csv line 5 (mouse M001, session week3), column 'Weight (g)': body mass 0.0241 "
    "g is outside the plausible range 10–80 g; it looks like kilograms: enter grams (24.1) — "
    + FIX.format("body_mass_g"),
)
summary_case(
    "summary-body-mass-negative",
    set_cell(3, "Weight (g)", "-24.1"),
    "data/summary.csv line 5 (mouse M001, session week3), column 'Weight (g)': body mass -24.1 g "
    "is outside the plausible range 10–80 g (a body mass is positive) — "
    + FIX.format("body_mass_g"),
)
summary_case(
    "summary-body-mass-zero",
    set_cell(7, "Weight (g)", "0"),
    "data/summary.csv line 9 (mouse M002, session week3), column 'Weight (g)': body mass 0 g is "
    "outside the plausible range 10–80 g (a body mass is positive) — " + FIX.format("body_mass_g"),
)
summary_case(
    "summary-rat-mass-in-a-mouse-study",
    set_cell(10, "Weight (g)", "312"),
    "data/summary.csv line 12 (mouse M003, session week2), column 'Weight (g)': body mass 312 g "
    "is outside the plausible range 10–80 g — " + FIX.format("body_mass_g"),
)
summary_case(
    "summary-minutes-read-as-seconds",
    lambda frame: frame,
    "data/summary.csv line 2 (mouse M001, session week0), column 'Run time (min)': time to "
    "exhaustion 24.72 s is outside the plausible range 60–14400 s; it looks like minutes: set "
    "treadmill.time_to_exhaustion_unit: min — " + FIX.format("time_to_exhaustion_s"),
    time_to_exhaustion_unit="s",
)
summary_case(
    "summary-seconds-read-as-minutes",
    set_cell(0, "Run time (min)", "1483"),
    "data/summary.csv line 2 (mouse M001, session week0), column 'Run time (min)': time to "
    "exhaustion 88980 s is outside the plausible range 60–14400 s; it looks like seconds: set "
    "treadmill.time_to_exhaustion_unit: s — " + FIX.format("time_to_exhaustion_s"),
)
summary_case(
    "summary-distance-in-km",
    set_cell(5, "Distance run (m)", "0.6565"),
    "data/summary.csv line 7 (mouse M002, session week1), column 'Distance run (m)': distance "
    "0.6565 m is outside the plausible range 10–10000 m; it looks like kilometres: enter metres "
    "(656.5) — " + FIX.format("distance_m"),
)
summary_case(
    "summary-typed-distance-disagrees",
    set_cell(5, "Distance run (m)", "965.5"),
    "data/summary.csv line 7 (mouse M002, session week1), column 'Distance run (m)': the typed "
    "distance 965.5 m differs from the 613.6 m that the typed time to exhaustion (1827 s, "
    "time_to_exhaustion_unit: min) gives on protocol 'gxt'; check the unit and the protocol's "
    "stages — correct the value, raise treadmill.cross_check_tolerance if it is right, or set "
    "treadmill.implausible: flag to exclude such tests from the statistics",
)
summary_case(
    "summary-final-speed-in-km-h",
    set_cell(4, "Top speed (m/min)", "1.9"),
    "data/summary.csv line 6 (mouse M002, session week0), column 'Top speed (m/min)': speed at "
    "exhaustion 1.9 m/min is outside the plausible range 5–100 m/min; it looks like km/h or m/s: "
    "enter m/min — " + FIX.format("speed_m_min"),
)
summary_case(
    "summary-final-speed-absurd",
    set_cell(4, "Top speed (m/min)", "320"),
    "data/summary.csv line 6 (mouse M002, session week0), column 'Top speed (m/min)': speed at "
    "exhaustion 320 m/min is outside the plausible range 5–100 m/min — "
    + FIX.format("speed_m_min"),
)


summary_case(
    "summary-distance-absurd",
    set_cell(5, "Distance run (m)", "65650"),
    "data/summary.csv line 7 (mouse M002, session week1), column 'Distance run (m)': distance "
    "65650 m is outside the plausible range 10–10000 m — correct the value, widen "
    "treadmill.plausible_ranges.distance_m if it is right, or set treadmill.implausible: flag to "
    "exclude such tests from the statistics",
)


def flagged_row(tests: pd.DataFrame, qc: pd.DataFrame) -> str:
    "''The QC row of the implausible value, after checking its test is out of the statistics.''"
    rows = qc[qc["check"] == "implausible value"]
    assert len(rows) == 1, rows
    row = rows.iloc[0]
    test = tests[(tests["mouse"] == row["mouse"]) & (tests["session"] == row["session"])]
    assert test["excluded"].tolist() == [True]
    assert test["exclusion_reason"].iloc[0].startswith("implausible value: ")
    assert tests["excluded"].sum() == 1
    return f"{row['mouse']} {row['session']}: {row['detail']} [{row['action']}]"


@case(
    "summary-body-mass-in-kg-flagged",
    "treadmill summary",
    FLAGGED,
    "M002 week2: data/summary.csv line 8, column 'Weight (g)': body mass 0.0215 g is outside the "
    "plausible range 10–80 g; it looks like kilograms: enter grams (21.5) [excluded from "
    "statistics and figures]",
)
def _(tmp):
    raw = summary_files(set_cell(6, "Weight (g)", "0.0215"))
    return raw, lambda: flagged_row(*run_summary_study(implausible="flag"))


@case(
    "summary-body-mass-negative-flagged",
    "treadmill summary",
    FLAGGED,
    "M004 week1: data/summary.csv line 15, column 'Weight (g)': body mass -23.4 g is outside the "
    "plausible range 10–80 g (a body mass is positive) [excluded from statistics and figures]",
)
def _(tmp):
    raw = summary_files(set_cell(13, "Weight (g)", "-23.4"))
    return raw, lambda: flagged_row(*run_summary_study(implausible="flag"))


summary_case(
    "summary-minutes-read-as-seconds-all-flagged",
    lambda frame: frame,
    "data/summary.csv: every test of group 'control' in cohort 'stimulation_replication' is "
    "excluded (28 tests; the first: implausible value: time to exhaustion 24.72 s is outside the "
    "plausible range 60–14400 s; it looks like minutes: set treadmill.time_to_exhaustion_unit: "
    "min) — correct the values or the exclusions: the statistics need each group's tests",
    time_to_exhaustion_unit="s",
    implausible="flag",
)


@case(
    "summary-typed-distance-disagrees-flagged",
    "treadmill summary",
    FLAGGED,
    "M003 week0: data/summary.csv line 10, column 'Distance run (m)': the typed distance 55.3 m "
    "differs from the 389.4 m that the typed time to exhaustion (1426.8 s, "
    "time_to_exhaustion_unit: "
    "min) gives on protocol 'gxt'; check the unit and the protocol's stages [excluded from "
    "statistics and figures]",
)
def _(tmp):
    raw = summary_files(set_cell(8, "Distance run (m)", "55.3"))
    return raw, lambda: flagged_row(*run_summary_study(implausible="flag"))


@case(
    "summary-mouse-masses-in-a-rat-study",
    "treadmill summary",
    CLEAR_STOP,
    "data/summary.csv line 2 (mouse M001, session week0), column 'Weight (g)': body mass 19.7 g "
    "is outside the plausible range 50–1000 g — " + FIX.format("body_mass_g"),
)
def _(tmp):
    raw = summary_files(lambda frame: frame)
    return raw, lambda: stop_message(
        lambda: run_summary_study(study={"species": "Rattus norvegicus"})
    )


# --- treadmill stage logs (two mice of the example study, metrics from the logs) ----------------


def stage_log_files(edit_log: Callable[[list[str]], None] | None = None) -> list[Path]:
    """Sheet, summary and stage logs of a control (M002) and a silenced mouse (M009) of the
    example's silencing cohort; ``edit_log`` edits M002's d6 log."""
    sheet = pd.read_csv(REPO / "config" / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    files = write(
        SHEET, sheet[sheet["mouse_id"].isin(["M002", "M009"])].to_csv(sep="\t", index=False)
    )
    lines = (
        (REPO / "data" / "example" / "treadmill" / "endurance_tests.csv").read_text().splitlines()
    )
    kept = [lines[0], *(line for line in lines[1:] if line.split(",")[0] in {"M002", "M009"})]
    files += write(SUMMARY, "\n".join(kept) + "\n")
    for source in sorted(
        (REPO / "data" / "example" / "treadmill" / "stage_logs").glob("M00[29]_*")
    ):
        target = Path(
            LOGS.format(mouse=source.stem.split("_")[0], session=source.stem.split("_")[1])
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        files.append(target)
    if edit_log:
        log = Path(LOGS.format(mouse="M002", session="d6"))
        text = log.read_text().splitlines()
        edit_log(text)
        log.write_text("\n".join(text) + "\n")
    return files


def run_log_study(**settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    config = validate_config(load_config(REPO / CONFIG), CONFIG_SCHEMA, CONFIG)
    treadmill = {**config["treadmill"], "summary_table": SUMMARY, "stage_logs": LOGS, **settings}
    config["samples"] = SHEET
    sheet = read_sample_sheet(SHEET, SHEET_SCHEMA, config)
    logs = sorted(str(p) for p in Path("data/logs").glob("*.csv"))
    return treadmill_metrics(SUMMARY, logs, sheet, treadmill, sheet_path=SHEET)


def rescale_column(position: int, factor: float):
    "''Multiply one column of every data row of a stage log (after its # header and header).''"

    def edit(lines):
        for index, line in enumerate(lines):
            cells = line.split(",")
            if line.startswith("#") or cells[0] == "elapsed_s":
                continue
            cells[position] = f"{float(cells[position]) * factor:g}"
            lines[index] = ",".join(cells)

    return edit


def log_case(name, edit, expected, outcome=CLEAR_STOP, **settings):
    def setup(tmp):
        files = stage_log_files(edit)
        if outcome == FLAGGED:
            return files, lambda: flagged_row(*run_log_study(**settings))
        return files, lambda: stop_message(lambda: run_log_study(**settings))

    case(name, "treadmill stage log", outcome, expected)(setup)


LOG_FIX = (
    "correct the value, widen treadmill.plausible_ranges.{} if it is right, or set "
    "treadmill.implausible: flag to exclude such tests from the statistics"
)
log_case(
    "log-speeds-in-km-h",
    rescale_column(2, 60 / 1000),
    "data/logs/M002_d6.csv (mouse M002, session d6), column 'speed_m_min': top belt speed "
    "1.8 m/min is outside the plausible range 5–100 m/min; it looks like km/h or m/s: enter "
    "m/min — " + LOG_FIX.format("speed_m_min"),
)
log_case(
    "log-speeds-in-m-s",
    rescale_column(2, 1 / 60),
    "data/logs/M002_d6.csv (mouse M002, session d6), column 'speed_m_min': top belt speed "
    "0.5 m/min is outside the plausible range 5–100 m/min; it looks like km/h or m/s: enter "
    "m/min — " + LOG_FIX.format("speed_m_min"),
)
log_case(
    "log-times-in-minutes",
    rescale_column(0, 1 / 60),
    "data/logs/M002_d6.csv (mouse M002, session d6), column 'elapsed_s': time to exhaustion 39.7 "
    "s is outside the plausible range 60–14400 s; it looks like minutes: a stage log gives "
    "elapsed time in seconds — " + LOG_FIX.format("time_to_exhaustion_s"),
)
log_case(
    "log-speeds-in-km-h-flagged",
    rescale_column(2, 60 / 1000),
    "M002 d6: data/logs/M002_d6.csv, column 'speed_m_min': top belt speed 1.8 m/min is "
    "outside the plausible range 5–100 m/min; it looks like km/h or m/s: enter m/min [excluded "
    "from statistics and figures]",
    outcome=FLAGGED,
    implausible="flag",
)
log_case(
    "log-times-in-minutes-flagged",
    rescale_column(0, 1 / 60),
    "M002 d6: data/logs/M002_d6.csv, column 'elapsed_s': time to exhaustion 39.7 s is outside "
    "the plausible range 60–14400 s; it looks like minutes: a stage log gives elapsed time in "
    "seconds [excluded from statistics and figures]",
    outcome=FLAGGED,
    implausible="flag",
)
log_case(
    "log-one-stage-speed-typo",
    lambda lines: lines.__setitem__(12, lines[12].replace(",22.5,", ",225,")),
    "data/logs/M002_d6.csv (mouse M002, session d6), column 'speed_m_min': top belt speed 225 "
    "m/min is outside the plausible range 5–100 m/min — correct the value, widen "
    "treadmill.plausible_ranges.speed_m_min if it is right, or set treadmill.implausible: flag "
    "to exclude such tests from the statistics",
)
log_case(
    "log-negative-speed",
    lambda lines: lines.__setitem__(8, lines[8].replace(",12.5,", ",-12.5,")),
    "data/logs/M002_d6.csv line 9, column 'speed_m_min': negative belt speed — speeds are m/min, "
    "zero or more",
)
log_case(
    "log-time-backwards",
    lambda lines: lines.__setitem__(9, "500" + lines[9][lines[9].index(",") :]),
    "data/logs/M002_d6.csv line 10, column 'elapsed_s': time goes backwards — the log must be in "
    "time order",
)
log_case(
    "log-header-names-another-mouse",
    lambda lines: lines.__setitem__(1, "# subject: M009"),
    "data/logs/M002_d6.csv: the header names mouse M009 but the file name names M002 — rename the "
    "file or fix the header",
)


@pytest.mark.parametrize("case", SETUP_CASES, ids=lambda case: case.id)
def test_malformed_input_gives_its_line_or_flag_and_leaves_raw_files_alone(
    case, tmp_path, monkeypatch
):
    check_setup(case, SETUPS[case.id], tmp_path, monkeypatch)


# --- damaged treadmill files, stopped by the reader ---------------------------------------------
TREADMILL = "treadmill summary"
FILE_ENTRIES = [
    stop(
        "tables-treadmill-empty-summary",
        TREADMILL,
        "data/summary.csv: the file is empty — export the table again, with its header",
        {"data/summary.csv": ""},
        lambda: read_summary_table("data/summary.csv", SUMMARY_COLUMNS),
    ),
    stop(
        "tables-treadmill-header-only-summary",
        TREADMILL,
        "data/summary.csv: the header (line 1) has no data rows below it — fill in the table, "
        "or remove it from the config",
        {"data/summary.csv": "mouse,session,protocol,body_mass_g\n"},
        lambda: read_summary_table("data/summary.csv", SUMMARY_COLUMNS),
    ),
    stop(
        "tables-treadmill-semicolon-decimal-comma-declared-point",
        TREADMILL,
        "data/summary.csv line 2, column 'body_mass_g': '24,5' has a decimal comma, but this "
        "table's decimal mark is the decimal point (decided by lab_tables.decimal in the "
        "config) — use one decimal mark in the whole table, or declare lab_tables.decimal",
        {"data/summary.csv": "mouse;session;protocol;body_mass_g\nM1;T1;ramp;24,5\n"},
        lambda: read_summary_table("data/summary.csv", SUMMARY_COLUMNS),
        {"decimal": "."},
    ),
    flag(
        "tables-treadmill-semicolon-title-row-dead",
        TREADMILL,
        "'Dead' on line 4 of the summary table",
        {
            "data/summary.csv": "Endurance tests, cohort 2;;;\n"
            "mouse;session;protocol;body_mass_g\nM1;T1;ramp;24,5\nM1;T2;ramp;Dead\n"
        },
        lambda: read_summary_table(
            "data/summary.csv", SUMMARY_COLUMNS, missing_values=["Dead"]
        ).attrs["not_done"][("M1", "T2")],
    ),
    stop(
        "tables-treadmill-empty-stage-log",
        TREADMILL,
        "data/M1_T1.csv: the header (line 3) has no data rows below it — fill in the table, or "
        "remove it from the config",
        {"data/M1_T1.csv": "# mouse: M1\n# session: T1\n" + ",".join(STAGE_COLUMNS) + "\n"},
        lambda: read_stage_log("data/M1_T1.csv", STAGE_COLUMNS),
    ),
]
FILE_CASES = [case for case, _ in FILE_ENTRIES]
FILE_SCENARIOS = {case.id: scenario for case, scenario in FILE_ENTRIES}
CASES = SETUP_CASES + FILE_CASES


@pytest.mark.parametrize("case", FILE_CASES, ids=[case.id for case in FILE_CASES])
def test_malformed_table(case: Case, tmp_path, monkeypatch):
    check_scenario(case, FILE_SCENARIOS[case.id], tmp_path, monkeypatch)
