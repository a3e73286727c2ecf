"""Treadmill protocols as stage tables, and exact integration of distance and work over them.

A protocol is a list of explicit stages (duration, speed, incline) optionally followed by a rule
that keeps adding stages of fixed duration until the mouse is exhausted: every further stage adds
the speed increment, and the incline is raised after every ``incline_every_n_stages`` further
stages (e.g. the JAX/Massett graded test: +2.5 m/min every 3 min, +5 degrees every 9 min up to
15 degrees). Distances are exact piecewise-constant integrals: d = sum_i v_i * t_i.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

GRAVITY_M_S2 = 9.80665


def incline_to_degrees(incline: np.ndarray | float, unit: str) -> np.ndarray:
    """Convert inclines to degrees; a percent grade g is the angle arctan(g / 100)."""
    values = np.asarray(incline, dtype=float)
    if unit == "degrees":
        return values
    if unit == "percent_grade":
        return np.degrees(np.arctan(values / 100.0))
    raise ValueError(f"incline unit must be 'degrees' or 'percent_grade', not {unit!r}")


def expand_protocol(protocol: Mapping, incline_unit: str = "degrees") -> pd.DataFrame:
    """Stage table of a protocol from time 0 to its ``max_duration_s``.

    Returns one row per stage with ``stage`` (1-based), ``start_s``, ``duration_s``,
    ``speed_m_min`` and ``incline_deg``; inclines are converted to degrees.
    """
    explicit = pd.DataFrame(list(protocol["stages"]))
    durations = explicit["duration_s"].to_numpy(float)
    speeds = explicit["speed_m_min"].to_numpy(float)
    inclines = explicit["incline"].to_numpy(float)
    max_duration = float(protocol.get("max_duration_s", 14400))
    rule = protocol.get("then")
    explicit_total = durations.sum()
    if rule and explicit_total < max_duration:
        n_more = int(np.ceil((max_duration - explicit_total) / rule["duration_s"]))
        steps = np.arange(1, n_more + 1)
        more_speeds = speeds[-1] + steps * rule["speed_increment_m_min"]
        if rule.get("max_speed_m_min") is not None:
            more_speeds = np.minimum(more_speeds, rule["max_speed_m_min"])
        every = rule.get("incline_every_n_stages", 1)
        more_inclines = inclines[-1] + ((steps - 1) // every) * rule.get("incline_increment", 0)
        if rule.get("max_incline") is not None:
            more_inclines = np.minimum(more_inclines, rule["max_incline"])
        durations = np.concatenate([durations, np.full(n_more, float(rule["duration_s"]))])
        speeds = np.concatenate([speeds, more_speeds])
        inclines = np.concatenate([inclines, more_inclines])
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    return pd.DataFrame(
        {
            "stage": np.arange(1, len(durations) + 1),
            "start_s": starts,
            "duration_s": durations,
            "speed_m_min": speeds,
            "incline_deg": incline_to_degrees(inclines, incline_unit),
        }
    )


def integrate_stages(
    starts_s: np.ndarray, speeds_m_min: np.ndarray, inclines_deg: np.ndarray, end_s: np.ndarray
) -> dict[str, np.ndarray]:
    """Distance, vertical distance, top speed and final incline run from 0 to each ``end_s``.

    The belt runs at ``speeds_m_min[i]`` from ``starts_s[i]`` until the next start (or the end);
    all arrays of ends are handled at once. Time spent in each stage is
    ``clip(end - start_i, 0, duration_i)``, so distance = sum_i v_i/60 * t_i (m) and vertical
    distance = sum_i v_i/60 * t_i * sin(theta_i).
    """
    starts = np.asarray(starts_s, float)
    ends = np.atleast_1d(np.asarray(end_s, float))
    stage_ends = np.append(starts[1:], np.inf)
    time_in_stage = np.clip(ends[:, None] - starts[None, :], 0.0, stage_ends - starts)
    speed_m_s = np.asarray(speeds_m_min, float) / 60.0
    distance = time_in_stage @ speed_m_s
    vertical = time_in_stage @ (speed_m_s * np.sin(np.radians(np.asarray(inclines_deg, float))))
    last_stage = np.searchsorted(starts, ends, side="right") - 1
    last_stage = np.clip(last_stage, 0, len(starts) - 1)
    return {
        "distance_m": distance,
        "vertical_distance_m": vertical,
        "max_speed_m_min": np.asarray(speeds_m_min, float)[last_stage],
        "final_incline_deg": np.asarray(inclines_deg, float)[last_stage],
        "final_stage": last_stage + 1,
    }


def time_for_distance(stages: pd.DataFrame, distance_m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`integrate_stages`: the time (s) at which each distance is reached."""
    speed_m_s = stages["speed_m_min"].to_numpy(float) / 60.0
    starts = stages["start_s"].to_numpy(float)
    cumulative = np.concatenate(
        [[0.0], np.cumsum(speed_m_s * stages["duration_s"].to_numpy(float))]
    )
    targets = np.atleast_1d(np.asarray(distance_m, float))
    if np.any(targets > cumulative[-1]):
        raise ValueError("a distance exceeds what the protocol allows within its max_duration_s")
    stage = np.clip(np.searchsorted(cumulative, targets, side="right") - 1, 0, len(starts) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        into_stage = np.where(
            speed_m_s[stage] > 0, (targets - cumulative[stage]) / speed_m_s[stage], 0
        )
    return starts[stage] + into_stage


def work_from_vertical(vertical_m: np.ndarray, body_mass_g: np.ndarray) -> np.ndarray:
    """Vertical work in joules: W = m (kg) * g * h (m)."""
    return np.asarray(body_mass_g, float) / 1000.0 * GRAVITY_M_S2 * np.asarray(vertical_m, float)
