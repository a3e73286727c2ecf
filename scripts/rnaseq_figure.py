"""The RNA-seq overview figure (PCA, DE counts, lost training response, heatmap of the top
genes, key genes) and the volcano and MA plots of every contrast, with their source data."""

from exneuro.figures.rnaseq import (
    condition_labels,
    conditions_in_order,
    contrast_label,
    overview_figure,
)
from exneuro.figures.rnaseq_genes import contrast_figures
from exneuro.io import read_named_tables, read_table
from exneuro.rnaseq.summary import heatmap_genes
from exneuro.workflow import run


def main(snakemake):
    section = snakemake.params.rnaseq
    names = [c["name"] for c in section["contrasts"]]
    results = read_named_tables(names, snakemake.input.de)
    samples = read_table(snakemake.input.sample_table).set_index("sample")
    gene_names = read_table(snakemake.input.gene_names).set_index("gene_id")["gene_name"]
    groups = snakemake.params.groups
    order, colours = conditions_in_order(samples, section, groups)
    titles = {c["name"]: contrast_label(c, groups) for c in section["contrasts"]}
    overview_figure(
        scores=read_table(snakemake.input.pca),
        variance=read_table(snakemake.input.pca_variance),
        counts_table=read_table(snakemake.input.de_counts),
        overlap=read_table(snakemake.input.overlap),
        vst=read_table(snakemake.input.vst).set_index("gene_id"),
        heatmap_genes=heatmap_genes(results, section),
        panel=read_table(snakemake.input.gene_panel),
        samples=samples,
        column=section["colour_column"],
        order=order,
        colours=colours,
        style=snakemake.params.style,
        figure_paths=list(snakemake.output.figures),
        source_data_dir=snakemake.output.source_data,
        labels=condition_labels(order, groups),
        contrast_labels=titles,
        gene_names=gene_names,
    )
    contrast_figures(
        results,
        snakemake.params.style,
        snakemake.output.contrast_figures,
        alpha=section["alpha"],
        lfc_threshold=section["lfc_threshold"],
        n_labels=section["figures"]["n_labels"],
        gene_names=gene_names,
        titles=titles,
    )


run(snakemake, main)
