"""Doric Neuroscience Studio's own recordings (``.doric``, HDF5), read with ``h5py``.

Two layouts (Doric file-format notes; LernerLab/GuPPy ``doric_recording_extractor.py``):

- **v5/v6** — root groups ``Configurations`` and ``DataAcquisition``; under
  ``DataAcquisition/<console>/Signals/Series0001/`` every channel is a dataset beside a ``Time``
  dataset of its group: v6 names them ``LockInAOUT02/AIN01`` (demodulated input 1 at the LED of
  analog output 2), ``AnalogIn/AIN01``, ``DigitalIO/DIO01``; v5 names the group after the channel
  and the dataset ``Values`` (``AIN01xAOUT01-LockIn/Values``). A channel is named by its path
  below the series with a trailing ``/Values`` dropped: ``LockInAOUT02/AIN01``,
  ``AIN01xAOUT01-LockIn``.
- **v1** (Doric Neuroscience Studio before v5) — ``Traces/Console/`` holds ``Time(s)/Time(s)``
  and one group per channel whose dataset has the channel's name (``AIn-1 - Dem (AOut-1)``).

Lock-in groups have their own clocks, so the control channel is interpolated onto the signal's
timestamps and each digital channel sampled there (its last value at or before each sample); the
rest (events, anomalies, metadata) is the Doric CSV reader's
(:func:`exneuro.photometry.readers_csv.table_recordings`). Values are never modified otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from exneuro.errors import data_error
from exneuro.photometry.readers_core import Recording, closest_hint, with_defaults
from exneuro.photometry.readers_csv import configured_fibres, table_recordings
from exneuro.photometry.readers_text import check_file

if TYPE_CHECKING:  # h5py is imported where a .doric file is read: other recordings never load it
    import h5py

#: Keys of the ``.doric`` reader config and their defaults.
DORIC_DEFAULTS: dict[str, Any] = {
    "signal_column": None,
    "control_column": None,
    "fibres": None,
    "region": "fibre",
    "ttl_columns": None,
    "series": None,
    "event_threshold": 0.5,
    "saturation": None,
    "gap_factor": 1.5,
    "units": "V",
    "signal_nm": None,
    "control_nm": None,
}

#: Name of the common time column handed to the table reader.
TIME = "Time(s)"


def doric_channels(handle: h5py.File, series: str | None = None) -> dict[str, tuple[str, str]]:
    """``{channel name: (values path, time path)}`` of a ``.doric`` file (module docstring)."""
    import h5py

    if "Traces" in handle:
        console = handle["Traces/Console"]
        time_path = f"{console.name}/Time(s)/Time(s)"
        out = {}
        for name, group in console.items():
            if name != "Time(s)" and isinstance(group, h5py.Group) and name in group:
                out[name] = (f"{group.name}/{name}", time_path)
        return out
    if "DataAcquisition" not in handle:
        raise ValueError("neither a DataAcquisition (v5/v6) nor a Traces (v1) group")
    datasets: list[str] = []
    handle["DataAcquisition"].visititems(
        lambda name, item: datasets.append(item.name) if isinstance(item, h5py.Dataset) else None
    )
    out = {}
    for path in datasets:
        parent, leaf = path.rsplit("/", 1)
        if leaf == "Time" or f"{parent}/Time" not in handle:
            continue
        parts = path.split("/")
        index = next((i for i, p in enumerate(parts) if p.startswith("Series")), None)
        if index is None or (series is not None and parts[index] != series):
            continue
        name = "/".join(parts[index + 1 :])
        name = name[: -len("/Values")] if name.endswith("/Values") else name
        out.setdefault(name, (path, f"{parent}/Time"))
    return out


def read_doric(path: str | Path, config: Mapping[str, Any] | None = None) -> dict[str, Recording]:
    """Read a Doric Neuroscience Studio ``.doric`` file; one :class:`Recording` per fibre.

    Config (``DORIC_DEFAULTS``): ``signal_column`` + ``control_column`` (channel names as in the
    module docstring, e.g. ``LockInAOUT02/AIN01`` and ``LockInAOUT01/AIN01``) for one fibre named
    ``region``, or ``fibres: {name: {signal, control}}``; ``ttl_columns`` ``{event name:
    channel}`` (default: every ``DigitalIO`` / ``DI/O`` channel); ``series`` (default: the only
    or first ``SeriesNNNN``); ``event_threshold``, ``saturation``, ``gap_factor``, ``units``,
    ``signal_nm``, ``control_nm``.
    """
    reader = "Doric .doric"
    cfg = with_defaults(config, DORIC_DEFAULTS, reader)
    path = check_file(path, "Doric .doric")
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise data_error(str(path), f"not an HDF5 .doric file ({error})") from None
    with handle:
        try:
            channels = doric_channels(handle, cfg["series"])
        except ValueError as error:
            raise data_error(str(path), f"not a Doric recording: {error}") from None
        names = ", ".join(channels) or "none"
        fibres = configured_fibres(cfg, reader, str(path), list(channels), ".doric file")
        ttl = cfg["ttl_columns"]
        if ttl is None:
            ttl = {
                n.rsplit("/", 1)[-1]: n
                for n in channels
                if n.upper().startswith(("DIGITALIO", "DI/O"))
            }
        wanted = [c for pair in fibres.values() for c in pair] + list(ttl.values())
        for channel in wanted:
            if channel not in channels:
                raise data_error(
                    str(path),
                    f"no channel '{channel}' (its values and Time datasets)"
                    + closest_hint(channel, list(channels)),
                    f"channels in the file: {names}; fix the channel name in the config, or "
                    "export the file again if the channel was recorded",
                )
        first_signal = next(iter(fibres.values()))[0]
        time = np.asarray(handle[channels[first_signal][1]][()], dtype=np.float64)
        data = {TIME: time}
        for channel in dict.fromkeys(wanted):
            values_path, time_path = channels[channel]
            values = np.asarray(handle[values_path][()], dtype=np.float64)
            own_time = np.asarray(handle[time_path][()], dtype=np.float64)
            if values.shape != own_time.shape:
                raise data_error(
                    str(path),
                    f"channel '{channel}' has {values.size} values for {own_time.size} times",
                    "the file is damaged; export it again",
                )
            data[channel] = _on_time(values, own_time, time, channel in ttl.values())
        version = "v1 (Traces)" if "Traces" in handle else "v5/v6 (DataAcquisition)"
    settings = {
        **cfg,
        "time_column": TIME,
        "time_unit": "s",
        "interleaved": False,
        "control_alignment": "interpolate",
        "event_columns": ttl,
        "frame_column": None,
        "region_column": None,
    }
    meta = {"format": "Doric .doric", "format_version": version, "units": cfg["units"]}
    lines = np.arange(1, time.size + 1, dtype=np.int64)
    return table_recordings(path, data, lines, fibres, settings, 1.0, meta)


def _on_time(values: np.ndarray, own: np.ndarray, target: np.ndarray, digital: bool) -> np.ndarray:
    """A channel on the target timestamps: itself when its clock is the target's; else linear
    interpolation (analog; NaN outside its span) or the last value at or before (digital)."""
    if own.shape == target.shape and np.array_equal(own, target):
        return values
    if digital:
        index = np.searchsorted(own, target, side="right") - 1
        return np.where(index >= 0, values[np.clip(index, 0, None)], np.nan)
    return np.interp(target, own, values, left=np.nan, right=np.nan)
