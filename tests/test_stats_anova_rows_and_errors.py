"""RM and mixed ANOVA beyond the reference numbers: the rows a result writes to the statistics
table, and the bad designs and arguments it stops on, naming the subject, cell or factor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anova_references import BUGS_WITHIN, bugs, close, pingouin

from exneuro.stats.anova import rm_anova
from exneuro.stats.table import STAT_COLUMNS

# ------------------------------------------------------------------------------ to_stats


def test_to_stats_columns_and_values():
    result = rm_anova(pingouin("mixed_anova.csv"), "Scores", "Subject", ["Time"], ["Group"])
    stats = result.to_stats()
    assert list(stats.columns) == list(STAT_COLUMNS)
    assert stats["term"].tolist() == ["Group", "Time", "Group:Time"]
    table = result.table.set_index("term")
    rows = stats.set_index("term")
    time = rows.loc["Time"]
    assert time["test"] == "mixed_anova"
    assert time["model"] == "Scores ~ Group * Time, Error(Subject/Time); type III SS"
    assert (time["statistic_name"], time["df_num"], time["df_den"]) == ("F", 2.0, 116.0)
    assert time["statistic"] == table.loc["Time", "F"]
    assert time["p"] == table.loc["Time", "p"]
    assert time["p_adj"] == table.loc["Time", "p_gg"]
    assert close(time["p_adj"], 0.02044)
    assert time["correction"] == "Greenhouse-Geisser"
    assert time["epsilon"] == table.loc["Time", "eps_gg"]
    assert (time["effect_size_name"], time["effect_size_alt_name"]) == (
        "partial eta^2",
        "generalized eta^2",
    )
    assert close(time["effect_size"], 0.06493)
    assert close(time["effect_size_alt"], 0.04234)
    assert (time["n_mice"], time["n_obs"], time["n_excluded"]) == (60, 180, 0)
    assert time["n_by_group"] == "Control=30; Meditation=30"
    assert "type III SS" in time["notes"]
    # sphericity statistics are columns of the row, equal to the ANOVA table's (R's numbers)
    for column in ("mauchly_w", "mauchly_p", "eps_gg", "eps_hf", "p_gg", "p_hf"):
        assert time[column] == table.loc["Time", column]
    assert np.isnan(rows.loc["Group", "mauchly_w"])
    group = rows.loc["Group"]
    assert group["p_adj"] == group["p"]
    assert np.isnan(group["epsilon"])
    assert group["correction"].startswith("none")

    hf = result.to_stats("huynh-feldt").set_index("term").loc["Time"]
    assert hf["p_adj"] == table.loc["Time", "p_hf"]
    assert hf["epsilon"] == 1.0  # HF 1.0337 capped at 1
    none = result.to_stats("none").set_index("term").loc["Time"]
    assert (none["p_adj"], none["correction"]) == (none["p"], "none")
    with pytest.raises(ValueError, match="correction"):
        result.to_stats("bonferroni")


def test_to_stats_within_only_one_df_term():
    result = rm_anova(bugs(), "DesireToKill", "Subject", within=BUGS_WITHIN)
    stats = result.to_stats()
    assert stats["test"].eq("rm_anova").all()
    assert stats["correction"].eq("none (1 df)").all()
    assert stats["p_adj"].equals(stats["p"])
    assert stats["n_by_group"].eq("all=88").all()
    assert stats["n_obs"].eq(88 * 4).all()
    assert stats["model"].iloc[0] == (
        "DesireToKill ~ Disgustingness * Frighteningness, "
        "Error(Subject/(Disgustingness * Frighteningness)); type III SS"
    )


# ------------------------------------------------------------------------------ input errors


def test_duplicate_subject_cell_raises_naming_subject_and_cell():
    data = pingouin("mixed_anova.csv")
    duplicate = data[(data["Subject"] == 7) & (data["Time"] == "June")]
    with pytest.raises(ValueError, match=r"subject 7 .*Time=June"):
        rm_anova(pd.concat([data, duplicate]), "Scores", "Subject", ["Time"], ["Group"])


def test_subject_in_two_between_groups_raises_naming_it():
    data = pingouin("mixed_anova.csv")
    data.loc[(data["Subject"] == 12) & (data["Time"] == "June"), "Group"] = "Meditation"
    assert data.loc[data["Subject"] == 12, "Group"].nunique() == 2
    with pytest.raises(ValueError, match=r"subject 12 .*'Group'"):
        rm_anova(data, "Scores", "Subject", ["Time"], ["Group"])


def test_one_level_factor_raises_naming_it():
    data = pingouin("mixed_anova.csv").assign(Site="lab1")
    with pytest.raises(ValueError, match=r"factor 'Site' has 1 level"):
        rm_anova(data, "Scores", "Subject", ["Time"], ["Site"])
    june = data[data["Time"] == "June"]
    with pytest.raises(ValueError, match=r"factor 'Time' has 1 level"):
        rm_anova(june, "Scores", "Subject", ["Time"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"within": ["Time"], "ss_type": 1}, "ss_type"),
        ({"within": ["Tme"]}, "not in data"),
        ({}, "at least one"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rm_anova(pingouin("mixed_anova.csv"), "Scores", "Subject", **kwargs)


def test_empty_between_cell_raises():
    data = pingouin("mixed_anova.csv")
    data["Site"] = np.where(data["Subject"] % 2 == 0, "s1", "s2")
    data.loc[(data["Group"] == "Control") & (data["Site"] == "s2"), "Scores"] = np.nan
    with pytest.raises(ValueError, match="Group=Control, Site=s2"):
        rm_anova(data, "Scores", "Subject", ["Time"], ["Group", "Site"])
