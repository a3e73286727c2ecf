"""Fiber photometry: one job per recording (read, preprocess, measure), then the study's tables,
statistics and figure.

Each recording's job writes one folder (processed trace, window metrics, QC row, anomalies,
aligned traces, QC figure): one output per job keeps the DAG of 10,000 recordings quick to build.
"""

#: One recording's entry point, called by a shell command (see the script's docstring).
SESSION_SCRIPT = str(Path(workflow.basedir) / "scripts" / "photometry_session.py")

#: The settings one recording's job reads.
PHOTOMETRY_SESSION_SETTINGS = section_params(
    "photometry",
    only=[
        "readers",
        "run_event",
        "preprocessing",
        "baseline_window",
        "windows",
        "min_window_coverage",
        "traces",
        "peri_event",
        "exclude_segments",
        "export_nwb",
    ],
)
# the NWB files name the subject's species
if PHOTOMETRY_SESSION_SETTINGS.get("export_nwb"):
    PHOTOMETRY_SESSION_SETTINGS["nwb_subject"] = {
        "species": config["study"]["species"],
        "animal": config["study"]["animal"]["singular"],
    }
PHOTOMETRY_SESSION_SETTINGS_JSON = json.dumps(
    PHOTOMETRY_SESSION_SETTINGS, sort_keys=True
)


rule photometry_session:
    input:
        unpack(photometry_session_files),
    output:
        directory(f"{OUT}/photometry/sessions/{{session}}"),
    log:
        f"{OUT}/logs/photometry/sessions/{{session}}.log",
    # On a cluster, `group-components: [photometry_recordings=N]` (profiles/slurm) submits N
    # recordings as one scheduler job; each keeps its own output, log and rerun decision.
    group:
        "photometry_recordings"
    conda:
        "../../envs/exneuro.yaml"
    resources:
        # measured: 490 MB peak for a 75-min 1 kHz .ppd file of 18 MB (raw arrays, filtered copies)
        mem_mb=lambda wildcards, input: int(400 + 15 * input.size_mb),
        runtime=10,
    params:
        script=SESSION_SCRIPT,
        job=photometry_session_params,
        code=code_version("photometry", "figures/photometry_qc"),
    shell:
        "python {params.script:q} --params {params.job:q} --log {log:q} {output:q}"


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
        photometry=section_params(
            "photometry", exclude=["statistics", "figure", "enabled"]
        ),
        code=code_version("photometry"),
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
        cohort=section_cohort("photometry"),
        photometry=section_params("photometry", only=["statistics", "peri_event"]),
        code=code_version("photometry", "not_tested.py", "model_factors.py", "stats"),
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
        cohort=section_cohort("photometry"),
        photometry=section_params(
            "photometry", only=["figure", "peri_event", "run_event", "statistics"]
        ),
        groups=section_groups("photometry"),
        style=config["figures"],
        code=code_version("figures", "model_factors.py"),
    script:
        "../../scripts/photometry_figure.py"
