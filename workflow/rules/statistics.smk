"""The study's one statistics table, and the validated config and sample sheet it rests on."""


rule validated_samples:
    input:
        samples=config["samples"],
        schema=str(SCHEMAS / "samples.schema.yaml"),
    output:
        f"{OUT}/config/samples.tsv",
    params:
        design=sheet_params(),
        code=code_version(),
    conda:
        "../../envs/exneuro.yaml"
    log:
        f"{OUT}/logs/config/samples.log",
    script:
        "../../scripts/validated_samples.py"


rule config_snapshot:
    output:
        f"{OUT}/config/config.yaml",
    params:
        config=config,
        code=code_version(),
    conda:
        "../../envs/exneuro.yaml"
    log:
        f"{OUT}/logs/config/snapshot.log",
    script:
        "../../scripts/config_snapshot.py"


rule statistics_table:
    input:
        statistics_parts(),
    output:
        f"{OUT}/statistics/statistics.tsv",
    params:
        code=code_version("stats"),
    conda:
        "../../envs/exneuro.yaml"
    log:
        f"{OUT}/logs/statistics/table.log",
    script:
        "../../scripts/statistics_table.py"
