"""The photometry figure: session traces, heatmap, window metric across days, peri-event test."""

import pandas as pd

from exneuro.config import read_validated_sheet
from exneuro.io import read_table
from exneuro.paper.standard.activity import photometry_figure
from exneuro.workflow import run


def main(snakemake):
    photometry_figure(
        # only the rows drawn: the included sessions' ΔF/F
        pd.read_parquet(
            snakemake.input.aligned, filters=[("included", "==", True), ("column", "==", "dff")]
        ),
        read_table(snakemake.input.metrics),
        read_table(snakemake.input.qc),
        read_table(snakemake.input.waveforms),
        read_table(snakemake.input.intervals),
        read_table(snakemake.input.stats),
        snakemake.params.cohort,
        snakemake.params.photometry,
        snakemake.params.groups,
        snakemake.params.style,
        list(snakemake.output.figures),
        snakemake.output.source_data,
        sheet=read_validated_sheet(snakemake.input.samples),
    )


run(snakemake, main)
