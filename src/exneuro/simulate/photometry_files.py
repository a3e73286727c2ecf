"""Simulated sessions written as the acquisition systems write them.

- :func:`write_ppd` — a pyPhotometry ``.ppd`` file (version 1.0 JSON header, continuous two-
  colour mode): uint16 words, ADC value in the top 15 bits, one digital input in the lowest bit,
  analog channels interleaved; no timestamps (t = k / rate).
- :func:`write_npm` — a Neurophotometrics FP3002 table (the Bonsai generation with a
  ``Timestamp`` column): frames alternate the 415 nm and 470 nm LEDs, ``LedState`` holds the LED
  bit, one column per fibre region; and the digital-input file (``Timestamp``, ``Value``
  True/False at each edge of the line) that the treadmill's TTL writes.

Values are rounded the way the systems store them (ADC divisions; camera intensities to two
decimals), so the files are exactly what the readers see in a lab.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

#: pyPhotometry board: 3.3 V over a 15-bit ADC.
PPD_VOLTS_PER_DIVISION = 3.3 / (1 << 15)

#: Neurophotometrics LED bits in ``LedState``.
NPM_LED_415 = 1
NPM_LED_470 = 2


def write_ppd(
    path: str | Path,
    signal_v: np.ndarray,
    control_v: np.ndarray,
    fs_hz: float,
    digital_1: np.ndarray | None = None,
    header: Mapping | None = None,
) -> Path:
    """Write a pyPhotometry 1.0 ``.ppd`` file (2EX_2EM_continuous) of two channels in volts.

    ``digital_1`` (booleans, e.g. the treadmill's running TTL) rides in the lowest bit of the
    signal's words; digital input 2 stays low. ``header`` adds fields (subject, date).
    """
    words = []
    for values, bit in ((signal_v, digital_1), (control_v, None)):
        adc = np.clip(np.rint(np.asarray(values) / PPD_VOLTS_PER_DIVISION), 0, (1 << 15) - 1)
        low = np.zeros(len(adc), np.uint16) if bit is None else np.asarray(bit, np.uint16)
        words.append((adc.astype(np.uint16) << 1) | low)
    block = {
        "mode": "2EX_2EM_continuous",
        "sampling_rate": fs_hz,
        "volts_per_division": [PPD_VOLTS_PER_DIVISION, PPD_VOLTS_PER_DIVISION],
        "n_analog_signals": 2,
        "n_digital_signals": 2,
        "version": "1.0.2",
        **dict(header or {}),
    }
    text = json.dumps(block, sort_keys=True).encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = np.column_stack(words).ravel().astype("<u2").tobytes()
    path.write_bytes(len(text).to_bytes(2, "little") + text + payload)
    return path


def _write_text(path: Path, frame: pd.DataFrame) -> None:
    """CSV, gzip-compressed (without a timestamp in the gzip header) when the name ends .gz."""
    text = frame.to_csv(index=False, lineterminator="\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            out.write(text)
    else:
        path.write_bytes(text)


def write_npm(
    path: str | Path,
    ttl_path: str | Path | None,
    signal: np.ndarray,
    control: np.ndarray,
    frame_hz: float,
    running: np.ndarray | None = None,
    region: str = "Region0G",
    clock_start_s: float = 0.0,
) -> tuple[Path, Path | None]:
    """Write a Neurophotometrics table of interleaved 415/470 nm frames, and its TTL file.

    ``signal`` and ``control`` are one value per LED cycle (the 470 nm frame follows the 415 nm
    frame by ``1 / frame_hz``); ``frame_hz`` counts frames of both LEDs. ``running`` (one boolean
    per cycle) becomes the digital-input file: a True row at each rising edge, False at each
    falling edge, on the same ``Timestamp`` clock (which starts at ``clock_start_s``, as the
    acquisition computer's clock does).
    """
    n = len(signal)
    frame_s = 1.0 / frame_hz
    times = clock_start_s + np.arange(2 * n) * frame_s
    intensity = np.column_stack([control, signal]).ravel()
    frames = pd.DataFrame(
        {
            "FrameCounter": np.arange(2 * n) + 1,
            "Timestamp": np.round(times, 4),
            "LedState": np.tile([NPM_LED_415, NPM_LED_470], n),
            region: np.round(intensity, 2),
        }
    )
    path = Path(path)
    _write_text(path, frames)
    if ttl_path is None or running is None:
        return path, None
    level = np.asarray(running, bool)
    edges = np.flatnonzero(np.diff(level.astype(np.int8))) + 1
    cycle_times = times[1::2]  # the 470 nm frames
    ttl = pd.DataFrame(
        {
            "Timestamp": np.round(cycle_times[edges], 4),
            "Value": np.where(level[edges], "True", "False"),
        }
    )
    ttl_path = Path(ttl_path)
    _write_text(ttl_path, ttl)
    return path, ttl_path
