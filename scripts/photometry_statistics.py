"""Group x day statistics of the photometry window metrics, and the peri-event waveform tests."""

from exneuro.config import read_validated_sheet
from exneuro.io import read_table, write_table
from exneuro.photometry.aligned_traces import AlignedTraces
from exneuro.photometry.pipeline import photometry_statistics
from exneuro.workflow import run


def main(snakemake):
    settings = snakemake.params.photometry
    statistics, waveforms, intervals = photometry_statistics(
        read_table(snakemake.input.metrics),
        AlignedTraces(snakemake.input.aligned),  # only the tested rows are read
        snakemake.params.cohort,
        settings["statistics"],
        settings["peri_event"],
        read_validated_sheet(snakemake.input.samples),
        snakemake.config["samples"],
    )
    write_table(statistics, snakemake.output.statistics)
    write_table(waveforms, snakemake.output.waveforms)
    write_table(intervals, snakemake.output.intervals)


run(snakemake, main)
