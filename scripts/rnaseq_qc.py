"""RNA-seq sample QC: size factors, normalized counts, VST, PCA, distances, outliers."""

from exneuro.config import read_validated_sheet
from exneuro.figures.rnaseq import condition_colours, qc_figure
from exneuro.io import write_table
from exneuro.rnaseq.pipeline import condition_order, load_counts, qc_tables
from exneuro.workflow import run


def main(snakemake):
    section = snakemake.params.rnaseq
    counts, samples, gene_names = load_counts(
        section,
        read_validated_sheet(snakemake.input.samples),
        snakemake.input.counts[0],
        snakemake.input.samples,
    )
    tables = qc_tables(counts, samples, section)
    for name in ("size_factors", "tmm", "library_sizes", "pca", "pca_variance", "outliers"):
        write_table(tables[name], snakemake.output[name])
    for name in ("normalized", "vst", "distances", "cpm"):
        frame = tables[name].rename_axis("gene_id" if name != "distances" else "sample")
        write_table(frame.reset_index(), snakemake.output[name])
    write_table(samples.rename_axis("sample").reset_index(), snakemake.output.sample_table)
    names = gene_names.rename("gene_name").rename_axis("gene_id").reset_index()
    write_table(names, snakemake.output.gene_names)
    order = condition_order(samples, section, [g["id"] for g in snakemake.params.groups])
    qc_figure(
        library_sizes=tables["library_sizes"],
        distances=tables["distances"],
        scores=tables["pca"],
        variance=tables["pca_variance"],
        samples=samples,
        column=section["colour_column"],
        order=order,
        colours=condition_colours(order, snakemake.params.groups, ["sedentary"]),
        style=snakemake.params.style,
        figure_paths=list(snakemake.output.figures),
        source_data_dir=snakemake.output.source_data,
    )


run(snakemake, main)
