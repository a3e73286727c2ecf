"""Malformed lab tables of the cellular analyses: slice-ephys step and cell-property tables,
spine segment tables, histology section counts.

Each case writes the lab's file(s) under ``data/`` of a fresh folder, runs the reader (or the
tables-and-statistics step) the workflow's script calls, and asserts the exact one-line message,
or the flag the QC or statistics table carries, and that the raw files are byte-identical
afterwards.
"""

from __future__ import annotations

import pandas as pd
import pytest
from malformed import Case
from malformed_files import check_scenario, flag, stop, write_files

from exneuro.cellular import ephys, fi_curve
from exneuro.cellular.ephys_pipeline import ephys_tables
from exneuro.cellular.ephys_stats import cell_property_statistics, fi_curve_statistics
from exneuro.cellular.morphology_pipeline import histology_tables
from exneuro.cellular.morphology_stats import histology_statistics, spine_statistics
from exneuro.cellular.nested import join_sample_sheet
from exneuro.cellular.spine_density import segment_density
from exneuro.cellular.spines import read_segment_table

EPHYS = "ephys table"
SPINES = "spine table"
HISTOLOGY = "histology table"
STEP_COLUMNS = {
    "mouse": "Mouse",
    "cell": "Cell",
    "current_pa": "I (pA)",
    "n_spikes": "Spikes",
    "step_duration_ms": "Duration (ms)",
}
PROPERTY_COLUMNS = {"mouse": "Mouse", "cell": "Cell", "input_resistance_mohm": "Rin (MOhm)"}
SEGMENT_COLUMNS = {
    "mouse": "Animal",
    "neuron": "Cell",
    "segment": "Seg",
    "length_um": "Length (µm)",
    "counts": {"thin": "Thin", "mushroom": "Mushroom"},
}
SECTION_COLUMNS = {
    "mouse": "Mouse",
    "section": "Section",
    "n_labelled": "SF1+",
    "positives": {"Fos": "Fos+"},
}


GOOD_STEPS = "Mouse,Cell,I (pA),Spikes,Duration (ms)\nM1,c1,20,1,500\nM1,c1,40,3,500\n"
GOOD_SEGMENTS = "Animal,Cell,Seg,Length (µm),Thin,Mushroom\nM1,c1,s1,20.5,3,1\n"
SHEET = pd.DataFrame(
    {
        "mouse_id": ["A1", "A2", "A3", "B1"],
        "cohort": "c",
        "group": ["ctl", "ctl", "ctl", "run"],
        "excluded_reason": "",
    }
)


def section_flag() -> str:
    tables = histology_tables(
        {"section_table": "data/sections.csv", "columns": SECTION_COLUMNS, "cohort": "c"}, SHEET
    )
    stats = histology_statistics(tables["mice"], ("ctl", "run"), sections=tables["sections"])
    return stats["notes"].iloc[0]


def ephys_flag() -> str:
    section = {
        "cell_ids": "study",
        "step_table": "data/steps.csv",
        "step_columns": STEP_COLUMNS,
        "step_duration_ms": None,
        "cell_properties": "data/cells.csv",
        "property_columns": PROPERTY_COLUMNS,
    }
    sheet = pd.DataFrame({"mouse_id": ["M1"], "cohort": "c", "group": "ctl", "excluded_reason": ""})
    qc = ephys_tables(section, sheet)["qc"]
    missing = qc[qc["check"] == "missing value"]
    return " | ".join(missing["detail"] + " -> " + missing["action"])


def one_mouse_ephys() -> str:
    cells = ephys.read_cell_properties("data/cells.csv", PROPERTY_COLUMNS)
    cells["group"] = cells["mouse"].map(dict(zip(SHEET["mouse_id"], SHEET["group"], strict=True)))
    stats = cell_property_statistics(cells, "ctl", ["input_resistance_mohm"])
    return " | ".join(dict.fromkeys(stats["notes"]))


