"""One photometry recording: read, preprocess, measure windows and waveforms, draw its QC."""

from exneuro.figures.photometry_qc import session_qc_figure
from exneuro.io import write_table
from exneuro.photometry.pipeline import load_session, process_session
from exneuro.workflow import run


def main(snakemake):
    row = snakemake.params.recording
    settings = snakemake.params.settings
    recording, onset, offset, source = load_session(row, settings["readers"], settings["run_event"])
    identity = {key: row[key] for key in ("session", "mouse", "group", "day")}
    tables = process_session(recording, onset, offset, settings, identity)
    tables["qc"]["run_times_from"] = source
    for name in ("trace", "metrics", "qc", "anomalies", "aligned"):
        write_table(tables[name], snakemake.output[name])
    session_qc_figure(recording, tables["trace"], tables["qc"].iloc[0], snakemake.output.figure)


run(snakemake, main)
