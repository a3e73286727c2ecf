"""Statistics and the standard figure of one table declared in the config."""

from exneuro.config import read_validated_sheet
from exneuro.declared import declared_statistics, read_declared_table
from exneuro.figures.declared import declared_figure
from exneuro.io import write_table
from exneuro.workflow import run


def main(snakemake):
    declaration = snakemake.params.declaration
    key = snakemake.params.key
    data = read_declared_table(declaration, read_validated_sheet(snakemake.input.samples), key)
    statistics = declared_statistics(data, declaration, key)
    write_table(data.drop(columns="_line"), snakemake.output.data)
    write_table(statistics, snakemake.output.stats)
    declared_figure(
        data,
        statistics,
        declaration,
        snakemake.params.groups,
        snakemake.params.style,
        list(snakemake.output.figures),
        snakemake.output.source_data,
    )


run(snakemake, main)
