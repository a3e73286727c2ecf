"""Fiber photometry: recording jobs (read, preprocess, measure; one recording or a batch of them
per job), then the study's tables, statistics and figure.

Each recording is written to its own folder (processed trace, window metrics, QC row, anomalies,
aligned traces, QC figure) with its own log, batched or not: one output per recording keeps the
DAG of 10,000 recordings quick to build.
"""

from exneuro.photometry.batches import batch_rule_names, recording_batches

#: One recording's entry point, called by a shell command (see the script's docstring).
SESSION_SCRIPT = shown_path(
    Path(workflow.basedir) / "scripts" / "photometry_session.py"
)

#: Recordings per job (about, at most twice; ``recording_batches``), 1 = a job per recording.
RECORDINGS_PER_JOB = config["photometry"]["recordings_per_job"] if PHOTOMETRY_ON else 1

if RECORDINGS_PER_JOB == 1:

    rule photometry_session:
        input:
            unpack(photometry_session_files),
        output:
            directory(f"{OUT}/photometry/sessions/{{session}}"),
        log:
            f"{OUT}/logs/photometry/sessions/{{session}}.log",
        conda:
            "../../envs/exneuro.yaml"
        resources:
            # measured: 490 MB peak for a 75-min 1 kHz .ppd file of 18 MB (raw arrays, filtered copies)
            mem_mb=lambda wildcards, input: int(400 + 15 * input.size_mb),
            runtime=10,
        params:
            script=SESSION_SCRIPT,
            job=photometry_session_params,
            code=script_code("../../scripts/photometry_session.py"),
        shell:
            "python {params.script:q} --params {params.job:q} --log {log:q} {output:q}"

else:
    # One rule per batch (a rule's outputs cannot depend on a wildcard's value): one job, one
    # process, one scheduler job each; the outputs and logs of its recordings are those of the
    # one-recording rule. Memory is that of the largest recording (analysed one after the other).
    # Larger batches start first (priority = size: longest job first), so that no core is left
    # with a long batch while the others idle.
    PHOTOMETRY_BATCHES = recording_batches(PHOTOMETRY_SESSIONS, RECORDINGS_PER_JOB)
    for name, members in zip(batch_rule_names(PHOTOMETRY_BATCHES), PHOTOMETRY_BATCHES):

        rule:
            name:
                name
            input:
                photometry_batch_files(members),
            output:
                [directory(f"{OUT}/photometry/sessions/{s}") for s in members],
            log:
                [f"{OUT}/logs/photometry/sessions/{s}.log" for s in members],
            priority: len(members)
            conda:
                "../../envs/exneuro.yaml"
            resources:
                mem_mb=lambda wildcards, input: int(400 + 15 * max(input.size_files_mb)),
                runtime=10 + len(members),
            params:
                job=photometry_batch_params(members),
                code=script_code("../../scripts/photometry_batch.py"),
            script:
                "../../scripts/photometry_batch.py"


rule photometry_combine:
    input:
        sessions=photometry_session_folders,
        samples=f"{OUT}/config/samples.tsv",
    output:
        qc=in_report(f"{OUT}/photometry/qc.tsv", "qc", "Quality control"),
        metrics=f"{OUT}/photometry/metrics.tsv",
        aligned=f"{OUT}/photometry/aligned.parquet",
        anomalies=f"{OUT}/photometry/anomalies.tsv",
        faults=f"{OUT}/photometry/faults.tsv",
        settings=f"{OUT}/photometry/settings.yaml",
    log:
        f"{OUT}/logs/photometry/combine.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        photometry=section_params("photometry_combine", "photometry"),
        code=script_code("../../scripts/photometry_combine.py"),
    script:
        "../../scripts/photometry_combine.py"


rule photometry_statistics:
    input:
        metrics=f"{OUT}/photometry/metrics.tsv",
        aligned=f"{OUT}/photometry/aligned.parquet",
        samples=f"{OUT}/config/samples.tsv",
    output:
        statistics=f"{OUT}/photometry/statistics.tsv",
        waveforms=f"{OUT}/photometry/waveforms.tsv",
        intervals=f"{OUT}/photometry/significant_intervals.tsv",
    log:
        f"{OUT}/logs/photometry/statistics.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        cohort=section_cohort("photometry_statistics", "photometry"),
        photometry=section_params("photometry_statistics", "photometry"),
        code=script_code("../../scripts/photometry_statistics.py"),
    script:
        "../../scripts/photometry_statistics.py"


rule photometry_figure:
    input:
        metrics=f"{OUT}/photometry/metrics.tsv",
        aligned=f"{OUT}/photometry/aligned.parquet",
        qc=f"{OUT}/photometry/qc.tsv",
        waveforms=f"{OUT}/photometry/waveforms.tsv",
        intervals=f"{OUT}/photometry/significant_intervals.tsv",
        stats=f"{OUT}/photometry/statistics.tsv",
        samples=f"{OUT}/config/samples.tsv",
    output:
        figures=figure_files(
            f"{OUT}/figures/photometry/photometry",
            "photometry",
            "Photometry",
        ),
        source_data=directory(f"{OUT}/figures/photometry/photometry_source_data"),
    log:
        f"{OUT}/logs/photometry/figure.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        cohort=section_cohort("photometry_figure", "photometry"),
        photometry=section_params("photometry_figure", "photometry"),
        groups=section_groups("photometry_figure", "photometry"),
        style=owned("photometry_figure", "figures"),
        code=script_code("../../scripts/photometry_figure.py"),
    script:
        "../../scripts/photometry_figure.py"
