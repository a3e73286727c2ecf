"""The electrophysiology figure, with its source data."""

from exneuro.config import read_validated_sheet
from exneuro.io import read_table
from exneuro.model_factors import declared_factors
from exneuro.paper.standard.cellular import ephys_figure
from exneuro.workflow import run


def main(snakemake):
    settings = snakemake.params.statistics["statistics"]
    cohort = snakemake.params.cohort
    events = read_table(snakemake.input.events)
    ephys_figure(
        read_table(snakemake.input.steps),
        read_table(snakemake.input.cells),
        events if len(events) else None,
        read_table(snakemake.input.stats),
        snakemake.params.groups,
        cohort["control_group"],
        snakemake.params.style,
        list(snakemake.output.figures),
        snakemake.output.source_data,
        outcomes=settings["outcomes"],
        per_cell=settings["per_cell"],
        min_events=settings["min_events"],
        min_current_pa=settings["min_current_pa"],
        context={"cohort": cohort["id"]},
        split=(declared_factors(cohort, settings)["fixed"] or [None])[0],
        sheet=read_validated_sheet(snakemake.input.samples),
        animals=snakemake.params.animals,
    )


run(snakemake, main)
