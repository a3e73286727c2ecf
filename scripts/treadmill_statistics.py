"""Group statistics, adaptation curves and responders of one cohort's endurance tests."""

from exneuro.config import read_validated_sheet
from exneuro.io import read_table, write_table
from exneuro.treadmill.analysis import cohort_statistics
from exneuro.workflow import run


def main(snakemake):
    results = cohort_statistics(
        read_table(snakemake.input.tests),
        snakemake.params.cohort,
        snakemake.params.treadmill,
        read_validated_sheet(snakemake.input.samples),
        snakemake.config["samples"],
    )
    write_table(results["statistics"], snakemake.output.stats)
    write_table(results["summary"], snakemake.output.summary)
    write_table(results["adaptation"], snakemake.output.adaptation)
    write_table(results["responders"], snakemake.output.responders)


run(snakemake, main)
