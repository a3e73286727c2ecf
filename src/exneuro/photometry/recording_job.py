"""Recording jobs: one recording analysed into its folder, and recordings grouped into batches
that one job (one Python process) analyses in turn.

Starting a Python process with this job's libraries costs more than a second, preprocessing a
75-min recording a tenth of that: a study of thousands of recordings spends its time starting
processes unless one process analyses many recordings. :func:`recording_batches` fixes which
recordings share a job so that a new recording reruns one batch, not all of them;
:func:`analyse_batch` runs a batch with each recording's own log.

This module imports only what every recording needs (no statistics engine, no NWB or HDF5
library unless a recording asks for it), so that each job starts quickly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from exneuro.figures.photometry_qc import session_qc_figure
from exneuro.photometry.recording import SESSION_TABLES, load_session, process_session
from exneuro.provenance import sha256


def write_recording_table(frame: pd.DataFrame, path: Path) -> None:
    """One of a recording's tables as Parquet, without dictionary encoding: Arrow's default
    tries a dictionary for every column, which for a trace's unique floats costs four fifths of
    the write and makes a larger file (same values read back)."""
    frame.to_parquet(path, index=False, use_dictionary=False)


def analyse_recording(row: Mapping[str, Any], settings: Mapping[str, Any], folder: Path) -> None:
    """Read, preprocess and measure one recording; write its tables, its QC figure (and NWB
    file when ``settings['export_nwb']``) into ``folder``.

    ``row``: the recording's row of the recordings sheet
    (:func:`exneuro.photometry.recordings_sheet.session_records`); ``settings``: the photometry
    settings a recording reads. The raw files' sizes and SHA-256 go into the QC row
    (provenance, hashed here while the file is in the page cache).
    """
    recording, onset, offset, source = load_session(row, settings["readers"], settings["run_event"])
    identity = {key: row[key] for key in ("session", "mouse", "group", "day")}
    tables = process_session(recording, onset, offset, settings, identity)
    tables["qc"]["run_times_from"] = source
    for key in ("file", "ttl_file"):
        path = row[key]
        tables["qc"][key] = path
        tables["qc"][f"{key}_bytes"] = Path(path).stat().st_size if path else 0
        tables["qc"][f"{key}_sha256"] = sha256(path) if path else ""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SESSION_TABLES:
        write_recording_table(tables[name], folder / f"{name}.parquet")
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


def analyse_batch(
    rows: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    folders: Sequence[str | Path],
    logs: Sequence[str | Path],
) -> None:
    """Analyse each recording of a batch in turn (:func:`analyse_recording`), each with its own
    log file: what a job of one recording would write, recording by recording.

    The first recording that fails stops the batch: its error is written to its own log and
    raised to the caller (:func:`exneuro.workflow.run` reports it as one line); the batch's job
    then fails as one recording's job would.
    """
    if not len(rows) == len(folders) == len(logs):
        raise ValueError("a batch needs one output folder and one log per recording")
    root = logging.getLogger()
    for row, folder, log in zip(rows, folders, logs, strict=True):
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log, mode="w", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        root.addHandler(handler)
        try:
            analyse_recording(row, settings, Path(folder))
        except Exception as error:  # into this recording's log only; the caller reports it
            handler.stream.write(f"ERROR {error}\n")
            raise
        finally:
            root.removeHandler(handler)
            handler.close()
