"""Stack every analysis's statistics rows into the study's one statistics table, with the
mouse-level p beside singular mixed-model fits and the declared families' adjusted p values."""

from exneuro.io import read_table, write_table
from exneuro.stats.families import apply_families
from exneuro.stats.mouse_level import attach_mouse_level
from exneuro.stats.table import concat_stats
from exneuro.workflow import run


def main(snakemake):
    table = attach_mouse_level(concat_stats(read_table(path) for path in snakemake.input))
    write_table(apply_families(table, snakemake.params.families), snakemake.output[0])


run(snakemake, main)
