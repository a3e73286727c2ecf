"""Endurance-test metrics and QC from the summary table and stage logs."""

from exneuro.config import read_validated_sheet
from exneuro.io import write_table
from exneuro.treadmill.pipeline import test_metrics
from exneuro.workflow import run


def main(snakemake):
    tests, qc = test_metrics(
        snakemake.input.summary,
        list(snakemake.input.logs),
        read_validated_sheet(snakemake.input.samples),
        snakemake.params.treadmill,
        sheet_path=snakemake.params.sheet,
    )
    write_table(tests, snakemake.output.tests)
    write_table(tests, snakemake.output.table)
    write_table(qc, snakemake.output.qc)


run(snakemake, main)
