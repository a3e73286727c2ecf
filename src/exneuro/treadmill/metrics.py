"""Endurance-test metrics per mouse and session, quality control, and gains from baseline.

Input: the summary table, optional stage logs, the sample sheet and the ``treadmill`` config.
Output: one row per test with distance (m), time to exhaustion (s), maximal speed (m/min), work and
power, the mouse's cohort and group, and whether the test enters the statistics; plus a QC table
that lists every missing, excluded, inconsistent or unusual test with the action taken.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.treadmill.plausibility import apply_policy, implausible_values
from exneuro.treadmill.protocol import (
    expand_protocol,
    integrate_stages,
    time_for_distance,
    work_from_vertical,
)
from exneuro.treadmill.readers import stage_log_metrics

QC_COLUMNS = ["mouse", "cohort", "group", "session", "check", "detail", "action"]
MAD_TO_SD = 1.4826


def metric_columns(work_definition: str) -> dict[str, str]:
    """Config metric name -> column name with its unit (work and power depend on the definition)."""
    vertical = work_definition == "vertical"
    return {
        "distance_m": "distance_m",
        "time_to_exhaustion_s": "time_to_exhaustion_s",
        "max_speed_m_min": "max_speed_m_min",
        "work": "work_j" if vertical else "work_kg_m",
        "power": "power_w" if vertical else "power_kg_m_per_s",
    }


def check_against_sheet(
    summary: pd.DataFrame,
    sheet: pd.DataFrame,
    sessions: list[str],
    protocols: Mapping,
    summary_path: str,
    sheet_path: str,
) -> None:
    """Every test belongs to a mouse of the sheet, a known session and protocol; every included
    mouse of the sheet has at least one test."""
    checks = (
        ("mouse", set(sheet["mouse_id"]), f"add the mouse to {sheet_path} or remove the row"),
        ("session", set(sessions), f"expected one of: {', '.join(sessions)}"),
        ("protocol", set(protocols), f"expected one of: {', '.join(protocols)}"),
    )
    for column, known, fix in checks:
        unknown = ~summary[column].isin(known)
        if unknown.any():
            row = summary.loc[unknown].iloc[0]
            raise data_error(
                summary_path,
                f"{column} '{row[column]}' is not in the {_what(column, sheet_path)}",
                fix,
                line=int(row["source_line"]),
            )
    included = sheet[sheet["excluded_reason"] == ""]
    without_data = included[~included["mouse_id"].isin(summary["mouse"])]
    if len(without_data):
        raise data_error(
            sheet_path,
            f"mouse {without_data['mouse_id'].iloc[0]} has no test in {summary_path}",
            "add its tests, or give the reason it has none in the 'excluded_reason' column",
        )


def _what(column: str, sheet_path: str) -> str:
    return {
        "mouse": f"sample sheet {sheet_path}",
        "session": "config's treadmill.sessions",
        "protocol": "config's treadmill.protocols",
    }[column]


def compute_tests(
    summary: pd.DataFrame,
    sheet: pd.DataFrame,
    treadmill: Mapping,
    stage_logs: Mapping[tuple[str, str], pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-test metrics and the QC table.

    With ``treadmill['metrics_source'] == 'stage_logs'`` distance, time, top speed and work come
    from each test's log and the summary's own numbers are cross-checked; otherwise the summary's
    time to exhaustion is integrated over the protocol's stages. Work is vertical work
    W = m g sum_i d_i sin(theta_i) in J (or m * d in kg m on flat treadmills), power = W / t.
    """
    not_done = summary.attrs.get("not_done", {})
    tests = summary.merge(
        sheet[["mouse_id", "cohort", "group", "sex", "excluded_reason", "removed_after_session"]],
        left_on="mouse",
        right_on="mouse_id",
        how="left",
    ).drop(columns="mouse_id")
    day = {s["id"]: float(s["day"]) for s in treadmill["sessions"]}
    tests.insert(tests.columns.get_loc("session") + 1, "day", tests["session"].map(day))
    qc_rows: list[dict] = []
    if treadmill["metrics_source"] == "stage_logs":
        computed = _metrics_from_logs(tests, stage_logs or {}, treadmill, qc_rows)
    else:
        computed = _metrics_from_protocols(tests, treadmill)
    tests = pd.concat([tests, computed], axis=1)
    columns = metric_columns(treadmill["work_definition"])
    if treadmill["work_definition"] == "vertical":
        tests[columns["work"]] = work_from_vertical(
            tests["vertical_distance_m"], tests["body_mass_g"]
        )
    else:
        tests[columns["work"]] = tests["body_mass_g"] / 1000.0 * tests["distance_m"]
    tests[columns["power"]] = tests[columns["work"]] / tests["time_to_exhaustion_s"]
    tests["exhaustion_criterion"] = tests["protocol"].map(
        {name: p["exhaustion_criterion"] for name, p in treadmill["protocols"].items()}
    )
    _apply_exclusions(tests, treadmill, qc_rows)
    qc_rows.extend(apply_policy(tests, implausible_values(tests, treadmill), treadmill, _qc))
    tests = tests.drop(columns="stage_peak_speed_m_min", errors="ignore")
    _check_duration(tests, treadmill)
    tests = tests.drop(columns="excluded_reason")
    _flag_outliers(tests, treadmill["outliers"]["robust_z_threshold"], qc_rows)
    sessions = [s["id"] for s in treadmill["sessions"]]
    qc_rows.extend(_missing_tests(tests, sheet, sessions, not_done))
    order = {s["id"]: i for i, s in enumerate(treadmill["sessions"])}
    tests = tests.sort_values(["cohort", "group", "mouse", "day"], kind="stable").reset_index(
        drop=True
    )
    qc = pd.DataFrame(qc_rows, columns=QC_COLUMNS)
    qc = qc.sort_values(
        ["mouse", "session", "check"], key=lambda c: c.map(order) if c.name == "session" else c
    )
    return tests, qc.reset_index(drop=True)