def one_mouse_fi() -> str:
    steps = fi_curve.read_step_table("data/steps.csv", STEP_COLUMNS)
    steps["group"] = steps["mouse"].map(dict(zip(SHEET["mouse_id"], SHEET["group"], strict=True)))
    stats = fi_curve_statistics(steps, "ctl")
    return " | ".join(dict.fromkeys(stats["notes"]))


def one_mouse_spines() -> str:
    segments = read_segment_table("data/segments.csv", SEGMENT_COLUMNS, ["thin", "mushroom"])
    segments = join_sample_sheet(segments, SHEET)
    density = segment_density(segments, ["thin", "mushroom"], 10)
    stats = spine_statistics(density, ("ctl", "run"), spine_types=["thin", "mushroom"])
    return " | ".join(dict.fromkeys(stats["notes"]))


ENTRIES = [
    # ---------------------------------------------------------------- ephys tables
    flag(
        "tables-ephys-property-missing-code",
        EPHYS,
        "data/cells.csv line 3, column 'Rin (MOhm)': 'nd' -> left out of the statistics of "
        "'Rin (MOhm)' only",
        {
            "data/steps.csv": GOOD_STEPS + "M1,c2,20,0,500\nM1,c2,40,2,500\n",
            "data/cells.csv": "Mouse,Cell,Rin (MOhm)\nM1,c1,512.5\nM1,c2,nd\n",
        },
        ephys_flag,
    ),
    stop(
        "tables-ephys-spike-count-missing-code",
        EPHYS,
        "data/steps.csv line 3, column 'Spikes': 'n.d.' is a missing-value code — this column "
        "needs a value on every row: enter it, or remove the row",
        {"data/steps.csv": GOOD_STEPS.replace("40,3,500", "40,n.d.,500")},
        lambda: fi_curve.read_step_table("data/steps.csv", STEP_COLUMNS),
    ),
    stop(
        "tables-ephys-misnamed-column",
        EPHYS,
        "data/cells.csv: no column 'Rin (MOhm)' (configured for 'input_resistance_mohm') — the "
        "closest is 'Rin (Mohm)'; columns found: Mouse, Cell, Rin (Mohm); fix the column name "
        "in the config or the file's header",
        {"data/cells.csv": "Mouse,Cell,Rin (Mohm)\nM1,c1,512.5\n"},
        lambda: ephys.read_cell_properties("data/cells.csv", PROPERTY_COLUMNS),
    ),
    stop(
        "tables-ephys-header-only",
        EPHYS,
        "data/steps.csv: the header (line 1) has no data rows below it — fill in the table, or "
        "remove it from the config",
        {"data/steps.csv": GOOD_STEPS.splitlines()[0] + "\n"},
        lambda: fi_curve.read_step_table("data/steps.csv", STEP_COLUMNS),
    ),
    stop(
        "tables-ephys-title-row-without-header",
        EPHYS,
        "data/cells.csv: no column 'Rin (MOhm)' (configured for 'input_resistance_mohm') — the "
        "closest is 'Rin'; columns found: Mouse, Cell, Rin; fix the column name in the config "
        "or the file's header",
        {"data/cells.csv": "Slice recordings 2026\n\nMouse,Cell,Rin\nM1,c1,512.5\n"},
        lambda: ephys.read_cell_properties("data/cells.csv", PROPERTY_COLUMNS),
    ),
    flag(
        "tables-ephys-group-of-one-mouse",
        EPHYS,
        "not tested: run has 1 mouse (a group comparison needs 2 or more mice per group)",
        {
            "data/cells.csv": "Mouse,Cell,Rin (MOhm)\n"
            + "".join(
                f"{m},{m}c{k},{400 + 30 * k + n}\n"
                for n, m in enumerate(("A1", "A2", "B1"))
                for k in (1, 2)
            )
        },
        one_mouse_ephys,
    ),
    flag(
        "tables-ephys-fi-group-of-one-mouse",
        EPHYS,
        "not tested: run has 1 mouse (a group comparison needs 2 or more mice per group)",
        {
            "data/steps.csv": GOOD_STEPS.splitlines()[0]
            + "\n"
            + "".join(
                f"{m},{m}c{c},{i},{i // 10 + c},500\n"
                for m in ("A1", "A2", "B1")
                for c in (1, 2)
                for i in (20, 40, 60)
            )
        },
        one_mouse_fi,
    ),
    # ---------------------------------------------------------------- spine tables
    flag(
        "tables-spines-group-of-one-mouse",
        SPINES,
        "not tested: run has 1 mouse (a group comparison needs 2 or more mice per group)",
        {
            "data/segments.csv": GOOD_SEGMENTS.splitlines()[0]
            + "\n"
            + "".join(
                f"{m},{m}c{c},s1,{20 + c},{3 + c},1\n" for m in ("A1", "A2", "B1") for c in (1, 2)
            )
        },
        one_mouse_spines,
    ),
    stop(
        "tables-spines-count-missing-code",
        SPINES,
        "data/segments.csv line 2, column 'Thin': 'nd' is a missing-value code — this column "
        "needs a value on every row: enter it, or remove the row",
        {"data/segments.csv": GOOD_SEGMENTS.replace(",3,1", ",nd,1")},
        lambda: read_segment_table("data/segments.csv", SEGMENT_COLUMNS, ["thin", "mushroom"]),
    ),
    stop(
        "tables-spines-mixed-decimal-marks",
        SPINES,
        "data/segments.csv, column 'Length (µm)': the column mixes decimal points ('20.5', line "
        "2) and decimal commas ('18,25', line 3) — use one decimal mark in the whole table (or "
        "declare lab_tables.decimal)",
        {"data/segments.csv": GOOD_SEGMENTS + '"M1","c1","s2","18,25",2,2\n'},
        lambda: read_segment_table("data/segments.csv", SEGMENT_COLUMNS, ["thin", "mushroom"]),
    ),
    stop(
        "tables-spines-empty-file",
        SPINES,
        "data/segments.csv: the file is empty — export the table again, with its header",
        {"data/segments.csv": "\n\n"},
        lambda: read_segment_table("data/segments.csv", SEGMENT_COLUMNS, ["thin", "mushroom"]),
    ),
    # ---------------------------------------------------------------- histology tables
    flag(
        "tables-histology-group-of-one-mouse",
        HISTOLOGY,
        "not tested: run has 1 mouse (a group comparison needs 2 or more mice per group)",
        {
            "data/sections.csv": "Mouse,Section,SF1+,Fos+\n"
            + "".join(f"{m},S{s},60,{5 + s}\n" for m in ("A1", "A2", "A3", "B1") for s in (1, 2))
        },
        section_flag,
    ),
    stop(
        "tables-histology-misnamed-column",
        HISTOLOGY,
        "data/sections.csv: no column 'Fos+' (configured for 'positives.Fos') — the closest is "
        "'Fos'; columns found: Mouse, Section, SF1+, Fos; fix the column name in the config or "
        "the file's header",
        {"data/sections.csv": "Mouse,Section,SF1+,Fos\nA1,S1,60,5\n"},
        section_flag,
    ),
    stop(
        "tables-histology-count-na",
        HISTOLOGY,
        "data/sections.csv line 3, column 'Fos+': 'NA' is a missing-value code — this column "
        "needs a value on every row: enter it, or remove the row",
        {"data/sections.csv": "Mouse,Section,SF1+,Fos+\nA1,S1,60,5\nA1,S2,58,NA\n"},
        section_flag,
    ),
]

CASES = [case for case, _ in ENTRIES]
SCENARIOS = {case.id: scenario for case, scenario in ENTRIES}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed_table(case: Case, tmp_path, monkeypatch):
    check_scenario(case, SCENARIOS[case.id], tmp_path, monkeypatch)


def test_csv_title_rows_and_trailing_separators_are_skipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = "Slice recordings 2026;;;\n;;;\nMouse;Cell;Rin (MOhm);\nM1;c1;512,5;\nM1;c2;498;\n"
    write_files(tmp_path, {"data/cells.csv": text})
    cells = ephys.read_cell_properties("data/cells.csv", PROPERTY_COLUMNS)
    assert cells["input_resistance_mohm"].tolist() == [512.5, 498.0]
    assert cells["source_line"].tolist() == [4, 5]
