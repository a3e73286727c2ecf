"""Volcano and MA plots of a facility's precomputed DE tables, with their source data."""

from exneuro.io import read_named_tables
from exneuro.paper.standard.transcriptome import contrast_figures
from exneuro.workflow import run


def main(snakemake):
    results = read_named_tables(snakemake.params.contrasts, snakemake.input.tables)
    contrast_figures(
        results,
        snakemake.params.rnaseq,
        [],
        snakemake.params.style,
        snakemake.output.figures,
        facility=True,
    )


run(snakemake, main)
