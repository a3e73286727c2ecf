"""A full-size study of any size, written to any folder, with a config that analyses it.

The example study's design and config, scaled: the photometry cohort gets ``mice`` mice (half
control, half silenced), one recording per training day for ``sessions`` days, each ``minutes``
long at ``rate_hz`` as pyPhotometry ``.ppd`` files (the binary format labs keep at that scale:
2 bytes per sample and channel); the muscle RNA-seq has ``genes`` genes. The other cohorts are
the example's. Everything lands under ``folder`` (``config/``, ``data/``, ``results/``), so the
workflow runs it from the project with ``--configfile folder/config/config.yaml``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from exneuro.config import load_yaml, validate_config
from exneuro.config_files import load_config
from exneuro.simulate.design import EXAMPLE
from exneuro.simulate.photometry import PhotometryEffects
from exneuro.simulate.photometry_study import PhotometryDesign
from exneuro.simulate.study import write_study

#: Rest before and recovery after the run (s); the run fills the rest of the session.
BASELINE_S, RECOVERY_S = 600.0, 3600.0


def scale_config(example: Path, folder: Path, last_day: int) -> dict:
    """The example config with every path moved under ``folder``, settings for 1 kHz data, and
    paper panels that name a photometry day pointed at the scaled study's last day."""
    text = yaml.safe_dump(load_config(example), sort_keys=False)
    text = text.replace("data/example/", f"{folder}/data/")
    for name in ("samples.tsv", "photometry_recordings.tsv"):
        text = text.replace(f"config/{name}", f"{folder}/config/{name}")
    config = yaml.safe_load(text)
    config["output_dir"] = str(folder / "results")
    config["study"]["id"] = f"{config['study']['id']}_scaled"
    photometry = config["photometry"]
    photometry["exclude_sessions"] = []
    photometry["preprocessing"]["decimate_hz"] = 20.0
    photometry["preprocessing"].pop("qc", None)  # the default SNR band fits 1 kHz
    for figure in config.get("paper", {}).get("figures", []):
        for panel in figure["panels"]:
            if panel["plot"].startswith("photometry_") and "day" in panel:
                panel["day"] = last_day
    return config


def write_scale_study(
    folder: str | Path,
    mice: int = 24,
    sessions: int = 8,
    minutes: float = 90.0,
    rate_hz: float = 1000.0,
    genes: int = 20000,
    jobs: int = 1,
    example: str | Path = "config/config.yaml",
    schema: str | Path = "workflow/schemas/config.schema.yaml",
) -> Path:
    """Write the scaled study under ``folder``; return the path of its config."""
    run_s = minutes * 60.0 - BASELINE_S - RECOVERY_S
    if run_s < 60:
        raise ValueError(f"a session of {minutes} min leaves no run: use at least 71 min")
    if mice < 6 or mice % 2:
        raise ValueError("use an even number of mice, at least 6 (3 per group)")
    folder = Path(folder).resolve()
    config = scale_config(Path(example), folder, last_day=sessions)
    design = PhotometryDesign(
        groups={"control": mice // 2, "silenced": mice // 2},
        days=tuple(range(1, sessions + 1)),
        effects=PhotometryEffects(
            fs_hz=rate_hz, baseline_s=BASELINE_S, run_s=run_s, recovery_s=RECOVERY_S
        ),
        npm_per_group=0,
        missing_ttl=None,
        damaged_cord=None,
    )
    study = replace(
        EXAMPLE,
        name="scaled",
        rnaseq=replace(EXAMPLE.rnaseq, n_genes=genes),
        photometry=design,
    )
    config_path = folder / "config" / "config.yaml"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    write_study(study, validate_config(config, load_yaml(schema), str(config_path)), jobs=jobs)
    return config_path
