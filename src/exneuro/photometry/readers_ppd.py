"""pyPhotometry ``.ppd`` binary files, every header generation, raw volts (no filtering).

Layout (pyPhotometry/code ``tools/data_import.py`` and the acquisition firmware
``uPy/photometry_upy.py``; GuPPy ``_ppd_file_reader.py``, vendored from NeuroConv; notes §2.1):

- a 2-byte little-endian header length, then the header, then little-endian uint16 words;
- each word holds one ADC sample in its top 15 bits (``word >> 1``, times ``volts_per_division``)
  and one digital input in its lowest bit (``word & 1``);
- the words interleave the analog channels (``analog_1``, ``analog_2`` … 1-based, as pyPhotometry
  names them); digital input *d* rides in the words of analog slot *d*;
- from version 1.1, the pulsed (time-division) modes store two words per channel and sample — the
  reading with the LED on and the LED-off baseline beside it — so the stride doubles and the signal
  is on - off (earlier versions subtracted on the board and stored one word);
- samples have no timestamps: t = k / sampling_rate. In the pulsed modes the board reads one channel
  per timer tick at ``sampling_rate x n_inputs``, so channel *i* is sampled *i* ticks into each
  cycle; its times carry that offset and the control is interpolated onto the signal's times. In the
  continuous modes the two ADCs are read back to back by an unrecorded amount (< 1 sample;
  pyPhotometry issue #39) and are treated as simultaneous;
- the acquisition GUI replaces chunks lost on the USB link by zeros (``acquisition_board.py``), so a
  cycle whose words are all zero is reported as dropped.

Header generations: a 42-byte fixed binary header (2018 files: subject and date, a mode code, the
rate as uint16, volts per division as two uint32 in nV); JSON with ``version`` as a number (0.1,
0.2) or a string (0.3 on), ``volts_per_division`` as a list (per channel) or a number; from 1.0
``n_analog_signals``/``n_digital_signals``; from 1.1 ``ADC_max_value`` (earlier: 2^15). The mode
string, not ``n_analog_signals``, decides the layout, and its spelling changed twice (``GCaMP/iso``
in 0.1; ``2 colour time div.`` in 0.2-0.3; ``2EX_1EM_pulsed`` from 1.0). An unknown mode is an
error, never read as the default two-channel layout: a lab fork (``4 colour time div.``) looks like
an ordinary two-channel file except for its mode, and reading it the default way returns traces
that alternate colours sample by sample (GuPPy PR #447). A lab's fork can be read by declaring its
layout in the config.

Only the raw ``analog_x`` values are returned; pyPhotometry's ``import_ppd`` also returns
``analog_x_filt``, band-passed 0.01-20 Hz by default, which has already removed the slow drift the
control fit needs (notes §2.2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from exneuro.errors import ConfigError, data_error
from exneuro.photometry.readers_core import (
    Recording,
    check_alignment,
    closest_hint,
    concat_anomalies,
    with_defaults,
)
from exneuro.photometry.readers_ppd_checks import (
    clipping,
    digital_events,
    truncation,
    zero_filled,
)
from exneuro.photometry.readers_ppd_decode import (
    PpdWordLayout,
    align_interleaved,
    decode_samples,
    read_exactly,
)


@dataclass(frozen=True)
class PpdLayout:
    """How one acquisition mode lays its words out."""

    analog_inputs: int
    colours_per_input: int
    pulsed: bool


#: Every acquisition mode of the released firmware generations, plus the known fork.
PPD_MODES = {
    # version 1.0 on
    "2EX_2EM_continuous": PpdLayout(2, 1, False),
    "2EX_1EM_pulsed": PpdLayout(2, 1, True),
    "2EX_2EM_pulsed": PpdLayout(2, 1, True),
    "3EX_2EM_pulsed": PpdLayout(3, 1, True),
    # versions 0.2-0.3
    "2 colour continuous": PpdLayout(2, 1, False),
    "1 colour time div.": PpdLayout(2, 1, True),
    "2 colour time div.": PpdLayout(2, 1, True),
    # version 0.1
    "GCaMP/RFP": PpdLayout(2, 1, False),
    "GCaMP/iso": PpdLayout(2, 1, True),
    "GCaMP/RFP_dif": PpdLayout(2, 1, True),
    # Wiegert-lab fused-fibre fork: two inputs, each alternating two colours
    "4 colour time div.": PpdLayout(2, 2, True),
}

#: The control channel of each mode when the config does not name one: the isosbestic for the
#: 3-LED mode (LED 3 on detector 1), otherwise analog_2 (405 nm on the same detector in the
#: one-colour time-division modes; the red channel in the two-colour modes).
DEFAULT_CONTROL = {"3EX_2EM_pulsed": "analog_3"}

#: Keys of the .ppd config and their defaults.
PPD_DEFAULTS: dict[str, Any] = {
    "region": "fibre",
    "signal": "analog_1",
    "control": None,
    "control_alignment": "interpolate",
    "digital_names": None,
    "layout": None,
    "signal_nm": None,
    "control_nm": None,
}

_LEGACY_HEADER_BYTES = 42
_PAIRED_FROM = (1, 1)


def read_ppd(path: str | Path, config: Mapping[str, Any] | None = None) -> dict[str, Recording]:
    """Read a pyPhotometry ``.ppd`` file into one :class:`Recording` (raw volts, unfiltered).

    Config (``PPD_DEFAULTS``): ``region`` (fibre name), ``signal`` / ``control`` (``analog_1`` …;
    control defaults to ``analog_3`` in 3EX_2EM_pulsed, ``analog_2`` otherwise),
    ``control_alignment`` for pulsed modes (interpolate; previous/next pair with the control read
    just before/after), ``digital_names`` ``{"digital_1": event name}``, ``layout``
    ``{analog_inputs, colours_per_input, pulsed}`` for a mode this reader does not know, and
    ``signal_nm`` / ``control_nm`` for the metadata. Other analog channels go to ``extra``; in
    version >= 1.1 pulsed files the raw LED-on and LED-off readings too.
    """
    reader = "pyPhotometry"
    cfg = with_defaults(config, PPD_DEFAULTS, reader)
    check_alignment(cfg["control_alignment"], reader)
    path = Path(path)
    if not path.is_file():
        raise data_error(str(path), "pyPhotometry file not found", "check the path in the config")
    with open(path, "rb", buffering=0) as handle:
        header, version, payload_bytes = _read_header(handle, path)
        layout, mode = _layout(header, cfg, path)
        rate = _sampling_rate(header, path)
        paired = layout.pulsed and version >= _PAIRED_FROM
        n_slots = layout.analog_inputs * layout.colours_per_input
        words_per_cycle = n_slots * (2 if paired else 1)
        if "n_analog_signals" in header and cfg["layout"] is None:
            declared = int(header["n_analog_signals"])
            if declared != layout.analog_inputs:
                raise data_error(
                    str(path),
                    f"the header declares {declared} analog signals but mode '{mode}' has "
                    f"{layout.analog_inputs}",
                    "the file is damaged or from a modified firmware; declare its layout in the "
                    "config",
                )
        n_cycles = payload_bytes // 2 // words_per_cycle
        if n_cycles < 2:
            raise data_error(
                str(path),
                f"only {n_cycles} complete sample(s) after the header",
                "the recording is empty or was stopped at once",
            )
        vpd = _volts_per_division(header, layout, path)
        names = [f"analog_{slot + 1}" for slot in range(n_slots)]
        signal_name = cfg["signal"]
        control_name = cfg["control"] or DEFAULT_CONTROL.get(mode, "analog_2")
        for key, name in (("signal", signal_name), ("control", control_name)):
            if name not in names:
                raise ConfigError(
                    f"pyPhotometry config: {key} '{name}' is not a channel of mode '{mode}' "
                    f"({', '.join(names)}){closest_hint(str(name), names)} — fix "
                    f"photometry.readers.ppd.{key}"
                )
        if signal_name == control_name:
            raise ConfigError("pyPhotometry config: signal and control are the same channel")
        channel_hz = rate / layout.colours_per_input
        n_digital = min(int(header.get("n_digital_signals", 2)), layout.analog_inputs)
        samples = decode_samples(
            handle,
            payload_bytes,
            PpdWordLayout(words_per_cycle, n_slots, paired, n_digital),
            vpd,
            channel_hz,
            str(path),
        )
    s_slot, c_slot = names.index(signal_name), names.index(control_name)
    cycles = samples.cycles
    stride = 2 if paired else 1

    def adc(slot: int, baseline: bool = False) -> np.ndarray:
        """ADC values (top 15 bits) of one slot's LED-on (or LED-off baseline) words."""
        return cycles[:, slot * stride + int(baseline)] >> 1

    timer_hz = rate * layout.analog_inputs
    offset = {slot: (slot / timer_hz if layout.pulsed else 0.0) for slot in range(n_slots)}
    shared = samples.cycle_time_s  # t_k = k / rate

    slot_times: dict[int, np.ndarray] = {}

    def times(slot: int) -> np.ndarray:
        """Sample times of a slot: shared if continuous, offset by its timer tick if pulsed."""
        if slot not in slot_times:  # no offset: the cycle times themselves (k / rate + 0.0)
            slot_times[slot] = shared + offset[slot] if offset[slot] else shared
        return slot_times[slot]

    def aligned(slot: int, *channels: np.ndarray) -> tuple[slice, list[np.ndarray]]:
        """Channels read at a slot's times on the signal's samples (interleaved: interpolated
        or paired), and the signal's cycles that have them."""
        if not layout.pulsed:
            return slice(0, n_cycles), list(channels)
        return align_interleaved(
            s_slot, slot, times(s_slot), times(slot), channels, cfg["control_alignment"]
        )

    volts = samples.volts
    control_channels = [volts[c_slot]]
    if paired:  # the raw LED-on and LED-off readings, placed like the control
        control_channels += [adc(c_slot) * vpd[c_slot], adc(c_slot, baseline=True) * vpd[c_slot]]
    placed = {c_slot: aligned(c_slot, *control_channels)}
    others = [slot for slot in range(n_slots) if slot not in (s_slot, c_slot)]
    placed.update({slot: aligned(slot, volts[slot]) for slot in others})
    # a slot read before the signal lacks a neighbour at the last cycle, one read after it at the
    # first: keep the signal's cycles where every slot has its readings
    kept = slice(
        max(cycles_of.start for cycles_of, _ in placed.values()),
        min(cycles_of.stop for cycles_of, _ in placed.values()),
    )

    def on_kept(slot: int) -> list[np.ndarray]:
        """A slot's placed channels on the kept signal cycles."""
        cycles_of, channels = placed[slot]
        return [
            values[kept.start - cycles_of.start : kept.stop - cycles_of.start]
            for values in channels
        ]

    control, *control_led = on_kept(c_slot)
    time_s = times(s_slot)[kept]
    signal = volts[s_slot][kept]
    extra = {names[slot]: on_kept(slot)[0] for slot in others}
    if paired:
        extra["signal_led_on"] = adc(s_slot)[kept] * vpd[s_slot]
        extra["signal_led_off"] = adc(s_slot, baseline=True)[kept] * vpd[s_slot]
        extra["control_led_on"], extra["control_led_off"] = control_led

    def to_sample(cycle: np.ndarray) -> np.ndarray:
        """The first kept sample at or after each cycle (the last one past the end)."""
        return np.clip(np.asarray(cycle) - kept.start, 0, len(time_s) - 1)

    adc_max = float(header.get("ADC_max_value", 1 << 15)) if version >= _PAIRED_FROM else 2**15
    clip = 0.98 * adc_max
    saturation_checked = paired or not layout.pulsed
    tables = [truncation(len(samples.words) - cycles.size, payload_bytes, time_s)]
    if samples.has_zero_word:  # a zero-filled cycle needs zero words
        tables.append(zero_filled(cycles, times(s_slot), to_sample))
    if saturation_checked and (samples.highest_word >> 1) > clip:  # else nothing can clip
        for channel, slot in (("signal", s_slot), ("control", c_slot)):
            peak = np.maximum(adc(slot), adc(slot, baseline=True)) if paired else adc(slot)
            tables.append(clipping(peak, clip, channel, times(slot), to_sample))

    events = digital_events(samples, shared, offset, stride, cfg["digital_names"] or {}, path.name)
    metadata = {
        "source_file": str(path),
        "format": "pyPhotometry .ppd",
        "format_version": ".".join(map(str, version)) if version else "pre-JSON binary header",
        "mode": mode,
        "pulsed": layout.pulsed,
        "paired_led_on_off": paired,
        "sampling_rate_hz": rate,
        "volts_per_division": vpd.tolist(),
        "adc_max_value": adc_max,
        "saturation_checked": saturation_checked,
        # the clipping level in volts, for the fault checks' saturated fraction (the same rule
        # as the saturation anomalies); none for on-off differences or unchecked modes
        "detector_full_scale": (
            clip * float(vpd[s_slot])
            if saturation_checked and not paired and vpd[s_slot] == vpd[c_slot]
            else None
        ),
        "units": "V",
        "region": cfg["region"],
        "signal_channel": signal_name,
        "control_channel": control_name,
        "channel_offset_s": {names[s]: offset[s] for s in range(n_slots)},
        "control_alignment": cfg["control_alignment"] if layout.pulsed else "simultaneous",
        "n_edge_samples_dropped": int(n_cycles - len(time_s)),
        "led_nm": {"signal": cfg["signal_nm"], "control": cfg["control_nm"]},
        "subject_ID": header.get("subject_ID", ""),
        "date_time": header.get("date_time", ""),
        "header": {k: v for k, v in header.items() if k != "mode_code"},
    }
    recording = Recording(
        region=str(cfg["region"]),
        time_s=np.ascontiguousarray(time_s),
        signal=np.ascontiguousarray(signal),
        control=np.ascontiguousarray(control, dtype=np.float64),
        fs_hz=channel_hz,
        events=events,
        anomalies=concat_anomalies(tables),
        metadata=metadata,
        extra={k: np.ascontiguousarray(v, dtype=np.float64) for k, v in extra.items()},
    ).validate()
    return {recording.region: recording}


