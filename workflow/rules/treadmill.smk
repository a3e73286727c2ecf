"""Treadmill endurance tests: raw summary table and stage logs -> metrics, statistics, figures."""


def treadmill_stage_logs(wildcards):
    """Every stage log present at the configured path pattern (none when there is no pattern)."""
    pattern = config["treadmill"].get("stage_logs")
    if not pattern or config["treadmill"]["metrics_source"] != "stage_logs":
        return []
    found = glob_wildcards(pattern)
    return sorted(expand(pattern, zip, mouse=found.mouse, session=found.session))


rule treadmill_metrics:
    input:
        summary=config["treadmill"]["summary_table"] if TREADMILL_ON else [],
        logs=treadmill_stage_logs,
        samples=f"{OUT}/config/samples.tsv",
    output:
        tests=f"{OUT}/treadmill/tests.parquet",
        table=f"{OUT}/treadmill/tests.tsv",
        qc=f"{OUT}/treadmill/qc.tsv",
    params:
        treadmill=treadmill_params("metrics"),
        code=code_version("treadmill"),
    conda:
        "../../envs/exneuro.yaml"
    log:
        f"{OUT}/logs/treadmill/metrics.log",
    script:
        "../../scripts/treadmill_metrics.py"


rule treadmill_statistics:
    input:
        tests=f"{OUT}/treadmill/tests.parquet",
    output:
        stats=f"{OUT}/treadmill/{{cohort}}/statistics.tsv",
        summary=f"{OUT}/treadmill/{{cohort}}/group_summary.tsv",
        adaptation=f"{OUT}/treadmill/{{cohort}}/adaptation.tsv",
        responders=f"{OUT}/treadmill/{{cohort}}/responders.tsv",
    params:
        cohort=cohort_config,
        treadmill=treadmill_params("statistics"),
        code=code_version("treadmill", "stats"),
    conda:
        "../../envs/exneuro.yaml"
    log:
        f"{OUT}/logs/treadmill/{{cohort}}/statistics.log",
    script:
        "../../scripts/treadmill_statistics.py"


rule treadmill_figure:
    input:
        tests=f"{OUT}/treadmill/tests.parquet",
        stats=f"{OUT}/treadmill/{{cohort}}/statistics.tsv",
        adaptation=f"{OUT}/treadmill/{{cohort}}/adaptation.tsv",
    output:
        figures=multiext(
            f"{OUT}/figures/treadmill/{{cohort}}",
            *[f".{fmt}" for fmt in config["figures"]["formats"]],
        ),
        source_data=directory(f"{OUT}/figures/treadmill/{{cohort}}_source_data"),
    params:
        cohort=cohort_config,
        groups=config["groups"],
        treadmill=treadmill_params("statistics"),
        style=config["figures"],
        code=code_version("treadmill", "figures"),
    conda:
        "../../envs/exneuro.yaml"
    log:
        f"{OUT}/logs/treadmill/{{cohort}}/figure.log",
    script:
        "../../scripts/treadmill_figure.py"
