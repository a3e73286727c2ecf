"""Simulated physiology tables a lab keeps in its own spreadsheets: weekly body mass, blood
glucose after an exercise bout, and serum BDNF and IGF-1 at the end of training.

Planted effects (written to the ground truth):
- body mass rises by ``body_mass_gain_g_per_week`` in every group alike (no group effect: the
  manipulations do not change body mass);
- after a run, blood glucose rises by ``glucose_rise_mg_dl[group]`` at 15-30 min and returns by
  90 min (glucose mobilization, blunted when SF1 neurons are inhibited);
- serum BDNF differs by ``bdnf_pg_ml[group]``; IGF-1 does not differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

GLUCOSE_MINUTES = (0, 15, 30, 60, 90)
GLUCOSE_SHAPE = (0.0, 0.8, 1.0, 0.45, 0.1)  # fraction of the peak rise at each time point


@dataclass(frozen=True)
class PhysiologyEffects:
    """Planted physiology: see the module docstring."""

    weeks: int = 3
    body_mass_gain_g_per_week: float = 0.3
    body_mass_noise_g: float = 0.35
    glucose_cohort: str = "post_inhibition"
    glucose_baseline_mg_dl: float = 135.0
    glucose_rise_mg_dl: dict[str, float] = field(
        default_factory=lambda: {"control": 45.0, "inhibited_post": 10.0}
    )
    glucose_mouse_sd: float = 12.0
    glucose_noise_sd: float = 10.0
    serum_cohort: str = "silencing"
    bdnf_pg_ml: dict[str, float] = field(
        default_factory=lambda: {"control": 1500.0, "silenced": 1050.0}
    )
    bdnf_sd: float = 220.0
    igf1_ng_ml: float = 310.0
    igf1_sd: float = 55.0


def write_physiology(
    effects: PhysiologyEffects,
    mice: pd.DataFrame,
    baseline_mass: pd.Series,
    folder: Path,
    rng: np.random.Generator,
) -> dict:
    """Write body_mass.csv, glucose.csv and serum.tsv into ``folder``; return the planted truth."""
    folder.mkdir(parents=True, exist_ok=True)
    included = mice[mice["removed_after_session"] == ""]
    weeks = np.arange(effects.weeks + 1)
    mass = (
        baseline_mass.reindex(included["mouse_id"]).to_numpy()[:, None]
        + effects.body_mass_gain_g_per_week * weeks[None, :]
        + rng.normal(0, effects.body_mass_noise_g, (len(included), len(weeks)))
    )
    pd.DataFrame(
        {
            "Mouse": np.repeat(included["mouse_id"].to_numpy(), len(weeks)),
            "Week": np.tile(weeks, len(included)),
            "Body mass (g)": np.round(mass.ravel(), 1),
        }
    ).to_csv(folder / "body_mass.csv", index=False, lineterminator="\n")

    cohort = included[included["cohort"] == effects.glucose_cohort]
    rise = cohort["group"].map(effects.glucose_rise_mg_dl).to_numpy()
    level = effects.glucose_baseline_mg_dl + rng.normal(0, effects.glucose_mouse_sd, len(cohort))
    glucose = (
        level[:, None]
        + rise[:, None] * np.asarray(GLUCOSE_SHAPE)[None, :]
        + rng.normal(0, effects.glucose_noise_sd, (len(cohort), len(GLUCOSE_MINUTES)))
    )
    pd.DataFrame(
        {
            "mouse": np.repeat(cohort["mouse_id"].to_numpy(), len(GLUCOSE_MINUTES)),
            "minutes_after_run": np.tile(GLUCOSE_MINUTES, len(cohort)),
            "glucose_mg_dl": np.round(glucose.ravel()).astype(int),
        }
    ).to_csv(folder / "glucose.csv", index=False, lineterminator="\n")

    cohort = included[included["cohort"] == effects.serum_cohort]
    bdnf = cohort["group"].map(effects.bdnf_pg_ml).to_numpy() + rng.normal(
        0, effects.bdnf_sd, len(cohort)
    )
    igf1 = effects.igf1_ng_ml + rng.normal(0, effects.igf1_sd, len(cohort))
    pd.DataFrame(
        {
            "Mouse ID": cohort["mouse_id"].to_numpy(),
            "BDNF (pg/mL)": np.round(bdnf, 1),
            "IGF-1 (ng/mL)": np.round(igf1, 1),
        }
    ).to_csv(folder / "serum.tsv", index=False, sep="\t", lineterminator="\n")
    return {
        "body_mass_gain_g_per_week": effects.body_mass_gain_g_per_week,
        "body_mass_group_effect_g": 0.0,
        "glucose_cohort": effects.glucose_cohort,
        "glucose_peak_rise_mg_dl_by_group": dict(effects.glucose_rise_mg_dl),
        "serum_cohort": effects.serum_cohort,
        "bdnf_pg_ml_by_group": dict(effects.bdnf_pg_ml),
        "igf1_group_difference_ng_ml": 0.0,
    }
