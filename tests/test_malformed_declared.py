"""Malformed declared tables (the lab's own tables under ``tables:``), and the shared lab-table
reader they lean on most: decimal marks, thousands separators, separators, title rows,
missing-value codes.

Each case writes the lab's file under ``data/`` of a fresh folder, runs the reader and
statistics the workflow's script calls (with the study's ``lab_tables`` settings where the case
declares some), and asserts the exact one-line message, or the note the statistics table
carries, and that the raw file is byte-identical afterwards. Three cases also go through
Snakemake.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from malformed import Case, digests
from malformed_files import check_scenario, flag, stop, write_files

from exneuro.config import validate_config
from exneuro.lab_tables import using_table_format
from exneuro.tables.design import read_declared_table
from exneuro.tables.statistics import declared_statistics

DECLARED = "declared table"

MINIMAL = {
    "study": {"id": "corpus", "title": "malformed tables"},
    "groups": [
        {"id": "ctl", "label": "Control", "color": "#000000"},
        {"id": "run", "label": "Runner", "color": "#111111"},
    ],
    "cohorts": [{"id": "c", "groups": ["ctl", "run"], "control_group": "ctl"}],
}
SERUM = "mouse\tgroup\tBDNF\n"
GLUCOSE_HEADER = "mouse,group,minute,glucose\n"


def _schema() -> dict:
    from exneuro.config import load_yaml

    return load_yaml(Path(__file__).parent.parent / "workflow" / "schemas" / "config.schema.yaml")


def declaration(**table) -> dict:
    """A declared table with every default filled, as the config gives it."""
    config = copy.deepcopy(MINIMAL) | {"tables": {"t": {"join_sample_sheet": False, **table}}}
    return validate_config(config, _schema(), "config.yaml")["tables"]["t"]


def declared_notes(**table) -> str:
    """The notes of the declared table's statistics rows (one text, distinct notes joined)."""
    spec = declaration(**table)
    data = read_declared_table(spec, None, "t")
    notes = declared_statistics(data, spec, "t")["notes"].dropna()
    return " | ".join(dict.fromkeys(notes))


def note_on(outcome: str, notes: str) -> str:
    """The note of the statistics rows about ``outcome``'s missing values."""
    return next(n for n in notes.split("; ") if n.startswith(f"{outcome}: "))


def serum(**extra) -> str:
    spec = {"file": "data/serum.tsv", "subject": "mouse", "between": ["group"]}
    return declared_notes(**spec | {"outcomes": ["BDNF"], "tests": ["two_group"]} | extra)


def glucose(**extra) -> str:
    spec = {"file": "data/glucose.csv", "subject": "mouse", "between": ["group"]}
    spec |= {"within": ["minute"], "outcomes": ["glucose"], "tests": ["rm_anova"]}
    return declared_notes(**spec | extra)


