"""Exercise-neuroscience analysis: raw tables of one study -> statistics and figures.

Run `make run` (or `snakemake` in the project's environment) from this folder. Another cohort:
`snakemake --configfile path/to/its/config.yaml`.
"""

import atexit
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from exneuro.errors import ExneuroError
from exneuro.workflow import (
    guard_the_run,
    is_run,
    quiet_storage_tracebacks,
    report_results_folder_fault,
    use_library_source,
    use_this_python,
)
from exneuro.yaml_files import read_config_file, shown_path

use_library_source(Path(workflow.basedir) / "src")
use_this_python()

# One run at a time in this folder; a run that was killed resumes with the same command.
if workflow.is_main_process:
    try:
        guard_the_run(sys.argv)
    except ExneuroError as error:
        sys.exit(f"Error: {error}")


# The config files read here first, so that a mistake (invalid YAML, a tab, a key written twice,
# an empty file) stops with one line naming the file, line and column.
try:
    for config_path in workflow.overwrite_configfiles or ["config/config.yaml"]:
        read_config_file(shown_path(config_path))
except ExneuroError as error:
    sys.exit(f"Error: {error}")


# The example study's config, unless another is given with --configfile: the given config then
# replaces it whole, so that no key of the example leaks into another study.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/treadmill.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/photometry.smk"
include: "workflow/rules/ephys.smk"
include: "workflow/rules/morphology.smk"
include: "workflow/rules/rnaseq.smk"
include: "workflow/rules/statistics.smk"
include: "workflow/rules/paper.smk"


rule all:
    default_target: True
    input:
        all_outputs(),


# Every rule running a script passes the digest of the code that script runs.
check_code_digests(workflow.rules)


# A run stopped by a full, read-only or forbidden results folder says so in one line, whichever
# step found it (Snakemake's own message, when it cannot create a job's output folder, names
# only the folder).
if workflow.is_main_process and is_run(sys.argv):
    quiet_storage_tracebacks()
    atexit.register(report_results_folder_fault, OUT)
