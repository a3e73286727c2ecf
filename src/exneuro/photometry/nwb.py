"""NWB (Neurodata Without Borders), the format photometry data are shared in (DANDI).

* :func:`read_nwb` reads a recording stored with the ``ndx-fiber-photometry`` extension: the
  ``FiberPhotometryResponseSeries`` of the acquisition group (signal and control named in the
  config, or told apart by the excitation wavelength of their fiber-photometry table rows:
  below 430 nm is the isosbestic control), with every ``TimeIntervals`` table (``trials`` and
  the others) as events named by the table (or its ``name``/``event`` column).
* :func:`write_session_nwb` exports one processed session (``preprocess_session``'s table, its QC
  record and fault spans, events and the settings used) with NWB core types: an ``ophys``
  processing module holding ``dff``, ``z``, ``signal``, ``control`` and ``fitted_control``
  (``TimeSeries`` on the processed timestamps), a ``qc`` table (one row), the ``faults`` and
  ``events`` as ``TimeIntervals``, the settings as JSON in the file's ``notes``.

``pynwb`` is imported inside the functions: thousands of recording jobs that read other formats
should not pay for loading it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exneuro.errors import data_error
from exneuro.photometry.readers_anomalies import (
    timing_anomalies,
)
from exneuro.photometry.readers_core import (
    Recording,
    concat_anomalies,
    median_rate,
    with_defaults,
)
from exneuro.photometry.readers_events import (
    events_outside,
    make_events,
)
from exneuro.photometry.readers_text import check_file

#: Keys of the NWB reader config and their defaults.
NWB_DEFAULTS: dict[str, Any] = {
    "signal_series": None,
    "control_series": None,
    "region": None,
    "gap_factor": 1.5,
}

#: Excitation below this wavelength (nm) is the isosbestic control (405-415 nm LEDs).
CONTROL_BELOW_NM = 430.0

#: Processed columns exported as time series, with their units.
EXPORTED_SERIES = {
    "dff": "ΔF/F (fraction)",
    "z": "z-score",
    "signal": "a.u.",
    "control": "a.u.",
    "fitted_control": "a.u.",
}


def _series_values(series) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (s) and the first column of a TimeSeries."""
    data = np.asarray(series.data[:], dtype=np.float64)
    data = data[:, 0] if data.ndim == 2 else data
    if series.timestamps is not None:
        t = np.asarray(series.timestamps[:], dtype=np.float64)
    else:
        t = series.starting_time + np.arange(data.size) / series.rate
    return t, data


def _excitation_nm(series) -> float:
    region = getattr(series, "fiber_photometry_table_region", None)
    if region is None:
        return float("nan")
    rows = region.data[:]
    column = region.table["excitation_wavelength_in_nm"].data[:]
    return float(np.mean([column[i] for i in rows]))


def _events(nwbfile) -> pd.DataFrame:
    frames = []
    for name, table in nwbfile.intervals.items() if nwbfile.intervals else []:
        frame = table.to_dataframe()
        label_column = next((c for c in ("event", "name", "fault") if c in frame.columns), None)
        labels = frame[label_column].astype(str) if label_column else name
        frames.append(
            make_events(
                labels,
                frame["start_time"].to_numpy(float),
                (frame["stop_time"] - frame["start_time"]).to_numpy(float),
                f"intervals/{name}",
            )
        )
    return (
        pd.concat(frames, ignore_index=True) if frames else make_events([], np.empty(0)).iloc[0:0]
    )


def read_nwb(path: str | Path, config: Mapping[str, Any] | None = None) -> dict[str, Recording]:
    """Read an NWB file with ``ndx-fiber-photometry`` response series; one :class:`Recording`.

    Config (``NWB_DEFAULTS``): ``signal_series`` and ``control_series`` (names in the acquisition
    group; default: told apart by excitation wavelength, which needs exactly one series of each
    kind), ``region`` (default: the table row's ``location``), ``gap_factor``. Times are those
    of the file (seconds from ``session_start_time``), shifted so the signal starts at 0.
    """
    from pynwb import NWBHDF5IO

    cfg = with_defaults(config, NWB_DEFAULTS, "NWB")
    path = check_file(path, "NWB")
    with NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
        nwbfile = io.read()
        series = {
            name: item
            for name, item in nwbfile.acquisition.items()
            if type(item).__name__ == "FiberPhotometryResponseSeries"
        }
        names = ", ".join(series) or "none"
        if cfg["signal_series"] and cfg["control_series"]:
            chosen = {"signal": cfg["signal_series"], "control": cfg["control_series"]}
        else:
            by_kind: dict[str, list[str]] = {"signal": [], "control": []}
            for name, item in series.items():
                nm = _excitation_nm(item)
                if np.isfinite(nm):
                    by_kind["control" if nm < CONTROL_BELOW_NM else "signal"].append(name)
            if len(by_kind["signal"]) != 1 or len(by_kind["control"]) != 1:
                raise data_error(
                    str(path),
                    f"cannot tell signal from control among the response series ({names})",
                    "name them with signal_series and control_series in the NWB reader config",
                )
            chosen = {kind: found[0] for kind, found in by_kind.items()}
        for kind, name in chosen.items():
            if name not in series:
                raise data_error(
                    str(path),
                    f"no FiberPhotometryResponseSeries '{name}' ({kind})",
                    f"found: {names}",
                )
        t, signal = _series_values(series[chosen["signal"]])
        t_control, control = _series_values(series[chosen["control"]])
        if not np.array_equal(t, t_control):
            control = np.interp(t, t_control, control, left=np.nan, right=np.nan)
        region = cfg["region"]
        if region is None:
            table_region = getattr(series[chosen["signal"]], "fiber_photometry_table_region", None)
            region = (
                str(table_region.table["location"].data[table_region.data[0]])
                if table_region is not None
                else chosen["signal"]
            )
        origin = float(t[0])
        events = _events(nwbfile)
        events = events.assign(time_s=events["time_s"] - origin)
        meta = {
            "source_file": str(path),
            "format": "NWB",
            "format_version": f"NWB {nwbfile.fields.get('nwb_version', '')}".strip(),
            "units": series[chosen["signal"]].unit,
            "time_origin": origin,
            "signal_series": chosen["signal"],
            "control_series": chosen["control"],
            "led_nm": {
                "signal": _excitation_nm(series[chosen["signal"]]),
                "control": _excitation_nm(series[chosen["control"]]),
            },
            "session_id": nwbfile.session_id or "",
        }
    time_s = t - origin
    anomalies = concat_anomalies(
        [timing_anomalies(time_s, cfg["gap_factor"]), events_outside(events, time_s)]
    )
    recording = Recording(
        region=str(region),
        time_s=np.ascontiguousarray(time_s),
        signal=np.ascontiguousarray(signal),
        control=np.ascontiguousarray(control),
        fs_hz=median_rate(time_s),
        events=events,
        anomalies=anomalies,
        metadata=meta,
    ).validate()
    return {recording.region: recording}


