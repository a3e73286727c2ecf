"""Stack every analysis's statistics rows into the study's one statistics table."""

from exneuro.io import read_table, write_table
from exneuro.stats.table import concat_stats
from exneuro.workflow import run


def main(snakemake):
    write_table(concat_stats(read_table(path) for path in snakemake.input), snakemake.output[0])


run(snakemake, main)
