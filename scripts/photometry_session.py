"""One photometry recording: read, preprocess, measure windows and waveforms, draw its QC.

Called from a ``shell:`` command (``--params`` JSON, ``--log``, the output folder) rather than
``script:``: with 10,000 recordings, Snakemake's per-job check of a script's source costs a third
of the time to build the DAG.
"""

from pathlib import Path

from exneuro.figures.photometry_qc import session_qc_figure
from exneuro.io import write_table
from exneuro.photometry.session import SESSION_TABLES, load_session, process_session
from exneuro.provenance import sha256
from exneuro.workflow import run_command_line


def main(snakemake):
    row = snakemake.params.recording
    settings = snakemake.params.settings
    recording, onset, offset, source = load_session(row, settings["readers"], settings["run_event"])
    identity = {key: row[key] for key in ("session", "mouse", "group", "day")}
    tables = process_session(recording, onset, offset, settings, identity)
    tables["qc"]["run_times_from"] = source
    for key in ("file", "ttl_file"):  # provenance of the raw files, hashed once, here
        path = row[key]
        tables["qc"][key] = path
        tables["qc"][f"{key}_bytes"] = Path(path).stat().st_size if path else 0
        tables["qc"][f"{key}_sha256"] = sha256(path) if path else ""
    folder = Path(snakemake.output[0])
    folder.mkdir(parents=True, exist_ok=True)
    for name in SESSION_TABLES:
        write_table(tables[name], folder / f"{name}.parquet")
    if settings.get("export_nwb"):
        from exneuro.photometry.nwb import write_session_nwb

        record = {
            key: settings[key] for key in ("preprocessing", "baseline_window", "exclude_segments")
        }
        write_session_nwb(
            folder / "session.nwb",
            tables["trace"],
            tables["qc"].iloc[0].to_dict(),
            tables["faults"],
            recording.events,
            record,
            identity,
            **settings["nwb_subject"],
        )
    session_qc_figure(
        recording, tables["trace"], tables["qc"].iloc[0], folder / "qc.png", faults=tables["faults"]
    )


if __name__ == "__main__":
    run_command_line(main, __doc__.splitlines()[0])
