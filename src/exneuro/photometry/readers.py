"""Readers of fiber-photometry recordings into one tidy form, whatever system recorded them.

Every reader returns ``{region: Recording}`` — one :class:`Recording` per fibre, with ``time_s``
from the start of the recording, raw ``signal`` and ``control`` on the same timestamps, ``fs_hz``,
events and a table of anomalies (reported, never repaired). Formats (the key used in configs, the
reader, the module that documents the format's traps):

- ``csv``: :func:`read_generic_csv` (:mod:`exneuro.photometry.readers_csv`), any lab's table;
- ``doric``: :func:`read_doric_csv` (:mod:`exneuro.photometry.readers_csv`), Doric Neuroscience
  Studio's CSV export, or :func:`read_doric` (:mod:`exneuro.photometry.readers_doric`) for its
  own ``.doric`` HDF5 files (v1 and v5/v6 layouts) — chosen by the file's ending;
- ``neurophotometrics``: :func:`read_neurophotometrics` (:mod:`exneuro.photometry.readers_npm`)
  and :func:`read_npm_ttl` (:mod:`exneuro.photometry.readers_npm_ttl`), FP3001/FP3002, CSV or
  Parquet;
- ``nwb``: :func:`read_nwb` (:mod:`exneuro.photometry.nwb`), NWB files with the
  ``ndx-fiber-photometry`` extension (DANDI);
- ``ppd``: :func:`read_ppd` (:mod:`exneuro.photometry.readers_ppd`), pyPhotometry;
- ``tdt``: :func:`read_tdt` (:mod:`exneuro.photometry.readers_tdt`), through ``tdt.read_block``.

The tidy form and its tables are in :mod:`exneuro.photometry.readers_core`, the anomaly checks
every reader shares in :mod:`exneuro.photometry.readers_anomalies`, the events in
:mod:`exneuro.photometry.readers_events`.

Events that are not in the recording (treadmill run onset/offset from the session log or the
sample sheet) are added with :func:`events_from_table` and :func:`with_events`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from exneuro.errors import ConfigError
from exneuro.photometry.nwb import read_nwb
from exneuro.photometry.readers_core import (
    ANOMALY_COLUMNS,
    ANOMALY_KINDS,
    EVENT_COLUMNS,
    Recording,
)
from exneuro.photometry.readers_csv import read_doric_csv, read_generic_csv
from exneuro.photometry.readers_doric import read_doric
from exneuro.photometry.readers_events import (
    events_from_table,
    ttl_events,
    with_events,
)
from exneuro.photometry.readers_npm import read_neurophotometrics
from exneuro.photometry.readers_npm_ttl import read_npm_ttl
from exneuro.photometry.readers_ppd import read_ppd
from exneuro.photometry.readers_tdt import read_tdt

__all__ = [
    "ANOMALY_COLUMNS",
    "ANOMALY_KINDS",
    "EVENT_COLUMNS",
    "READERS",
    "Recording",
    "events_from_table",
    "read_doric",
    "read_doric_csv",
    "read_generic_csv",
    "read_neurophotometrics",
    "read_npm_ttl",
    "read_nwb",
    "read_photometry",
    "read_ppd",
    "read_tdt",
    "ttl_events",
    "with_events",
]


def read_doric_any(
    path: str | Path, config: Mapping[str, Any] | None = None
) -> dict[str, Recording]:
    """A Doric recording by its ending: the ``.doric`` HDF5 file (:func:`read_doric`) or the CSV
    export (:func:`read_doric_csv`), with the same channel settings."""
    if Path(path).suffix.lower() == ".doric":
        return read_doric(path, config)
    return read_doric_csv(path, config)


#: Reader of each format name used in configs.
READERS: dict[str, Callable[..., dict[str, Recording]]] = {
    "csv": read_generic_csv,
    "doric": read_doric_any,
    "neurophotometrics": read_neurophotometrics,
    "nwb": read_nwb,
    "ppd": read_ppd,
    "tdt": read_tdt,
}


def read_photometry(
    path: str | Path | Any,
    file_format: str,
    config: Mapping[str, Any] | None = None,
    **options: Any,
) -> dict[str, Recording]:
    """Read one recording with the reader of ``file_format`` (a key of :data:`READERS`).

    ``options`` go to the reader (``ttl=`` for Neurophotometrics digital-input files).
    """
    if file_format not in READERS:
        raise ConfigError(f"photometry format '{file_format}' is not one of {', '.join(READERS)}")
    return READERS[file_format](path, config, **options)
