"""Write a whole simulated study: the sample sheet, each modality's raw files and the ground truth.

The study's config says where every file goes and which protocol and sessions to use, so the
simulated files are exactly what the workflow reads. The same design and seed always give the
same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from exneuro.simulate.design import StudyDesign
from exneuro.simulate.ephys import write_ephys
from exneuro.simulate.photometry_study import photometry_mice, write_photometry
from exneuro.simulate.physiology import write_physiology
from exneuro.simulate.rnaseq import rnaseq_mice, write_rnaseq
from exneuro.simulate.spines import write_histology, write_spines
from exneuro.simulate.treadmill import simulate_tests, write_treadmill_files


def design_mice(design: StudyDesign) -> pd.DataFrame:
    """The sample sheet of a design: mice numbered M001... through cohorts and groups, sexes
    alternating, with the design's exclusions and removals recorded as a lab would."""
    rows = []
    for cohort, groups in design.cohorts.items():
        for group, n_mice in groups.items():
            for _ in range(n_mice):
                number = len(rows) + 1
                rows.append(
                    {
                        "mouse_id": f"M{number:03d}",
                        "cohort": cohort,
                        "sex": "female" if number % 2 else "male",
                        "group": group,
                        "manipulation": design.manipulation_by_group.get(group, ""),
                        "genotype": "Sf1-Cre+/-",
                        "cage": f"C{(number + 3) // 4:02d}",
                        "excluded_reason": "",
                        "removed_after_session": "",
                        "notes": "",
                    }
                )
    mice = pd.DataFrame(rows)
    nuisances = design.nuisances
    if nuisances.excluded_mouse:
        mouse, reason = nuisances.excluded_mouse
        mice.loc[mice["mouse_id"] == mouse, "excluded_reason"] = reason
    if nuisances.removed_after:
        mouse, last = nuisances.removed_after
        mice.loc[mice["mouse_id"] == mouse, "removed_after_session"] = last
        mice.loc[mice["mouse_id"] == mouse, "notes"] = "optic fibre implant lost; euthanized"
    if nuisances.missed_test:
        mouse, session = nuisances.missed_test
        mice.loc[mice["mouse_id"] == mouse, "notes"] = f"no test at {session}: treadmill fault"
    return mice


def _append_mice(
    mice: pd.DataFrame, added: pd.DataFrame, design: StudyDesign, genotype: str
) -> pd.DataFrame:
    """The sheet with a modality's own cohort appended, its sheet columns filled as a lab would."""
    added = added.assign(
        manipulation=added["group"].map(design.manipulation_by_group).fillna(""),
        genotype=genotype,
        cage="",
        excluded_reason="",
        removed_after_session="",
        notes="",
    )
    return pd.concat([mice, added], ignore_index=True).fillna("")


def write_study(design: StudyDesign, config: Mapping, jobs: int = 1) -> dict:
    """Simulate ``design`` and write its files where ``config`` expects them (photometry
    sessions in ``jobs`` processes).

    Returns the ground truth (also written as ``ground_truth.yaml`` beside the summary table's
    folder): planted effects per group, expected mean % change per group and session, and the
    planted nuisances.
    """
    rng = np.random.default_rng(design.seed)
    mice = design_mice(design)
    rnaseq = config.get("rnaseq")
    if design.rnaseq is not None and rnaseq:
        sequenced = rnaseq_mice(design.rnaseq, first_number=len(mice) + 1, cohort=rnaseq["cohort"])
        mice = _append_mice(mice, sequenced, design, "Sf1-Cre+/-")
    photometry = config.get("photometry")
    if design.photometry is not None and photometry:
        recorded = photometry_mice(design.photometry, len(mice) + 1, photometry["cohort"])
        mice = _append_mice(mice, recorded, design, "Sf1-Cre+/-; AAV-DIO-GCaMP6s")
    sheet_path = Path(config["samples"])
    sheet_path.parent.mkdir(parents=True, exist_ok=True)
    mice.to_csv(sheet_path, sep="\t", index=False, lineterminator="\n")
    truth: dict = {"design": design.name, "seed": design.seed, "samples": str(sheet_path)}
    treadmill = config.get("treadmill")
    runners = mice
    if treadmill:
        cohorts = treadmill.get("cohorts") or list(mice["cohort"].unique())
        runners = mice[mice["cohort"].isin(cohorts)].reset_index(drop=True)
        tests = simulate_tests(design, runners, treadmill, rng)
        written = write_treadmill_files(tests, design, treadmill)
        truth["treadmill"] = _treadmill_truth(design, treadmill, written)
    data_dir = Path(treadmill["summary_table"]).parent.parent
    if design.physiology is not None:
        baseline = written["tests"].query("day == 0").set_index("mouse")["body_mass_g"]
        truth["physiology"] = write_physiology(
            design.physiology, runners, baseline, data_dir / "physiology", rng
        )
    ephys = config.get("ephys")
    if design.ephys is not None and ephys:
        recorded = mice[mice["cohort"] == ephys["cohort"]]
        truth["ephys"] = write_ephys(design.ephys, recorded, Path(ephys["step_table"]).parent, rng)
    for name, writer, table_key in (
        ("spines", write_spines, "segment_table"),
        ("histology", write_histology, "section_table"),
    ):
        effects, section = getattr(design, name), config.get(name)
        if effects is not None and section:
            cohort = mice[mice["cohort"] == section["cohort"]]
            truth[name] = writer(effects, cohort, Path(section[table_key]).parent, rng)
    if design.rnaseq is not None and rnaseq:
        sequenced = mice[mice["cohort"] == rnaseq["cohort"]]
        truth["rnaseq"] = write_rnaseq(design.rnaseq, sequenced, Path(rnaseq["counts"]).parent, rng)
    if design.photometry is not None and photometry:
        recorded = mice[mice["cohort"] == photometry["cohort"]].reset_index(drop=True)
        truth["photometry"] = write_photometry(
            design.photometry,
            recorded,
            photometry,
            data_dir / "photometry",
            np.random.default_rng([design.seed, 4]),
            jobs=jobs,
        )
    truth_path = data_dir / "ground_truth.yaml"
    truth_path.write_text(yaml.safe_dump(truth, sort_keys=False), encoding="utf-8")
    return truth


def _treadmill_truth(design: StudyDesign, treadmill: Mapping, written: Mapping) -> dict:
    effects = design.treadmill
    days = {s["id"]: float(s["day"]) for s in treadmill["sessions"]}
    expected = {
        group: {
            session: round(100 * gain * float(1 - np.exp(-day / effects.tau_days)), 2)
            for session, day in days.items()
        }
        for group, gain in effects.gain_by_group.items()
    }
    nuisances = {name: list(value) for name, value in vars(design.nuisances).items() if value}
    return {
        "model": "distance = D0 * (1 + G * (1 - exp(-day / tau))) * lognormal noise",
        "plateau_gain_percent_by_group": {
            g: round(100 * v, 6) for g, v in effects.gain_by_group.items()
        },
        "gain_sd_percent": 100 * effects.gain_sd,
        "tau_days": effects.tau_days,
        "baseline_distance_m": effects.baseline_distance_m,
        "test_noise_cv": effects.test_noise_cv,
        "expected_percent_change_of_a_typical_mouse": expected,
        "nuisances": nuisances,
        "files": {
            "summary_table": written["files"]["summary_table"],
            "stage_logs": len(written["files"].get("stage_logs", [])),
        },
    }
