"""Designs the example does not have: each runs with a "not tested" row naming the reason, or
stops with one line naming the file, table or key and the fix."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from exneuro.config import ConfigError, read_sample_sheet, table_design, validate_config
from exneuro.errors import InputDataError
from exneuro.tables.design import factor_levels, read_declared_table
from exneuro.tables.statistics import declared_statistics

STUDY = {
    "study": {"id": "designs", "title": "designs"},
    "groups": [
        {"id": "TRN", "label": "Trained", "color": "#000000"},
        {"id": "VEH", "label": "Control", "color": "#111111"},
    ],
    "cohorts": [{"id": "c", "groups": ["TRN", "VEH"], "control_group": "VEH"}],
}


def study_table(config_schema, tmp_path, text: str, **table) -> tuple[dict, dict]:
    """A study with one declared table of ``text``; its config and the table's declaration."""
    path = tmp_path / "table.csv"
    path.write_text(text)
    declaration = {"file": str(path), "subject": "mouse", "join_sample_sheet": False, **table}
    config = validate_config(
        copy.deepcopy(STUDY) | {"tables": {"t": declaration}}, config_schema, "c"
    )
    return config, table_design(config, "t")


def statistics(config_schema, tmp_path, text: str, **table) -> pd.DataFrame:
    _, declaration = study_table(config_schema, tmp_path, text, **table)
    return declared_statistics(read_declared_table(declaration, None, "t"), declaration, "t")


PRE_POST = """mouse,group,time,mass
m1,TRN,pre,20
m1,TRN,post,26
m2,TRN,pre,21
m2,TRN,post,28
m3,VEH,pre,20
m3,VEH,post,21
m4,VEH,pre,22
m4,VEH,post,22.5
"""


def test_control_group_is_the_reference_whatever_its_name_or_place(config_schema, tmp_path):
    stats = statistics(
        config_schema,
        tmp_path,
        PRE_POST,
        between=["group"],
        within=["time"],
        outcomes=["mass"],
        tests=["posthoc", "two_group"],
        posthoc={"factor": "group", "by": "time"},
    )
    contrasts = stats[stats["test"] == "emm_contrast"].set_index("subset")
    # 'VEH' is second under 'groups' and alphabetically, but the control: every contrast is
    # TRN - VEH
    assert set(contrasts["term"]) == {"TRN - VEH"}
    # long-format text levels keep the file's order: pre before post, never alphabetical
    assert list(contrasts.index) == ["time=pre", "time=post"]
    assert contrasts.loc["time=post", "estimate"] == pytest.approx(27 - 21.75)
    welch = stats[stats["test"] == "welch_t"].set_index("subset")
    assert welch.loc["time=post", "term"] == "TRN - VEH"
    assert welch.loc["time=post", "estimate"] == pytest.approx(27 - 21.75)


def test_level_order_declared_in_the_config_wins(config_schema, tmp_path):
    config, declaration = study_table(
        config_schema,
        tmp_path,
        PRE_POST,
        between=["group"],
        within=["time"],
        outcomes=["mass"],
        tests=["lmm"],
        level_order={"time": ["post", "pre"], "group": ["TRN", "VEH"]},
    )
    levels = factor_levels(read_declared_table(declaration, None, "t"), declaration)
    assert levels == {"group": ["TRN", "VEH"], "time": ["post", "pre"]}


def test_numbered_levels_sort_by_their_number(config_schema, tmp_path):
    text = "mouse,group,week,mass\n" + "".join(
        f"m{m},{g},w{w},{20 + w}\n" for m, g in [(1, "TRN"), (2, "VEH")] for w in (10, 2, 1)
    )
    _, declaration = study_table(
        config_schema,
        tmp_path,
        text,
        between=["group"],
        within=["week"],
        outcomes=["mass"],
        tests=["lmm"],
    )
    levels = factor_levels(read_declared_table(declaration, None, "t"), declaration)
    assert levels["week"] == ["w1", "w2", "w10"]


