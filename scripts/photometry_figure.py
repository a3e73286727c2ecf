"""The photometry figure: session traces, heatmap, window metric across days, peri-event test."""

import pandas as pd

from exneuro.config import read_validated_sheet
from exneuro.figures.photometry import study_photometry_figure
from exneuro.io import read_table
from exneuro.model_factors import declared_factors
from exneuro.workflow import run


def main(snakemake):
    study_photometry_figure(
        # only the rows drawn: the included sessions' ΔF/F
        pd.read_parquet(
            snakemake.input.aligned, filters=[("included", "==", True), ("column", "==", "dff")]
        ),
        read_table(snakemake.input.metrics),
        read_table(snakemake.input.qc),
        read_table(snakemake.input.waveforms),
        read_table(snakemake.input.intervals),
        read_table(snakemake.input.stats),
        snakemake.params.cohort["control_group"],
        snakemake.params.photometry,
        snakemake.params.groups,
        snakemake.params.style,
        list(snakemake.output.figures),
        snakemake.output.source_data,
        split=(
            declared_factors(snakemake.params.cohort, snakemake.params.photometry["statistics"])[
                "fixed"
            ]
            or [None]
        )[0],
        sheet=read_validated_sheet(snakemake.input.samples),
    )


run(snakemake, main)
