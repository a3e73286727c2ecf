"""One photometry recording: read, preprocess, measure windows and waveforms, draw its QC.

Called from a ``shell:`` command (``--params`` JSON, ``--log``, the output folder) rather than
``script:``: with 10,000 recordings, Snakemake's per-job check of a script's source costs a third
of the time to build the DAG.
"""

from pathlib import Path

from exneuro.photometry.recording_job import analyse_recording
from exneuro.workflow import run_command_line


def main(snakemake):
    analyse_recording(
        snakemake.params.recording, snakemake.params.settings, Path(snakemake.output[0])
    )


if __name__ == "__main__":
    run_command_line(main, __doc__.splitlines()[0])
