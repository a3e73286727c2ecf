"""A facility's precomputed DE tables: our columns, DE counts and the configured genes' rows."""

from exneuro.config import read_validated_sheet
from exneuro.io import write_table
from exneuro.rnaseq.pipeline import facility_statistics, facility_tables
from exneuro.rnaseq.summary import de_counts
from exneuro.workflow import run


def main(snakemake):
    section = snakemake.params.rnaseq
    results = facility_tables(section)
    for table, path in zip(results.values(), snakemake.output.tables, strict=True):
        write_table(table, path)
    write_table(
        de_counts(results, section["alpha"], section["lfc_threshold"]), snakemake.output.de_counts
    )
    sheet = read_validated_sheet(snakemake.input.samples)
    n_mice = int((sheet["cohort"] == section["cohort"]).sum())
    write_table(facility_statistics(results, section, n_mice), snakemake.output.stats)


run(snakemake, main)
