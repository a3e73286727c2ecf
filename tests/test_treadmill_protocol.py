"""Hand-computed treadmill metrics: stages, distances, work."""

import math

import numpy as np
import pandas as pd
import pytest

from exneuro.io import parse_durations_s
from exneuro.treadmill.protocol import (
    GRAVITY_M_S2,
    expand_protocol,
    incline_to_degrees,
    integrate_stages,
    time_for_distance,
    work_from_vertical,
)
from exneuro.treadmill.readers import read_stage_log, stage_log_metrics

LOG_COLUMNS = {c: c for c in ("elapsed_s", "stage", "speed_m_min", "incline", "event")}


def test_work_is_zero_on_flat_treadmill():
    result = integrate_stages([0, 60], [10, 20], [0, 0], [90])
    assert result["distance_m"][0] == pytest.approx(20.0)
    assert result["vertical_distance_m"][0] == 0.0
    assert work_from_vertical(result["vertical_distance_m"], [25.0])[0] == 0.0


def test_worked_example_of_the_notes_gives_42_6_joules():
    # 25 g mouse running 1000 m at 10 degrees: 0.025 * 9.81 * 1000 * sin(10 deg) = 42.6 J
    vertical = 1000 * math.sin(math.radians(10))
    assert work_from_vertical([vertical], [25.0])[0] == pytest.approx(42.6, abs=0.05)


def test_stage_log_reproduces_distance_exactly(tmp_path):
    log = tmp_path / "M001_baseline.csv"
    log.write_text(
        "# subject: M001\n"
        "elapsed_s,stage,speed_m_min,incline,event\n"
        "0,1,10,0,stage_start\n"
        "60,2,20,10,stage_start\n"
        "150,3,30,10,stage_start\n"
        "170,3,30,10,exhausted\n"
    )
    metrics = stage_log_metrics(read_stage_log(log, LOG_COLUMNS))
    # 1 min at 10 + 1.5 min at 20 + 20 s at 30 m/min = 10 + 30 + 10 = 50 m
    assert metrics["distance_m"] == pytest.approx(50.0, rel=1e-12)
    assert metrics["time_to_exhaustion_s"] == 170.0
    assert metrics["max_speed_m_min"] == 30.0
    assert metrics["vertical_distance_m"] == pytest.approx(40.0 * math.sin(math.radians(10)))
    work = work_from_vertical([metrics["vertical_distance_m"]], [25.0])[0]
    assert work == pytest.approx(0.025 * GRAVITY_M_S2 * 40.0 * math.sin(math.radians(10)))


def test_massett_protocol_raises_speed_every_stage_and_incline_every_nine_minutes():
    protocol = {
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
        "max_duration_s": 3600,
    }
    stages = expand_protocol(protocol)
    assert stages["start_s"].tolist()[:5] == [0, 540, 1080, 1260, 1440]
    assert stages["speed_m_min"].tolist()[:6] == [9, 10, 12.5, 15, 17.5, 20]
    # 5 deg from 9 to 27 min, 10 deg from 27 to 36 min, then capped at 15 deg
    assert stages["incline_deg"].tolist()[:12] == [0, 5, 5, 5, 5, 10, 10, 10, 15, 15, 15, 15]
    assert stages["start_s"].iloc[-1] + stages["duration_s"].iloc[-1] >= 3600


def test_time_for_distance_inverts_integration():
    stages = expand_protocol(
        {
            "stages": [{"duration_s": 120, "speed_m_min": 6, "incline": 0}],
            "then": {"duration_s": 60, "speed_increment_m_min": 1},
            "max_duration_s": 3600,
        }
    )
    ends = np.array([30.0, 200.0, 1234.5])
    distance = integrate_stages(
        stages["start_s"], stages["speed_m_min"], stages["incline_deg"], ends
    )
    assert time_for_distance(stages, distance["distance_m"]) == pytest.approx(ends)


def test_percent_grade_converts_to_degrees():
    assert incline_to_degrees(100.0, "percent_grade") == pytest.approx(45.0)
    assert incline_to_degrees(10.0, "degrees") == 10.0


def test_clock_and_numeric_durations_parse_to_seconds():
    table = pd.DataFrame({"t": ["37:45", "1:02:03", "12.5"], "_line": [2, 3, 4]})
    assert parse_durations_s(table, "t", "f.csv", "min").tolist() == [2265, 3723, 750]


def test_unparsable_duration_names_file_line_and_column():
    table = pd.DataFrame({"t": ["37:45", "about 40 min"], "_line": [2, 3]})
    with pytest.raises(
        ValueError, match=r"f\.csv line 3, column 't': 'about 40 min' is not a duration"
    ):
        parse_durations_s(table, "t", "f.csv", "s")


def test_stage_log_with_time_going_backwards_is_refused(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(
        "elapsed_s,stage,speed_m_min,incline,event\n0,1,10,0,stage_start\n"
        "60,2,12,0,stage_start\n50,2,12,0,exhausted\n"
    )
    with pytest.raises(
        ValueError, match=r"log\.csv line 4, column 'elapsed_s': time goes backwards"
    ):
        read_stage_log(log, LOG_COLUMNS)
