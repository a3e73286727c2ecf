"""Study designs of the simulator: the mice, their cohorts and groups, and the planted effects.

A design is plain data so that the planted truth can be written next to the simulated files and
tests can check that the analysis recovers it. Each modality's simulator reads the design it needs
(treadmill, physiology, photometry, spines, electrophysiology, histology and RNA-seq).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exneuro.simulate.ephys import EphysEffects
from exneuro.simulate.photometry_study import PhotometryDesign
from exneuro.simulate.physiology import PhysiologyEffects
from exneuro.simulate.rnaseq import RnaseqEffects
from exneuro.simulate.spines import HistologyEffects, SpineEffects


@dataclass(frozen=True)
class TreadmillEffects:
    """Planted endurance model: distance(day) = D0 * (1 + G * (1 - exp(-day / tau))) * noise.

    D0 is the mouse's baseline capacity (lognormal around ``baseline_distance_m``), G its training
    gain at plateau (normal around the group's ``gain_by_group`` value), tau its adaptation time
    constant in days, and each test has multiplicative lognormal noise of ``test_noise_cv``.
    """

    gain_by_group: dict[str, float]
    baseline_distance_m: float = 480.0
    baseline_cv: float = 0.15
    gain_sd: float = 0.12
    tau_days: float = 4.0
    tau_cv: float = 0.2
    test_noise_cv: float = 0.06
    body_mass_g: dict[str, float] = field(default_factory=lambda: {"female": 21.5, "male": 26.5})
    body_mass_sd_g: float = 1.2
    body_mass_drift_g_per_day: float = 0.04
    body_mass_noise_g: float = 0.3


@dataclass(frozen=True)
class Nuisances:
    """Realistic flaws planted in the example data, each listed in the ground truth."""

    missed_test: tuple[str, str] | None = None  # (mouse, session) never run
    removed_after: tuple[str, str] | None = None  # (mouse, last session) lost mid-study
    excluded_mouse: tuple[str, str] | None = None  # (mouse, reason) excluded by histology
    outlier_test: tuple[str, str, float] | None = None  # (mouse, session, factor on distance)
    summary_typo: tuple[str, str, float] | None = None  # (mouse, session, factor on typed distance)


@dataclass(frozen=True)
class StudyDesign:
    """Cohorts -> {group: number of mice}, planted effects and nuisances, and the random seed."""

    name: str
    cohorts: dict[str, dict[str, int]]
    treadmill: TreadmillEffects
    nuisances: Nuisances = Nuisances()
    physiology: PhysiologyEffects | None = None
    ephys: EphysEffects | None = None
    spines: SpineEffects | None = None
    histology: HistologyEffects | None = None
    rnaseq: RnaseqEffects | None = None
    photometry: PhotometryDesign | None = None
    seed: int = 20260212
    first_test_date: str = "2026-03-02"
    manipulation_by_group: dict[str, str] = field(default_factory=dict)


EXAMPLE = StudyDesign(
    name="example",
    cohorts={
        "silencing": {"control": 8, "silenced": 8},
        "post_inhibition": {"control": 8, "inhibited_post": 8},
        "post_stimulation": {"control": 8, "stimulated_post": 8},
        "plasticity": {"sedentary": 6, "trained": 6},
        "acute_exercise": {"sedentary": 6, "exercised": 6},
    },
    treadmill=TreadmillEffects(
        gain_by_group={
            "control": 0.60,
            "silenced": 0.05,
            "inhibited_post": 0.08,
            "stimulated_post": 1.10,
        }
    ),
    nuisances=Nuisances(
        missed_test=("M021", "d9"),
        removed_after=("M044", "d6"),
        excluded_mouse=("M030", "virus expression off target (histology)"),
        outlier_test=("M003", "d12", 1.9),
        summary_typo=("M012", "d6", 1.12),
    ),
    physiology=PhysiologyEffects(),
    ephys=EphysEffects(),
    spines=SpineEffects(),
    histology=HistologyEffects(),
    rnaseq=RnaseqEffects(),
    photometry=PhotometryDesign(),
    manipulation_by_group={
        "control": "AAV-DIO-eYFP",
        "silenced": "AAV-DIO-TeLC-GFP",
        "inhibited_post": "AAV-DIO-GtACR2; light 0-60 min after each session",
        "stimulated_post": "AAV-DIO-ChR2-eYFP; light 0-60 min after each session",
        "sedentary": "none; home cage",
        "trained": "treadmill training, 3 weeks",
        "exercised": "one treadmill session, perfused 90 min later",
    },
)

TWO_GROUP = StudyDesign(
    name="two_group",
    cohorts={"stimulation_replication": {"control": 7, "stimulated_post": 7}},
    treadmill=TreadmillEffects(
        gain_by_group={"control": 0.45, "stimulated_post": 0.95},
        baseline_distance_m=420.0,
    ),
    seed=7,
    first_test_date="2026-09-07",
    manipulation_by_group={
        "control": "AAV-DIO-eYFP",
        "stimulated_post": "AAV-DIO-ChR2-eYFP; light 0-60 min after each session",
    },
)

DESIGNS = {design.name: design for design in (EXAMPLE, TWO_GROUP)}
