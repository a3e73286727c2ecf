"""Every bad config, sheet or data file gets a one-line error naming the place and the fix."""

import copy
import shutil

import pytest
from conftest import REPO

from exneuro.config import ConfigError, read_sample_sheet, validate_config
from exneuro.errors import InputDataError
from exneuro.treadmill.pipeline import test_metrics as treadmill_test_metrics

SHEET = REPO / "config" / "samples.tsv"


def _validate(raw, schema):
    return validate_config(raw, schema, "config/config.yaml")


def test_example_config_fills_schema_defaults(example_config):
    assert example_config["treadmill"]["statistics"]["ci_level"] == 0.95
    assert example_config["figures"]["full_width_mm"] == 174
    assert example_config["study"]["species"] == "Mus musculus"


def test_misspelt_key_is_named_with_a_suggestion(raw_example_config, config_schema):
    raw = copy.deepcopy(raw_example_config)
    raw["treadmill"]["statistcs"] = raw["treadmill"].pop("statistics")
    with pytest.raises(ConfigError) as error:
        _validate(raw, config_schema)
    message = str(error.value)
    assert message == (
        "config/config.yaml: unknown key 'treadmill.statistcs' — did you mean 'statistics'?"
    )


def test_value_outside_its_choices_lists_the_choices(raw_example_config, config_schema):
    raw = copy.deepcopy(raw_example_config)
    raw["treadmill"]["statistics"]["posthoc_correction"] = "tukey"
    with pytest.raises(
        ConfigError,
        match=r"treadmill\.statistics\.posthoc_correction = 'tukey' "
        r"is not allowed; expected one of: sidak, holm, bonferroni, fdr_bh, dunnett, none",
    ):
        _validate(raw, config_schema)


def test_cohort_with_undeclared_group_is_refused(raw_example_config, config_schema):
    raw = copy.deepcopy(raw_example_config)
    raw["cohorts"][0]["groups"] = ["control", "silencd"]
    with pytest.raises(ConfigError, match=r"cohorts\[0\]\.groups: unknown group 'silencd'"):
        _validate(raw, config_schema)


def test_sessions_out_of_order_are_refused(raw_example_config, config_schema):
    raw = copy.deepcopy(raw_example_config)
    raw["treadmill"]["sessions"][2]["day"] = 1
    with pytest.raises(ConfigError, match="days must increase"):
        _validate(raw, config_schema)


def _sheet_with(tmp_path, edit):
    lines = SHEET.read_text().splitlines()
    edit(lines)
    path = tmp_path / "samples.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_unknown_group_in_sheet_names_line_mouse_and_choices(
    tmp_path, example_config, sheet_schema
):
    path = _sheet_with(
        tmp_path, lambda lines: lines.__setitem__(3, lines[3].replace("\tcontrol\t", "\tcontrl\t"))
    )
    with pytest.raises(ConfigError) as error:
        read_sample_sheet(path, sheet_schema, example_config)
    assert str(error.value) == (
        f"{path} line 4 (mouse M003), column 'group': unknown group 'contrl' for cohort "
        "'silencing' — expected one of: control, silenced"
    )


def test_duplicated_mouse_names_both_lines(tmp_path, example_config, sheet_schema):
    path = _sheet_with(tmp_path, lambda lines: lines.append(lines[5]))
    last_line = len(path.read_text().splitlines())
    with pytest.raises(
        ConfigError,
        match=rf"line {last_line}, column 'mouse_id': mouse 'M005' is listed again "
        r"\(first on line 6\)",
    ):
        read_sample_sheet(path, sheet_schema, example_config)


def test_sheet_value_outside_enum_is_named(tmp_path, example_config, sheet_schema):
    path = _sheet_with(
        tmp_path, lambda lines: lines.__setitem__(2, lines[2].replace("\tmale\t", "\tMale\t"))
    )
    with pytest.raises(
        ConfigError,
        match=r"line 3 \(mouse M002\): sex = 'Male' is not allowed; "
        r"expected one of: female, male",
    ):
        read_sample_sheet(path, sheet_schema, example_config)


def test_unknown_sheet_column_is_refused_with_suggestion(tmp_path, example_config, sheet_schema):
    def rename(lines):
        lines[0] = lines[0].replace("genotype", "genotyp")

    path = _sheet_with(tmp_path, rename)
    with pytest.raises(
        ConfigError,
        match=r"samples\.tsv line 1, column 'genotyp': unknown column — did you mean 'genotype'\?",
    ):
        read_sample_sheet(path, sheet_schema, example_config)


def _metrics(tmp_path, example_config, sheet_schema, edit_summary=None, edit_sheet=None):
    treadmill = example_config["treadmill"]
    summary = tmp_path / "summary.csv"
    shutil.copy(REPO / treadmill["summary_table"], summary)
    if edit_summary:
        lines = summary.read_text().splitlines()
        edit_summary(lines)
        summary.write_text("\n".join(lines) + "\n")
    sheet_path = _sheet_with(tmp_path, edit_sheet or (lambda lines: None))
    sheet = read_sample_sheet(sheet_path, sheet_schema, example_config)
    settings = {**treadmill, "metrics_source": "summary", "summary_table": str(summary)}
    return treadmill_test_metrics(str(summary), [], sheet, settings, sheet_path=str(sheet_path))


def test_mouse_in_data_but_not_in_sheet_names_the_data_line(tmp_path, example_config, sheet_schema):
    def add_stranger(lines):
        lines.append(lines[1].replace("M001", "M999"))

    with pytest.raises(
        InputDataError,
        match=r"summary\.csv line 286: mouse 'M999' is not in the "
        r"sample sheet .* — add the mouse to .* or remove the row",
    ):
        _metrics(tmp_path, example_config, sheet_schema, edit_summary=add_stranger)


def test_sheet_row_without_data_is_refused(tmp_path, example_config, sheet_schema):
    def drop_m005(lines):
        lines[:] = [line for line in lines if not line.startswith("M005,")]

    with pytest.raises(
        InputDataError,
        match=r"samples\.tsv: mouse M005 has no test in .* "
        r"— add its tests, or give the reason it has none in the 'excluded_reason'",
    ):
        _metrics(tmp_path, example_config, sheet_schema, edit_summary=drop_m005)


def test_duplicated_test_names_both_lines(tmp_path, example_config, sheet_schema):
    with pytest.raises(
        InputDataError,
        match=r"mouse M001 has 2 tests for session 'baseline' "
        r"\(lines 2, 286\)",
    ):
        _metrics(
            tmp_path,
            example_config,
            sheet_schema,
            edit_summary=lambda lines: lines.append(lines[1]),
        )


def test_unknown_session_in_data_lists_the_sessions(tmp_path, example_config, sheet_schema):
    def rename(lines):
        lines[2] = lines[2].replace(",d3,", ",day3,")

    with pytest.raises(
        InputDataError,
        match=r"line 3: session 'day3' is not in the config's "
        r"treadmill\.sessions — expected one of: baseline, d3",
    ):
        _metrics(tmp_path, example_config, sheet_schema, edit_summary=rename)


def test_non_numeric_body_mass_names_line_and_column(tmp_path, example_config, sheet_schema):
    def corrupt(lines):
        lines[4] = lines[4].rsplit(",", 1)[0] + ",24 g"

    with pytest.raises(
        InputDataError,
        match=r"line 5, column 'Body mass \(g\)': '24 g' is not a "
        r"number",
    ):
        _metrics(tmp_path, example_config, sheet_schema, edit_summary=corrupt)
