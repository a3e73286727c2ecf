"""SuperPlots of spine density, total and by type, with their source data."""

from exneuro.io import read_table
from exneuro.model_factors import declared_factors
from exneuro.paper.standard.cellular import spine_figure
from exneuro.workflow import run


def main(snakemake):
    settings = snakemake.params.spines
    cohort = snakemake.params.cohort
    spine_figure(
        read_table(snakemake.input.density),
        read_table(snakemake.input.stats),
        settings["spine_types"],
        cohort["groups"],
        snakemake.params.groups,
        snakemake.params.style,
        list(snakemake.output.figures),
        snakemake.output.source_data,
        per_um=settings["per_um"],
        subset={"cohort": cohort["id"]},
        split=(declared_factors(cohort, settings["statistics"])["fixed"] or [None])[0],
        animals=snakemake.params.animals,
    )


run(snakemake, main)
