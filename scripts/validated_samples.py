"""Validate the sample sheet and write the copy every analysis reads."""

from exneuro.config import load_yaml, read_sample_sheet
from exneuro.io import write_table
from exneuro.workflow import run


def main(snakemake):
    sheet = read_sample_sheet(
        snakemake.input.get("samples"), load_yaml(snakemake.input.schema), snakemake.params.design
    )
    write_table(sheet, snakemake.output[0])


run(snakemake, main)
