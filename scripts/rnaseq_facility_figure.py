"""Volcano and MA plots of a facility's precomputed DE tables, with their source data."""

from exneuro.figures.rnaseq_genes import contrast_figures
from exneuro.io import read_named_tables
from exneuro.workflow import run


def main(snakemake):
    section = snakemake.params.rnaseq
    results = read_named_tables(snakemake.params.contrasts, snakemake.input.tables)
    contrast_figures(
        results,
        snakemake.params.style,
        snakemake.output.figures,
        alpha=section["alpha"],
        lfc_threshold=section["lfc_threshold"],
        n_labels=section["figures"]["n_labels"],
    )


run(snakemake, main)
