"""The RNA-seq sample QC figure (library sizes, sample distances, PCA), with its source data."""

from exneuro.figures.rnaseq import condition_labels, conditions_in_order
from exneuro.figures.rnaseq_qc import qc_figure
from exneuro.io import read_table
from exneuro.workflow import run


def main(snakemake):
    section = snakemake.params.rnaseq
    samples = read_table(snakemake.input.sample_table).set_index("sample")
    order, colours = conditions_in_order(samples, section, snakemake.params.groups)
    qc_figure(
        library_sizes=read_table(snakemake.input.library_sizes),
        distances=read_table(snakemake.input.distances).set_index("sample"),
        scores=read_table(snakemake.input.pca),
        variance=read_table(snakemake.input.pca_variance),
        samples=samples,
        column=section["colour_column"],
        order=order,
        colours=colours,
        style=snakemake.params.style,
        figure_paths=list(snakemake.output.figures),
        source_data_dir=snakemake.output.source_data,
        labels=condition_labels(order, snakemake.params.groups),
    )


run(snakemake, main)
