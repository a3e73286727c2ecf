"""The endurance figure of one cohort, with its source data."""

from exneuro.config import read_validated_sheet
from exneuro.io import read_table
from exneuro.paper.standard.behaviour import cohort_figure
from exneuro.workflow import run


def main(snakemake):
    cohort_figure(
        tests=read_table(snakemake.input.tests),
        statistics=read_table(snakemake.input.stats),
        adaptation=read_table(snakemake.input.adaptation),
        cohort=snakemake.params.cohort,
        groups=snakemake.params.groups,
        treadmill=snakemake.params.treadmill,
        style=snakemake.params.style,
        figure_paths=list(snakemake.output.figures),
        source_data_dir=snakemake.output.source_data,
        sheet=read_validated_sheet(snakemake.input.samples),
    )


run(snakemake, main)
