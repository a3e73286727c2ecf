"""The paper's figures as declared in the config: one job per figure, reading only the result
tables its panels draw, so that editing a figure re-renders that figure alone."""


rule paper_figure:
    input:
        paper_figure_inputs,
    output:
        figures=figure_files(f"{OUT}/paper/{{figure}}", "paper", "Paper figures"),
        source_data=directory(f"{OUT}/paper/{{figure}}_source_data"),
        legend=in_report(f"{OUT}/paper/{{figure}}_legend.md", "paper", "Paper figures"),
        statistics=f"{OUT}/paper/{{figure}}_statistics.tsv",
    log:
        f"{OUT}/logs/paper/{{figure}}.log",
    wildcard_constraints:
        figure="|".join(PAPER_FIGURES) or "no_figure",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        figure=lambda wildcards: PAPER_FIGURES[wildcards.figure],
        settings=paper_settings,
        style=owned("paper_figure", "figures"),
        tables=lambda wildcards: figure_inputs(PAPER_FIGURES[wildcards.figure]),
        code=script_code("../../scripts/paper_figure.py"),
    script:
        "../../scripts/paper_figure.py"