def _metrics_from_protocols(tests: pd.DataFrame, treadmill: Mapping) -> pd.DataFrame:
    """Integrate each protocol's stages up to each test's time to exhaustion (vectorized).

    A summary table without times (time to exhaustion is optional) gives each test's time from
    its distance instead: the protocol's distance-time curve inverted
    (:func:`~exneuro.treadmill.protocol.time_for_distance`).
    """
    computed = pd.DataFrame(index=tests.index, dtype=float)
    times = tests["summary_time_s"].to_numpy(float).copy()
    for name, protocol in treadmill["protocols"].items():
        rows = tests.index[tests["protocol"] == name]
        if len(rows) == 0:
            continue
        stages = expand_protocol(protocol, treadmill["incline_unit"])
        untimed = rows[np.isnan(times[rows]) & tests.loc[rows, "summary_distance_m"].notna()]
        if len(untimed):
            times[untimed] = time_for_distance(
                stages, tests.loc[untimed, "summary_distance_m"].to_numpy(float)
            )
        result = integrate_stages(
            stages["start_s"],
            stages["speed_m_min"],
            stages["incline_deg"],
            times[rows],
        )
        for column in ("distance_m", "vertical_distance_m", "max_speed_m_min", "final_incline_deg"):
            computed.loc[rows, column] = result[column]
    computed["time_to_exhaustion_s"] = times
    computed["metrics_source"] = np.where(
        tests["summary_time_s"].notna(), "summary time x protocol", "summary distance x protocol"
    )
    return computed


def _metrics_from_logs(
    tests: pd.DataFrame,
    logs: Mapping[tuple[str, str], pd.DataFrame],
    treadmill: Mapping,
    qc_rows: list,
) -> pd.DataFrame:
    records = []
    for row in tests.itertuples():
        stages = logs.get((row.mouse, row.session))
        if stages is None:
            raise data_error(
                treadmill["stage_logs"].format(mouse=row.mouse, session=row.session),
                f"no stage log for the test of mouse {row.mouse}, session {row.session}",
                "add the log, or set treadmill.metrics_source to 'summary'",
            )
        records.append(stage_log_metrics(stages))
    computed = pd.DataFrame.from_records(records, index=tests.index)
    computed["metrics_source"] = "stage log"
    # for the plausibility check only (a typo in one stage's speed), dropped after it
    computed["stage_peak_speed_m_min"] = [
        logs[(row.mouse, row.session)]["speed_m_min"].max() for row in tests.itertuples()
    ]
    tolerance = treadmill["cross_check_tolerance"]
    pairs = {
        "summary_distance_m": "distance_m",
        "summary_time_s": "time_to_exhaustion_s",
        "summary_final_speed_m_min": "max_speed_m_min",
    }
    for summary_column, log_column in pairs.items():
        relative = (tests[summary_column] - computed[log_column]).abs() / computed[log_column]
        for index in tests.index[relative > tolerance]:
            qc_rows.append(
                _qc(
                    tests.loc[index],
                    "summary differs from stage log",
                    f"{summary_column} = {tests.at[index, summary_column]:g} vs stage log "
                    f"{computed.at[index, log_column]:.4g} ({100 * relative[index]:.1f}% apart)",
                    "flagged; the stage log is used",
                )
            )
    return computed


def _check_duration(tests: pd.DataFrame, treadmill: Mapping) -> None:
    for name, protocol in treadmill["protocols"].items():
        too_long = (tests["protocol"] == name) & (
            tests["time_to_exhaustion_s"] > protocol["max_duration_s"]
        )
        invalid = (tests["protocol"] == name) & ~(tests["time_to_exhaustion_s"] > 0)
        for mask, problem in (
            (too_long, "is longer than the protocol's max_duration_s"),
            (invalid, "is missing or not positive"),
        ):
            if mask.any():
                row = tests.loc[mask].iloc[0]
                raise data_error(
                    treadmill["summary_table"],
                    f"time to exhaustion {problem}",
                    f"check the test of mouse {row['mouse']}, session {row['session']}",
                    line=int(row["source_line"]),
                )


