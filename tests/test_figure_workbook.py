"""Source-data workbooks: what Excel readers see equals the tables, and the bytes are fixed:
the same whatever the number of rows streamed at a time, and the same as the writer that built
each sheet whole wrote."""

from __future__ import annotations

import hashlib
import tracemalloc
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from exneuro.figures.workbook import ROWS_PER_BLOCK, column_letters, write_workbook

#: sha256 of every entry's name and uncompressed bytes of the workbook of
#: ``_every_cell_type(rows)``, as the writer wrote it when it built each sheet as one string
#: (but for the missing values of pandas' string dtype, then written as the text "<NA>").
PARTS_SHA256 = {
    1: "a690b5b0f765e4db9f3f3f03ded7d0632ee29f9846076e27fc9dd86fc6a6662d",
    1003: "34ed738750018ab31dcb7213a5aeaeed2d33231039627a2f0999725d3ad1cb8f",
    25_003: "f722a223813cfa6bc6ad31bb011bc1fdf4fd53a20ca0cccffefb5853463cf0a9",
}


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


def _every_cell_type(rows: int) -> dict[str, pd.DataFrame]:
    """Tables of ``rows`` rows with every kind of cell the writer knows: numbers with NaN, inf,
    -0.0 and float32; integers, booleans, nullable integers with NA in late rows only; text with
    padding, XML escapes and characters XML forbids; mixed object columns (one all text but for
    its last row); categories, the string dtype, datetimes with NaT; a non-text, a duplicate and
    a padded column name; a sheet name to escape and cut; an empty table and one of no columns."""
    rng = np.random.default_rng(21)
    index = np.arange(rows)
    numbers = rng.normal(0.0, 1e3, rows) * 10.0 ** rng.integers(-12, 12, rows)
    numbers[index % 97 == 0] = np.nan
    numbers[index % 89 == 1] = np.inf
    numbers[index % 83 == 2] = -np.inf
    numbers[index % 79 == 3] = -0.0
    counts = pd.array(rng.integers(-5, 10**12, rows), dtype="Int64")
    counts[index % 101 == rows % 101] = pd.NA
    words = np.array(
        ["plain", " padded ", "a & b < c > d", "tab\there", "bell\x07gone", "line\nbreak",
         "ΔF/F µm² 日本", "trailing ", "\ufffe", ""],
        dtype=object,
    )  # fmt: skip
    texts = words[index % len(words)] + pd.Series(index).astype(str).to_numpy(object)
    mixed = np.array(
        ["text", 2, None, 0.125, True, np.float64(np.inf), pd.NA, np.nan, np.int32(7), pd.NaT,
         "  x", np.bool_(False), -np.inf, 1e300],
        dtype=object,
    )  # fmt: skip
    late = np.array(["ok"] * rows, dtype=object)
    late[-1] = 3.5
    return {
        "numbers": pd.DataFrame(
            {
                "x": numbers,
                "n": rng.integers(-(2**62), 2**62, rows),
                "flag": index % 3 == 0,
                "count": counts,
                "small": numbers.astype(np.float32),
                7: index.astype(np.uint16),
            }
        ),
        "text & <mixed> sheet name over excel's limit": pd.DataFrame(
            {
                "text": texts,
                "mixed": mixed[index % len(mixed)],
                "late mixed": late,
                "kind": pd.Categorical(np.array(["mouse", "group"])[index % 2]),
                "string": pd.array(np.where(index % 5 == 0, None, texts), dtype="string"),
                "when": pd.to_datetime(index, unit="s").where(index % 7 != 0),
                " padded & name ": index,
            }
        ),
        "duplicate names": pd.DataFrame([[1.5, "a"]] * 3, columns=["v", "v"]),
        "empty": pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=object)}),
        "no columns": pd.DataFrame(),
    }


def _parts_sha256(archive: zipfile.ZipFile) -> str:
    digest = hashlib.sha256()
    for entry in archive.infolist():
        digest.update(entry.filename.encode())
        digest.update(archive.read(entry))
    return digest.hexdigest()


