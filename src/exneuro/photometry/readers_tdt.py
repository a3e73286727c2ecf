"""TDT tanks (Synapse fiber-photometry gizmo) through TDT's own ``tdt`` package.

``tdt.read_block`` returns a ``StructType`` with ``streams`` (each with ``data`` — 1-D, or
channels x samples for a multi-channel store —, ``fs`` and ``start_time``) and ``epocs`` (each with
``onset``,
``offset`` and ``data``). The FP gizmo's demodulated streams are float32 volts at the RZ rate / 24 =
1017.25 Hz (notes §2.1, §5.1), one store per excitation and photodetector: ``_465A``/``_405A`` for
fibre A, ``_465C``/``_415C``, ``_490R`` …. TDT store names are four characters and may start with a
digit or a symbol, which Python names cannot, so ``tdt`` renames them (``465A`` becomes ``_465A``;
older releases and other tools write ``x465A``); the reader accepts any of these spellings and lists
the stores of the block when none matches. Channels of a multi-channel store are 1-based, as in
Synapse and ``read_block(channel=...)``.

Epocs (``PtC0``, ``PC0_``, ``Cam1`` …) become events: onset, and duration offset - onset (NaN
when the epoc is still open at the end — ``tdt`` writes an infinite offset). Signal and control of
one FP gizmo share the rate and start; if two stores differ in length by a few samples, both are
cut to the shorter and the difference is reported; stores at different rates are aligned by
interpolating the control onto the signal's times.

Tests build a ``tdt.StructType`` shaped like ``read_block``'s return value, so what is tested is
everything after the call to ``read_block``; reading the tank files themselves is ``tdt``'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError, data_error
from exneuro.photometry.readers_anomalies import (
    channel_anomalies,
)
from exneuro.photometry.readers_core import (
    Recording,
    align_control,
    anomaly_table,
    concat_anomalies,
    saturation_limits,
    with_defaults,
)
from exneuro.photometry.readers_events import (
    concat_events,
    events_outside,
    make_events,
)

#: Keys of the TDT config and their defaults.
TDT_DEFAULTS: dict[str, Any] = {
    "region": "fibre",
    "signal": None,
    "control": None,
    "signal_channel": 1,
    "control_channel": 1,
    "fibres": None,
    "epocs": None,
    "saturation": None,
    "units": "V",
    "signal_nm": None,
    "control_nm": None,
}


def read_tdt(
    block: str | Path | Any, config: Mapping[str, Any] | None = None
) -> dict[str, Recording]:
    """Read the photometry streams of a TDT block; one :class:`Recording` per fibre.

    ``block`` is the block folder (read with ``tdt.read_block``) or an object shaped like its
    return value. Config (``TDT_DEFAULTS``): ``signal`` / ``control`` stream names (``_465A``,
    ``465A`` or ``x465A``) with ``signal_channel`` / ``control_channel`` (1-based) for one fibre
    named ``region``, or ``fibres: {name: {signal, control, signal_channel, control_channel}}``;
    ``epocs``: ``{store: event name}``, a list of stores, or null for every epoc store;
    ``saturation``; ``units``; ``signal_nm`` / ``control_nm`` (default: the digits of the store
    names).
    """
    reader = "TDT"
    cfg = with_defaults(config, TDT_DEFAULTS, reader)
    source, data = _load(block)
    streams = _field(data, "streams", source)
    epocs = _field(data, "epocs", source, required=False) or {}
    fibres = _fibres(cfg)
    events = _epoc_events(epocs, cfg["epocs"], source)
    info = _field(data, "info", source, required=False) or {}
    out = {}
    for region, spec in fibres.items():
        s_name, s_values, s_fs, s_start = _stream(
            streams, spec["signal"], spec["signal_channel"], source
        )
        c_name, c_values, c_fs, c_start = _stream(
            streams, spec["control"], spec["control_channel"], source
        )
        tables = []
        if s_fs == c_fs and s_start == c_start:
            n = min(len(s_values), len(c_values))
            if len(s_values) != len(c_values):
                tables.append(
                    anomaly_table(
                        "length_mismatch",
                        "signal+control",
                        n - 1,
                        s_start + (n - 1) / s_fs,
                        None,
                        f"'{s_name}' has {len(s_values)} samples and '{c_name}' {len(c_values)}; "
                        f"both were cut to {n}",
                    )
                )
            time_s = s_start + np.arange(n, dtype=np.float64) / s_fs
            signal, control = s_values[:n], c_values[:n]
            alignment, dropped = "simultaneous", 0
        else:
            t_sig = s_start + np.arange(len(s_values), dtype=np.float64) / s_fs
            t_ctl = c_start + np.arange(len(c_values), dtype=np.float64) / c_fs
            keep, control = align_control(t_sig, t_sig, t_ctl, t_ctl, c_values, "interpolate")
            time_s, signal = t_sig[keep], s_values[keep]
            alignment, dropped = "interpolate", int((~keep).sum())
        limits = saturation_limits(cfg["saturation"], reader)
        tables.append(channel_anomalies(signal, control, time_s, limits, units=cfg["units"]))
        tables.append(events_outside(events, time_s))
        out[region] = Recording(
            region=region,
            time_s=time_s,
            signal=np.ascontiguousarray(signal, dtype=np.float64),
            control=np.ascontiguousarray(control, dtype=np.float64),
            fs_hz=s_fs,
            events=events,
            anomalies=concat_anomalies(tables),
            metadata={
                "source_file": source,
                "format": "TDT block",
                "format_version": f"tdt {_tdt_version()}",
                "units": cfg["units"],
                "region": region,
                "signal_stream": s_name,
                "control_stream": c_name,
                "signal_channel": spec["signal_channel"],
                "control_channel": spec["control_channel"],
                "stream_fs_hz": {"signal": s_fs, "control": c_fs},
                "control_alignment": alignment,
                "n_edge_samples_dropped": dropped,
                "led_nm": {
                    "signal": cfg["signal_nm"] or _wavelength(s_name),
                    "control": cfg["control_nm"] or _wavelength(c_name),
                },
                "block_start": str(_get(info, "start_date", "")),
                "block_name": str(_get(info, "blockname", "")),
            },
        ).validate()
    return out


def _tdt_version() -> str:
    try:
        from importlib.metadata import version

        return version("tdt")
    except Exception:  # pragma: no cover - tdt metadata missing
        return "unknown"


def _load(block: Any) -> tuple[str, Any]:
    """(source name, read_block-like object) from a block folder or such an object."""
    if isinstance(block, str | Path):
        path = Path(block)
        if not path.is_dir():
            raise data_error(
                str(path), "TDT block folder not found", "give the block folder (with .tsq/.tev)"
            )
        if not any(path.glob("*.tsq")) and not any(path.glob("*.sev")):
            raise data_error(
                str(path),
                "not a TDT block: no .tsq or .sev file in the folder",
                "give the block folder written by Synapse",
            )
        import tdt

        try:
            return str(path), tdt.read_block(str(path), evtype=["streams", "epocs"])
        except Exception as error:  # tdt raises bare Exceptions on damaged tanks
            raise data_error(
                str(path),
                f"tdt.read_block could not read the block ({error})",
                "check that the block finished recording and is complete",
            ) from error
    name = _get(_get(block, "info", {}), "blockname", "") or "TDT block (in memory)"
    return str(name), block


def _get(obj: Any, key: str, default: Any = None) -> Any:
    # tdt.StructType subclasses dict but keeps its items as attributes: only .keys() lists them
    if isinstance(obj, Mapping) and key in obj.keys():  # noqa: SIM118
        return obj[key]
    return getattr(obj, key, default)


def _field(data: Any, key: str, source: str, required: bool = True) -> Any:
    value = _get(data, key)
    if value is None and required:
        raise data_error(
            source,
            f"not a TDT block read by tdt.read_block: no '{key}'",
            "pass the block folder or the object tdt.read_block returns",
        )
    return value


def _fibres(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{region: {signal, control, signal_channel, control_channel}}``."""
    keys = {"signal", "control", "signal_channel", "control_channel"}
    specs = cfg["fibres"] or {cfg["region"]: {k: cfg[k] for k in keys}}
    out = {}
    for region, spec in specs.items():
        if set(spec) - keys:
            raise ConfigError(
                f"TDT config: fibres.{region} may only have {', '.join(sorted(keys))}"
            )
        spec = {"signal_channel": 1, "control_channel": 1, **spec}
        if not spec.get("signal"):
            raise ConfigError(f"TDT config: no signal stream for fibre '{region}' (e.g. _465A)")
        if not spec.get("control"):
            raise ConfigError(
                f"TDT config: no control stream for fibre '{region}' — every fibre needs its "
                "isosbestic stream (e.g. _405A)"
            )
        out[str(region)] = spec
    return out


