"""The RNA-seq overview figure (PCA, DE counts, lost training response, heatmap of the top
genes, key genes) and the volcano and MA plots of every contrast, with their source data."""

from exneuro.figures.rnaseq import contrast_label
from exneuro.io import read_named_tables, read_table
from exneuro.paper.standard.transcriptome import contrast_figures, overview_figure
from exneuro.workflow import run


def main(snakemake):
    section = snakemake.params.rnaseq
    groups = snakemake.params.groups
    names = [c["name"] for c in section["contrasts"]]
    results = read_named_tables(names, snakemake.input.de)
    gene_names = read_table(snakemake.input.gene_names)
    inputs = snakemake.input
    # each table by its path in the output folder, as the panel types name them
    tables = {f"rnaseq/de/{name}.tsv": table for name, table in results.items()}
    tables |= {
        "rnaseq/vst.parquet": read_table(inputs.vst),
        "rnaseq/qc/pca.tsv": read_table(inputs.pca),
        "rnaseq/qc/pca_variance.tsv": read_table(inputs.pca_variance),
        "rnaseq/samples.tsv": read_table(inputs.sample_table),
        "rnaseq/gene_names.tsv": gene_names,
        "rnaseq/de_counts.tsv": read_table(inputs.de_counts),
        "rnaseq/overlap.tsv": read_table(inputs.overlap),
        "rnaseq/gene_panel.tsv": read_table(inputs.gene_panel),
    }
    style = snakemake.params.style
    overview_figure(
        tables,
        section,
        snakemake.params.cohort,
        groups,
        style,
        list(snakemake.output.figures),
        snakemake.output.source_data,
    )
    contrast_figures(
        results,
        section,
        groups,
        style,
        snakemake.output.contrast_figures,
        gene_names=gene_names,
        titles={c["name"]: contrast_label(c, groups) for c in section["contrasts"]},
    )


run(snakemake, main)
