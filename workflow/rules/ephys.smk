"""Slice electrophysiology: exported tables and raw .abf sweeps -> cell tables, statistics, figure."""


rule ephys_tables:
    input:
        tables=ephys_inputs,
        abf=ephys_abf_files,
        samples=f"{OUT}/config/samples.tsv",
    output:
        steps=f"{OUT}/ephys/steps.parquet",
        cells=f"{OUT}/ephys/cells.parquet",
        events=f"{OUT}/ephys/events.parquet",
        cells_table=f"{OUT}/ephys/cells.tsv",
        qc=in_report(f"{OUT}/ephys/qc.tsv", "qc", "Quality control"),
    log:
        f"{OUT}/logs/ephys/tables.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        sheet=SHEET_PATH,
        ephys=section_params("ephys_tables", "ephys"),
        lab_tables=owned("ephys_tables", "lab_tables"),
        code=code_version("cellular"),
    script:
        "../../scripts/ephys_tables.py"


rule ephys_statistics:
    input:
        steps=f"{OUT}/ephys/steps.parquet",
        cells=f"{OUT}/ephys/cells.parquet",
        events=f"{OUT}/ephys/events.parquet",
        samples=f"{OUT}/config/samples.tsv",
    output:
        f"{OUT}/ephys/statistics.tsv",
    log:
        f"{OUT}/logs/ephys/statistics.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        cohort=section_cohort("ephys_statistics", "ephys"),
        statistics=section_params("ephys_statistics", "ephys"),
        code=code_version("cellular", "stats", "model_factors.py"),
    script:
        "../../scripts/ephys_statistics.py"


rule ephys_figure:
    input:
        steps=f"{OUT}/ephys/steps.parquet",
        cells=f"{OUT}/ephys/cells.parquet",
        events=f"{OUT}/ephys/events.parquet",
        stats=f"{OUT}/ephys/statistics.tsv",
        samples=f"{OUT}/config/samples.tsv",
    output:
        figures=figure_files(
            f"{OUT}/figures/ephys/ephys",
            "ephys",
            "Electrophysiology",
        ),
        source_data=directory(f"{OUT}/figures/ephys/ephys_source_data"),
    log:
        f"{OUT}/logs/ephys/figure.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        cohort=section_cohort("ephys_figure", "ephys"),
        statistics=section_params("ephys_figure", "ephys"),
        groups=owned("ephys_figure", "groups"),
        animals=owned("ephys_figure", "study")["animal"]["plural"],
        style=owned("ephys_figure", "figures"),
        code=code_version("cellular", "figures", "paper", "model_factors.py"),
    script:
        "../../scripts/ephys_figure.py"
