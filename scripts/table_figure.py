"""The standard figure of one table declared in the config, with its source data."""

from exneuro.io import read_table
from exneuro.paper.standard.behaviour import table_figure
from exneuro.tables.design import read_declared_data
from exneuro.workflow import run


def main(snakemake):
    declaration = snakemake.params.declaration
    table_figure(
        read_declared_data(snakemake.input.data, declaration),
        read_table(snakemake.input.stats),
        declaration,
        snakemake.params.groups,
        snakemake.params.style,
        list(snakemake.output.figures),
        snakemake.output.source_data,
        key=snakemake.wildcards.table,
    )


run(snakemake, main)
