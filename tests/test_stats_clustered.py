"""Nested data (cells within mice): the test on mouse means is the two-group test of those means,
the hierarchical bootstrap is deterministic for a seed, recovers a planted difference and matches
its closed-form variance and an exact enumeration, and the cell-level test (cells as n) is
anti-conservative where the mouse-level test is not.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from exneuro.stats import clustered, compare, two_group
from exneuro.stats.table import STAT_COLUMNS


def row(frame: pd.DataFrame) -> pd.Series:
    assert len(frame) == 1
    assert list(frame.columns) == list(STAT_COLUMNS)
    return frame.iloc[0]


def nested_data(
    rng: np.random.Generator,
    n_mice: int = 8,
    n_cells: int = 30,
    effect: float = 0.0,
    sd_mouse: float = 1.0,
    sd_cell: float = 1.0,
) -> pd.DataFrame:
    mouse = np.repeat(np.arange(2 * n_mice), n_cells)
    mouse_mean = rng.normal(0, sd_mouse, 2 * n_mice) + np.where(np.arange(2 * n_mice) < n_mice,
                                                                  0.0, effect)  # fmt: skip
    return pd.DataFrame(
        {
            "group": np.where(mouse < n_mice, "control", "treated"),
            "mouse": [f"m{m:02d}" for m in mouse],
            "cell": np.tile(np.arange(n_cells), 2 * n_mice),  # cell ids repeat across mice
            "value": np.repeat(mouse_mean, n_cells) + rng.normal(0, sd_cell, mouse.size),
        }
    )


def test_cluster_level_test_is_two_group_test_on_mouse_means():
    df = nested_data(np.random.default_rng(5), effect=0.5)
    df = df.drop(index=[0, 1, 2])  # unequal cell counts
    got = row(compare.cluster_level_test(df, "value", "group", "mouse"))
    means = df.groupby(["group", "mouse"])["value"].mean()
    ref = row(compare.two_group_test(means["control"], means["treated"]))
    for col in ("estimate", "ci_low", "ci_high", "statistic", "df_num", "p", "effect_size"):
        assert got[col] == ref[col]
    assert got["test"] == "welch_t_mouse_means"
    assert got["n_mice"] == 16 and got["n_cells"] == len(df) == 477
    assert "averaged within each mouse" in got["notes"]
    crossed = df.copy()
    crossed.loc[crossed.index[-1], "mouse"] = "m00"  # a control mouse now also in 'treated'
    with pytest.raises(ValueError, match="more than one group"):
        compare.cluster_level_test(crossed, "value", "group", "mouse")


def test_hierarchical_bootstrap_is_deterministic_for_a_seed():
    df = nested_data(np.random.default_rng(1), effect=1.0)
    out = compare.hierarchical_bootstrap(df, "value", "group", n_boot=10000, seed=0)
    again = compare.hierarchical_bootstrap(df, "value", "group", n_boot=10000, seed=0)
    assert again.equals(out)
    other = compare.hierarchical_bootstrap(df, "value", "group", n_boot=10000, seed=1)
    assert other["ci_low"].iloc[0] != out["ci_low"].iloc[0]
    got = row(out)
    assert got["n_mice"] == 16 and got["n_cells"] == 480 and got["n_obs"] == 480
    assert got["n_by_group"] == "control=8; treated=8"


def test_hierarchical_bootstrap_recovers_planted_difference():
    """Planted difference 2 (between-mouse SD 0.5, within 1): over 60 simulated experiments the
    95% CI covers 2 in most of them and p is small in every one."""
    rng = np.random.default_rng(8)
    n_sim, covered, p_values = 60, 0, []
    for i in range(n_sim):
        df = nested_data(rng, effect=2.0, sd_mouse=0.5, sd_cell=1.0)
        got = row(compare.hierarchical_bootstrap(df, "value", "group", n_boot=2000, seed=i))
        covered += got["ci_low"] < 2.0 < got["ci_high"]
        p_values.append(got["p"])
        obs = df.groupby("group")["value"].mean()
        assert got["estimate"] == pytest.approx(obs["treated"] - obs["control"], rel=1e-12)
    # expected ~0.93-0.95 (percentile intervals are slightly narrow with 8 mice); 0.85 is
    # ~3 binomial SDs below, a broken resampler (e.g. cells only) covers far less
    assert covered / n_sim >= 0.85
    assert max(p_values) < 0.01
    null = nested_data(np.random.default_rng(9), effect=0.0, sd_mouse=0.5)
    assert row(compare.hierarchical_bootstrap(null, "value", "group", n_boot=4000))["p"] > 0.05


def test_hierarchical_bootstrap_variance_matches_closed_form():
    """Equal cells per mouse: Var*(pooled mean) = (s_b^2 + mean_i s_wi^2 / K) / M, with the
    bootstrap (divide-by-n) variances s_b^2 of the mouse means and s_wi^2 within mouse i."""
    df = nested_data(np.random.default_rng(4), n_mice=6, n_cells=10)
    part = df[df.group == "control"]
    boot = compare.hierarchical_bootstrap_distribution(
        part, "value", ("mouse", "cell"), 40000, seed=3
    )
    by_mouse = part.groupby("mouse")["value"]
    m_means = by_mouse.mean().to_numpy()
    s_b2 = np.var(m_means)
    s_w2 = by_mouse.var(ddof=0).mean()
    expected_var = (s_b2 + s_w2 / 10) / 6
    # SD of a variance estimate from 40,000 draws is ~ sqrt(2/40000) = 0.7% of it
    assert np.var(boot) == pytest.approx(expected_var, rel=0.03)
    assert boot.mean() == pytest.approx(part["value"].mean(), abs=4 * math.sqrt(expected_var / 4e4))


def test_hierarchical_bootstrap_matches_enumeration_with_unequal_cells():
    """Two mice with 1 and 3 cells: enumerate every equally likely resample exactly."""
    df = pd.DataFrame(
        {"mouse": ["A", "B", "B", "B"], "cell": [0, 0, 1, 2], "value": [0.0, 1.0, 2.0, 7.0]}
    )
    cells = {"A": [0.0], "B": [1.0, 2.0, 7.0]}
    outcomes_mean, outcomes_median = [], []
    for mice in itertools.product("AB", repeat=2):
        for draw in itertools.product(*[itertools.product(cells[m], repeat=len(cells[m]))
                                        for m in mice]):  # fmt: skip
            pooled = [v for part in draw for v in part]
            outcomes_mean.append(np.mean(pooled) * 1)
            outcomes_median.append(np.median(pooled))
    # each mouse pair has probability 1/4, split evenly over its cell draws
    weights = []
    for mice in itertools.product("AB", repeat=2):
        n_draws = math.prod(len(cells[m]) ** len(cells[m]) for m in mice)
        weights += [0.25 / n_draws] * n_draws
    weights = np.array(weights)
    exact_mean = np.sum(weights * outcomes_mean)
    exact_var = np.sum(weights * (np.array(outcomes_mean) - exact_mean) ** 2)
    exact_median = np.sum(weights * np.array(outcomes_median))
    n = 200_000
    boot = compare.hierarchical_bootstrap_distribution(df, "value", ("mouse", "cell"), n, seed=0)
    assert boot.mean() == pytest.approx(exact_mean, abs=4 * math.sqrt(exact_var / n))
    assert np.var(boot) == pytest.approx(exact_var, rel=0.02)
    med = compare.hierarchical_bootstrap_distribution(df, "value", ("mouse", "cell"), n, seed=0,
                                                statistic="median")  # fmt: skip
    med_sd = math.sqrt(np.sum(weights * (np.array(outcomes_median) - exact_median) ** 2))
    assert med.mean() == pytest.approx(exact_median, abs=4 * med_sd / math.sqrt(n))


def test_cell_level_test_is_anti_conservative_but_cluster_test_is_not():
    """Zero planted effect, between-mouse SD = within-mouse SD, 8 mice x 30 cells per group:
    treating cells as independent inflates the false-positive rate (design effect ~ 15.5)."""
    rng = np.random.default_rng(2024)
    n_sim, n_mice, n_cells = 200, 8, 30
    naive = cluster = 0
    for _ in range(n_sim):
        df = nested_data(rng, n_mice=n_mice, n_cells=n_cells, effect=0.0)
        control = df.loc[df.group == "control", "value"]
        treated = df.loc[df.group == "treated", "value"]
        # record-level helpers: identical numbers to the public functions (checked above)
        # without building a one-row table per simulated dataset
        naive += (
            two_group._two_group_record(control, treated, "welch", ("c", "t"), 0.95, "cells")["p"]
            < 0.05
        )
        cluster += (
            clustered._cluster_record(df, "value", "group", "mouse", "welch", None, 0.95)["p"]
            < 0.05
        )
    assert naive / n_sim > 0.3  # far above 5%
    # binomial SD at 5% with 200 draws is 1.5%; 0.10 is more than 3 SD above nominal
    assert cluster / n_sim <= 0.10
