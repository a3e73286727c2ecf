"""The study's one statistics table, and the validated config and sample sheet it rests on."""


rule validated_samples:
    input:
        samples=config["samples"],
        schema=str(SCHEMAS / "samples.schema.yaml"),
    output:
        f"{OUT}/config/samples.tsv",
    log:
        f"{OUT}/logs/config/samples.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        design=sheet_params(),
        code=code_version(),
    script:
        "../../scripts/validated_samples.py"


rule config_snapshot:
    output:
        f"{OUT}/config/config.yaml",
    log:
        f"{OUT}/logs/config/snapshot.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        config=config,
        code=code_version(),
    script:
        "../../scripts/config_snapshot.py"


rule statistics_table:
    input:
        statistics_parts(),
    output:
        f"{OUT}/statistics/statistics.tsv",
    log:
        f"{OUT}/logs/statistics/table.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        code=code_version("stats"),
    script:
        "../../scripts/statistics_table.py"
