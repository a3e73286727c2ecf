"""Tables a lab declares in the config: statistics and a standard figure for each."""


rule table_statistics:
    input:
        table=declared_table_file,
        samples=f"{OUT}/config/samples.tsv",
    output:
        stats=f"{OUT}/tables/{{table}}/statistics.tsv",
        data=f"{OUT}/tables/{{table}}/data.tsv",
    log:
        f"{OUT}/logs/tables/{{table}}.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        key="{table}",
        declaration=table_declaration("table_statistics"),
        lab_tables=owned("table_statistics", "lab_tables"),
        code=code_version("tables", "not_tested.py", "stats"),
    script:
        "../../scripts/table_statistics.py"


rule table_figure:
    input:
        data=f"{OUT}/tables/{{table}}/data.tsv",
        stats=f"{OUT}/tables/{{table}}/statistics.tsv",
    output:
        figures=figure_files(
            f"{OUT}/figures/tables/{{table}}",
            "table",
            "Declared tables",
        ),
        source_data=directory(f"{OUT}/figures/tables/{{table}}_source_data"),
    log:
        f"{OUT}/logs/tables/{{table}}_figure.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        declaration=table_declaration("table_figure"),
        groups=owned("table_figure", "groups"),
        style=owned("table_figure", "figures"),
        code=code_version("tables/design.py", "figures", "paper", "model_factors.py"),
    script:
        "../../scripts/table_figure.py"