def _sampling_rate(header: Mapping[str, Any], path: Path) -> float:
    """The header's sampling rate, a positive finite number (the samples carry no timestamps)."""
    try:
        rate = float(header["sampling_rate"])
    except (TypeError, ValueError):
        rate = float("nan")
    if not rate > 0 or not np.isfinite(rate):
        raise data_error(
            str(path),
            f"sampling_rate {header['sampling_rate']!r} in the .ppd header is not a positive "
            "number",
            "copy the file again from the acquisition PC",
        )
    return rate


def parse_version(value: Any) -> tuple[int, ...]:
    """'1.0.2' or 0.3 as comparable integers; the field is a number before 0.3, a string after."""
    parts = str(value if value is not None else "").split(".")
    return tuple(int(p) for p in parts if p.isdigit())


def _read_header(handle: BinaryIO, path: Path) -> tuple[dict[str, Any], tuple[int, ...], int]:
    """Header dict, version and the number of sample bytes after the header, for every header
    generation; ``handle`` is left at the first sample byte."""
    file_bytes = os.fstat(handle.fileno()).st_size
    if file_bytes < 2:
        raise data_error(str(path), "the .ppd file is empty", "re-copy it from the acquisition PC")
    prefix = bytearray(2)
    read_exactly(handle, memoryview(prefix), str(path))
    size = int.from_bytes(prefix, "little")
    if size == 0 or 2 + size > file_bytes:
        raise data_error(
            str(path),
            f"not a pyPhotometry .ppd file: the header length prefix ({size} bytes) does not fit "
            f"the file ({file_bytes} bytes)",
            "check that this is a .ppd file written by pyPhotometry",
        )
    block = bytearray(size)
    read_exactly(handle, memoryview(block), str(path))
    block = bytes(block)
    broken = None
    try:
        header = json.loads(block.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        header = _legacy_header(block, path) if size == _LEGACY_HEADER_BYTES else None
        if header is None and block.lstrip().startswith(b"{"):
            broken = error
    if broken is not None:
        where = f" at byte {broken.pos + 2}" if isinstance(broken, json.JSONDecodeError) else ""
        raise data_error(
            str(path),
            f"the .ppd file's JSON header (bytes 2-{size + 1}) is damaged{where} "
            f"({getattr(broken, 'msg', broken)})",
            "the file was edited or corrupted; copy it again from the acquisition PC",
        )
    if isinstance(header, dict) and "sampling_rate" not in header:
        raise data_error(
            str(path),
            "the .ppd header has no 'sampling_rate' (fields: "
            f"{', '.join(sorted(map(str, header)))}); the samples carry no timestamps, so "
            "the rate is needed",
            "copy the file again from the acquisition PC, or add the rate to the header of a copy",
        )
    if not isinstance(header, dict):
        raise data_error(
            str(path),
            "not a pyPhotometry .ppd file: the header is neither pyPhotometry JSON nor the "
            "42-byte header of 2018 files",
            "check that this is a .ppd file written by pyPhotometry",
        )
    return header, parse_version(header.get("version")), file_bytes - 2 - size


def _legacy_header(block: bytes, path: Path) -> dict[str, Any] | None:
    """The fixed 42-byte header of the first pyPhotometry files (GuPPy ``_read_legacy_header``)."""
    try:
        subject_time = block[:31].decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    subject, _, date_time = subject_time.partition("  ")
    rate = int.from_bytes(block[32:34], "little")
    vpd = [int.from_bytes(block[a : a + 4], "little") / 1e9 for a in (34, 38)]
    if rate == 0 or not all(0 < v < 1 for v in vpd):
        return None
    return {
        "subject_ID": subject.strip(),
        "date_time": date_time.strip(),
        "mode_code": block[31],
        "sampling_rate": rate,
        "volts_per_division": vpd,
    }


def _layout(header: Mapping[str, Any], cfg: Mapping[str, Any], path: Path) -> tuple[PpdLayout, str]:
    """The sample layout: from the config when declared, else from the mode table."""
    mode = header.get("mode")
    if cfg["layout"] is not None:
        spec = dict(cfg["layout"])
        if set(spec) != {"analog_inputs", "colours_per_input", "pulsed"}:
            raise ConfigError(
                "pyPhotometry config: layout needs exactly analog_inputs, colours_per_input, pulsed"
            )
        return PpdLayout(
            int(spec["analog_inputs"]), int(spec["colours_per_input"]), bool(spec["pulsed"])
        ), str(mode)
    if mode is None and "mode_code" in header:
        # 2018 binary header: every known file interleaves two inputs (GuPPy corpus); whether the
        # LEDs were pulsed is not recoverable, so no inter-channel offset is assumed.
        return PpdLayout(2, 1, False), f"pre-JSON mode code {header['mode_code']}"
    if mode not in PPD_MODES:
        raise data_error(
            str(path),
            f"unknown pyPhotometry acquisition mode '{mode}': the mode decides how the samples "
            "interleave, and guessing can mix colours into one trace",
            "for a modified firmware declare layout: {analog_inputs, colours_per_input, pulsed} "
            f"in the config; known modes: {', '.join(PPD_MODES)}",
        )
    return PPD_MODES[mode], str(mode)


def _volts_per_division(header: Mapping[str, Any], layout: PpdLayout, path: Path) -> np.ndarray:
    """Volts per ADC division of every slot (a number, or a list indexed by analog input)."""
    value = header.get("volts_per_division")
    if value is None:
        raise data_error(str(path), "the header has no volts_per_division", "re-export the file")
    per_input = [float(value)] if isinstance(value, int | float) else [float(v) for v in value]
    inputs = [
        per_input[i] if i < len(per_input) else per_input[0] for i in range(layout.analog_inputs)
    ]
    return np.array(inputs * layout.colours_per_input, dtype=np.float64)
