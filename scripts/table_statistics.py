"""Statistics of one table declared in the config, and the table as analysed."""

from exneuro.config import read_validated_sheet
from exneuro.io import write_table
from exneuro.tables.design import read_declared_table
from exneuro.tables.statistics import declared_statistics
from exneuro.workflow import run


def main(snakemake):
    declaration = snakemake.params.declaration
    key = snakemake.params.key
    data = read_declared_table(declaration, read_validated_sheet(snakemake.input.samples), key)
    statistics = declared_statistics(data, declaration, key)
    write_table(data.drop(columns="_line"), snakemake.output.data)
    write_table(statistics, snakemake.output.stats)


run(snakemake, main)
