"""Tables a lab declares in the config: statistics and a standard figure for each."""


rule declared_table:
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
        declaration=table_declaration("declared_table"),
        lab_tables=owned("declared_table", "lab_tables"),
        code=code_version("declared.py", "declared_design.py", "not_tested.py", "stats"),
    script:
        "../../scripts/declared_table.py"


rule declared_figure:
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
        declaration=table_declaration("declared_figure"),
        groups=owned("declared_figure", "groups"),
        style=owned("declared_figure", "figures"),
        code=code_version("declared_design.py", "figures"),
    script:
        "../../scripts/declared_figure.py"
