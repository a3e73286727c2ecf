"""Treadmill endurance tests: raw summary table and stage logs -> metrics, statistics, figures."""


rule treadmill_metrics:
    input:
        summary=config["treadmill"]["summary_table"] if TREADMILL_ON else [],
        logs=treadmill_stage_logs,
        samples=f"{OUT}/config/samples.tsv",
    output:
        tests=f"{OUT}/treadmill/tests.parquet",
        table=f"{OUT}/treadmill/tests.tsv",
        qc=in_report(f"{OUT}/treadmill/qc.tsv", "qc", "Quality control"),
    log:
        f"{OUT}/logs/treadmill/metrics.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        sheet=SHEET_PATH,
        treadmill=section_params("treadmill_metrics", "treadmill"),
        lab_tables=owned("treadmill_metrics", "lab_tables"),
        code=code_version("treadmill"),
    script:
        "../../scripts/treadmill_metrics.py"


rule treadmill_statistics:
    input:
        tests=f"{OUT}/treadmill/tests.parquet",
        samples=f"{OUT}/config/samples.tsv",
    output:
        stats=f"{OUT}/treadmill/{{cohort}}/statistics.tsv",
        summary=f"{OUT}/treadmill/{{cohort}}/group_summary.tsv",
        adaptation=f"{OUT}/treadmill/{{cohort}}/adaptation.tsv",
        responders=f"{OUT}/treadmill/{{cohort}}/responders.tsv",
    log:
        f"{OUT}/logs/treadmill/{{cohort}}/statistics.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        cohort=cohort_config,
        treadmill=section_params("treadmill_statistics", "treadmill"),
        code=code_version("treadmill", "not_tested.py", "stats", "model_factors.py"),
    script:
        "../../scripts/treadmill_statistics.py"


rule treadmill_figure:
    input:
        tests=f"{OUT}/treadmill/tests.parquet",
        samples=f"{OUT}/config/samples.tsv",
        stats=f"{OUT}/treadmill/{{cohort}}/statistics.tsv",
        adaptation=f"{OUT}/treadmill/{{cohort}}/adaptation.tsv",
    output:
        figures=figure_files(
            f"{OUT}/figures/treadmill/{{cohort}}",
            "treadmill",
            "Treadmill",
        ),
        source_data=directory(f"{OUT}/figures/treadmill/{{cohort}}_source_data"),
    log:
        f"{OUT}/logs/treadmill/{{cohort}}/figure.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        cohort=cohort_config,
        groups=owned("treadmill_figure", "groups"),
        treadmill=section_params("treadmill_figure", "treadmill"),
        style=owned("treadmill_figure", "figures"),
        code=code_version("treadmill", "figures", "paper", "model_factors.py"),
    script:
        "../../scripts/treadmill_figure.py"
