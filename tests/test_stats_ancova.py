"""Baseline-adjusted ANCOVA equals R ``lm(follow_up ~ baseline + group)``; declared transforms.

Reference: tests/reference/model_output_r (make_reference.R section 7, ancova.csv).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exneuro.errors import InputDataError
from exneuro.stats.ancova import baseline_ancova
from exneuro.stats.transforms import apply_transform

REF = Path(__file__).parent / "reference" / "model_output_r"


def test_ancova_equals_r_lm():
    ref = json.loads((REF / "r_results.json").read_text())["ancova"]
    data = pd.read_csv(REF / "ancova.csv")
    rows = baseline_ancova(
        data, "follow_up", "baseline", "group", ["control", "silenced", "stimulated"]
    ).set_index("term")
    assert list(rows.index) == ["group", "silenced - control", "stimulated - control"]
    np.testing.assert_allclose(
        rows.loc["group", ["statistic", "p"]].astype(float),
        [ref["group_F"], ref["group_p"]],
        rtol=1e-10,
    )
    assert (rows.loc["group", "df_num"], rows.loc["group", "df_den"]) == (2, ref["df"])
    contrasts = rows.iloc[1:]
    for column, key in (
        ("estimate", "estimate"),
        ("se", "se"),
        ("statistic", "t"),
        ("p", "p"),
        ("ci_low", "ci_low"),
        ("ci_high", "ci_high"),
    ):
        np.testing.assert_allclose(contrasts[column], ref[key][2:], rtol=1e-10)
    assert set(contrasts["df_num"]) == {ref["df"]}
    assert set(rows["n_by_group"]) == {"control=8; silenced=8; stimulated=8"}


def test_ancova_recovers_a_planted_adjusted_difference_despite_baseline_imbalance():
    rng = np.random.default_rng(3)
    n = 400
    group = np.repeat(["control", "trained"], n)
    baseline = rng.normal(500, 80, 2 * n) + np.where(group == "trained", 60, 0)  # imbalance
    follow = 50 + 0.9 * baseline + np.where(group == "trained", 30, 0) + rng.normal(0, 30, 2 * n)
    data = pd.DataFrame({"group": group, "baseline": baseline, "follow_up": follow})
    row = baseline_ancova(data, "follow_up", "baseline", "group", ["control", "trained"]).iloc[0]
    assert row["ci_low"] < 30 < row["ci_high"]
    # the unadjusted difference in follow-up would carry 0.9 x 60 = 54 of baseline imbalance
    assert row["estimate"] == pytest.approx(30, abs=8)


def test_ancova_names_missing_groups():
    data = pd.DataFrame({"group": ["a", "a"], "baseline": [1.0, 2.0], "follow_up": [2.0, 3.0]})
    with pytest.raises(ValueError, match="needs the control 'c'"):
        baseline_ancova(data, "follow_up", "baseline", "group", ["c", "a"])


def test_log_transform_and_its_domain():
    values = pd.Series([1.0, np.e, np.nan])
    np.testing.assert_allclose(apply_transform(values, "log", "x"), [0.0, 1.0, np.nan])
    with pytest.raises(
        InputDataError, match=r"treadmill distance_m.*<= 0 cannot be log-transformed"
    ):
        apply_transform(pd.Series([3.0, 0.0]), "log", "treadmill distance_m")
    np.testing.assert_allclose(apply_transform(pd.Series([0.0, 4.0]), "sqrt", "x"), [0.0, 2.0])
