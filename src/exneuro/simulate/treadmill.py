"""Simulated treadmill endurance tests: a lab's summary table and the treadmill's stage logs.

Each mouse's true capacity follows a rise-to-plateau curve over training days (see
:class:`~exneuro.simulate.design.TreadmillEffects`); the capacity is converted to a time to
exhaustion on the configured protocol, and the files are written the way the lab's software and
spreadsheet write them (lab column names, 'mm:ss' times, inclines in the lab's unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.simulate.design import StudyDesign
from exneuro.simulate.protocol import (
    GradedProtocol,
    distance_at,
    stage_at,
    stage_table,
    time_for_distance,
)


def simulate_tests(
    design: StudyDesign, mice: pd.DataFrame, treadmill: Mapping, rng: np.random.Generator
) -> pd.DataFrame:
    """True per-test values: mouse, session, day, date, body mass and capacity (m)."""
    effects = design.treadmill
    sessions = pd.DataFrame(treadmill["sessions"])
    n_mice = len(mice)
    baseline = effects.baseline_distance_m * rng.lognormal(0, effects.baseline_cv, n_mice)
    gain = mice["group"].map(effects.gain_by_group).to_numpy() + rng.normal(
        0, effects.gain_sd, n_mice
    )
    tau = effects.tau_days * rng.lognormal(0, effects.tau_cv, n_mice)
    mass0 = mice["sex"].map(effects.body_mass_g).to_numpy() + rng.normal(
        0, effects.body_mass_sd_g, n_mice
    )
    days = sessions["day"].to_numpy(float)
    capacity = baseline[:, None] * (1 + gain[:, None] * (1 - np.exp(-days[None, :] / tau[:, None])))
    capacity *= rng.lognormal(0, effects.test_noise_cv, capacity.shape)
    mass = mass0[:, None] + effects.body_mass_drift_g_per_day * days[None, :]
    mass += rng.normal(0, effects.body_mass_noise_g, mass.shape)
    start = date.fromisoformat(design.first_test_date)
    tests = pd.DataFrame(
        {
            "mouse": np.repeat(mice["mouse_id"].to_numpy(), len(days)),
            "cohort": np.repeat(mice["cohort"].to_numpy(), len(days)),
            "group": np.repeat(mice["group"].to_numpy(), len(days)),
            "session": np.tile(sessions["id"].to_numpy(), n_mice),
            "day": np.tile(days, n_mice),
            "body_mass_g": np.round(mass.ravel(), 1),
            "capacity_m": capacity.ravel(),
            "true_gain": np.repeat(gain, len(days)),
            "true_tau_days": np.repeat(tau, len(days)),
        }
    )
    tests["date"] = [(start + timedelta(days=int(d))).isoformat() for d in tests["day"]]
    return _apply_test_nuisances(tests, design)


def _apply_test_nuisances(tests: pd.DataFrame, design: StudyDesign) -> pd.DataFrame:
    nuisances = design.nuisances
    if nuisances.outlier_test:
        mouse, session, factor = nuisances.outlier_test
        tests.loc[(tests["mouse"] == mouse) & (tests["session"] == session), "capacity_m"] *= factor
    drop = pd.Series(False, index=tests.index)
    if nuisances.missed_test:
        mouse, session = nuisances.missed_test
        drop |= (tests["mouse"] == mouse) & (tests["session"] == session)
    if nuisances.removed_after:
        mouse, last = nuisances.removed_after
        last_day = tests.loc[(tests["mouse"] == mouse) & (tests["session"] == last), "day"].iloc[0]
        drop |= (tests["mouse"] == mouse) & (tests["day"] > last_day)
    return tests.loc[~drop].reset_index(drop=True)


def write_treadmill_files(tests: pd.DataFrame, design: StudyDesign, treadmill: Mapping) -> dict:
    """Write the summary table and stage logs at the config's paths; return what was written."""
    protocol_id = next(iter(treadmill["protocols"]))
    protocol = treadmill["protocols"][protocol_id]
    # the simulator's own closed form, not the analysis's integrator; the lab's files carry
    # inclines in the lab's unit: the protocol's numbers, unconverted
    graded = GradedProtocol.from_config(protocol)
    time_s = np.round(time_for_distance(graded, tests["capacity_m"].to_numpy()))
    final = stage_at(graded, time_s)
    tests = tests.assign(
        time_to_exhaustion_s=time_s,
        distance_m=distance_at(graded, time_s),
        max_speed_m_min=final["speed_m_min"],
        final_stage=final["stage"],
        final_incline=final["incline"],
        protocol=protocol_id,
    )
    written = {"summary_table": _write_summary(tests, design, treadmill)}
    if treadmill.get("stage_logs"):
        stages = stage_table(graded, int(tests["final_stage"].max()))
        written["stage_logs"] = _write_stage_logs(tests, stages, treadmill)
    return {"files": written, "tests": tests}


