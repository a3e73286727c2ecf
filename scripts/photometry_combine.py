"""All photometry sessions in one set of tables, QC flags and exclusions applied (not deleted)."""

from pathlib import Path

import pandas as pd
import yaml

from exneuro.io import read_table, write_table
from exneuro.photometry.pipeline import combine_sessions
from exneuro.photometry.preprocess import resolve_settings
from exneuro.workflow import run


def main(snakemake):
    settings = snakemake.params.photometry
    folders = [Path(folder) for folder in snakemake.input.sessions]
    stacked = {
        name: pd.concat(
            [read_table(folder / f"{name}.parquet") for folder in folders], ignore_index=True
        )
        for name in ("qc", "metrics", "aligned", "anomalies", "faults")
    }
    samples = read_table(snakemake.input.samples)
    excluded = samples.loc[
        samples["excluded_reason"].fillna("").astype(str).str.strip() != "",
        ["mouse_id", "excluded_reason"],
    ]
    tables = combine_sessions(
        stacked["qc"],
        stacked["metrics"],
        stacked["aligned"],
        settings["qc"],
        settings["exclude_sessions"],
        dict(zip(excluded["mouse_id"], excluded["excluded_reason"], strict=True)),
    )
    write_table(tables["qc"], snakemake.output.qc)
    write_table(tables["metrics"], snakemake.output.metrics)
    write_table(tables["aligned"], snakemake.output.aligned)
    write_table(stacked["anomalies"], snakemake.output.anomalies)
    write_table(stacked["faults"], snakemake.output.faults)
    record = {
        "preprocessing": resolve_settings(settings["preprocessing"]),
        **{key: settings[key] for key in ("baseline_window", "windows", "qc", "traces")},
        "peri_event": settings["peri_event"],
        "exclude_sessions": settings["exclude_sessions"],
        "exclude_segments": settings["exclude_segments"],
    }
    with open(snakemake.output.settings, "w", encoding="utf-8") as handle:
        yaml.safe_dump(record, handle, sort_keys=False)


run(snakemake, main)
