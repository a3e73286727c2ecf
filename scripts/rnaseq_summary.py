"""RNA-seq summaries (DE counts, lost training response, gene panel, gene sets), the statistics
rows of the configured genes, and the figures."""

from exneuro.figures.rnaseq import condition_colours, contrast_figures, overview_figure
from exneuro.io import read_table, write_table
from exneuro.rnaseq import pipeline
from exneuro.rnaseq.summary import read_gmt
from exneuro.workflow import run


def main(snakemake):
    section = snakemake.params.rnaseq
    names = [c["name"] for c in section["contrasts"]]
    results = {name: read_table(path) for name, path in zip(names, snakemake.input.de, strict=True)}
    samples = read_table(snakemake.input.sample_table).set_index("sample")
    gene_names = read_table(snakemake.input.gene_names).set_index("gene_id")["gene_name"]
    normalized = read_table(snakemake.input.normalized).set_index("gene_id")
    vst = read_table(snakemake.input.vst).set_index("gene_id")
    gene_sets = read_gmt(snakemake.input.gene_sets[0]) if snakemake.input.gene_sets else None
    tables = pipeline.summary_tables(results, normalized, samples, gene_names, section, gene_sets)
    for name in ("de_counts", "overlap", "overlap_genes", "gene_panel", "ora"):
        write_table(tables[name], snakemake.output[name])
    write_table(
        pipeline.gene_statistics(results, samples, gene_names, section), snakemake.output.stats
    )
    groups = [g["id"] for g in snakemake.params.groups]
    order = pipeline.condition_order(samples, section, groups)
    style = snakemake.params.style
    overview_figure(
        scores=read_table(snakemake.input.pca),
        variance=read_table(snakemake.input.pca_variance),
        counts_table=tables["de_counts"],
        overlap=tables["overlap"],
        vst=vst,
        heatmap_genes=pipeline.heatmap_genes(results, section),
        panel=tables["gene_panel"],
        samples=samples,
        column=section["colour_column"],
        order=order,
        colours=condition_colours(order, snakemake.params.groups, ["sedentary"]),
        style=style,
        figure_paths=list(snakemake.output.figures),
        source_data_dir=snakemake.output.source_data,
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
    )


run(snakemake, main)
