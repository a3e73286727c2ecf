"""RNA-seq sample QC: size factors, normalized counts, VST, PCA, distances, outliers."""

from exneuro.config import read_validated_sheet
from exneuro.io import write_table
from exneuro.rnaseq.pipeline import load_counts, qc_tables
from exneuro.workflow import run


def main(snakemake):
    section = snakemake.params.rnaseq
    counts, samples, gene_names = load_counts(
        section,
        read_validated_sheet(snakemake.input.samples),
        snakemake.input.counts[0],
        snakemake.params.sheet,
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


run(snakemake, main)
