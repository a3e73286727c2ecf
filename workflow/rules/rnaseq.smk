"""Muscle RNA-seq: count table -> QC -> DESeq2 per contrast -> summaries and figures."""


rule rnaseq_qc:
    input:
        counts=section_files("rnaseq", ["counts"]),
        annotation=section_files("rnaseq", ["gene_annotation"]),
        samples=f"{OUT}/config/samples.tsv",
    output:
        size_factors=f"{OUT}/rnaseq/qc/size_factors.tsv",
        tmm=f"{OUT}/rnaseq/qc/tmm_factors.tsv",
        normalized=f"{OUT}/rnaseq/normalized_counts.parquet",
        cpm=f"{OUT}/rnaseq/log_cpm_tmm.parquet",
        vst=f"{OUT}/rnaseq/vst.parquet",
        library_sizes=f"{OUT}/rnaseq/qc/library_sizes.tsv",
        pca=f"{OUT}/rnaseq/qc/pca.tsv",
        pca_variance=f"{OUT}/rnaseq/qc/pca_variance.tsv",
        distances=f"{OUT}/rnaseq/qc/sample_distances.tsv",
        outliers=f"{OUT}/rnaseq/qc/outliers.tsv",
        sample_table=f"{OUT}/rnaseq/samples.tsv",
        gene_names=f"{OUT}/rnaseq/gene_names.tsv",
    log:
        f"{OUT}/logs/rnaseq/qc.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        sheet=SHEET_PATH,
        rnaseq=section_params("rnaseq_qc", "rnaseq"),
        lab_tables=owned("rnaseq_qc", "lab_tables"),
        code=script_code("../../scripts/rnaseq_qc.py"),
    script:
        "../../scripts/rnaseq_qc.py"


rule rnaseq_qc_figure:
    input:
        library_sizes=f"{OUT}/rnaseq/qc/library_sizes.tsv",
        distances=f"{OUT}/rnaseq/qc/sample_distances.tsv",
        pca=f"{OUT}/rnaseq/qc/pca.tsv",
        pca_variance=f"{OUT}/rnaseq/qc/pca_variance.tsv",
        sample_table=f"{OUT}/rnaseq/samples.tsv",
    output:
        figures=figure_files(
            f"{OUT}/figures/rnaseq/qc",
            "rnaseq",
            "RNA-seq",
        ),
        source_data=directory(f"{OUT}/figures/rnaseq/qc_source_data"),
    log:
        f"{OUT}/logs/rnaseq/qc_figure.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        rnaseq=section_params("rnaseq_qc_figure", "rnaseq"),
        groups=section_groups("rnaseq_qc_figure", "rnaseq"),
        style=owned("rnaseq_qc_figure", "figures"),
        code=script_code("../../scripts/rnaseq_qc_figure.py"),
    script:
        "../../scripts/rnaseq_qc_figure.py"


rule rnaseq_de:
    input:
        counts=section_files("rnaseq", ["counts"]),
        samples=f"{OUT}/config/samples.tsv",
    output:
        expand(f"{OUT}/rnaseq/de/{{contrast}}.tsv", contrast=RNASEQ_CONTRASTS),
    log:
        f"{OUT}/logs/rnaseq/de.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        sheet=SHEET_PATH,
        rnaseq=section_params("rnaseq_de", "rnaseq"),
        lab_tables=owned("rnaseq_de", "lab_tables"),
        code=script_code("../../scripts/rnaseq_de.py"),
    script:
        "../../scripts/rnaseq_de.py"


