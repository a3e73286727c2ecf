"""Neurophotometrics (FP3001, FP3002) exports (CSV, or Parquet as IBL-ecosystem labs keep them:
``.pqt``/``.parquet``) and their digital-input (TTL) files.

One row per camera frame: ``FrameCounter``, a timestamp (``Timestamp``; newer Bonsai workflows
write ``SystemTimestamp`` — the FP3002's hardware clock — and ``ComputerTimestamp``), the LED
state (``Flags`` in old FP3001 files, ``LedState`` since) and the mean pixel value of each fibre's
region of interest: ``Region0G``, ``Region1G`` … for the green emission path, ``Region0R`` … for
the red one (0-based, unlike pyPhotometry's 1-based ``analog_1``).

The LED state is a bit field (int-brain-lab/ibl-photometry ``neurophotometrics.py`` LED_STATES;
notes §2.1): bit 1 = 415 nm, 2 = 470 nm, 4 = 560 nm; the higher bits are I/O lines (+8 Output 1,
+16 Output 0, +32 stimulation, +64/+128 GPIO 2/3, +256 Input 1, +512 Input 0). The wavelength is
decoded from ``state & 7`` only — comparing the whole value with 17 or 18, as some pipelines do,
silently loses every frame recorded while a TTL line was high. The FP3001 can light 470 and 560
together (state 6): the bit, not the value, decides, so such a frame is a 470 frame of a green ROI
and a 560 frame of a red ROI; 415 and 470 lit together (3 or 7) excite the same green band and
cannot be split, so that is an error (catalystneuro/neuroconv PR #1756 review). Frames with no LED
lit (often the first) belong to no channel and are counted in the metadata.

Each wavelength is on every other frame, so the control is never simultaneous with the signal: it
is interpolated onto the signal frame's timestamp (default) or taken from the previous or next
control frame, bracketing by frame order so that a timestamp glitch cannot mis-pair frames.

The digital-input file has several generations (ibl-photometry ``neurophotometrics.py``):
``Timestamp, Value`` (one file per input, Value True on the rising edge), ``Timestamp,
Value.Seconds, Value.Value``, and ``ChannelName, Channel, AlwaysTrue, SystemTimestamp,
ComputerTimestamp`` (one row per rising edge). Its times are on one of the recording's clocks; the
column with the same name as the recording's time column is used and checked to overlap the
recording, so TTLs on the computer clock are never mixed with frames on the hardware clock.
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
    as_index,
    check_alignment,
    closest_hint,
    concat_anomalies,
    median_rate,
    saturation_limits,
    time_unit_factor,
    with_defaults,
)
from exneuro.photometry.readers_events import (
    concat_events,
    ttl_events,
)
from exneuro.photometry.readers_npm_frames import (
    IO_BITS,
    LED_BITS,
    DecodedFrames,
    led_states,
    state_counts,
)
from exneuro.photometry.readers_npm_ttl import TIME_COLUMNS, read_npm_ttl
from exneuro.photometry.readers_text import (
    check_file,
    read_columns,
    require,
    table_header,
)

#: Keys of the Neurophotometrics config and their defaults.
NPM_DEFAULTS: dict[str, Any] = {
    "time_column": "auto",
    "time_unit": "s",
    "regions": None,
    "signal_nm": None,
    "control_nm": 415,
    "control_alignment": "interpolate",
    "saturation": None,
    "gap_factor": 1.5,
    "ttl_time_column": "auto",
    "led_state_events": None,
}

#: Where a signal frame's control frame must be, by control_alignment.
_SIDES = {"interpolate": "on both sides", "previous": "before it", "next": "after it"}

_REGION = re.compile(r"^(?:Region(\d+)([GR])|([GR])(\d+))$")


def read_neurophotometrics(
    path: str | Path,
    config: Mapping[str, Any] | None = None,
    *,
    ttl: str | Path | Mapping[str, str | Path] | None = None,
) -> dict[str, Recording]:
    """Read a Neurophotometrics photometry table (CSV or Parquet); one :class:`Recording` per
    fibre region.

    Config (``NPM_DEFAULTS``): ``time_column`` (auto: SystemTimestamp, Timestamp,
    ComputerTimestamp), ``time_unit``; ``regions`` ``{name: column}`` or ``{name: {column,
    signal_nm, control_nm, control_column}}`` (default: every ``Region<n>G``/``Region<n>R`` column,
    named as in the file); ``signal_nm`` (default 470 for green ROIs; for red ones 560 when a
    frame lit that LED, else 470 — inferred from the LED states, recorded as
    ``signal_nm_source``), ``control_nm`` (415); ``control_alignment`` (interpolate, previous,
    next); ``saturation`` (camera limit); ``gap_factor``; ``ttl_time_column`` (auto = the
    recording's time column); ``led_state_events`` ``{event name: I/O bit}`` read from the
    LED-state column (default Input0/Input1 when no ``ttl`` file is given).

    ``ttl`` is the digital-input file (events named by its channels or file name) or ``{event
    name: file}``.

    The metadata also record the detector's range for the fault checks: ``detector_floor``, the
    lowest ROI value in the file (the camera's black level: frames without LED, a dark ROI), and
    ``detector_full_scale`` 1.0 when the values are normalised to the camera range (all ≤ 1).
    """
    reader = "Neurophotometrics"
    cfg = with_defaults(config, NPM_DEFAULTS, reader)
    scale = time_unit_factor(cfg["time_unit"], reader)
    check_alignment(cfg["control_alignment"], reader)
    path = check_file(path, "Neurophotometrics")
    names, sep = table_header(path)
    led_column = next((c for c in ("LedState", "Flags") if c in names), None)
    if led_column is None:
        closest = closest_hint("LedState", names) or closest_hint("Flags", names)
        raise data_error(
            str(path),
            f"not a Neurophotometrics photometry file: no 'LedState' or 'Flags' column (the "
            f"LED flags say which LED lit each frame){closest}",
            f"columns found: {', '.join(n for n in names if n)}; give the photometry table "
            "(not the digital-input file), with its LED column as exported",
        )
    time_column = cfg["time_column"]
    if time_column == "auto":
        time_column = next((c for c in TIME_COLUMNS if c in names), "Timestamp")
    regions = _region_specs(cfg, names, path)
    wanted = {"time_column": time_column, "LED state": led_column}
    for region, spec in regions.items():
        wanted[f"region '{region}'"] = spec["column"]
        wanted[f"control of region '{region}'"] = spec["control_column"]
    has_counter = "FrameCounter" in names
    if has_counter:
        wanted["frame counter"] = "FrameCounter"
    require(names, wanted, path)
    data, lines = read_columns(path, names, list(dict.fromkeys(wanted.values())), sep=sep)

    t_raw, state_raw = data[time_column], data[led_column]
    if np.isfinite(t_raw).all():  # every row a frame (the usual case): views, no copies
        rows = slice(0, len(t_raw))
        if not len(t_raw):
            raise data_error(str(path), "no frames under the header", "check the export")
    else:  # blank lines, or a frame without its time
        filled = np.logical_or.reduce([np.isfinite(v) for v in data.values()])
        frames = np.flatnonzero(filled)
        if frames.size == 0:
            raise data_error(str(path), "no frames under the header", "check the export")
        rows = as_index(frames)
        _check_cells(path, t_raw[rows], lines[rows], time_column, "time")
    state = led_states(path, state_raw[rows], lines[rows], led_column)
    t_raw, lines = t_raw[rows], lines[rows]
    data = {k: v[rows] for k, v in data.items()}
    origin = float(t_raw[0])
    t_frames = t_raw - origin
    if scale != 1.0:  # seconds already: x * 1.0 is x
        t_frames *= scale
    frame_rate = _check_frame_interval(path, t_frames, time_column, cfg["time_unit"])

    led = state & 7
    lit = {nm: (led & bit) > 0 for nm, bit in LED_BITS.items()}
    green_both = lit[415] & lit[470]
    frame_mask = {415: lit[415] & ~lit[470], 470: lit[470] & ~lit[415], 560: lit[560]}

    events = _events(path, ttl, cfg, state, t_frames, t_raw, time_column, led_column)
    seen, without_led = state_counts(state)
    base_meta = {
        "source_file": str(path),
        "format": "Neurophotometrics CSV",
        "format_version": f"{led_column} + {time_column}",
        "units": "a.u. (mean ROI pixel value)",
        "time_column": time_column,
        "time_unit": cfg["time_unit"],
        "time_origin": origin,
        "led_column": led_column,
        "led_states_seen": seen,
        "n_frames": int(len(state)),
        "n_frames_without_led": without_led,
        "frame_rate_hz": frame_rate,
        "control_alignment": cfg["control_alignment"],
        "ttl_file": "" if ttl is None else str(ttl),
        **_detector_range(path, data, [spec["column"] for spec in regions.values()]),
    }
    session = DecodedFrames(
        t_frames=t_frames,
        lines=lines,
        counter=data.get("FrameCounter") if has_counter else None,
        masks=frame_mask,
        alignment=cfg["control_alignment"],
        gap_factor=cfg["gap_factor"],
        events=events,
    )
    out = {}
    limits = saturation_limits(cfg["saturation"], reader)
    checks_limits = np.isfinite(list(limits.values())).any()
    for region, spec in regions.items():
        signal_nm, control_nm = spec["signal_nm"], spec["control_nm"]
        nm_source = spec["signal_nm_source"]
        if signal_nm is None:  # a red ROI: 560 nm when that LED was lit, else the blue LED
            signal_nm = 560 if frame_mask[560].any() else 470
            nm_source = "inferred from the LED states"
        if green_both.any() and (
            {signal_nm, control_nm} & {415, 470}
            and (_colour(spec["column"]) == "G" or _colour(spec["control_column"]) == "G")
        ):
            row = int(np.argmax(green_both))
            raise data_error(
                str(path),
                f"unknown LED state {int(state[row])}: 415 and 470 nm lit in the same frame, so "
                "the green channel of this frame is neither signal nor control",
                "check the FP3002 LED settings (one excitation LED per green frame)",
                line=int(lines[row]),
                column=led_column,
            )
        states = ", ".join(map(str, seen))
        if not frame_mask[control_nm].any():
            raise data_error(
                str(path),
                f"region '{region}': no control channel — no frame has the {control_nm} nm LED "
                f"on (LED states in the file: {states})",
                "record with the isosbestic LED interleaved, or set control_nm to the LED used",
                column=led_column,
            )
        if not frame_mask[signal_nm].any():
            raise data_error(
                str(path),
                f"region '{region}': no frame has the {signal_nm} nm LED on (LED states in the "
                f"file: {states})",
                "set signal_nm to the excitation LED used",
                column=led_column,
            )
        pair = session.led_pair(signal_nm, control_nm)
        if pair.time_s.size == 0:
            raise data_error(
                str(path),
                f"region '{region}': no {signal_nm} nm frame has a {control_nm} nm frame "
                f"{_SIDES[cfg['control_alignment']]} to take its control from",
                "the recording is too short, or the LEDs were not interleaved",
                column=led_column,
            )
        raw_control = data[spec["control_column"]]
        control = pair.pairing.control_at_signal(raw_control)
        signal = data[spec["column"]][pair.pairing.positions]
        control_cause = ""
        if session.back_line is not None and np.isfinite(raw_control[frame_mask[control_nm]]).all():
            control_cause = (
                "the control cannot be interpolated there: the timestamps go backwards at line "
                f"{session.back_line}, see the time_backwards row; not a missing sample"
            )
        tables = [*pair.frame_tables]
        if checks_limits or not (np.isfinite(signal).all() and np.isfinite(control).all()):
            tables.append(
                channel_anomalies(
                    signal,
                    control,
                    pair.time_s,
                    limits,
                    lines=lines[pair.pairing.positions],
                    units="a.u.",
                    control_cause=control_cause,
                )
            )
        tables.append(pair.events_outside)
        out[region] = Recording(
            region=region,
            time_s=pair.time_s.copy(),
            signal=np.ascontiguousarray(signal, dtype=np.float64),
            control=np.ascontiguousarray(control, dtype=np.float64),
            fs_hz=pair.fs_hz,
            events=events,
            anomalies=concat_anomalies(tables),
            metadata={
                **base_meta,
                "region": region,
                "signal_column": spec["column"],
                "control_column": spec["control_column"],
                "led_nm": {"signal": signal_nm, "control": control_nm},
                "signal_nm_source": nm_source,
                "n_edge_samples_dropped": pair.pairing.dropped,
            },
        ).validate()
    return out


def _detector_range(
    path: Path, data: Mapping[str, np.ndarray], columns: list[str]
) -> dict[str, float | None]:
    """The detector's range for the fault checks: ``detector_floor``, the lowest finite value of
    the fibre columns (the camera's black level: frames without LED, a dark ROI), and
    ``detector_full_scale`` 1.0 when the values are normalised to the camera range (all <= 1)."""
    low, high = np.inf, -np.inf
    for column in dict.fromkeys(columns):
        values = data[column]
        lo, hi = values.min(), values.max()
        if not (np.isfinite(lo) and np.isfinite(hi)):  # empty cells: the finite values only
            values = values[np.isfinite(values)]
            if not values.size:
                continue
            lo, hi = values.min(), values.max()
        low, high = min(low, float(lo)), max(high, float(hi))
    if not np.isfinite(low):
        raise data_error(
            str(path),
            f"no values in the fibre column(s) {', '.join(dict.fromkeys(columns))}",
            "check the column mapping under regions, or re-export the file",
        )
    return {"detector_floor": low, "detector_full_scale": 1.0 if high <= 1.0 else None}


def _colour(column: str) -> str:
    match = _REGION.match(column)
    return (match.group(2) or match.group(3)) if match else "G"


def _region_specs(
    cfg: Mapping[str, Any], names: list[str], path: Path
) -> dict[str, dict[str, Any]]:
    """``{region: {column, control_column, signal_nm, control_nm}}`` with colour defaults
    (green ROIs 470 nm; red ROIs ``None``: inferred from the LED states that occur)."""
    regions = cfg["regions"]
    if regions is None:
        found = [n for n in names if _REGION.match(n)]
        if not found:
            raise data_error(
                str(path),
                "no fibre columns (Region0G, Region1R …) in the header",
                "name the fibre columns in the config under regions",
            )
        regions = {n: n for n in found}
    specs = {}
    for region, spec in regions.items():
        spec = {"column": spec} if isinstance(spec, str) else dict(spec)
        unknown = set(spec) - {"column", "control_column", "signal_nm", "control_nm"}
        if unknown or "column" not in spec:
            raise ConfigError(
                f"Neurophotometrics config: regions.{region} must be a column name or "
                "{column, control_column, signal_nm, control_nm}"
            )
        colour = _colour(spec["column"])
        given = spec.get("signal_nm") or cfg["signal_nm"]
        signal_nm = given or (None if colour == "R" else 470)
        control_nm = spec.get("control_nm") or cfg["control_nm"]
        for key, nm in (("signal_nm", signal_nm), ("control_nm", control_nm)):
            if nm is not None and nm not in LED_BITS:
                raise ConfigError(
                    f"Neurophotometrics config: {key} {nm} for region '{region}' is not one of "
                    f"the LEDs {', '.join(map(str, LED_BITS))}"
                )
        if signal_nm == control_nm:
            raise ConfigError(
                f"Neurophotometrics config: region '{region}' uses {signal_nm} nm as both signal "
                "and control; the control must be another LED"
            )
        specs[str(region)] = {
            "column": spec["column"],
            "control_column": spec.get("control_column", spec["column"]),
            "signal_nm": None if signal_nm is None else int(signal_nm),
            "signal_nm_source": "config" if given else "green camera: 470 nm",
            "control_nm": int(control_nm),
        }
    return specs


def _check_cells(path: Path, values: np.ndarray, lines: np.ndarray, column: str, what: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise data_error(
            str(path),
            f"empty {what} cell in a frame row",
            "re-export the file",
            line=int(lines[row]),
            column=column,
        )


def _check_frame_interval(path: Path, t_frames: np.ndarray, column: str, unit: str) -> float:
    """The frame rate (1 / median positive interval); camera systems run at 1-1000 frames/s,
    anything else means a wrong time unit."""
    rate = median_rate(t_frames)
    if not np.isfinite(rate):
        raise data_error(str(path), "fewer than two distinct frame timestamps", column=column)
    if not 1 <= rate <= 1000:
        suggestion = "ms" if rate < 1 else "s"
        raise data_error(
            str(path),
            f"the frames are {1 / rate:.6g} s apart with time_unit '{unit}' ({rate:.3g} frames "
            "per s), not a camera frame rate",
            f"set time_unit to the unit of '{column}' (probably '{suggestion}')",
            column=column,
        )
    return rate


def _events(
    path: Path,
    ttl: str | Path | Mapping[str, str | Path] | None,
    cfg: Mapping[str, Any],
    state: np.ndarray,
    t_frames: np.ndarray,
    t_raw: np.ndarray,
    time_column: str,
    led_column: str,
) -> pd.DataFrame:
    """Events from the TTL file(s), or from the I/O bits of the LED state when there is none."""
    tables = []
    if ttl is not None:
        files = {None: ttl} if isinstance(ttl, str | Path) else dict(ttl)
        for name, file in files.items():
            tables.append(
                read_npm_ttl(
                    file,
                    recording_time_column=time_column,
                    recording_time_raw=t_raw,
                    time_unit=cfg["time_unit"],
                    time_column=cfg["ttl_time_column"],
                    name=name,
                )
            )
    bits = cfg["led_state_events"]
    if bits is None:
        bits = {} if ttl is not None else {"Input0": IO_BITS["Input0"], "Input1": IO_BITS["Input1"]}
    for name, bit in bits.items():
        if bit not in IO_BITS.values():
            raise ConfigError(
                f"Neurophotometrics config: led_state_events.{name} = {bit} is not an I/O bit "
                f"({', '.join(f'{k}={v}' for k, v in IO_BITS.items())})"
            )
        tables.append(
            ttl_events(
                t_frames, (state & bit) > 0, name, source=f"{path.name}:{led_column} bit {bit}"
            )
        )
    return concat_events(tables)
