"""Dendritic spines and histology counts: nested cell-level tables -> statistics, SuperPlots."""


rule spine_tables:
    input:
        tables=section_files("spines", ["segment_table", "spine_table"]),
        samples=f"{OUT}/config/samples.tsv",
    output:
        density=f"{OUT}/spines/segment_density.parquet",
        mice=f"{OUT}/spines/mouse_density.tsv",
        neurons=f"{OUT}/spines/neuron_density.tsv",
        classified=f"{OUT}/spines/classified_spines.tsv",
        qc=in_report(f"{OUT}/spines/qc.tsv", "qc", "Quality control"),
    log:
        f"{OUT}/logs/spines/tables.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        spines=section_params("spine_tables", "spines"),
        lab_tables=owned("spine_tables", "lab_tables"),
        code=code_version("cellular"),
    script:
        "../../scripts/spine_tables.py"


rule spine_statistics:
    input:
        density=f"{OUT}/spines/segment_density.parquet",
    output:
        f"{OUT}/spines/statistics.tsv",
    log:
        f"{OUT}/logs/spines/statistics.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        cohort=section_cohort("spine_statistics", "spines"),
        spines=section_params("spine_statistics", "spines"),
        code=code_version("cellular", "stats", "model_factors.py"),
    script:
        "../../scripts/spine_statistics.py"


rule spine_figure:
    input:
        density=f"{OUT}/spines/segment_density.parquet",
        stats=f"{OUT}/spines/statistics.tsv",
    output:
        figures=figure_files(
            f"{OUT}/figures/spines/spines",
            "spines",
            "Spines and histology",
        ),
        source_data=directory(f"{OUT}/figures/spines/spines_source_data"),
    log:
        f"{OUT}/logs/spines/figure.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        cohort=section_cohort("spine_figure", "spines"),
        spines=section_params("spine_figure", "spines"),
        groups=owned("spine_figure", "groups"),
        animals=owned("spine_figure", "study")["animal"]["plural"],
        style=owned("spine_figure", "figures"),
        code=code_version("cellular", "figures", "paper", "model_factors.py"),
    script:
        "../../scripts/spine_figure.py"


rule histology:
    input:
        tables=section_files("histology", ["section_table"]),
        samples=f"{OUT}/config/samples.tsv",
    output:
        sections=f"{OUT}/histology/sections.tsv",
        mice=f"{OUT}/histology/percent_positive.tsv",
        stats=f"{OUT}/histology/statistics.tsv",
    log:
        f"{OUT}/logs/histology/histology.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        cohort=section_cohort("histology", "histology"),
        histology=section_params("histology", "histology"),
        lab_tables=owned("histology", "lab_tables"),
        code=code_version("cellular", "stats", "model_factors.py"),
    script:
        "../../scripts/histology.py"


rule histology_figure:
    input:
        sections=f"{OUT}/histology/sections.tsv",
        mice=f"{OUT}/histology/percent_positive.tsv",
        stats=f"{OUT}/histology/statistics.tsv",
    output:
        figures=figure_files(
            f"{OUT}/figures/histology/histology",
            "histology",
            "Spines and histology",
        ),
        source_data=directory(f"{OUT}/figures/histology/histology_source_data"),
    log:
        f"{OUT}/logs/histology/figure.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        cohort=section_cohort("histology_figure", "histology"),
        histology=section_params("histology_figure", "histology"),
        groups=owned("histology_figure", "groups"),
        animals=owned("histology_figure", "study")["animal"]["plural"],
        style=owned("histology_figure", "figures"),
        code=code_version("cellular", "figures", "paper", "model_factors.py"),
    script:
        "../../scripts/histology_figure.py"
