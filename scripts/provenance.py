"""Provenance of the results: raw inputs' SHA-256, software versions, code version."""

from exneuro.io import read_table, write_table
from exneuro.provenance import code_state, input_hashes, software_versions
from exneuro.workflow import run


def main(snakemake):
    hashed = [read_table(path) for path in snakemake.input.recordings]
    write_table(input_hashes(snakemake.input.raw, hashed), snakemake.output.inputs)
    write_table(software_versions(snakemake.input.lock), snakemake.output.software)
    code = code_state(snakemake.params.folder, snakemake.params.library)
    write_table(code, snakemake.output.code)


run(snakemake, main)
