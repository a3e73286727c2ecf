"""A batch of photometry recordings in one process: each read, preprocessed, measured and drawn
in turn into its own folder, with its own log (``photometry.recordings_per_job``)."""

import json
from types import SimpleNamespace

from exneuro.photometry.recording_job import analyse_batch
from exneuro.workflow import run


def main(job):
    params = json.loads(job.params.job)
    analyse_batch(params["recordings"], params["settings"], job.output, job.recording_logs)


# Each recording's log is written by analyse_batch (the job has no log of its own); an error
# also goes to the job's stderr as one line.
run(
    SimpleNamespace(
        params=snakemake.params,
        output=list(snakemake.output),
        log=[],
        recording_logs=list(snakemake.log),
    ),
    main,
    job_process=True,
)