def _qc(row: pd.Series, check: str, detail: str, action: str) -> dict:
    return {
        "mouse": row["mouse"],
        "cohort": row["cohort"],
        "group": row["group"],
        "session": row["session"],
        "check": check,
        "detail": detail,
        "action": action,
    }


def _apply_exclusions(tests: pd.DataFrame, treadmill: Mapping, qc_rows: list) -> None:
    tests["excluded"] = tests["excluded_reason"] != ""
    tests["exclusion_reason"] = tests["excluded_reason"].map(
        lambda r: f"mouse excluded: {r}" if r else ""
    )
    for rule in treadmill["exclude_tests"]:
        match = (tests["mouse"] == rule["mouse"]) & (tests["session"] == rule["session"])
        if not match.any():
            raise data_error(
                treadmill["summary_table"],
                f"treadmill.exclude_tests names mouse {rule['mouse']}, session {rule['session']}, "
                "which has no test",
                "fix or remove that entry of the config",
            )
        tests.loc[match, "excluded"] = True
        tests.loc[match, "exclusion_reason"] = f"test excluded in config: {rule['reason']}"
    for index in tests.index[tests["excluded"]]:
        qc_rows.append(
            _qc(
                tests.loc[index],
                "excluded",
                tests.at[index, "exclusion_reason"],
                "excluded from statistics and figures",
            )
        )


def _flag_outliers(tests: pd.DataFrame, threshold: float, qc_rows: list) -> None:
    """Flag tests that break the mouse's own trajectory (one median-polish pass on log distance).

    r = log d - (mouse median of log d) - (group's median change at that session); robust z =
    r / (1.4826 MAD of r within the cohort). A mouse that is simply strong everywhere is not
    flagged; one test far from its own course is.
    """
    included = tests[~tests["excluded"]]
    log_distance = np.log(included["distance_m"])
    centred = log_distance - log_distance.groupby(included["mouse"]).transform("median")
    session_effect = centred.groupby([included["cohort"], included["group"], included["session"]])
    residual = centred - session_effect.transform("median")
    spread = residual.abs().groupby(included["cohort"]).transform("median") * MAD_TO_SD
    robust_z = residual / spread.replace(0, np.nan)
    tests["distance_robust_z"] = robust_z.reindex(tests.index)
    tests["outlier_flag"] = tests["distance_robust_z"].abs() > threshold
    for index in tests.index[tests["outlier_flag"]]:
        qc_rows.append(
            _qc(
                tests.loc[index],
                "possible outlier",
                f"distance {tests.at[index, 'distance_m']:.1f} m, robust z = "
                f"{tests.at[index, 'distance_robust_z']:.1f} from the mouse's own course",
                "flagged, kept (exclude it in the config if there is a documented reason)",
            )
        )


def _missing_tests(
    tests: pd.DataFrame,
    sheet: pd.DataFrame,
    sessions: list[str],
    not_done: Mapping[tuple[str, str], str],
) -> list[dict]:
    """A QC row per expected test without a row: removed mice's later tests are expected, a
    test the table marks not done (a missing-value code) says which value on which line."""
    rows = []
    present = set(zip(tests["mouse"], tests["session"], strict=True))
    for mouse in sheet[sheet["excluded_reason"] == ""].itertuples():
        removed_at = (
            sessions.index(mouse.removed_after_session) if mouse.removed_after_session else None
        )
        for position, session in enumerate(sessions):
            if (mouse.mouse_id, session) in present:
                continue
            after_removal = removed_at is not None and position > removed_at
            rows.append(
                {
                    "mouse": mouse.mouse_id,
                    "cohort": mouse.cohort,
                    "group": mouse.group,
                    "session": session,
                    "check": "missing test",
                    "detail": f"removed after {mouse.removed_after_session}"
                    if after_removal
                    else not_done.get((mouse.mouse_id, session), "no test in the summary table"),
                    "action": "expected" if after_removal else "analysed as missing",
                }
            )
    return rows


def add_baseline_change(
    tests: pd.DataFrame, columns: list[str], baseline_session: str
) -> pd.DataFrame:
    """Add ``<metric>_delta`` (value - baseline) and ``<metric>_pct_change`` per included test.

    Each mouse is compared with its own baseline test; a mouse without one gets NaN.
    """
    changed = tests.copy()
    baseline = changed[(changed["session"] == baseline_session) & ~changed["excluded"]]
    baseline = baseline.set_index("mouse")[columns]
    for column in columns:
        reference = changed["mouse"].map(baseline[column])
        changed[f"{column}_delta"] = (changed[column] - reference).where(~changed["excluded"])
        changed[f"{column}_pct_change"] = (100.0 * (changed[column] / reference - 1.0)).where(
            ~changed["excluded"]
        )
    return changed