def write_session_nwb(
    path: str | Path,
    trace: pd.DataFrame,
    qc: Mapping[str, Any],
    faults: pd.DataFrame,
    events: pd.DataFrame,
    settings: Mapping[str, Any],
    identity: Mapping[str, Any],
    session_start: datetime | None = None,
    species: str = "Mus musculus",
    animal: str = "mouse",
) -> Path:
    """Write one processed session as NWB (module docstring); returns the path.

    ``species``: the subject's species as NWB asks for it (Latin binomial, the config's
    ``study.species``); ``animal``: the study's word for one animal (``study.animal``), in the
    session description.
    ``identity``: ``session``, ``mouse`` (the NWB subject), ``group``, ``day``. ``qc``: the
    session's QC record (numbers, text and booleans are kept; other values as text).
    ``session_start`` defaults to the Unix epoch in UTC (a processed export carries no clock
    time unless given one).
    """
    from hdmf.common import DynamicTable, VectorData
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject

    start = session_start or datetime(1970, 1, 1, tzinfo=UTC)
    nwbfile = NWBFile(
        session_description=(
            f"Processed fiber photometry of {animal} {identity['mouse']}, group "
            f"{identity.get('group', '')}, day {identity.get('day', '')}: ΔF/F and z-score after "
            "signal-fault checks, filtering and the control fit"
        ),
        identifier=str(identity["session"]),
        session_id=str(identity["session"]),
        session_start_time=start,
        notes=json.dumps({"settings": settings}, sort_keys=True, default=str),
        subject=Subject(
            subject_id=str(identity["mouse"]),
            species=species,
            description=f"group {identity.get('group', '')}",
            age="P90D/",
            sex="U",
        ),
    )
    module = nwbfile.create_processing_module("ophys", "Processed fiber photometry")
    timestamps = trace["time_s"].to_numpy(float)
    for column, unit in EXPORTED_SERIES.items():
        module.add(
            TimeSeries(
                name=column,
                data=trace[column].to_numpy(float),
                timestamps=timestamps if column == "dff" else module["dff"],
                unit=unit,
                description=f"{column} of the processed session (NaN where left out)",
            )
        )
    record = {k: v for k, v in qc.items() if k != "faults"}
    columns = [
        VectorData(
            name=key,
            description=f"QC {key}",
            data=[value if isinstance(value, int | float | bool | str) else str(value)],
        )
        for key, value in record.items()
        if value is not None
    ]
    module.add(DynamicTable(name="qc", description="QC record of the session", columns=columns))
    step = float(np.median(np.diff(timestamps))) if timestamps.size > 1 else 0.0
    faults = faults.sort_values("start_s", kind="stable")
    events = events.sort_values("time_s", kind="stable")
    for name, table, label in (("faults", faults, "fault"), ("events", events, "event")):
        intervals = TimeIntervals(name=name, description=f"{name} of the session (s)")
        intervals.add_column(name=label, description=f"{label} name")
        if name == "faults":
            intervals.add_column(name="channel", description="channel (signal, control, all)")
            intervals.add_column(name="detail", description="how it was found")
        for row in table.itertuples(index=False):
            if name == "faults":
                intervals.add_interval(  # a span ends after its last sample
                    start_time=float(row.start_s),
                    stop_time=float(row.end_s) + step,
                    fault=str(row.fault),
                    channel=str(row.channel),
                    detail=str(row.detail),
                )
            else:
                stop = row.time_s + (row.duration_s if np.isfinite(row.duration_s) else step)
                intervals.add_interval(
                    start_time=float(row.time_s), stop_time=float(stop), event=str(row.name)
                )
        if len(table):
            nwbfile.add_time_intervals(intervals)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path
