"""The study's one statistics table, and what it rests on: the validated config and sample sheet,
and the provenance of the results (raw inputs' SHA-256, software versions, code version).
"""


rule validated_samples:
    input:
        unpack(sample_sheet_input),
        schema=shown_path(SCHEMAS / "samples.schema.yaml"),
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
        code=script_code("../../scripts/validated_samples.py"),
    script:
        "../../scripts/validated_samples.py"


rule config_snapshot:
    output:
        in_report(f"{OUT}/config/config.yaml", "provenance", "Provenance"),
    log:
        f"{OUT}/logs/config/snapshot.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        # figure style and layout are recorded by the figure jobs (paper/*_source_data/layout.yaml)
        config=analysis_config(),
        code=script_code("../../scripts/config_snapshot.py"),
    script:
        "../../scripts/config_snapshot.py"


rule statistics_table:
    input:
        statistics_parts(),
    output:
        in_report(f"{OUT}/statistics/statistics.tsv", "statistics", "Statistical tests"),
    log:
        f"{OUT}/logs/statistics/table.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        code=script_code("../../scripts/statistics_table.py"),
        families=(owned("statistics_table", "statistics") or {}).get("families", []),
    script:
        "../../scripts/statistics_table.py"


rule provenance:
    input:
        raw=raw_inputs,
        recordings=[f"{OUT}/photometry/qc.tsv"] if PHOTOMETRY_ON else [],
        lock=shown_path(Path(workflow.basedir) / "requirements.lock"),
    output:
        inputs=in_report(f"{OUT}/provenance/inputs.tsv", "provenance", "Provenance"),
        software=in_report(f"{OUT}/provenance/software.tsv", "provenance", "Provenance"),
        code=in_report(f"{OUT}/provenance/code.tsv", "provenance", "Provenance"),
    log:
        f"{OUT}/logs/provenance.log",
    conda:
        "../../envs/exneuro.yaml"
    resources:
        mem_mb=500,
        runtime=30,
    params:
        folder=lambda wildcards, input: str(Path(input.lock).parent),
        library=library_code(),
        code=script_code("../../scripts/provenance.py"),
    script:
        "../../scripts/provenance.py"
