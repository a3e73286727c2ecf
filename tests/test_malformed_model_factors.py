"""Malformed declarations of sample-sheet model factors (sex, cage, batch): each stops with one
line naming the file or key and the fix, and the raw files are left as they were."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from malformed import CLEAR_STOP, Case, assert_one_line, digests

from exneuro.config import read_sample_sheet, validate_config
from exneuro.errors import ExneuroError
from exneuro.model_factors import attach_sheet_columns, usable_factors

SHEET = REPO / "config" / "samples.tsv"

CASES = [
    Case(
        "factors-fixed-not-a-list",
        "config",
        CLEAR_STOP,
        "config/config.yaml: cohorts[0].model_factors.fixed: 'sex' is not of type 'array'",
    ),
    Case(
        "factors-misspelled-key",
        "config",
        CLEAR_STOP,
        "config/config.yaml: unknown key 'cohorts[0].model_factors.fixd' — did you mean 'fixed'?",
    ),
    Case(
        "factors-column-not-in-sheet",
        "sample sheet",
        CLEAR_STOP,
        "{sheet}: cohorts[0].model_factors names column 'litter', which the sample sheet does "
        "not have — add the column or remove it from model_factors",
    ),
    Case(
        "factors-modality-column-not-in-sheet",
        "sample sheet",
        CLEAR_STOP,
        "samples.tsv: model_factors names column(s) ['litter'], which the sample sheet does not "
        "have — add the column or fix model_factors (columns: mouse_id, sex, cage)",
    ),
    Case(
        "factors-empty-value",
        "sample sheet",
        CLEAR_STOP,
        "samples.tsv: animal M2 has no value in column 'sex', a declared model factor — fill it "
        "in the sample sheet, or exclude the animal",
    ),
    Case(
        "factors-animal-in-two-cages",
        "sample sheet",
        CLEAR_STOP,
        "samples.tsv: animal M1 is in more than one cage: cage cannot be a unit the animals are "
        "nested in — give each animal one cage, or drop it from model_factors.random",
    ),
]
BY_ID = {case.id: case for case in CASES}


def animal_rows() -> pd.DataFrame:
    mice = [f"M{i}" for i in range(8)]
    return pd.DataFrame(
        {
            "mouse": np.repeat(mice, 2),
            "group": np.repeat(["a", "b"], 8),
            "sex": np.tile(np.repeat(["male", "female"], 2), 4),
            "cage": np.repeat([f"K{i}" for i in range(4)], 4),
            "session": np.tile(["pre", "post"], 8),
            "value": np.arange(16.0),
        }
    )


@pytest.mark.parametrize(
    ("case_id", "declared"),
    [("factors-fixed-not-a-list", {"fixed": "sex"}), ("factors-misspelled-key", {"fixd": ["sex"]})],
)
def test_a_malformed_declaration_is_one_line(case_id, declared, raw_example_config, config_schema):
    config = copy.deepcopy(raw_example_config)
    config["cohorts"][0]["model_factors"] = declared
    with pytest.raises(ExneuroError) as error:
        validate_config(config, config_schema, "config/config.yaml")
    assert_one_line(str(error.value))
    assert str(error.value) == BY_ID[case_id].expected


def test_a_cohort_factor_missing_from_the_sheet_stops_at_the_sheet(
    tmp_path, example_config, sheet_schema
):
    sheet = tmp_path / "samples.tsv"
    shutil.copy(SHEET, sheet)
    before = digests([sheet])
    example_config["cohorts"][0]["model_factors"] = {"fixed": ["litter"]}
    with pytest.raises(ExneuroError) as error:
        read_sample_sheet(sheet, sheet_schema, example_config)
    assert_one_line(str(error.value))
    assert str(error.value) == BY_ID["factors-column-not-in-sheet"].expected.format(sheet=sheet)
    assert digests([sheet]) == before


def test_a_modality_factor_missing_from_the_sheet_is_one_line():
    data = animal_rows()
    sheet = data[["mouse", "sex", "cage"]].drop_duplicates().rename(columns={"mouse": "mouse_id"})
    with pytest.raises(ExneuroError) as error:
        attach_sheet_columns(
            data.drop(columns=["sex", "cage"]), sheet, ["litter"], "mouse", "samples.tsv"
        )
    assert_one_line(str(error.value))
    assert str(error.value) == BY_ID["factors-modality-column-not-in-sheet"].expected


@pytest.mark.parametrize(
    ("case_id", "edit", "declared"),
    [
        (
            "factors-empty-value",
            lambda d: d.assign(sex=d["sex"].where(d["mouse"] != "M2", "")),
            {"fixed": ["sex"]},
        ),
        (
            "factors-animal-in-two-cages",
            lambda d: d.assign(
                cage=d["cage"].where(~((d["mouse"] == "M1") & (d["session"] == "post")), "K9")
            ),
            {"random": "cage"},
        ),
    ],
)
def test_a_factor_the_data_break_is_one_line(case_id, edit, declared):
    with pytest.raises(ExneuroError) as error:
        usable_factors(edit(animal_rows()), declared, "cohort=c", where="samples.tsv")
    assert_one_line(str(error.value))
    assert str(error.value) == BY_ID[case_id].expected