def _packed_whole(archive: zipfile.ZipFile, path) -> bytes:
    """The parts of ``archive`` packed again as the writer packed each part, sheets included,
    when it built them whole: one ``writestr`` per part, fixed time, deflate level 1."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for entry in archive.infolist():
            whole = zipfile.ZipInfo(entry.filename, date_time=(1980, 1, 1, 0, 0, 0))
            whole.compress_type = zipfile.ZIP_DEFLATED
            whole.external_attr = 0o600 << 16
            out.writestr(whole, archive.read(entry), compresslevel=1)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("rows", "rows_per_block"),
    [(1, ROWS_PER_BLOCK), (1003, 7), (1003, 1000), (1003, 1003), (25_003, ROWS_PER_BLOCK),
     (25_003, 10**6)],
)  # fmt: skip
def test_streamed_sheets_are_the_bytes_of_sheets_built_whole(tmp_path, rows, rows_per_block):
    path = tmp_path / "source_data.xlsx"
    write_workbook(_every_cell_type(rows), path, rows_per_block=rows_per_block)
    with zipfile.ZipFile(path) as archive:
        # the XML of every part is what the writer wrote when it built each sheet whole
        assert _parts_sha256(archive) == PARTS_SHA256[rows]
        # and so are the zip's bytes: entry headers, sizes, CRCs, deflate stream
        assert path.read_bytes() == _packed_whole(archive, tmp_path / "whole.xlsx")


def test_rows_across_blocks_read_back_cell_for_cell(tmp_path):
    path = tmp_path / "source_data.xlsx"
    tables = _every_cell_type(2503)
    write_workbook(tables, path, rows_per_block=1000)
    sheet = openpyxl.load_workbook(path, read_only=True)["numbers"]
    read = list(sheet.iter_rows(values_only=True))
    numbers = tables["numbers"]
    assert read[0] == ("x", "n", "flag", "count", "small", "7")
    assert len(read) == len(numbers) + 1
    x = numbers["x"].to_numpy()
    expected_x = [None if np.isnan(v) else str(v) if np.isinf(v) else v for v in x.tolist()]
    assert [row[0] for row in read[1:]] == expected_x
    assert [row[1] for row in read[1:]] == numbers["n"].tolist()
    assert [row[2] for row in read[1:]] == numbers["flag"].tolist()
    assert [row[3] for row in read[1:]] == [
        None if v is pd.NA else v for v in numbers["count"].astype(object).tolist()
    ]
    assert [row[5] for row in read[1:]] == numbers[7].tolist()
    assert sum(row[3] is None for row in read[1:]) == numbers["count"].isna().sum() == 24


def _peak_traced_mb(rows: int, path) -> float:
    """Peak of Python's allocations (MB) while a two-column table of ``rows`` rows is written
    1,000 rows at a time (the table itself is built before tracing starts)."""
    table = pd.DataFrame({"mouse": [f"M{k % 1000:04d}" for k in range(rows)], "dff": 0.1})
    tracemalloc.start()
    try:
        write_workbook({"panel_A": table}, path, rows_per_block=1000)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_writing_a_sheet_takes_the_memory_of_one_block_whatever_its_rows(tmp_path):
    small = _peak_traced_mb(5_000, tmp_path / "small.xlsx")
    large = _peak_traced_mb(50_000, tmp_path / "large.xlsx")
    # ten times the rows: the same memory (a sheet built whole took about ten times more)
    assert large < 1.5 * small, (small, large)


def test_a_missing_value_of_the_string_dtype_is_an_empty_cell(tmp_path):
    path = tmp_path / "source_data.xlsx"
    table = pd.DataFrame({"mouse": pd.array(["M1", None, " M3 "], dtype="string")})
    write_workbook({"panel_A": table}, path)
    sheet = openpyxl.load_workbook(path, read_only=True)["panel_A"]
    assert [row[0] for row in sheet.iter_rows(values_only=True)] == ["mouse", "M1", None, " M3 "]
