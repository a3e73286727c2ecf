"""Tidy step, cell and event tables of the slice recordings, with QC of .abf against tables."""

from exneuro.cellular.ephys_pipeline import ephys_tables
from exneuro.config import read_validated_sheet
from exneuro.io import write_table
from exneuro.workflow import run


def main(snakemake):
    tables = ephys_tables(
        snakemake.params.ephys,
        read_validated_sheet(snakemake.input.samples),
        list(snakemake.input.abf),
        sheet_path=snakemake.params.sheet,
    )
    for name in ("steps", "cells", "events"):
        write_table(tables[name], snakemake.output[name])
    write_table(tables["cells"], snakemake.output.cells_table)
    write_table(tables["qc"], snakemake.output.qc)


run(snakemake, main)
