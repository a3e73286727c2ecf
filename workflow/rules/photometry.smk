"""Fiber photometry: one job per recording (read, preprocess, measure), then the study's tables,
statistics and figure."""

PHOTOMETRY_SESSION_KEYS = [
    "readers",
    "run_event",
    "preprocessing",
    "baseline_window",
    "windows",
    "traces",
    "peri_event",
]


rule photometry_session:
    input:
        unpack(photometry_session_files),
    output:
        trace=f"{OUT}/photometry/sessions/{{session}}/trace.parquet",
        metrics=f"{OUT}/photometry/sessions/{{session}}/metrics.parquet",
        qc=f"{OUT}/photometry/sessions/{{session}}/qc.parquet",
        anomalies=f"{OUT}/photometry/sessions/{{session}}/anomalies.parquet",
        aligned=f"{OUT}/photometry/sessions/{{session}}/aligned.parquet",
        figure=f"{OUT}/photometry/sessions/{{session}}/qc.png",
    log:
        f"{OUT}/logs/photometry/sessions/{{session}}.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        recording=photometry_recording,
        settings=section_params("photometry", only=PHOTOMETRY_SESSION_KEYS),
        code=code_version("photometry", "figures/photometry_qc"),
    script:
        "../../scripts/photometry_session.py"


rule photometry_combine:
    input:
        qc=photometry_session_outputs("qc.parquet"),
        metrics=photometry_session_outputs("metrics.parquet"),
        aligned=photometry_session_outputs("aligned.parquet"),
        anomalies=photometry_session_outputs("anomalies.parquet"),
        samples=f"{OUT}/config/samples.tsv",
    output:
        qc=f"{OUT}/photometry/qc.tsv",
        metrics=f"{OUT}/photometry/metrics.tsv",
        aligned=f"{OUT}/photometry/aligned.parquet",
        anomalies=f"{OUT}/photometry/anomalies.tsv",
        settings=f"{OUT}/photometry/settings.yaml",
    log:
        f"{OUT}/logs/photometry/combine.log",
    conda:
        "../../envs/exneuro.yaml"
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
    output:
        statistics=f"{OUT}/photometry/statistics.tsv",
        waveforms=f"{OUT}/photometry/waveforms.tsv",
        intervals=f"{OUT}/photometry/significant_intervals.tsv",
    log:
        f"{OUT}/logs/photometry/statistics.log",
    conda:
        "../../envs/exneuro.yaml"
    params:
        cohort=section_cohort("photometry"),
        photometry=section_params("photometry", only=["statistics", "peri_event"]),
        code=code_version("photometry", "stats"),
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
    output:
        figures=multiext(
            f"{OUT}/figures/photometry/photometry",
            *[f".{fmt}" for fmt in config["figures"]["formats"]],
        ),
        source_data=directory(f"{OUT}/figures/photometry/photometry_source_data"),
    log:
        f"{OUT}/logs/photometry/figure.log",
    conda:
        "../../envs/exneuro.yaml"
    params:
        cohort=section_cohort("photometry"),
        photometry=section_params("photometry", only=["figure", "peri_event"]),
        groups=config["groups"],
        style=config["figures"],
        code=code_version("figures"),
    script:
        "../../scripts/photometry_figure.py"
