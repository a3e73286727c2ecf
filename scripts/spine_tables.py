"""Spine densities segment -> neuron -> mouse, classified spines, and their QC."""

from exneuro.cellular.morphology_pipeline import spine_tables
from exneuro.config import read_validated_sheet
from exneuro.io import write_table
from exneuro.workflow import run


def main(snakemake):
    tables = spine_tables(snakemake.params.spines, read_validated_sheet(snakemake.input.samples))
    for name in ("density", "mice", "neurons", "classified", "qc"):
        write_table(tables[name], snakemake.output[name])


run(snakemake, main)
