"""Spine statistics: count GLMM, density mixed model, mouse means, hierarchical bootstrap, naive
test."""

from exneuro.cellular.morphology_stats import spine_statistics
from exneuro.io import read_table, write_table
from exneuro.model_factors import declared_factors
from exneuro.workflow import run


def main(snakemake):
    settings = snakemake.params.spines
    cohort = snakemake.params.cohort
    statistics = spine_statistics(
        read_table(snakemake.input.density),
        labels=tuple(cohort["groups"][:2]),
        spine_types=settings["spine_types"],
        per_um=settings["per_um"],
        n_boot=settings["statistics"]["bootstrap_resamples"],
        seed=settings["statistics"]["seed"],
        level=settings["statistics"]["ci_level"],
        test=settings["statistics"]["test"],
        subset={"cohort": cohort["id"]},
        count_model=settings["statistics"].get("count_model", "negative_binomial"),
        model_factors=declared_factors(cohort, settings["statistics"]),
    )
    write_table(statistics, snakemake.output[0])


run(snakemake, main)
