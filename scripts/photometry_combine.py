"""All photometry sessions in one set of tables, QC flags and exclusions applied (not deleted).

The binned traces of every recording are streamed into one file, never all held in memory."""

from pathlib import Path

import pandas as pd
import yaml

from exneuro.io import read_table, write_table
from exneuro.photometry.pipeline import combine_sessions
from exneuro.photometry.preprocess import resolve_settings
from exneuro.photometry.stacking import stack_tables, write_flagged_aligned
from exneuro.workflow import run


def main(snakemake):
    settings = snakemake.params.photometry
    folders = [Path(folder) for folder in snakemake.input.sessions]
    stacked = {
        name: stack_tables(folders, name) for name in ("qc", "metrics", "anomalies", "faults")
    }
    samples = read_table(snakemake.input.samples)
    excluded = samples.loc[
        samples["excluded_reason"].fillna("").astype(str).str.strip() != "",
        ["mouse_id", "excluded_reason"],
    ]
    tables = combine_sessions(
        stacked["qc"],
        stacked["metrics"],
        pd.DataFrame({"session": []}),  # the binned traces are flagged chunk by chunk below
        settings["qc"],
        settings["exclude_sessions"],
        dict(zip(excluded["mouse_id"], excluded["excluded_reason"], strict=True)),
    )
    write_table(tables["qc"], snakemake.output.qc)
    write_table(tables["metrics"], snakemake.output.metrics)
    included = dict(zip(tables["qc"]["session"], tables["qc"]["included"], strict=True))
    write_flagged_aligned(folders, included, snakemake.output.aligned)
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
