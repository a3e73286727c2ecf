"""The simulator's closed-form protocol arithmetic and the analysis's stage-table integrator are
written apart; they agree on every protocol shape, and both equal numbers worked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exneuro.simulate import protocol as closed
from exneuro.treadmill.protocol import expand_protocol, integrate_stages, time_for_distance

MASSETT = {
    "stages": [
        {"duration_s": 540, "speed_m_min": 9, "incline": 0},
        {"duration_s": 540, "speed_m_min": 10, "incline": 5},
    ],
    "then": {
        "duration_s": 180,
        "speed_increment_m_min": 2.5,
        "incline_increment": 5,
        "incline_every_n_stages": 3,
        "max_incline": 15,
    },
    "max_duration_s": 10800,
}
PROTOCOLS = {
    "massett_graded": MASSETT,
    "speed_capped": {
        "stages": [{"duration_s": 300, "speed_m_min": 6, "incline": 10}],
        "then": {"duration_s": 120, "speed_increment_m_min": 3, "max_speed_m_min": 26},
        "max_duration_s": 7200,
    },
    "every_stage_steeper": {
        "stages": [{"duration_s": 60, "speed_m_min": 0, "incline": 0}],
        "then": {
            "duration_s": 90,
            "speed_increment_m_min": 1.7,
            "incline_increment": 2,
            "max_incline": 25,
        },
        "max_duration_s": 5000,
    },
    "explicit_only": {
        "stages": [
            {"duration_s": 600, "speed_m_min": 10, "incline": 0},
            {"duration_s": 900, "speed_m_min": 14, "incline": 5},
            {"duration_s": 1200, "speed_m_min": 18, "incline": 10},
        ],
        "max_duration_s": 2700,
    },
}


def test_the_massett_test_worked_by_hand():
    graded = closed.GradedProtocol.from_config(MASSETT)
    # 9 min at 9 m/min, 9 min at 10, then 3 min each at 12.5, 15 and 17.5 m/min
    by_hand = 540 * 9 / 60 + 540 * 10 / 60 + 180 * (12.5 + 15 + 17.5) / 60
    assert by_hand == 306.0
    assert closed.distance_at(graded, [1620.0])[0] == pytest.approx(by_hand, abs=1e-12)
    assert closed.time_for_distance(graded, [by_hand])[0] == pytest.approx(1620.0, abs=1e-9)
    stages = expand_protocol(MASSETT)
    analysis = integrate_stages(
        stages["start_s"], stages["speed_m_min"], stages["incline_deg"], [1620.0]
    )
    assert analysis["distance_m"][0] == pytest.approx(by_hand, abs=1e-12)
    # at 1620 s the 6th stage has just begun: 20 m/min, the incline raised to 10 degrees
    final = closed.stage_at(graded, [1620.0])
    assert (final["stage"][0], final["speed_m_min"][0], final["incline"][0]) == (6, 20.0, 10.0)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_closed_form_equals_the_analysis_integrator(name):
    config = PROTOCOLS[name]
    graded = closed.GradedProtocol.from_config(config)
    stages = expand_protocol(config)  # inclines in degrees: the protocol's own numbers
    rng = np.random.default_rng(7)
    times = np.concatenate([rng.uniform(0, config["max_duration_s"], 500), stages["start_s"]])
    times = times[times <= config["max_duration_s"]]
    analysis = integrate_stages(
        stages["start_s"], stages["speed_m_min"], stages["incline_deg"], times
    )
    np.testing.assert_allclose(
        closed.distance_at(graded, times), analysis["distance_m"], rtol=1e-12, atol=1e-9
    )
    final = closed.stage_at(graded, times)
    np.testing.assert_array_equal(final["stage"], analysis["final_stage"])
    np.testing.assert_array_equal(final["speed_m_min"], analysis["max_speed_m_min"])
    np.testing.assert_array_equal(final["incline"], analysis["final_incline_deg"])
    reachable = analysis["distance_m"][analysis["distance_m"] > 0]
    np.testing.assert_allclose(
        closed.time_for_distance(graded, reachable),
        time_for_distance(stages, reachable),
        rtol=1e-12,
        atol=1e-7,
    )
    table = closed.stage_table(graded, len(stages))
    np.testing.assert_allclose(table["start_s"], stages["start_s"])
    np.testing.assert_allclose(table["speed_m_min"], stages["speed_m_min"])
    np.testing.assert_allclose(table["incline"], stages["incline_deg"])


def test_a_test_beyond_the_protocol_is_refused():
    graded = closed.GradedProtocol.from_config(PROTOCOLS["explicit_only"])
    with pytest.raises(ValueError, match="max_duration_s"):
        closed.distance_at(graded, [2701.0])
    with pytest.raises(ValueError, match="max_duration_s"):
        closed.time_for_distance(graded, [1e6])


def test_the_simulator_does_not_import_the_analysis_integrator():
    folder = Path(closed.__file__).parent
    imports = [
        line
        for path in folder.glob("*.py")
        for line in path.read_text().splitlines()
        if line.startswith(("from exneuro.treadmill", "import exneuro.treadmill"))
    ]
    assert imports == []
