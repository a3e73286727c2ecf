"""A simulated photometry cohort written as a lab stores it: raw files from two rigs and the
recordings sheet that lists them.

Most mice are recorded with pyPhotometry (``.ppd``; the treadmill's running TTL on digital input
1); one mouse per group on a Neurophotometrics FP3002 (gzip CSV and a digital-input file). Two
planted flaws a lab meets: one session whose TTL file is missing, so the run times were typed
into the recordings sheet from the treadmill log; and one session with a damaged patch cord
(noise 15x the usual), which fails QC and is excluded in the example config by name, not by the
pipeline on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exneuro.simulate.photometry import (
    PhotometryEffects,
    post_activation_by_day,
    session_plan,
    simulate_planned,
)
from exneuro.simulate.photometry_files import write_npm, write_ppd

#: NPM intensities are camera units; the simulated volts are scaled to them.
NPM_UNITS_PER_VOLT = 1000.0


@dataclass(frozen=True)
class PhotometryDesign:
    """Mice per group, training days with a recording, the session model and the flaws."""

    groups: dict[str, int] = field(default_factory=lambda: {"control": 6, "silenced": 6})
    days: tuple[int, ...] = (1, 4, 8)
    effects: PhotometryEffects = PhotometryEffects(
        fs_hz=10.0, baseline_s=600.0, run_s=900.0, recovery_s=3600.0
    )
    #: The last mouse of each group is recorded on the Neurophotometrics rig.
    npm_per_group: int = 1
    npm_frame_hz: float = 20.0
    #: (group, index within the group, day): the Neurophotometrics TTL file was not saved.
    missing_ttl: tuple[str, int, int] | None = ("silenced", -1, 4)
    #: (group, index within the group, day, noise factor): damaged patch cord.
    damaged_cord: tuple[str, int, int, float] | None = ("control", 1, 8, 15.0)


def photometry_mice(design: PhotometryDesign, first_number: int, cohort: str) -> pd.DataFrame:
    """The recorded mice, numbered from ``first_number`` through the groups, sexes alternating."""
    rows = []
    for group, n_mice in design.groups.items():
        for _ in range(n_mice):
            number = first_number + len(rows)
            rows.append(
                {
                    "mouse_id": f"M{number:03d}",
                    "cohort": cohort,
                    "sex": "female" if number % 2 else "male",
                    "group": group,
                }
            )
    return pd.DataFrame(rows)


def _pick(mice: pd.DataFrame, group: str, index: int) -> str:
    return str(mice.loc[mice["group"] == group, "mouse_id"].iloc[index])


def write_photometry(
    design: PhotometryDesign,
    mice: pd.DataFrame,
    section: Mapping[str, Any],
    data_dir: Path,
    rng: np.random.Generator,
    jobs: int = 1,
) -> dict:
    """Simulate every session of ``mice`` (``mouse_id``, ``group``), write the raw files under
    ``data_dir`` and the recordings sheet at ``section['recordings']``; return the truth.

    ``jobs`` > 1 simulates sessions in that many processes (the same bytes: each session has
    its own seed from the plan)."""
    effects = design.effects
    npm_mice = {
        _pick(mice, group, -1 - k) for group in design.groups for k in range(design.npm_per_group)
    }
    overrides, flaws = {}, {}
    if design.damaged_cord:
        group, index, day, factor = design.damaged_cord
        mouse = _pick(mice, group, index)
        overrides[(mouse, day)] = {
            "noise_density_per_sqrt_hz": effects.noise_density_per_sqrt_hz * factor
        }
        flaws["damaged_patch_cord"] = {"session": f"{mouse}_d{day}", "noise_factor": factor}
    missing_ttl = None
    if design.missing_ttl:
        group, index, day = design.missing_ttl
        missing_ttl = (_pick(mice, group, index), day)
        flaws["missing_ttl_file"] = {"session": f"{missing_ttl[0]}_d{missing_ttl[1]}"}
    plan = session_plan(effects, mice, list(design.days), rng, overrides)
    tasks = [
        {
            **entry,
            "data_dir": Path(data_dir),
            "rig": "neurophotometrics" if entry["mouse"] in npm_mice else "ppd",
            "lost_ttl": (entry["mouse"], entry["day"]) == missing_ttl,
            "npm_frame_hz": design.npm_frame_hz,
        }
        for entry in plan
    ]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            written = list(pool.map(_simulate_and_write, tasks))
    else:
        written = [_simulate_and_write(task) for task in tasks]
    rows = [row for row, _ in written]
    sessions = [summary for _, summary in written]
    sheet = pd.DataFrame(rows)[
        ["mouse", "day", "file", "format", "ttl_file", "run_onset_s", "run_offset_s"]
    ]
    sheet_path = Path(section["recordings"])
    sheet_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.to_csv(sheet_path, sep="\t", index=False, lineterminator="\n")
    days = list(design.days)
    return {
        "model": (
            "post-run dF/F plateau = first-day level + growth[group] * (day - first day) "
            "+ mouse effect + session noise; motion shared by both channels while running"
        ),
        "days": days,
        "post_activation_mean_by_group_and_day": {
            group: dict(
                zip(
                    days,
                    np.round(post_activation_by_day(effects, group, days), 6).tolist(),
                    strict=True,
                )
            )
            for group in design.groups
        },
        "growth_per_day_by_group": dict(effects.post_growth_per_day),
        "running_dff": effects.running_dff,
        "session_seconds": {
            "baseline": effects.baseline_s,
            "run": effects.run_s,
            "recovery": effects.recovery_s,
        },
        "sampling_hz": effects.fs_hz,
        "motion_to_signal": effects.motion_to_signal,
        "formats": {
            "ppd": int((sheet["format"] == "ppd").sum()),
            "neurophotometrics": int((sheet["format"] == "neurophotometrics").sum()),
        },
        "flaws": flaws,
        "sessions": sessions,
    }


def _simulate_and_write(task: Mapping[str, Any]) -> tuple[dict, dict]:
    """Simulate one planned session and write it on its rig; its sheet row and truth summary."""
    mouse, day, session, truth = simulate_planned(task)
    data_dir = task["data_dir"]
    t = session["time_s"]
    running = (t >= session["run_onset_s"]) & (t < session["run_offset_s"])
    row = {"mouse": mouse, "day": day, "ttl_file": "", "run_onset_s": "", "run_offset_s": ""}
    if task["rig"] == "neurophotometrics":
        stem = data_dir / "npm" / f"{mouse}_day{day}"
        path, ttl = write_npm(
            f"{stem}_photometry.csv.gz",
            None if task["lost_ttl"] else f"{stem}_ttl.csv.gz",
            session["signal"] * NPM_UNITS_PER_VOLT,
            session["control"] * NPM_UNITS_PER_VOLT,
            task["npm_frame_hz"],
            running,
            clock_start_s=3600.0 * day + 811.5,
        )
        row.update(file=str(path), format="neurophotometrics")
        if task["lost_ttl"]:
            # typed from the treadmill log: times of the run on the recording's clock
            offset = 0.5 / task["npm_frame_hz"]  # the first 470 nm frame
            row.update(
                run_onset_s=f"{session['run_onset_s'] + offset:.1f}",
                run_offset_s=f"{session['run_offset_s'] + offset:.1f}",
            )
        elif ttl is not None:
            row["ttl_file"] = str(ttl)
    else:
        path = write_ppd(
            data_dir / "ppd" / f"{mouse}_day{day}.ppd",
            session["signal"],
            session["control"],
            session["fs_hz"],
            running,
            {"subject_ID": mouse, "date_time": f"2026-04-{day:02d}T09:30:00"},
        )
        row.update(file=str(path), format="ppd")
    summary = {
        "session": f"{mouse}_d{day}",
        "group": truth["group"],
        "post_activation": round(truth["post_activation"], 6),
        "motion_rms_ratio": round(truth["motion_rms_ratio"], 3),
    }
    return row, summary
