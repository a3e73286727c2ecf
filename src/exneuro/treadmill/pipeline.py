"""The treadmill analysis steps the workflow runs, from files to tidy tables."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

from exneuro.errors import data_error
from exneuro.treadmill.metrics import (
    add_baseline_change,
    check_against_sheet,
    compute_tests,
    metric_columns,
)
from exneuro.treadmill.readers import read_stage_log, read_summary_table


def match_pattern(pattern: str, path: str) -> dict[str, str] | None:
    """Wildcard values of ``path`` under a '{mouse}_{session}.csv'-style pattern, or None."""
    regex = re.escape(pattern)
    for name in re.findall(r"\{([a-z]+)\}", pattern):
        regex = regex.replace(re.escape("{" + name + "}"), f"(?P<{name}>[^/]+?)", 1)
    match = re.fullmatch(regex, path)
    return match.groupdict() if match else None


def read_stage_logs(
    paths: Sequence[str], treadmill: Mapping
) -> dict[tuple[str, str], pd.DataFrame]:
    """Stage logs keyed by (mouse, session) from their file names; a log whose header names
    another mouse than its file name is an error."""
    logs = {}
    for path in paths:
        keys = match_pattern(treadmill["stage_logs"], str(path))
        if keys is None:
            raise data_error(
                str(path),
                "file name does not fit treadmill.stage_logs",
                f"expected {treadmill['stage_logs']}",
            )
        stages = read_stage_log(path, treadmill["stage_log_columns"], treadmill["incline_unit"])
        subject = stages.attrs["metadata"].get("subject")
        if subject and subject != keys["mouse"]:
            raise data_error(
                str(path),
                f"the header names mouse {subject} but the file name names {keys['mouse']}",
                "rename the file or fix the header",
            )
        logs[(keys["mouse"], keys["session"])] = stages
    return logs


def test_metrics(
    summary_path: str,
    log_paths: Sequence[str],
    sheet: pd.DataFrame,
    treadmill: Mapping,
    sheet_path: str = "the sample sheet",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-test metrics (with change from baseline) and the QC table of one study."""
    summary = read_summary_table(
        summary_path,
        treadmill["summary_columns"],
        treadmill["time_to_exhaustion_unit"],
        treadmill["incline_unit"],
        treadmill["missing_values"],
    )
    sessions = [s["id"] for s in treadmill["sessions"]]
    if treadmill.get("cohorts"):
        cohort_of = sheet.set_index("mouse_id")["cohort"]
        other = summary["mouse"].map(cohort_of).notna() & ~summary["mouse"].map(cohort_of).isin(
            treadmill["cohorts"]
        )
        if other.any():
            row = summary.loc[other].iloc[0]
            raise data_error(
                summary_path,
                f"mouse {row['mouse']} is in cohort "
                f"'{cohort_of[row['mouse']]}', which is not in treadmill.cohorts",
                "add the cohort there or remove the row",
                line=int(row["source_line"]),
            )
        sheet = sheet[sheet["cohort"].isin(treadmill["cohorts"])]
    check_against_sheet(summary, sheet, sessions, treadmill["protocols"], summary_path, sheet_path)
    logs = (
        read_stage_logs(log_paths, treadmill)
        if treadmill["metrics_source"] == "stage_logs"
        else None
    )
    tests, qc = compute_tests(summary, sheet, treadmill, logs)
    _require_tests_per_group(tests, summary_path)
    columns = list(metric_columns(treadmill["work_definition"]).values())
    return add_baseline_change(tests, columns, treadmill["baseline_session"]), qc


def _require_tests_per_group(tests: pd.DataFrame, summary_path: str) -> None:
    """Every group of every cohort keeps at least one test for the statistics: a group whose
    tests are all excluded (in the config, or as implausible values with ``implausible: flag``)
    leaves nothing to compare."""
    included = tests.loc[~tests["excluded"], ["cohort", "group"]].drop_duplicates()
    kept = set(zip(included["cohort"], included["group"], strict=True))
    for (cohort, group), rows in tests.groupby(["cohort", "group"], sort=False):
        if (cohort, group) not in kept:
            raise data_error(
                summary_path,
                f"every test of group '{group}' in cohort '{cohort}' is excluded ({len(rows)} "
                f"tests; the first: {rows['exclusion_reason'].iloc[0]})",
                "correct the values or the exclusions: the statistics need each group's tests",
            )