rule rnaseq_summary:
    input:
        de=expand(f"{OUT}/rnaseq/de/{{contrast}}.tsv", contrast=RNASEQ_CONTRASTS),
        normalized=f"{OUT}/rnaseq/normalized_counts.parquet",
        sample_table=f"{OUT}/rnaseq/samples.tsv",
        gene_names=f"{OUT}/rnaseq/gene_names.tsv",
        gene_sets=section_files("rnaseq", ["gene_sets"]),
    output:
        stats=f"{OUT}/rnaseq/statistics.tsv",
        de_counts=f"{OUT}/rnaseq/de_counts.tsv",
        overlap=f"{OUT}/rnaseq/overlap.tsv",
        overlap_genes=f"{OUT}/rnaseq/overlap_genes.tsv",
        gene_panel=f"{OUT}/rnaseq/gene_panel.tsv",
        ora=f"{OUT}/rnaseq/gene_set_enrichment.tsv",
    log:
        f"{OUT}/logs/rnaseq/summary.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        rnaseq=section_params("rnaseq_summary", "rnaseq"),
        lab_tables=owned("rnaseq_summary", "lab_tables"),
        code=script_code("../../scripts/rnaseq_summary.py"),
    script:
        "../../scripts/rnaseq_summary.py"


rule rnaseq_figure:
    input:
        de=expand(f"{OUT}/rnaseq/de/{{contrast}}.tsv", contrast=RNASEQ_CONTRASTS),
        vst=f"{OUT}/rnaseq/vst.parquet",
        pca=f"{OUT}/rnaseq/qc/pca.tsv",
        pca_variance=f"{OUT}/rnaseq/qc/pca_variance.tsv",
        sample_table=f"{OUT}/rnaseq/samples.tsv",
        gene_names=f"{OUT}/rnaseq/gene_names.tsv",
        de_counts=f"{OUT}/rnaseq/de_counts.tsv",
        overlap=f"{OUT}/rnaseq/overlap.tsv",
        gene_panel=f"{OUT}/rnaseq/gene_panel.tsv",
    output:
        figures=figure_files(
            f"{OUT}/figures/rnaseq/rnaseq",
            "rnaseq",
            "RNA-seq",
        ),
        source_data=directory(f"{OUT}/figures/rnaseq/rnaseq_source_data"),
        contrast_figures=directory(f"{OUT}/figures/rnaseq/contrasts"),
    log:
        f"{OUT}/logs/rnaseq/figure.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        rnaseq=section_params("rnaseq_figure", "rnaseq"),
        cohort=section_cohort("rnaseq_figure", "rnaseq"),
        groups=section_groups("rnaseq_figure", "rnaseq"),
        style=owned("rnaseq_figure", "figures"),
        code=script_code("../../scripts/rnaseq_figure.py"),
    script:
        "../../scripts/rnaseq_figure.py"


rule rnaseq_facility:
    input:
        tables=facility_de_files,
        samples=f"{OUT}/config/samples.tsv",
    output:
        tables=expand(f"{OUT}/rnaseq/facility/{{contrast}}.tsv", contrast=FACILITY_DE),
        de_counts=f"{OUT}/rnaseq/facility/de_counts.tsv",
        stats=f"{OUT}/rnaseq/facility/statistics.tsv",
    log:
        f"{OUT}/logs/rnaseq/facility.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        rnaseq=section_params("rnaseq_facility", "rnaseq"),
        lab_tables=owned("rnaseq_facility", "lab_tables"),
        code=script_code("../../scripts/rnaseq_facility.py"),
    script:
        "../../scripts/rnaseq_facility.py"


rule rnaseq_facility_figure:
    input:
        tables=expand(f"{OUT}/rnaseq/facility/{{contrast}}.tsv", contrast=FACILITY_DE),
    output:
        figures=directory(f"{OUT}/figures/rnaseq/facility"),
    log:
        f"{OUT}/logs/rnaseq/facility_figure.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        contrasts=FACILITY_DE,
        rnaseq=section_params("rnaseq_facility_figure", "rnaseq"),
        style=owned("rnaseq_facility_figure", "figures"),
        code=script_code("../../scripts/rnaseq_facility_figure.py"),
    script:
        "../../scripts/rnaseq_facility_figure.py"
