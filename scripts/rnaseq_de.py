"""Differential expression by DESeq2's method, one table per configured contrast."""

from exneuro.config import read_validated_sheet
from exneuro.io import write_table
from exneuro.rnaseq.pipeline import differential_expression, load_counts
from exneuro.workflow import run


def main(snakemake):
    section = snakemake.params.rnaseq
    counts, samples, _ = load_counts(
        section,
        read_validated_sheet(snakemake.input.samples),
        snakemake.input.counts[0],
        snakemake.params.sheet,
    )
    results = differential_expression(counts, samples, section)
    for contrast, path in zip(section["contrasts"], snakemake.output, strict=True):
        write_table(results[contrast["name"]], path)


run(snakemake, main)
