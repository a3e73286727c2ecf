"""RNA-seq summaries (DE counts, lost training response, gene panel, gene sets) and the
statistics rows of the configured genes."""

from exneuro.io import read_named_tables, read_table, write_table
from exneuro.rnaseq import pipeline
from exneuro.rnaseq.enrichment import read_gmt
from exneuro.workflow import run


def main(snakemake):
    section = snakemake.params.rnaseq
    names = [c["name"] for c in section["contrasts"]]
    results = read_named_tables(names, snakemake.input.de)
    samples = read_table(snakemake.input.sample_table).set_index("sample")
    gene_names = read_table(snakemake.input.gene_names).set_index("gene_id")["gene_name"]
    normalized = read_table(snakemake.input.normalized).set_index("gene_id")
    gene_sets = read_gmt(snakemake.input.gene_sets[0]) if snakemake.input.gene_sets else None
    tables = pipeline.summary_tables(results, normalized, samples, gene_names, section, gene_sets)
    for name in ("de_counts", "overlap", "overlap_genes", "gene_panel", "ora"):
        write_table(tables[name], snakemake.output[name])
    write_table(
        pipeline.gene_statistics(results, samples, gene_names, section), snakemake.output.stats
    )


run(snakemake, main)
