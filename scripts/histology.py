"""Percent marker-positive labelled neurons: per-section and per-mouse tables, statistics."""

from exneuro.cellular.morphology_pipeline import histology_tables
from exneuro.cellular.morphology_stats import histology_statistics
from exneuro.config import read_validated_sheet
from exneuro.io import write_table
from exneuro.model_factors import declared_factors
from exneuro.workflow import run


def main(snakemake):
    settings = snakemake.params.histology
    cohort = snakemake.params.cohort
    tables = histology_tables(settings, read_validated_sheet(snakemake.input.samples))
    statistics = histology_statistics(
        tables["mice"],
        labels=tuple(cohort["groups"][:2]),
        test=settings["statistics"]["test"],
        level=settings["statistics"]["ci_level"],
        subset={"cohort": cohort["id"]},
        sections=tables["sections"],
        count_model=settings["statistics"].get("count_model", "binomial"),
        model_factors=declared_factors(cohort, settings["statistics"]),
    )
    write_table(tables["sections"], snakemake.output.sections)
    write_table(tables["mice"], snakemake.output.mice)
    write_table(statistics, snakemake.output.stats)


run(snakemake, main)