def test_empty_design_cell_gives_not_tested_rows_and_the_rest_still_runs(config_schema, tmp_path):
    text = PRE_POST.replace("m3,VEH,post,21\n", "m3,VEH,post,\n").replace(
        "m4,VEH,post,22.5\n", "m4,VEH,post,nd\n"
    )
    stats = statistics(
        config_schema,
        tmp_path,
        text,
        missing_values=["nd"],
        between=["group"],
        within=["time"],
        outcomes=["mass"],
        tests=["rm_anova", "lmm", "two_group"],
    )
    untested = stats[stats["notes"].str.startswith("not tested", na=False)].set_index("test")
    assert "without complete subjects" in untested.loc["rm_anova", "notes"]
    assert "rank deficient" in untested.loc["lmm", "notes"]
    welch = stats[stats["test"] == "welch_t"].set_index("subset")
    assert (
        welch.loc["time=post", "notes"]
        == "not tested: need at least 2 values per group, got VEH=0, TRN=2; "
        "mass: 2 missing values: empty x1, 'nd' x1 (lines 7, 9)"
    )
    assert pd.isna(welch.loc["time=post", "p"])
    assert welch.loc["time=pre", "p"] == pytest.approx(welch.loc["time=pre", "p_adj"])  # one test
    assert welch.loc["time=pre", "estimate"] == pytest.approx(20.5 - 21)


def test_one_mouse_in_a_group_is_not_tested_by_any_group_comparison(config_schema, tmp_path):
    text = "\n".join(line for line in PRE_POST.splitlines() if not line.startswith("m4")) + "\n"
    stats = statistics(
        config_schema,
        tmp_path,
        text,
        between=["group"],
        within=["time"],
        outcomes=["mass"],
        tests=["lmm", "two_group"],
    )
    reason = "not tested: group 'VEH' has 1 subject (a between-subject comparison needs 2 or more)"
    assert stats["test"].tolist() == ["lmm", "welch_t"]
    assert (stats["notes"] == reason).all() and stats["p"].isna().all()


def test_a_factor_with_one_level_in_a_split_is_not_tested_there(config_schema, tmp_path):
    text = PRE_POST + "m5,TRN,pre,20\nm5,TRN,post,25\nm6,TRN,pre,19\nm6,TRN,post,24\n"
    text = "mouse,group,time,mass,site\n" + "".join(
        f"{line},{'B' if line.startswith(('m5', 'm6')) else 'A'}\n"
        for line in text.splitlines()[1:]
    )
    stats = statistics(
        config_schema,
        tmp_path,
        text,
        split_by=["site"],
        between=["group"],
        within=["time"],
        outcomes=["mass"],
        tests=["rm_anova"],
    )
    site_b = stats[stats["subset"] == "site=B"]
    assert site_b["notes"].tolist() == ["not tested: 'group' has one level (TRN) here"]
    assert stats[stats["subset"] == "site=A"]["p"].notna().all()


def test_duplicated_row_is_named_by_its_lines(config_schema, tmp_path):
    with pytest.raises(
        InputDataError, match=r"line 3: mouse=m1, time=pre is on two rows \(lines 2 and 3\)"
    ):
        statistics(
            config_schema,
            tmp_path,
            PRE_POST.replace("m1,TRN,post,26", "m1,TRN,pre,26"),
            between=["group"],
            within=["time"],
            outcomes=["mass"],
            tests=["lmm"],
        )


def test_same_column_as_factor_and_covariate_is_one_config_line(config_schema, tmp_path):
    with pytest.raises(
        ConfigError, match="tables.t: 'time' is declared both as a factor and as a covariate"
    ):
        study_table(
            config_schema,
            tmp_path,
            PRE_POST,
            within=["time"],
            covariates=["time"],
            outcomes=["mass"],
            tests=["lmm"],
        )


def test_tables_only_study_needs_no_sample_sheet(config_schema, sheet_schema, tmp_path):
    config, _ = study_table(
        config_schema,
        tmp_path,
        PRE_POST,
        between=["group"],
        within=["time"],
        outcomes=["mass"],
        tests=["lmm"],
    )
    assert "samples" not in config
    sheet = read_sample_sheet(None, sheet_schema, config)
    assert sheet.empty and {"mouse_id", "group", "excluded_reason"} <= set(sheet.columns)
    joined = copy.deepcopy(STUDY) | {
        "tables": {"t": {"file": "x.csv", "subject": "m", "outcomes": ["y"], "tests": ["lmm"]}}
    }
    with pytest.raises(ConfigError, match="tables.t.join_sample_sheet: there is no sample sheet"):
        validate_config(joined, config_schema, "c")


