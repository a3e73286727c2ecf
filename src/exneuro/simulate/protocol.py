"""The simulator's own treadmill-protocol arithmetic, in closed form.

Written apart from the analysis's stage-table integrator (:mod:`exneuro.treadmill.protocol`,
which expands every stage and sums ``v_i * t_i`` as a matrix product), so that the recovery tests
compare two independent computations: a protocol bug in either shows as a disagreement
(``tests/test_simulate_protocol.py``).

A protocol is ``K`` explicit stages followed by rule stages ``j = 1, 2, ...`` of duration ``T``,
speed ``v_j = min(v_K + j·Δv, v_max)`` and incline ``θ_j = min(θ_K + ⌊(j − 1)/n⌋·Δθ, θ_max)``
(``n`` = ``incline_every_n_stages``). Distance run by time ``t`` is piecewise linear in ``t``:

* over the explicit stages, exact linear interpolation between the stage boundaries;
* over the rule stages, with ``τ = t − E`` (``E`` the explicit stages' total time) and
  ``J = ⌊τ/T⌋`` stages completed, ``d = D_E + (T/60)·S(J) + (τ − J·T)/60 · v_{J+1}``, where the
  sum of the first ``J`` rule speeds is ``S(J) = J·v_K + Δv·J(J+1)/2`` up to the stage ``J_c``
  at which the speed reaches ``v_max`` and ``S(J_c) + (J − J_c)·v_max`` after it.

The inverse (time at which a distance is reached) solves ``S(J) = 60·(d − D_E)/T`` as a quadratic
in ``J`` before the speed cap and linearly after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GradedProtocol:
    """A protocol's numbers: explicit stages, the rule after them and the time limit."""

    durations_s: np.ndarray
    speeds_m_min: np.ndarray
    inclines: np.ndarray
    max_duration_s: float
    rule_duration_s: float | None = None
    speed_step: float = 0.0
    incline_step: float = 0.0
    incline_every: int = 1
    max_speed: float = np.inf
    max_incline: float = np.inf

    @classmethod
    def from_config(cls, protocol: Mapping) -> GradedProtocol:
        stages = list(protocol["stages"])
        rule = protocol.get("then") or {}
        return cls(
            durations_s=np.array([s["duration_s"] for s in stages], float),
            speeds_m_min=np.array([s["speed_m_min"] for s in stages], float),
            inclines=np.array([s["incline"] for s in stages], float),
            max_duration_s=float(protocol.get("max_duration_s", 14400)),
            rule_duration_s=float(rule["duration_s"]) if rule else None,
            speed_step=float(rule.get("speed_increment_m_min", 0.0)),
            incline_step=float(rule.get("incline_increment", 0.0)),
            incline_every=int(rule.get("incline_every_n_stages", 1)),
            max_speed=_or_inf(rule.get("max_speed_m_min")),
            max_incline=_or_inf(rule.get("max_incline")),
        )

    @property
    def explicit_time_s(self) -> float:
        return float(self.durations_s.sum())

    @property
    def explicit_distance_m(self) -> float:
        return float(self.durations_s @ self.speeds_m_min) / 60.0

    @property
    def capped_after(self) -> float:
        """``J_c``: the number of rule stages before the speed reaches its cap (inf: never)."""
        if not np.isfinite(self.max_speed) or self.speed_step <= 0:
            return np.inf
        return max(0.0, np.floor((self.max_speed - self.speeds_m_min[-1]) / self.speed_step))

    def rule_speed(self, j: np.ndarray) -> np.ndarray:
        """Speed of rule stage ``j`` (1-based)."""
        return np.minimum(self.speeds_m_min[-1] + j * self.speed_step, self.max_speed)

    def rule_incline(self, j: np.ndarray) -> np.ndarray:
        """Incline of rule stage ``j`` (1-based), in the protocol's own unit."""
        steps = np.floor_divide(j - 1, self.incline_every)
        return np.minimum(self.inclines[-1] + steps * self.incline_step, self.max_incline)

    def rule_speed_sum(self, j: np.ndarray) -> np.ndarray:
        """``S(J)``: the sum of the speeds of the first ``J`` rule stages."""
        j = np.asarray(j, float)
        below = np.minimum(j, self.capped_after)
        ramp = below * self.speeds_m_min[-1] + self.speed_step * below * (below + 1) / 2
        if not np.isfinite(self.capped_after):
            return ramp
        return ramp + (j - below) * self.max_speed


def _or_inf(value) -> float:
    return np.inf if value is None else float(value)


def _explicit_knots(protocol: GradedProtocol) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative time and distance at the explicit stages' boundaries (from 0)."""
    times = np.concatenate([[0.0], np.cumsum(protocol.durations_s)])
    distances = np.concatenate([[0.0], np.cumsum(protocol.durations_s * protocol.speeds_m_min)])
    return times, distances / 60.0


