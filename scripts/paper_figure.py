"""One paper figure as declared in the config, with its legend, source data and statistics."""

from exneuro.paper.compose import paper_figure
from exneuro.paper.panels import Study
from exneuro.workflow import run


def main(snakemake):
    # params.tables: each input's path relative to the output folder, as the panels name them
    study = Study.read(snakemake.params.tables, snakemake.input, snakemake.params.settings)
    paper_figure(
        snakemake.params.figure,
        study,
        snakemake.params.style,
        list(snakemake.output.figures),
        snakemake.output.source_data,
        snakemake.output.legend,
        snakemake.output.statistics,
    )


run(snakemake, main)
