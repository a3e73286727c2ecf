"""Source-data workbooks: what Excel readers see equals the tables, and the bytes are fixed."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd

from exneuro.figures.workbook import column_letters, write_workbook


def _tables() -> dict[str, pd.DataFrame]:
    panel = pd.DataFrame(
        {
            "gene_id": ["ENSMUSG1", "007", "a & b < c > d", " padded "],
            "x": [1.5, -2.25e-07, np.nan, 3.0],
            "n": [1, 2, 3, 4],
            "labelled": [True, False, True, False],
            "mixed": ["text", 2, None, 0.125],
            "kind": pd.Categorical(["mouse", "group", "mouse", "group"]),
        }
    )
    return {
        "panel_A": panel,
        "panel_B": panel.head(0),
        "a_sheet_name_longer_than_excel_allows": panel,
    }


def test_readers_see_the_tables_cell_for_cell(tmp_path):
    path = tmp_path / "source_data.xlsx"
    write_workbook(_tables(), path)
    read = pd.read_excel(path, sheet_name=None, dtype={"gene_id": str})
    assert list(read) == ["panel_A", "panel_B", "a_sheet_name_longer_than_excel_"]
    panel = read["panel_A"]
    assert panel["gene_id"].tolist() == ["ENSMUSG1", "007", "a & b < c > d", " padded "]
    assert panel["x"].iloc[1] == -2.25e-07 and np.isnan(panel["x"].iloc[2])
    assert panel["n"].tolist() == [1, 2, 3, 4]
    assert panel["labelled"].tolist() == [True, False, True, False]
    assert panel["kind"].tolist() == ["mouse", "group", "mouse", "group"]
    cells = openpyxl.load_workbook(path)["panel_A"]
    assert [cells.cell(row=k, column=5).value for k in range(2, 6)] == ["text", 2, None, 0.125]
    assert list(read["panel_B"].columns) == list(_tables()["panel_B"].columns)
    assert len(read["panel_B"]) == 0


def test_infinite_values_are_kept_as_text(tmp_path):
    path = tmp_path / "source_data.xlsx"
    write_workbook({"panel_A": pd.DataFrame({"ratio": [np.inf, -np.inf, 1.0]})}, path)
    cells = openpyxl.load_workbook(path)["panel_A"]
    assert [cells.cell(row=k, column=1).value for k in range(2, 5)] == ["inf", "-inf", 1]


def test_the_same_tables_give_the_same_bytes(tmp_path):
    write_workbook(_tables(), tmp_path / "first.xlsx")
    write_workbook(_tables(), tmp_path / "second.xlsx")
    assert (tmp_path / "first.xlsx").read_bytes() == (tmp_path / "second.xlsx").read_bytes()


def test_column_letters_follow_excel():
    assert [column_letters(k) for k in (0, 25, 26, 27, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]