def _check_time(protocol: GradedProtocol, times: np.ndarray) -> None:
    limit = protocol.max_duration_s if protocol.rule_duration_s else protocol.explicit_time_s
    if np.any(times > limit + 1e-9):
        raise ValueError("a simulated test runs past the protocol's max_duration_s")


def stage_at(protocol: GradedProtocol, time_s: np.ndarray) -> dict[str, np.ndarray]:
    """The stage running at each time (a stage starting exactly then counts): its 1-based
    number, speed and incline (the protocol's unit)."""
    t = np.atleast_1d(np.asarray(time_s, float))
    starts = np.concatenate([[0.0], np.cumsum(protocol.durations_s)[:-1]])
    k = len(starts)
    explicit = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, k - 1)
    stage = explicit + 1
    speed = protocol.speeds_m_min[explicit]
    incline = protocol.inclines[explicit]
    if protocol.rule_duration_s:
        in_rule = t >= protocol.explicit_time_s
        j = np.floor((t - protocol.explicit_time_s) / protocol.rule_duration_s) + 1
        stage = np.where(in_rule, k + j, stage).astype(int)
        speed = np.where(in_rule, protocol.rule_speed(j), speed)
        incline = np.where(in_rule, protocol.rule_incline(j), incline)
    return {"stage": stage, "speed_m_min": speed, "incline": incline}


def distance_at(protocol: GradedProtocol, time_s: np.ndarray) -> np.ndarray:
    """Distance (m) run from 0 to each time."""
    t = np.atleast_1d(np.asarray(time_s, float))
    _check_time(protocol, t)
    times, distances = _explicit_knots(protocol)
    distance = np.interp(np.minimum(t, times[-1]), times, distances)
    if protocol.rule_duration_s:
        span = protocol.rule_duration_s
        tau = np.maximum(t - protocol.explicit_time_s, 0.0)
        done = np.floor(tau / span)
        rule = span * protocol.rule_speed_sum(done) + (tau - done * span) * protocol.rule_speed(
            done + 1
        )
        distance = distance + rule / 60.0
    return distance


def time_for_distance(protocol: GradedProtocol, distance_m: np.ndarray) -> np.ndarray:
    """Time (s) at which each distance is reached: the inverse of :func:`distance_at`."""
    d = np.atleast_1d(np.asarray(distance_m, float))
    times, distances = _explicit_knots(protocol)
    if not protocol.rule_duration_s and np.any(d > distances[-1] + 1e-9):
        raise ValueError("a simulated test runs past the protocol's max_duration_s")
    time = np.interp(np.minimum(d, distances[-1]), distances, times)
    if protocol.rule_duration_s:
        span, v0, step = protocol.rule_duration_s, protocol.speeds_m_min[-1], protocol.speed_step
        target = np.maximum(d - distances[-1], 0.0) * 60.0 / span  # S(J) + fraction of v_{J+1}
        # before the cap: the largest J with J·v0 + step·J(J+1)/2 <= target
        if step > 0:
            b = v0 + step / 2
            done = np.floor((-b + np.sqrt(b * b + 2 * step * target)) / step)
        else:
            done = np.floor(target / v0)
        cap = protocol.capped_after
        if np.isfinite(cap):  # after the cap: constant speed
            ramp_total = protocol.rule_speed_sum(cap)
            capped = cap + np.floor((target - ramp_total) / protocol.max_speed)
            done = np.where(target < ramp_total, np.minimum(done, cap), capped)
        # guard the floor of a root computed in floating point: S(J) <= target < S(J + 1)
        done = done - (protocol.rule_speed_sum(done) > target + 1e-12)
        done = done + (protocol.rule_speed_sum(done + 1) <= target - 1e-12)
        into = (target - protocol.rule_speed_sum(done)) / protocol.rule_speed(done + 1)
        rule_time = protocol.explicit_time_s + span * (done + into)
        time = np.where(d > distances[-1], rule_time, time)
    _check_time(protocol, time)
    return time


def stage_table(protocol: GradedProtocol, n_stages: int) -> pd.DataFrame:
    """The first ``n_stages`` stages: number, start (s), speed and incline (protocol's unit)."""
    k = len(protocol.durations_s)
    number = np.arange(1, n_stages + 1)
    j = np.maximum(number - k, 0)
    explicit_starts = np.concatenate([[0.0], np.cumsum(protocol.durations_s)[:-1]])
    rule_start = protocol.explicit_time_s + (j - 1) * (protocol.rule_duration_s or 0.0)
    in_rule = number > k
    index = np.minimum(number, k) - 1
    return pd.DataFrame(
        {
            "stage": number,
            "start_s": np.where(in_rule, rule_start, explicit_starts[index]),
            "speed_m_min": np.where(in_rule, protocol.rule_speed(j), protocol.speeds_m_min[index]),
            "incline": np.where(in_rule, protocol.rule_incline(j), protocol.inclines[index]),
        }
    )
