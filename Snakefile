"""Exercise-neuroscience analysis: raw tables of one study -> statistics and figures.

Run `make run` (or `snakemake` in the project's environment) from this folder. Another cohort:
`snakemake --configfile path/to/its/config.yaml`.
"""

import os
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

SOURCE = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SOURCE)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [SOURCE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/treadmill.smk"
include: "workflow/rules/statistics.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