def serum_rows(values: list[str], separator: str = "\t") -> str:
    rows = [
        separator.join([f"M{k}", "ctl" if k < len(values) // 2 else "run", value])
        for k, value in enumerate(values)
    ]
    return "\n".join(rows) + "\n"


def glucose_rows(values: dict[str, list[str]], separator: str = ",") -> str:
    """mouse,group,minute,glucose rows: four mice (two per group), minutes 0 and 30."""
    rows = []
    for k, mouse in enumerate(["M1", "M2", "M3", "M4"]):
        for minute in ("0", "30"):
            value = values.get(f"{mouse}/{minute}", [str(100 + 10 * k + int(minute))])[0]
            rows.append(separator.join([mouse, "ctl" if k < 2 else "run", minute, value]))
    return "\n".join(rows) + "\n"


def excel_with_title_row(path: Path) -> None:
    """A workbook whose first row is a title above the header (as many labs keep them)."""
    rows = [
        ["Blood glucose after a run", "", "", ""],
        ["mouse", "group", "minute", "Glucose (mg/dL)"],
    ]
    rows += [line.split(",") for line in glucose_rows({}).splitlines()]
    pd.DataFrame(rows).to_excel(path, header=False, index=False)


ENTRIES = [
    stop(
        "tables-declared-thousands-ambiguous",
        DECLARED,
        "data/serum.tsv line 2, column 'BDNF': '1,732' is ambiguous: 1732 with a thousands "
        "separator, or 1.732 with a decimal comma — declare the table's decimal mark "
        "(lab_tables.decimal: '.' or ',') in the config, or write the number without a "
        "separator",
        {"data/serum.tsv": SERUM + serum_rows(["1,732", "1,431", "1,368", "1,655"])},
        serum,
    ),
    stop(
        "tables-declared-decimal-comma-declared-point",
        DECLARED,
        "data/glucose.csv line 2, column 'glucose': '112,5' has a decimal comma, but this "
        "table's decimal mark is the decimal point (decided by lab_tables.decimal in the "
        "config) — use one decimal mark in the whole table, or declare lab_tables.decimal",
        {
            "data/glucose.csv": GLUCOSE_HEADER.replace(",", ";")
            + glucose_rows({"M1/0": ["112,5"]}, ";")
        },
        glucose,
        {"decimal": "."},
    ),
    stop(
        "tables-declared-mixed-decimal-marks",
        DECLARED,
        "data/glucose.csv, column 'glucose': the column mixes decimal points ('131.5', line 5) "
        "and decimal commas ('112,5', line 2) — use one decimal mark in the whole table (or "
        "declare lab_tables.decimal)",
        {
            "data/glucose.csv": GLUCOSE_HEADER.replace(",", ";")
            + glucose_rows({"M1/0": ["112,5"], "M2/30": ["131.5"]}, ";")
        },
        glucose,
    ),
    stop(
        "tables-declared-thousands-declared-none",
        DECLARED,
        "data/serum.tsv line 3, column 'BDNF': '1,431.6' has a thousands separator, but "
        "lab_tables.thousands is none — write the number without it, or set "
        "lab_tables.thousands in the config",
        {"data/serum.tsv": SERUM + serum_rows(["732.0", "1,431.6", "368.1", "655.2"])},
        serum,
        {"thousands": "none"},
    ),
    stop(
        "tables-declared-separator-mismatch",
        DECLARED,
        "data/glucose.csv: separator mismatch: lab_tables.separator is semicolon but the file "
        "is separated by commas — set lab_tables.separator to comma (or auto), or export the "
        "table again",
        {"data/glucose.csv": GLUCOSE_HEADER + glucose_rows({})},
        glucose,
        {"separator": "semicolon"},
    ),
    stop(
        "tables-declared-duplicated-row",
        DECLARED,
        "data/glucose.csv line 4: mouse=M1, minute=30 is on two rows (lines 3 and 4) — keep "
        "one row per subject and level, or declare the repeated unit (e.g. cell, replicate) "
        "under 'nested'",
        {
            "data/glucose.csv": GLUCOSE_HEADER
            + glucose_rows({}).replace("M1,ctl,30,130\n", "M1,ctl,30,130\nM1,ctl,30,130\n")
        },
        glucose,
    ),
    stop(
        "tables-declared-empty-file",
        DECLARED,
        "data/glucose.csv: the file is empty — export the table again, with its header",
        {"data/glucose.csv": ""},
        glucose,
    ),
    stop(
        "tables-declared-header-only",
        DECLARED,
        "data/glucose.csv: the header (line 1) has no data rows below it — fill in the table, "
        "or remove it from the config",
        {"data/glucose.csv": GLUCOSE_HEADER},
        glucose,
    ),
    stop(
        "tables-declared-misnamed-outcome",
        DECLARED,
        "tables.t: an outcome or covariate column 'glucose' is not in data/glucose.csv (the "
        "closest is 'Glucose'; columns: mouse, group, minute, Glucose) — fix the name in the "
        "config or the file's header",
        {"data/glucose.csv": GLUCOSE_HEADER.replace("glucose", "Glucose") + glucose_rows({})},
        glucose,
    ),
    stop(
        "tables-declared-unit-in-number",
        DECLARED,
        "data/glucose.csv line 2, column 'glucose': '100 mg/dL' is not a number — enter a plain "
        "number (decimal point, no units)",
        {"data/glucose.csv": GLUCOSE_HEADER + glucose_rows({"M1/0": ["100 mg/dL"]})},
        glucose,
    ),
    stop(
        "tables-declared-unquoted-decimal-comma",
        DECLARED,
        "data/glucose.csv line 2: 5 cells but the header (line 1) has 4 — a separator inside a "
        "value? quote the value, or check the separator (comma)",
        {"data/glucose.csv": GLUCOSE_HEADER + glucose_rows({"M1/0": ["112,5"]})},
        glucose,
    ),
    stop(
        "tables-declared-column-twice",
        DECLARED,
        "data/glucose.csv line 1: column 'glucose' appears twice in the header — rename one of "
        "them (every column needs its own name)",
        {
            "data/glucose.csv": "mouse,group,minute,glucose,glucose\n"
            + glucose_rows({}).replace("\n", ",1\n")
        },
        glucose,
    ),
    stop(
        "tables-declared-excel-title-row-misnamed",
        DECLARED,
        "tables.t: an outcome or covariate column 'glucose' is not in data/glucose.xlsx (the "
        "closest is 'Glucose (mg/dL)'; columns: mouse, group, minute, Glucose (mg/dL)) — fix "
        "the name in the config or the file's header",
        {"data/glucose.xlsx": excel_with_title_row},
        lambda: glucose(file="data/glucose.xlsx"),
    ),
    stop(
        "tables-declared-excel-not-a-workbook",
        DECLARED,
        "data/glucose.xlsx: not a readable Excel workbook (File is not a zip file) — save it "
        "again from Excel, or export the sheet as CSV",
        {"data/glucose.xlsx": b"PK\x03\x04 cut short by a failed copy"},
        lambda: glucose(file="data/glucose.xlsx"),
    ),
    flag(
        "tables-declared-missing-codes-counted",
        DECLARED,
        "glucose: 3 missing values: 'nd' x1, 'Dead' x1, empty x1 (lines 3, 6, 9)",
        {
            "data/glucose.csv": GLUCOSE_HEADER
            + glucose_rows({"M1/30": ["nd"], "M3/0": ["Dead"], "M4/30": [""]})
        },
        lambda: note_on("glucose", glucose(missing_values=["Dead"], tests=["lmm"])),
    ),
]

CASES = [case for case, _ in ENTRIES]
SCENARIOS = {case.id: scenario for case, scenario in ENTRIES}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed_table(case: Case, tmp_path, monkeypatch):
    check_scenario(case, SCENARIOS[case.id], tmp_path, monkeypatch)


# ------------------------------------------------------------------------------------------------
# What a lab's spreadsheet writes, read right: the numbers themselves, not only no error
# ------------------------------------------------------------------------------------------------
def _serum_estimate(text: str, tmp_path, monkeypatch, lab_tables=None) -> float:
    tmp_path.mkdir()
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {"data/serum.tsv": text})
    spec = declaration(
        file="data/serum.tsv", subject="mouse", between=["group"], outcomes=["BDNF"],
        tests=["two_group"],
    )  # fmt: skip
    with using_table_format(lab_tables):
        data = read_declared_table(spec, None, "t")
        return float(declared_statistics(data, spec, "t")["estimate"].iloc[0])


PLAIN = ["1732.0", "1431.6", "1368.1", "1655.2", "1012.4", "1104.9", "987.3", "1120.0"]


@pytest.mark.parametrize(
    ("values", "separator", "lab_tables"),
    [
        (["1,732.0", "1,431.6", "1,368.1", "1,655.2", "1,012.4", "1,104.9", "987.3", "1,120.0"],
         "\t", None),
        (["1.732,0", "1.431,6", "1.368,1", "1.655,2", "1.012,4", "1.104,9", "987,3", "1.120,0"],
         ";", None),
        (["1732,0", "1431,6", "1368,1", "1655,2", "1012,4", "1104,9", "987,3", "1120,0"], ";",
         None),
        (["1,732", "1,432", "1,368", "1,655", "1,012", "1,105", "987", "1,120"], "\t",
         {"decimal": "."}),
        (["1 732.0", "1 431.6", "1 368.1", "1 655.2", "1 012.4", "1 104.9", "987.3", "1 120.0"],
         "\t", None),
    ],
    ids=["thousands-comma", "european", "decimal-comma", "declared-point", "thousands-space"],
)  # fmt: skip
def test_thousands_separators_and_decimal_commas_give_the_plain_estimate(
    values, separator, lab_tables, tmp_path, monkeypatch
):
    """The silent wrong answer this guards against: '1,234' read as 1.234 turned a group
    difference of about -600 into +530. Every locale's spelling gives the plain numbers'
    estimate (runners − controls)."""
    header = SERUM.replace("\t", separator)
    expected = _serum_estimate(SERUM + serum_rows(PLAIN), tmp_path / "plain", monkeypatch)
    assert expected == pytest.approx(
        sum(map(float, PLAIN[4:])) / 4 - sum(map(float, PLAIN[:4])) / 4
    )
    assert expected < -400  # read as 1.732 (decimal comma), the sign would flip
    written = header + serum_rows(values, separator)
    rounded = _serum_estimate(written, tmp_path / "locale", monkeypatch, lab_tables)
    assert rounded == pytest.approx(expected, abs=0.5)


def test_excel_title_rows_above_the_header_are_skipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {"data/glucose.xlsx": excel_with_title_row})
    spec = declaration(
        file="data/glucose.xlsx", subject="mouse", between=["group"], within=["minute"],
        outcomes=["Glucose (mg/dL)"], tests=["rm_anova"],
    )  # fmt: skip
    data = read_declared_table(spec, None, "t")
    assert data["_line"].tolist()[:2] == [3, 4]
    assert data["Glucose (mg/dL)"].tolist() == [100, 130, 110, 140, 120, 150, 130, 160]


