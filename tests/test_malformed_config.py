"""Malformed config files and sample sheets: each stops with one line naming the user's file,
line, column and the fix; the raw files are never changed.

The cases run at the layer the workflow calls (the config reader and validation, the
sample-sheet reader) from a folder holding the user's files under relative paths, as a user runs
the workflow (``test_input_errors.py`` shows the same lines through Snakemake).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from malformed import CLEAR_STOP
from study_inputs import (
    CONFIG,
    CONFIG_SCHEMA,
    SHEET,
    SHEET_SCHEMA,
    TWO_GROUP,
    case_registry,
    check_setup,
    excel_with_title,
    sheet_frame,
    stop_message,
    two_group_config,
    write,
)

from exneuro.config import load_yaml, read_sample_sheet, validate_config
from exneuro.yaml_files import read_config_file

CASES, SETUPS, case = case_registry()


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


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_malformed_input_gives_its_line_or_flag_and_leaves_raw_files_alone(
    case, tmp_path, monkeypatch
):
    check_setup(case, SETUPS[case.id], tmp_path, monkeypatch)