def _spellings(name: str) -> list[str]:
    """The ways a TDT store name can appear as a Python name (tdt ``fix_var_name`` and older)."""
    bare = name.lstrip("_")
    bare = bare[1:] if bare[:1] == "x" and bare[1:2].isdigit() else bare
    fixed = re.sub(r"\W", "_", bare)
    return list(dict.fromkeys([name, fixed, f"_{fixed}", f"x{fixed}", f"x{bare}"]))


def _resolve(stores: Any, name: str, kind: str, source: str) -> str:
    available = list(stores.keys())
    for spelling in _spellings(name):
        if spelling in available:
            return spelling
    raise data_error(
        source,
        f"no {kind} store '{name}' in the block",
        f"{kind} stores found: {', '.join(available) or 'none'}; fix the name in the config",
    )


def _stream(
    streams: Any, name: str, channel: int, source: str
) -> tuple[str, np.ndarray, float, float]:
    """(store name, float64 samples of the 1-based channel, rate, start time) of one stream."""
    key = _resolve(streams, name, "stream", source)
    stream = streams[key]
    values = np.asarray(_get(stream, "data"))
    if values.ndim == 2:
        if not 1 <= int(channel) <= values.shape[0]:
            raise data_error(
                source,
                f"stream '{key}' has channels 1-{values.shape[0]}, not {channel}",
                "channels of a TDT store are numbered from 1",
            )
        values = values[int(channel) - 1]
    elif int(channel) != 1:
        raise data_error(source, f"stream '{key}' has one channel, not {channel}")
    if values.size < 2:
        raise data_error(source, f"stream '{key}' has no samples", "the block may be empty")
    fs = float(_get(stream, "fs", np.nan))
    if not fs > 0:
        raise data_error(source, f"stream '{key}' has no sampling rate")
    start = float(_get(stream, "start_time", 0.0) or 0.0)
    return key, values.astype(np.float64), fs, max(start, 0.0)


def _epoc_events(epocs: Any, wanted: Any, source: str) -> pd.DataFrame:
    """Events of the selected epoc stores (all of them when ``wanted`` is None)."""
    if wanted is None:
        selected = {k: k for k in epocs.keys()}  # noqa: SIM118 - StructType, see _get
    elif isinstance(wanted, Mapping):
        selected = {_resolve(epocs, k, "epoc", source): v for k, v in wanted.items()}
    else:
        selected = {_resolve(epocs, k, "epoc", source): k for k in wanted}
    tables = []
    for key, name in selected.items():
        epoc = epocs[key]
        onset = np.asarray(_get(epoc, "onset", []), dtype=np.float64).ravel()
        offset = np.asarray(_get(epoc, "offset", np.full(onset.shape, np.nan)), dtype=np.float64)
        offset = offset.ravel()[: onset.size]
        duration = np.where(np.isfinite(offset), offset - onset, np.nan)
        tables.append(make_events(name, onset, duration, f"{source}:{key}"))
    return concat_events(tables)


def _wavelength(store: str) -> int | None:
    match = re.search(r"(\d{3})", store)
    return int(match.group(1)) if match else None