def test_header_only_sample_sheet_has_no_mice_and_an_empty_file_is_named(
    sheet_schema, example_config, tmp_path
):
    header_only = tmp_path / "samples.tsv"
    header_only.write_text("mouse_id\tcohort\tsex\tgroup\n")
    tables_only = {key: example_config[key] for key in ("study", "groups", "cohorts")}
    sheet = read_sample_sheet(header_only, sheet_schema, tables_only)
    assert sheet.empty and "excluded_reason" in sheet.columns
    with pytest.raises(ConfigError, match="samples.tsv: the sample sheet has a header but no"):
        read_sample_sheet(header_only, sheet_schema, example_config)
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty.tsv: the sample sheet is empty"):
        read_sample_sheet(empty, sheet_schema, example_config)


def test_one_group_cohort_is_accepted(config_schema):
    config = copy.deepcopy(STUDY)
    config["cohorts"] = [{"id": "c", "groups": ["TRN"], "control_group": "TRN"}]
    assert validate_config(config, config_schema, "c")["cohorts"][0]["groups"] == ["TRN"]


def test_numeric_rnaseq_design_variable_must_be_declared(config_schema):
    from exneuro.rnaseq.pipeline import check_numeric_design_variables

    samples = pd.DataFrame({"group": ["a", "a", "b", "b"], "x_rin": ["7.1", "7.2", "8", "8"]})
    section = {"design": "~ x_rin + group", "continuous": [], "categorical": []}
    with pytest.raises(ConfigError, match="'x_rin' .* holds numbers .* rnaseq.continuous"):
        check_numeric_design_variables(samples, section, "samples.tsv")
    for declared in ("continuous", "categorical"):
        check_numeric_design_variables(samples, section | {declared: ["x_rin"]}, "samples.tsv")


def photometry_metrics(groups: dict[str, int], days: list[int], effect: float) -> pd.DataFrame:
    """Window metrics of ``groups`` (group -> mice) on ``days``: the non-control group higher
    by ``effect`` from the second day on, plus a per-mouse offset and small noise."""
    rng = np.random.default_rng(5)
    rows = []
    for group, n in groups.items():
        for m in range(n):
            offset = rng.normal(0, 0.2)
            for k, day in enumerate(days):
                raised = effect * (group != "control") * (k > 0 or len(days) == 1)
                value = 1.0 + offset + raised + 0.3 * k + rng.normal(0, 0.05)
                rows.append((f"{group}{m}", group, day, "post", "mean_dff", value))
    return pd.DataFrame(rows, columns=["mouse", "group", "day", "window", "metric", "value"])


def test_photometry_one_group_tests_days_only():
    from exneuro.photometry.epoch_stats import epoch_statistics

    stats = epoch_statistics(photometry_metrics({"control": 5}, [1, 4, 8], 0), "control")
    assert set(stats.loc[stats["test"] == "lmm", "term"]) == {"day"}
    contrasts = stats[stats["test"] == "emm_contrast"]
    assert contrasts["term"].tolist() == ["4 - 1", "8 - 1"]
    assert contrasts["estimate"].to_numpy() == pytest.approx([0.3, 0.6], abs=0.06)
    assert stats.loc[stats["test"] == "rm_anova", "term"].tolist() == ["day"]


def test_photometry_one_day_compares_groups_on_mouse_values():
    from exneuro.photometry.epoch_stats import epoch_statistics

    stats = epoch_statistics(photometry_metrics({"control": 5, "silenced": 5}, [8], 1.0), "control")
    assert stats["test"].tolist() == ["welch_t"]
    assert stats["term"].iloc[0] == "silenced - control"
    assert stats["estimate"].iloc[0] == pytest.approx(1.0, abs=0.3)
    assert stats["p"].iloc[0] < 0.01


