"""Photometry tables: any lab's CSV (columns mapped in the config) and Doric Neuroscience Studio
CSV exports.

Both are one row per time point. A row where neither the signal nor the control has a value is not
a sample (a blank line, an event-only row, or a channel sampled at another rate in a Doric export)
and is skipped, counted in ``metadata["rows_without_samples"]``; a row where only one of the two is
empty is a *missing value*, reported as an anomaly and kept as NaN. When a lab's system writes the
two wavelengths on alternate rows (``interleaved: true``), each row carries one of them and the
control is interpolated onto the signal's timestamps (see :mod:`readers_core`).

Doric traps handled (GuPPy ``doric_recording_extractor.py``; GuPPy issues #36, #77, #270):
Neuroscience Studio writes either one header line or two — a line of channel groups above the line
of channel names (``Time(s)``, ``AIn-1 - Dem (AOut-1)``, ``AIn-1 - Dem (AOut-2)``, ``AIn-1 - Raw``,
``DI/O-1`` …) — and the variant is detected from where ``Time(s)`` is; a trailing comma adds an
empty unnamed column; the ``Time(s)`` column can appear twice (the first is used); a demodulated
channel whose excitation was not driven is (almost) all NaN and an ``AOut`` column is the constant
LED drive, so neither is accepted as a signal or control. Which ``AOut`` drives 465 nm and which
405 nm differs between rigs, so the mapping is always explicit in the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from exneuro.errors import ConfigError, data_error
from exneuro.photometry.readers_anomalies import (
    channel_anomalies,
    frame_counter_anomalies,
    timing_anomalies,
)
from exneuro.photometry.readers_core import (
    Recording,
    align_control,
    as_index,
    check_alignment,
    concat_anomalies,
    median_rate,
    sample_mapper,
    saturation_limits,
    time_unit_factor,
    with_defaults,
)
from exneuro.photometry.readers_events import (
    concat_events,
    events_outside,
    ttl_events,
)
from exneuro.photometry.readers_text import (
    check_file,
    head_lines,
    read_numeric_columns,
    require,
    sniff_separator,
    split_header,
)

#: Keys of the generic CSV config and their defaults.
GENERIC_CSV_DEFAULTS: dict[str, Any] = {
    "time_column": None,
    "time_unit": "s",
    "signal_column": None,
    "control_column": None,
    "fibres": None,
    "region": "fibre",
    "region_column": None,
    "interleaved": False,
    "control_alignment": "interpolate",
    "event_columns": {},
    "event_threshold": 0.5,
    "frame_column": None,
    "saturation": None,
    "gap_factor": 1.5,
    "header_line": 1,
    "sep": None,
    "decimal": ".",
    "units": "",
    "signal_nm": None,
    "control_nm": None,
}

#: Keys of the Doric CSV config and their defaults.
DORIC_CSV_DEFAULTS: dict[str, Any] = {
    "time_column": "Time(s)",
    "signal_column": None,
    "control_column": None,
    "fibres": None,
    "region": "fibre",
    "ttl_columns": None,
    "event_threshold": 0.5,
    "saturation": None,
    "gap_factor": 1.5,
    "units": "V",
    "signal_nm": None,
    "control_nm": None,
}


def read_generic_csv(
    path: str | Path, config: Mapping[str, Any] | None = None
) -> dict[str, Recording]:
    """Read a lab's own photometry table; one :class:`Recording` per fibre, keyed by region.

    Config (``GENERIC_CSV_DEFAULTS``): ``time_column`` and ``time_unit`` (s, ms, us, min);
    either ``signal_column`` + ``control_column`` (one fibre named ``region``), or ``fibres``:
    ``{name: {signal: column, control: column}}`` for several pairs in one table; optionally
    ``region_column`` for a long table whose rows belong to several fibres; ``interleaved: true``
    when signal and control are written on alternate rows; ``event_columns`` ``{event name:
    column}`` of TTL levels (rising edges above ``event_threshold`` become events);
    ``frame_column`` (a frame counter, for dropped frames); ``saturation`` (the ADC/camera limit);
    ``gap_factor``; ``header_line``, ``sep``, ``decimal``; ``units``, ``signal_nm``,
    ``control_nm`` (recorded in the metadata).
    """
    reader = "generic CSV"
    cfg = with_defaults(config, GENERIC_CSV_DEFAULTS, reader)
    if not cfg["time_column"]:
        raise ConfigError(f"{reader} config: time_column is required (the column of times)")
    scale = time_unit_factor(cfg["time_unit"], reader)
    check_alignment(cfg["control_alignment"], reader)
    fibres = fibre_columns(cfg, reader)
    if cfg["region_column"] and cfg["fibres"]:
        raise ConfigError(
            f"{reader} config: region_column works with one signal_column/control_column pair, "
            "not with fibres"
        )
    path = check_file(path, "photometry CSV")
    header_line = int(cfg["header_line"])
    head = head_lines(path, header_line)
    if len(head) < header_line or not head[-1].strip():
        raise data_error(str(path), f"no header on line {header_line}", "check header_line")
    sep = cfg["sep"] or sniff_separator(head[-1])
    names = split_header(head[-1], sep)
    wanted = {"time_column": cfg["time_column"]}
    for region, (signal, control) in fibres.items():
        wanted[f"signal of fibre '{region}'"] = signal
        wanted[f"control of fibre '{region}'"] = control
    wanted.update({f"event '{k}'": v for k, v in cfg["event_columns"].items()})
    if cfg["frame_column"]:
        wanted["frame_column"] = cfg["frame_column"]
    text = [cfg["region_column"]] if cfg["region_column"] else []
    if text:
        wanted["region_column"] = text[0]
    require(names, wanted, path)
    numeric = list(dict.fromkeys(v for k, v in wanted.items() if k != "region_column"))
    data, lines = read_numeric_columns(
        path,
        names,
        numeric,
        header_line=header_line,
        sep=sep,
        decimal=cfg["decimal"],
        text_columns=text,
    )
    meta = {
        "format": "generic CSV",
        "format_version": "",
        "units": cfg["units"],
        "time_unit": cfg["time_unit"],
    }
    return table_recordings(path, data, lines, fibres, cfg, scale, meta)


def read_doric_csv(
    path: str | Path, config: Mapping[str, Any] | None = None
) -> dict[str, Recording]:
    """Read a Doric Neuroscience Studio CSV export (one- or two-line header); one per fibre.

    Config (``DORIC_CSV_DEFAULTS``): ``signal_column`` + ``control_column`` (e.g.
    ``AIn-1 - Dem (AOut-2)`` and ``AIn-1 - Dem (AOut-1)``) for one fibre named ``region``, or
    ``fibres: {name: {signal, control}}``; ``ttl_columns`` ``{event name: column}`` (default: every
    ``DI/O`` column, named as in the file); ``event_threshold``, ``saturation``, ``gap_factor``,
    ``units`` (V), ``signal_nm``, ``control_nm``.
    """
    reader = "Doric CSV"
    cfg = with_defaults(config, DORIC_CSV_DEFAULTS, reader)
    path = check_file(path, "Doric CSV")
    head = head_lines(path, 2)
    sep = sniff_separator(head[0])
    rows = [split_header(line, sep) for line in head]
    time_column = cfg["time_column"]
    found = [i for i, names in enumerate(rows) if time_column in names]
    if not found:
        raise data_error(
            str(path),
            f"not a Doric Neuroscience Studio CSV export: no '{time_column}' column on line 1 or 2",
            "export the recording as CSV from Doric Neuroscience Studio, or read it with the "
            "generic CSV reader",
        )
    header_line = found[0] + 1
    names = rows[found[0]]
    analog = [n for n in names if n.startswith("AIn")]
    fibres = configured_fibres(cfg, reader, str(path), analog, "Doric file")
    ttl = cfg["ttl_columns"]
    if ttl is None:
        ttl = {n: n for n in names if n.upper().startswith(("DI/O", "DIO", "DI--O"))}
    wanted = {"time_column": time_column}
    for region, (signal, control) in fibres.items():
        wanted[f"signal of fibre '{region}'"] = signal
        wanted[f"control of fibre '{region}'"] = control
    wanted.update({f"TTL '{k}'": v for k, v in ttl.items()})
    require(names, wanted, path)
    for field, column in wanted.items():
        if column.startswith("AOut"):
            raise data_error(
                str(path),
                f"column '{column}' ({field}) is the LED drive output, not a fluorescence channel",
                f"choose a demodulated or raw input channel: {', '.join(analog)}",
            )
    data, lines = read_numeric_columns(
        path, names, list(dict.fromkeys(wanted.values())), header_line=header_line, sep=sep
    )
    settings = {
        **cfg,
        "time_unit": "s",
        "interleaved": False,
        "control_alignment": "interpolate",
        "event_columns": ttl,
        "frame_column": None,
        "region_column": None,
    }
    meta = {
        "format": "Doric CSV",
        "format_version": "two-line header" if header_line == 2 else "one-line header",
        "units": cfg["units"],
        "time_unit": "s",
    }
    if header_line == 2:
        meta["doric_channel_groups"] = ",".join(n for n in rows[0] if n)
    return table_recordings(path, data, lines, fibres, settings, 1.0, meta)


def configured_fibres(
    cfg: Mapping[str, Any], reader: str, path: str, available: list[str], file_kind: str
) -> dict[str, tuple[str, str]]:
    """:func:`fibre_columns` of a Doric file (CSV export or ``.doric``), whose channels have no
    default names: with none configured, one line naming the file and the channels to pick."""
    if not (cfg["signal_column"] or cfg["fibres"]):
        raise data_error(
            path,
            f"no signal and control channels configured for this {file_kind}",
            f"set signal_column and control_column to two of: {', '.join(available) or 'none'}",
        )
    return fibre_columns(cfg, reader)


def fibre_columns(cfg: Mapping[str, Any], reader: str) -> dict[str, tuple[str, str]]:
    """``{region: (signal column, control column)}`` from ``fibres`` or the single-fibre keys.

    A fibre without a control column is an error: every analysis of this project corrects the
    signal with its isosbestic/control channel (notes §0), so a missing one must stop the run.
    """
    if cfg["fibres"]:
        fibres = {}
        for region, spec in cfg["fibres"].items():
            if not isinstance(spec, Mapping) or set(spec) - {"signal", "control"}:
                raise ConfigError(
                    f"{reader} config: fibres.{region} must be {{signal: column, control: column}}"
                )
            if not spec.get("signal"):
                raise ConfigError(f"{reader} config: fibres.{region} has no signal column")
            if not spec.get("control"):
                raise ConfigError(
                    f"{reader} config: fibres.{region} has no control column — every fibre "
                    "needs its control (isosbestic) channel"
                )
            fibres[str(region)] = (spec["signal"], spec["control"])
        return fibres
    if not cfg["signal_column"]:
        raise ConfigError(f"{reader} config: set signal_column (or fibres)")
    if not cfg["control_column"]:
        raise ConfigError(
            f"{reader} config: no control channel — set control_column to the isosbestic "
            "(405/415 nm) or red control column"
        )
    return {str(cfg["region"]): (cfg["signal_column"], cfg["control_column"])}


def _reject_unusable_channel(
    path: Path, region: str, name: str, column: str, values: np.ndarray
) -> None:
    """A channel mostly empty (excitation not driven) or constant (LED drive) cannot be used."""
    finite = values[np.isfinite(values)]
    empty = 1 - finite.size / max(values.size, 1)
    if empty > 0.5:
        raise data_error(
            str(path),
            f"fibre '{region}': the {name} column is empty on {empty:.0%} of the samples",
            "if signal and control are on alternate rows set interleaved: true; in a Doric "
            "export this channel's excitation was not driven — choose another channel",
            column=column,
        )
    if finite.size > 1 and np.ptp(finite) == 0:
        raise data_error(
            str(path),
            f"fibre '{region}': the {name} column is constant ({finite[0]:g})",
            "it is an LED drive output or a disconnected input; choose a fluorescence channel",
            column=column,
        )


def table_recordings(
    path: Path,
    data: Mapping[str, np.ndarray],
    lines: np.ndarray,
    fibres: Mapping[str, tuple[str, str]],
    cfg: Mapping[str, Any],
    scale: float,
    meta: Mapping[str, Any],
) -> dict[str, Recording]:
    """Turn the parsed columns of a photometry table into one :class:`Recording` per fibre."""
    time_raw = data[cfg["time_column"]]
    skip = (cfg["time_column"], cfg["region_column"])
    measured = [v for k, v in data.items() if k not in skip]
    blank = ~np.isfinite(time_raw)
    if measured:
        anything = np.logical_or.reduce([np.isfinite(v) for v in measured])
        if (blank & anything).any():
            row = int(np.argmax(blank & anything))
            raise data_error(
                str(path),
                "the time cell is empty or not a number while the row has values",
                "fill in the time or delete the row",
                line=int(lines[row]),
                column=cfg["time_column"],
            )
    valid = np.flatnonzero(~blank)
    if valid.size == 0:
        raise data_error(str(path), "no data rows under the header", "check the file")
    origin = float(time_raw[valid[0]])
    time_s = (time_raw - origin) * scale

    groups: dict[str, np.ndarray] = {}
    if cfg["region_column"]:
        labels = data[cfg["region_column"]][valid]
        for label in dict.fromkeys(labels):
            groups[str(label)] = valid[labels == label]
        signal, control = next(iter(fibres.values()))
        fibres = {label: (signal, control) for label in groups}
    else:
        groups = {region: valid for region in fibres}

    out = {}
    for region, (signal_col, control_col) in fibres.items():
        rows = groups[region]
        out[region] = _table_fibre(
            path,
            region,
            rows,
            time_s,
            lines,
            data,
            signal_col,
            control_col,
            cfg,
            {**meta, "time_origin": origin, "blank_rows": int(blank.sum())},
        )
    return out


def _table_fibre(
    path: Path,
    region: str,
    rows: np.ndarray,
    time_all: np.ndarray,
    lines_all: np.ndarray,
    data: Mapping[str, np.ndarray],
    signal_col: str,
    control_col: str,
    cfg: Mapping[str, Any],
    meta: Mapping[str, Any],
) -> Recording:
    """One fibre of a table: choose its sample rows, align the control, detect anomalies."""
    reader = meta["format"]
    take = as_index(rows)
    signal_all, control_all = data[signal_col][take], data[control_col][take]
    t_rows, lines_rows = time_all[take], lines_all[take]
    has_signal, has_control = np.isfinite(signal_all), np.isfinite(control_all)
    if not has_control.any():
        raise data_error(
            str(path),
            f"fibre '{region}': the control column has no values — no control channel",
            "map control_column to the isosbestic (405/415 nm) or red control column",
            column=control_col,
        )
    if not has_signal.any():
        raise data_error(
            str(path), f"fibre '{region}': the signal column has no values", column=signal_col
        )
    sample_rows = np.flatnonzero(has_signal | has_control)
    limits = saturation_limits(cfg["saturation"], reader)
    metadata: dict[str, Any] = {
        "source_file": str(path),
        **meta,
        "region": region,
        "signal_column": signal_col,
        "control_column": control_col,
        "led_nm": {"signal": cfg["signal_nm"], "control": cfg["control_nm"]},
        "rows_without_samples": int(len(rows) - len(sample_rows)),
    }
    if cfg["interleaved"]:
        sig_rows, ctl_rows = np.flatnonzero(has_signal), np.flatnonzero(has_control)
        keep, control = align_control(
            sig_rows,
            t_rows[sig_rows],
            ctl_rows,
            t_rows[ctl_rows],
            control_all[ctl_rows],
            cfg["control_alignment"],
        )
        positions = sig_rows[keep]
        metadata["control_alignment"] = cfg["control_alignment"]
        metadata["n_edge_samples_dropped"] = int((~keep).sum())
        signal = signal_all[as_index(positions)]
    else:
        if not (has_signal & has_control).any():
            raise data_error(
                str(path),
                f"fibre '{region}': signal and control never have a value on the same row",
                "the two wavelengths are written on alternate rows: set interleaved: true",
            )
        positions = sample_rows
        signal, control = signal_all[as_index(positions)], control_all[as_index(positions)]
        metadata["control_alignment"] = "same row"
        for name, column, values in (
            ("signal", signal_col, signal),
            ("control", control_col, control),
        ):
            _reject_unusable_channel(path, region, name, column, values)
    time_s = t_rows[as_index(positions)]
    on_samples = as_index(sample_rows)
    if time_s.size == 0:
        raise data_error(str(path), f"fibre '{region}': no signal sample has a control neighbour")
    to_sample = sample_mapper(positions)

    def on_rows(k: np.ndarray) -> np.ndarray:
        """Tidy sample of the k-th sample row (a row holding the signal, the control or both)."""
        return to_sample(sample_rows[k])

    tables = []
    skip = None
    if cfg["frame_column"]:
        found, jumps = frame_counter_anomalies(
            data[cfg["frame_column"]][take][on_samples],
            t_rows[on_samples],
            lines=lines_rows[on_samples],
            sample_of=on_rows,
        )
        tables.append(found)
        skip = jumps
    tables.append(
        timing_anomalies(
            t_rows[on_samples],
            cfg["gap_factor"],
            lines=lines_rows[on_samples],
            sample_of=on_rows,
            skip_gaps_at=skip,
        )
    )
    tables.append(
        channel_anomalies(
            signal,
            control,
            time_s,
            limits,
            lines=lines_rows[as_index(positions)],
            units=cfg["units"],
        )
    )
    events = concat_events(
        [
            ttl_events(
                t_rows,
                data[column][take],
                name,
                threshold=cfg["event_threshold"],
                source=f"{path.name}:{column}",
            )
            for name, column in cfg["event_columns"].items()
        ]
    )
    tables.append(events_outside(events, time_s))
    fs_hz = median_rate(time_s)
    if not np.isfinite(fs_hz):
        raise data_error(str(path), f"fibre '{region}': fewer than two distinct timestamps")
    return Recording(
        region=region,
        time_s=np.ascontiguousarray(time_s, dtype=np.float64),
        signal=np.ascontiguousarray(signal, dtype=np.float64),
        control=np.ascontiguousarray(control, dtype=np.float64),
        fs_hz=fs_hz,
        events=events,
        anomalies=concat_anomalies(tables),
        metadata=metadata,
    ).validate()
