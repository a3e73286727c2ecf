"""Malformed config files, sample sheets and treadmill values: each stops with one line naming
the user's file, line, column and the fix, or is flagged in the QC table and kept out of the
statistics; the raw files are never changed.

The cases run at the layer the workflow calls (the config reader, the sample-sheet reader, the
treadmill metrics step) from a folder holding the user's files under relative paths, as a user
runs the workflow; a few run through Snakemake to show the user sees that one line and no
traceback.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SCHEMAS
from malformed import CLEAR_STOP, FLAGGED, Case, assert_one_line, digests

from exneuro.config import load_yaml, read_sample_sheet, validate_config
from exneuro.config_files import load_config
from exneuro.errors import ExneuroError
from exneuro.treadmill.pipeline import test_metrics as treadmill_metrics
from exneuro.yaml_files import read_config_file

CONFIG = "config/config.yaml"
SHEET = "config/samples.tsv"
SUMMARY = "data/summary.csv"
LOGS = "data/logs/{mouse}_{session}.csv"
CONFIG_SCHEMA = load_yaml(SCHEMAS / "config.schema.yaml")
SHEET_SCHEMA = load_yaml(SCHEMAS / "samples.schema.yaml")
TWO_GROUP = REPO / "config" / "two_group" / "config.yaml"

CASES: list[Case] = []
SETUPS: dict[str, Callable[[Path], tuple[list[Path], Callable[[], str]]]] = {}


def case(name: str, kind: str, outcome: str, expected: str):
    "''Register a setup: it writes the bad input and returns (raw files, what the user gets).''"

    def register(setup):
        CASES.append(Case(f"inputs-{name}", kind, outcome, expected))
        SETUPS[f"inputs-{name}"] = setup
        return setup

    return register


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


# --- config files -------------------------------------------------------------------------------


def config_case(name: str, text: str, expected: str) -> None:
    case(name, "config", CLEAR_STOP, expected)(
        lambda tmp: (write(CONFIG, text), lambda: stop_message(lambda: read_config_file(CONFIG)))
    )


config_case(
    "config-tab-indent",
    "study:\n  id: x\n\ttitle: y\n",
    "config/config.yaml line 3, column 1: not valid YAML: found character '\\t' that cannot "
    "start any token — YAML is indented with spaces only: replace the tab with spaces",
)
config_case(
    "config-empty",
    "",
    "config/config.yaml: the config file is empty — write the study's settings in it (study:, "
    "groups:, cohorts: ...; every key is described in config/README.md)",
)
config_case(
    "config-only-comments",
    "# study settings to come\n\n",
    "config/config.yaml: the config file is empty — write the study's settings in it (study:, "
    "groups:, cohorts: ...; every key is described in config/README.md)",
)
config_case(
    "config-top-level-list",
    "# a list by mistake\n- study: x\n- groups: y\n",
    "config/config.yaml line 2, column 1: the top level must be keys with values (study:, "
    "groups:, cohorts: ...), found a list — write each setting as 'key: value' at the start of "
    "a line",
)
config_case(
    "config-top-level-text",
    "treadmill endurance study, cohort 2\n",
    "config/config.yaml line 1, column 1: the top level must be keys with values (study:, "
    "groups:, cohorts: ...), found text — write each setting as 'key: value' at the start of a "
    "line",
)
config_case(
    "config-unclosed-quote",
    'study:\n  id: "x\n  title: y\n',
    "config/config.yaml line 2, column 7: not valid YAML: a quote or bracket opened here is "
    "never closed — close it where the value ends",
)
config_case(
    "config-unclosed-bracket",
    "groups: [a, b\ncohorts: []\n",
    "config/config.yaml line 2, column 8: not valid YAML: expected ',' or ']', but got ':' — "
    "close the bracket opened before this line",
)
config_case(
    "config-colon-in-value",
    "study:\n  title: Endurance: the second cohort\n",
    "config/config.yaml line 2, column 19: not valid YAML: mapping values are not allowed here "
    "— a value holding ': ' must be quoted, or the line is indented too deep",
)
config_case(
    "config-key-twice",
    "study:\n  id: x\ntreadmill:\n  metrics_source: summary\n  metrics_source: stage_logs\n",
    "config/config.yaml line 5, column 3: not valid YAML: the key 'metrics_source' is written "
    "twice in one mapping (first on line 4) — keep one of the two entries",
)


@case(
    "config-not-utf8",
    "config",
    CLEAR_STOP,
    "config/config.yaml line 2, column 15 (byte 0xe4): not UTF-8 text — save the file as UTF-8 "
    "text",
)
def _(tmp):
    Path(CONFIG).parent.mkdir(parents=True, exist_ok=True)
    Path(CONFIG).write_bytes("study:\n  title: Laufb\u00e4nder\n".encode("latin-1"))
    return [Path(CONFIG)], lambda: stop_message(lambda: read_config_file(CONFIG))


def treadmill_config_case(name: str, edit: Callable[[dict], None], expected: str) -> None:
    def setup(tmp):
        config = load_yaml(TWO_GROUP)
        edit(config)
        raw = write(CONFIG, yaml_text(config))
        return raw, lambda: stop_message(
            lambda: validate_config(read_config_file(CONFIG), CONFIG_SCHEMA, CONFIG)
        )

    case(name, "config", CLEAR_STOP, expected)(setup)


def yaml_text(config: dict) -> str:
    import yaml

    return yaml.safe_dump(config, sort_keys=False)


treadmill_config_case(
    "config-range-reversed",
    lambda c: c["treadmill"].update(plausible_ranges={"body_mass_g": [80, 10]}),
    "config/config.yaml: treadmill.plausible_ranges.body_mass_g: [80, 10] — the lowest value "
    "comes first and is below the highest",
)
treadmill_config_case(
    "config-implausible-policy-misspelt",
    lambda c: c["treadmill"].update(implausible="warn"),
    "config/config.yaml: treadmill.implausible = 'warn' is not allowed; expected one of: stop, "
    "flag",
)
treadmill_config_case(
    "config-range-of-one-value",
    lambda c: c["treadmill"].update(plausible_ranges={"body_mass_g": [25]}),
    "config/config.yaml: treadmill.plausible_ranges.body_mass_g: [25] is too short",
)
treadmill_config_case(
    "config-species-without-ranges",
    lambda c: c["study"].update(species="Peromyscus maniculatus"),
    "config/config.yaml: treadmill.plausible_ranges: study.species 'Peromyscus maniculatus' has "
    "no default ranges — give [lowest, highest] for body_mass_g (g), time_to_exhaustion_s (s), "
    "distance_m (m), speed_m_min (m/min)",
)


# --- sample sheets ------------------------------------------------------------------------------


def two_group_config() -> dict:
    config = validate_config(load_yaml(TWO_GROUP), CONFIG_SCHEMA, CONFIG)
    config["samples"] = SHEET
    return config


def sheet_frame() -> pd.DataFrame:
    return pd.read_csv(
        REPO / "config" / "two_group" / "samples.tsv", sep="\t", dtype=str, keep_default_na=False
    )


def sheet_case(name: str, path: str, make: Callable[[str], None], expected: str) -> None:
    def setup(tmp):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        make(path)
        config = two_group_config()
        return [Path(path)], lambda: stop_message(
            lambda: read_sample_sheet(path, SHEET_SCHEMA, config)
        )

    case(name, "sample sheet", CLEAR_STOP, expected)(setup)


def edited_sheet(edit: Callable[[pd.DataFrame], pd.DataFrame | None], sep: str = "\t"):
    def make(path):
        frame = sheet_frame()
        edited = edit(frame)
        (frame if edited is None else edited).to_csv(path, sep=sep, index=False)

    return make


sheet_case(
    "sheet-empty",
    SHEET,
    lambda path: Path(path).write_text(""),
    "config/samples.tsv: the sample sheet is empty — write a header line (mouse_id, cohort, sex, "
    "group) and one row per mouse, or remove the config key 'samples'",
)
sheet_case(
    "sheet-header-only",
    SHEET,
    lambda path: Path(path).write_text("mouse_id\tcohort\tsex\tgroup\n"),
    "config/samples.tsv: the sample sheet has a header but no mouse — treadmill read(s) mice "
    "from it: add one row per mouse below the header",
)
sheet_case(
    "sheet-commas-in-tsv",
    SHEET,
    edited_sheet(lambda frame: None, sep=","),
    "config/samples.tsv line 1: the header is separated by commas, not tabs: the wrong separator "
    "for a .tsv sheet — save it as tab-separated text, or rename it to .csv",
)
sheet_case(
    "sheet-semicolons-in-tsv",
    SHEET,
    edited_sheet(lambda frame: None, sep=";"),
    "config/samples.tsv line 1: the header is separated by semicolons, not tabs: the wrong "
    "separator for a .tsv sheet — save it as tab-separated text, or rename it to .csv",
)
sheet_case(
    "sheet-excel-without-id-column",
    "config/samples.xlsx",
    lambda path: excel_with_title(sheet_frame().rename(columns={"mouse_id": "Mouse ID"}), path),
    "config/samples.xlsx line 1: no header with the column 'mouse_id' (found: Cohort 2 — mice "
    "and groups) — the header names the columns mouse_id, cohort, sex, group (see "
    "config/README.md)",
)
sheet_case(
    "sheet-misspelt-column-below-a-title",
    "config/samples.xlsx",
    lambda path: excel_with_title(sheet_frame().rename(columns={"genotype": "Genotype"}), path),
    "config/samples.xlsx line 3, column 'Genotype': unknown column — did you mean 'genotype'? "
    "(columns: config/README.md)",
)
sheet_case(
    "sheet-without-a-required-column",
    SHEET,
    edited_sheet(lambda frame: frame.drop(columns="sex")),
    "config/samples.tsv line 1: no column 'sex' — the header needs mouse_id, cohort, sex, group",
)
sheet_case(
    "sheet-column-twice",
    SHEET,
    lambda path: Path(path).write_text(
        sheet_frame().to_csv(sep="\t", index=False).replace("\tnotes", "\tgroup", 1)
    ),
    "config/samples.tsv line 1, column 'group': the column is in the header twice — keep one "
    "(which one holds the right values cannot be guessed)",
)
sheet_case(
    "sheet-text-without-a-header",
    SHEET,
    lambda path: Path(path).write_text("Mice of cohort 2\nM001 control female\n"),
    "config/samples.tsv line 1: no header with the column 'mouse_id' (found: Mice of cohort 2) — "
    "the header names the columns mouse_id, cohort, sex, group (see config/README.md)",
)
sheet_case(
    "sheet-unknown-cohort",
    SHEET,
    edited_sheet(
        lambda frame: frame.assign(
            cohort=frame["cohort"].replace("stimulation_replication", "stim_rep")
        )
    ),
    "config/samples.tsv line 2 (mouse M001), column 'cohort': unknown cohort 'stim_rep' — "
    "declare it under 'cohorts' in the config (declared: stimulation_replication) (the same on "
    "13 more rows)",
)
sheet_case(
    "sheet-sex-capitalised",
    SHEET,
    edited_sheet(lambda frame: frame.assign(sex=frame["sex"].replace("female", "F"))),
    "config/samples.tsv line 2 (mouse M001): sex = 'F' is not allowed; expected one of: female, "
    "male (the same on 6 more rows)",
)
sheet_case(
    "sheet-birth-date-as-typed-in-excel",
    SHEET,
    edited_sheet(lambda frame: frame.assign(birth_date="03/12/2025")),
    "config/samples.tsv line 2 (mouse M001): birth_date = '03/12/2025' is not a date written "
    "YYYY-MM-DD (e.g. 2025-12-03) (the same on 13 more rows)",
)
sheet_case(
    "sheet-duplicated-id",
    SHEET,
    edited_sheet(lambda frame: frame.assign(mouse_id=frame["mouse_id"].replace("M004", "M003"))),
    "config/samples.tsv line 5, column 'mouse_id': mouse 'M003' is listed again (first on line "
    "4) — each mouse needs exactly one row",
)
sheet_case(
    "sheet-very-long-id",
    SHEET,
    edited_sheet(lambda frame: frame.assign(mouse_id=frame["mouse_id"].replace("M002", "M" * 300))),
    "config/samples.tsv line 3 (mouse MMMMMMMMMMMMMMMMMMMMMMMM…): mouse_id is 300 characters "
    "long, more than 64 — shorten it (it names result files)",
)
sheet_case(
    "sheet-id-with-slash",
    SHEET,
    edited_sheet(lambda frame: frame.assign(mouse_id=frame["mouse_id"].replace("M002", "M/002"))),
    "config/samples.tsv line 3 (mouse M/002): mouse_id = 'M/002' may hold only letters, digits, "
    "'_', '.' and '-' (it names files)",
)
sheet_case(
    "sheet-extra-cells",
    SHEET,
    lambda path: Path(path).write_text(
        with_extra_cells(sheet_frame().to_csv(sep="\t", index=False))
    ),
    "config/samples.tsv line 2: 12 cells where the header has 10 — remove the extra cells or add "
    "their column to the header",
)
sheet_case(
    "sheet-value-under-no-column-name",
    SHEET,
    lambda path: Path(path).write_text(
        with_extra_cells(sheet_frame().to_csv(sep="\t", index=False)).replace(
            "\tnotes\n", "\tnotes\t\t\n", 1
        )
    ),
    "config/samples.tsv line 2: a value in column 12, which has no name in the header (line 1) "
    "— name the column or delete the value",
)
sheet_case(
    "sheet-treadmill-cohort-of-one-group",
    SHEET,
    edited_sheet(lambda frame: frame.assign(group="control")),
    "config/samples.tsv: group 'stimulated_post' of treadmill cohort 'stimulation_replication' "
    "has no mouse — its models compare the groups control, stimulated_post; add the group's "
    "mice, or remove 'stimulated_post' from the cohort's groups in the config",
)
sheet_case(
    "sheet-treadmill-group-all-excluded",
    SHEET,
    edited_sheet(
        lambda frame: frame.assign(
            excluded_reason=frame["group"].map({"stimulated_post": "virus off target"}).fillna("")
        )
    ),
    "config/samples.tsv: group 'stimulated_post' of treadmill cohort 'stimulation_replication' "
    "has only excluded mice (7) — its models compare the groups control, stimulated_post; add "
    "the group's mice, or remove 'stimulated_post' from the cohort's groups in the config",
)
sheet_case(
    "sheet-not-utf8",
    SHEET,
    lambda path: Path(path).write_bytes(
        sheet_frame().to_csv(sep="\t", index=False).replace("C01", "Cäfig", 1).encode("latin-1")
    ),
    "config/samples.tsv line 2, column 70 (byte 0xe4): not UTF-8 text — save the sheet as UTF-8 "
    "text",
)


def with_extra_cells(text: str) -> str:
    "''The sheet with a note typed two cells right of the last column on its first mouse's row.''"
    lines = text.splitlines()
    lines[1] += "\t\tcage moved"
    return "\n".join(lines) + "\n"


def excel_with_title(frame: pd.DataFrame, path: str) -> None:
    "''The sheet as a lab exports it from Excel: a title row and a blank row above the header.''"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["Cohort 2 — mice and groups"]]).to_excel(writer, header=False, index=False)
        frame.to_excel(writer, index=False, startrow=2)


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


def summary_case(name, edit, expected, **settings):
    case(name, "treadmill summary", CLEAR_STOP, expected)(
        lambda tmp: (
            summary_files(edit),
            lambda: stop_message(lambda: run_summary_study(**settings)),
        )
    )


FIX = (
    "correct the value, widen treadmill.plausible_ranges.{} if it is right, or set "
    "treadmill.implausible: flag to exclude such tests from the statistics"
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


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_malformed_input_gives_its_line_or_flag_and_leaves_raw_files_alone(
    case, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    raw, user_gets = SETUPS[case.id](tmp_path)
    before = digests(raw)
    got = user_gets()
    if case.outcome == CLEAR_STOP:
        assert_one_line(got)
    assert got == case.expected
    assert digests(raw) == before