def test_photometry_one_mouse_in_a_group_is_not_tested():
    from exneuro.photometry.epoch_stats import epoch_statistics

    metrics = photometry_metrics({"control": 1, "silenced": 4}, [1, 8], 1.0)
    stats = epoch_statistics(metrics, "control")
    assert stats["notes"].tolist() == [
        "not tested: group control has 1 mouse (2 or more are needed)"
    ]
    assert stats["p"].isna().all()


def test_a_subject_excluded_from_one_table_only_is_named_in_its_rows(config_schema, tmp_path):
    stats = statistics(
        config_schema,
        tmp_path,
        PRE_POST + "m5,VEH,pre,40\nm5,VEH,post,60\n",
        between=["group"],
        within=["time"],
        outcomes=["mass"],
        tests=["posthoc"],
        posthoc={"factor": "group", "by": "time"},
        exclude_subjects=[{"subject": "m5", "reason": "tumour found at dissection"}],
    )
    post = stats[stats["subset"] == "time=post"].iloc[0]
    assert post["estimate"] == pytest.approx(27 - 21.75)  # m5 left out
    assert post["n_mice"] == 4
    assert (
        stats["notes"].str.endswith("excluded by the config: m5 (tumour found at dissection)").all()
    )
    with pytest.raises(ConfigError, match="exclude_subjects: m9 not in"):
        statistics(
            config_schema,
            tmp_path,
            PRE_POST,
            within=["time"],
            outcomes=["mass"],
            tests=["lmm"],
            exclude_subjects=[{"subject": "m9", "reason": "typo"}],
        )


def test_table_without_within_factor_draws_bars_for_the_line_figure(
    config_schema, example_config, tmp_path
):
    from exneuro.paper.standard.behaviour import table_figure

    text = "mouse,group,bdnf\nm1,TRN,5\nm2,TRN,6\nm3,TRN,7\nm4,VEH,3\nm5,VEH,4\nm6,VEH,3.5\n"
    _, declaration = study_table(
        config_schema, tmp_path, text, between=["group"], outcomes=["bdnf"], tests=["two_group"]
    )
    assert declaration["figure"] == "line"
    data = read_declared_table(declaration, None, "t")
    stats = declared_statistics(data, declaration, "t")
    table_figure(
        data,
        stats,
        declaration,
        STUDY["groups"],
        example_config["figures"],
        [str(tmp_path / "t.png")],
        str(tmp_path / "source"),
        key="t",
    )
    drawn = pd.read_csv(tmp_path / "source" / "panel_A.tsv", sep="\t")
    assert drawn.query("kind == 'group'")["group"].tolist() == ["VEH", "TRN"]
    assert drawn.query("kind == 'group'")["value"].tolist() == pytest.approx([3.5, 6.0])


def test_peri_event_groups_too_small_to_test_leave_rows_not_a_crash():
    from exneuro.photometry.pipeline import WAVEFORM_COLUMNS, waveform_statistics

    lags = np.arange(-2.0, 3.0)
    aligned = pd.DataFrame(
        [
            ("cue", "dff", lag, value, mouse, group, 1, True)
            for mouse, group in (("a1", "control"), ("a2", "control"), ("b1", "treated"))
            for lag, value in zip(lags, np.where(lags > 0, 0.1, 0.0), strict=True)
        ],
        columns=["alignment", "column", "time_s", "value", "mouse", "group", "day", "included"],
    )
    peri = {
        "events": ["cue"],
        "days": None,
        "column": "dff",
        "bin_s": 1.0,
        "method": "bootstrap",
        "alpha": 0.05,
        "min_duration_s": 1.0,
        "n_boot": 200,
        "n_perm": 200,
        "seed": 0,
    }
    summary, intervals, rows = waveform_statistics(aligned, "control", peri, {"cohort": "c"})
    assert summary.empty and list(summary.columns) == WAVEFORM_COLUMNS
    assert intervals.empty
    assert rows["notes"].tolist() == [
        "not tested: 2 mouse/mice, fewer than 3",
        "not tested: 1 mouse/mice, fewer than 3",
    ]
