"""The RNA-seq sample QC figure (library sizes, sample distances, PCA), with its source data."""

from exneuro.io import read_table
from exneuro.paper.standard.transcriptome import qc_figure
from exneuro.workflow import run


def main(snakemake):
    inputs = snakemake.input
    # each table by its path in the output folder, as the panel types name them
    tables = {
        "rnaseq/qc/library_sizes.tsv": read_table(inputs.library_sizes),
        "rnaseq/qc/sample_distances.tsv": read_table(inputs.distances),
        "rnaseq/qc/pca.tsv": read_table(inputs.pca),
        "rnaseq/qc/pca_variance.tsv": read_table(inputs.pca_variance),
        "rnaseq/samples.tsv": read_table(inputs.sample_table),
    }
    qc_figure(
        tables,
        snakemake.params.rnaseq,
        snakemake.params.groups,
        snakemake.params.style,
        list(snakemake.output.figures),
        snakemake.output.source_data,
    )


run(snakemake, main)