def _write_summary(tests: pd.DataFrame, design: StudyDesign, treadmill: Mapping) -> str:
    columns = treadmill["summary_columns"]
    typed_distance = tests["distance_m"].copy()
    if design.nuisances.summary_typo:
        mouse, session, factor = design.nuisances.summary_typo
        typed_distance[(tests["mouse"] == mouse) & (tests["session"] == session)] *= factor
    minutes_unit = treadmill.get("time_to_exhaustion_unit", "s") == "min"
    times = (
        (tests["time_to_exhaustion_s"] / 60).round(2).map("{:.2f}".format)
        if minutes_unit
        else [f"{int(t // 60)}:{int(t % 60):02d}" for t in tests["time_to_exhaustion_s"]]
    )
    summary = pd.DataFrame(
        {
            columns["mouse"]: tests["mouse"],
            columns["date"]: tests["date"],
            columns["session"]: tests["session"],
            columns["protocol"]: tests["protocol"],
            columns["time_to_exhaustion"]: times,
            columns["distance_m"]: typed_distance.round(1),
            columns["final_speed_m_min"]: tests["max_speed_m_min"],
            columns["incline"]: tests["final_incline"],
            columns["body_mass_g"]: tests["body_mass_g"],
        }
    )
    path = Path(treadmill["summary_table"])
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xlsx":
        summary.to_excel(path, index=False, sheet_name="endurance tests")
    else:
        summary.to_csv(path, index=False, lineterminator="\n")
    return str(path)


def _write_stage_logs(tests: pd.DataFrame, stages: pd.DataFrame, treadmill: Mapping) -> list[str]:
    columns = treadmill["stage_log_columns"]
    paths = []
    for test in tests.itertuples():
        n_stages = int(test.final_stage)
        log = pd.DataFrame(
            {
                columns["elapsed_s"]: stages["start_s"].to_numpy()[:n_stages].astype(int),
                columns["stage"]: stages["stage"].to_numpy()[:n_stages],
                columns["speed_m_min"]: stages["speed_m_min"].to_numpy()[:n_stages],
                columns["incline"]: stages["incline"].to_numpy()[:n_stages],
                columns["event"]: "stage_start",
            }
        )
        last = log.iloc[[-1]].assign(
            **{columns["elapsed_s"]: int(test.time_to_exhaustion_s), columns["event"]: "exhausted"}
        )
        log = pd.concat([log, last], ignore_index=True)
        path = Path(treadmill["stage_logs"].format(mouse=test.mouse, session=test.session))
        path.parent.mkdir(parents=True, exist_ok=True)
        header = (
            f"# Treadmill stage log\n# subject: {test.mouse}\n# date: {test.date}\n"
            f"# protocol: {test.protocol}\n# lane: {1 + int(test.mouse[1:]) % 6}\n"
        )
        path.write_text(header + log.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
        paths.append(str(path))
    return paths
