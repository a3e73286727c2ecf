"""Statistics of the slice recordings: F-I curve, cell properties, sEPSC distributions."""

from exneuro.cellular.ephys_stats import ephys_statistics
from exneuro.config import read_validated_sheet
from exneuro.io import read_table, write_table
from exneuro.model_factors import declared_factors
from exneuro.workflow import run


def main(snakemake):
    settings = snakemake.params.statistics["statistics"]
    cohort = snakemake.params.cohort
    events = read_table(snakemake.input.events)
    statistics = ephys_statistics(
        read_table(snakemake.input.steps),
        read_table(snakemake.input.cells),
        events if len(events) else None,
        cohort["control_group"],
        outcomes=settings["outcomes"],
        test=settings["two_group_test"],
        correction=settings["correction"],
        level=settings["ci_level"],
        per_cell=settings["per_cell"],
        min_events=settings["min_events"],
        bootstrap_resamples=settings["bootstrap_resamples"],
        context={"cohort": cohort["id"]},
        model_factors=declared_factors(cohort, settings),
        sheet=read_validated_sheet(snakemake.input.samples),
        sheet_path=snakemake.config["samples"],
    )
    write_table(statistics, snakemake.output[0])


run(snakemake, main)
