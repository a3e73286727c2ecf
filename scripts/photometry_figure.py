"""The photometry figure: session traces, heatmap, window metric across days, peri-event test."""

from exneuro.config import read_validated_sheet
from exneuro.io import read_table
from exneuro.paper.standard.activity import photometry_figure
from exneuro.photometry.aligned_traces import AlignedTraces
from exneuro.workflow import run


def main(snakemake):
    photometry_figure(
        # read in parts: the included sessions' ΔF/F on the days drawn
        AlignedTraces(snakemake.input.aligned),
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