# ------------------------------------------------------------------------------------------------
# Through Snakemake: the user sees the one line, never a traceback
# ------------------------------------------------------------------------------------------------
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
THROUGH_SNAKEMAKE = [
    "tables-declared-duplicated-row",
    "tables-declared-thousands-ambiguous",
    "tables-declared-unit-in-number",
]


def test_the_workflow_shows_the_one_line(tmp_path):
    """Three declared tables of a tables-only study, each malformed: each job stops with its
    one line in the job's log and on the terminal, and no Python traceback."""
    from test_workflow import copy_project

    root = copy_project(tmp_path)
    tables = {}
    for number, case_id in enumerate(THROUGH_SNAKEMAKE):
        scenario = SCENARIOS[case_id]
        ((name, content),) = scenario.files.items()
        target = f"data/corpus{number}/{Path(name).name}"
        write_files(root, {target: content})
        spec = {
            "file": target, "subject": "mouse", "join_sample_sheet": False,
            "between": ["group"],
        }  # fmt: skip
        if name.endswith("serum.tsv"):
            spec |= {"outcomes": ["BDNF"], "tests": ["two_group"]}
        else:
            spec |= {"within": ["minute"], "outcomes": ["glucose"], "tests": ["rm_anova"]}
        tables[f"case{number}"] = spec
    config = copy.deepcopy(MINIMAL) | {"output_dir": "results/corpus", "tables": tables}

    (root / "corpus.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    before = digests([root / "data"])
    targets = [f"results/corpus/tables/case{n}/statistics.tsv" for n in range(3)]
    result = subprocess.run(
        [SNAKEMAKE, *targets, "--cores", "1", "--keep-going", "--configfile", "corpus.yaml"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "MissingOutputException" not in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    for number, case_id in enumerate(THROUGH_SNAKEMAKE):
        expected = next(c for c in CASES if c.id == case_id).expected
        expected = expected.replace("data/", f"data/corpus{number}/")
        log = (root / f"results/corpus/logs/tables/case{number}.log").read_text()
        assert log.strip() == f"ERROR {expected}"
        assert f"ERROR {expected}" in output
    assert digests([root / "data"]) == before


# ------------------------------------------------------------------------------------------------
# The shared reader on its own
# ------------------------------------------------------------------------------------------------
def test_separator_is_found_whatever_the_file_is_called(tmp_path):
    """A '.tsv' that Excel wrote with commas, and quoted values holding the separator."""
    from exneuro.lab_tables import read_lab_table

    path = tmp_path / "table.tsv"
    path.write_text('mouse,note,mass\nM1,"fed, then run",20.5\nM2,fasted,21\n')
    table = read_lab_table(path)
    assert table.columns.tolist() == ["mouse", "note", "mass", "_line"]
    assert table["note"].tolist() == ["fed, then run", "fasted"]
    assert table.attrs["separator"] == ","


def test_lab_tables_settings_come_from_the_config(tmp_path):
    """The schema fills the defaults; a declared decimal comma reads '1.234,5' as 1234.5 and an
    ambiguous '1,234' as 1.234."""
    from exneuro.lab_numbers import parse_numbers
    from exneuro.lab_tables import DEFAULT_MISSING_VALUES, read_lab_table

    config = validate_config(copy.deepcopy(MINIMAL) | {"samples": "s.tsv"}, _schema(), "c.yaml")
    assert config["lab_tables"] == {
        "separator": "auto",
        "decimal": "auto",
        "thousands": "auto",
        "missing_values": list(DEFAULT_MISSING_VALUES),
    }
    path = tmp_path / "table.csv"
    path.write_text("mouse;mass\nM1;1.234,5\nM2;1,234\nM3;nd\n")
    with using_table_format({"decimal": ",", "separator": "semicolon"}):
        table = read_lab_table(path)
        values = parse_numbers(table, "mass", str(path), required=False)
    assert values[:2].tolist() == [1234.5, 1.234]
    assert pd.isna(values[2])


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["1,234,567", "12"], [1234567.0, 12.0]),  # two groups: only a thousands separator
        (["-0,5", "+3"], [-0.5, 3.0]),  # a zero integer part: only a decimal comma
        (["1e-05", "2.5E3"], [1e-05, 2500.0]),
        (["1.250", "2.375"], [1.25, 2.375]),  # nothing decides: the point is decimal
        (["1'234.5", "12"], [1234.5, 12.0]),
        (["NA", "nd", "-", ""], [None] * 4),
    ],
)
def test_numbers_in_every_spelling(cells, expected, tmp_path):
    from exneuro.lab_numbers import parse_numbers
    from exneuro.lab_tables import read_lab_table

    path = tmp_path / "table.tsv"
    path.write_text("id\tvalue\n" + "".join(f"r{k}\t{c}\n" for k, c in enumerate(cells)))
    values = parse_numbers(read_lab_table(path), "value", str(path), required=False)
    assert [None if pd.isna(v) else v for v in values] == expected
