"""SuperPlots of percent marker-positive labelled neurons, one panel per marker, with their
source data."""

from exneuro.io import read_table
from exneuro.model_factors import declared_factors
from exneuro.paper.standard.cellular import histology_figure
from exneuro.workflow import run


def main(snakemake):
    cohort = snakemake.params.cohort
    settings = snakemake.params.histology
    histology_figure(
        read_table(snakemake.input.sections),
        read_table(snakemake.input.stats),
        list(read_table(snakemake.input.mice)["marker"].unique()),
        cohort["groups"],
        snakemake.params.groups,
        snakemake.params.style,
        list(snakemake.output.figures),
        snakemake.output.source_data,
        labelled_name=settings["labelled_name"],
        subset={"cohort": cohort["id"]},
        split=(declared_factors(cohort, settings["statistics"])["fixed"] or [None])[0],
        animals=snakemake.params.animals,
    )


run(snakemake, main)
