"""What the decoded words of a pyPhotometry ``.ppd`` file show besides the samples: digital
pulses, clipped runs, chunks zero-filled after a USB loss, a cut last sample."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from exneuro.photometry.readers_core import (
    EVENT_COLUMNS,
    anomaly_table,
    empty_anomalies,
    empty_events,
    runs,
)
from exneuro.photometry.readers_events import pulses, sorted_events
from exneuro.photometry.readers_ppd_decode import PpdSamples


def digital_events(
    samples: PpdSamples,
    shared: np.ndarray,
    offset: Mapping[int, float],
    stride: int,
    digital_names: Mapping[str, str],
    file_name: str,
) -> pd.DataFrame:
    """The pulses of every digital input (rides in the lowest bit of its slot's LED-on words) as
    one events table: onset at the rising edge, duration to the falling edge (NaN when still high
    at the end), times on the slot's clock (``k / rate`` plus the slot's timer offset)."""
    columns: dict[str, list] = {"name": [], "time_s": [], "duration_s": [], "source": []}
    for digital, edges in enumerate(samples.digital_edges):
        high = (samples.cycles[edges, digital * stride] & 1).astype(bool)
        rises, ends = pulses(edges, high)
        has_fall = ends >= 0
        onset = shared[rises] + offset[digital]
        duration = np.full(len(rises), np.nan)
        duration[has_fall] = (shared[ends[has_fall]] + offset[digital]) - onset[has_fall]
        label = f"digital_{digital + 1}"
        columns["name"].append(np.full(len(rises), digital_names.get(label, label), dtype=object))
        columns["time_s"].append(onset)
        columns["duration_s"].append(duration)
        columns["source"].append(np.full(len(rises), f"{file_name}:{label}", dtype=object))
    if not columns["time_s"]:
        return empty_events()
    return sorted_events(*(np.concatenate(columns[key]) for key in EVENT_COLUMNS))


def truncation(extra_words: int, payload_bytes: int, time_s: np.ndarray) -> pd.DataFrame:
    """A file that ends inside a sample (the recording was cut): report what was ignored."""
    extra_bytes = extra_words * 2 + payload_bytes % 2
    if not extra_bytes:
        return empty_anomalies()
    return anomaly_table(
        "truncated",
        "file",
        len(time_s) - 1,
        time_s[-1],
        None,
        f"the file ends {extra_bytes} byte(s) into a sample; the partial sample was ignored",
    )


def clipping(
    peak: np.ndarray,
    clip: float,
    channel: str,
    time_s: np.ndarray,
    to_sample: Callable[[np.ndarray], np.ndarray],
) -> pd.DataFrame:
    """Runs of samples above 98 % of the ADC range (pyPhotometry's own clipping rule)."""
    if not peak.size or peak.max() <= clip:  # the usual case, in one pass
        return empty_anomalies()
    starts, lengths = runs(peak > clip)
    highest = np.maximum.reduceat(peak, starts)
    return anomaly_table(
        "saturation",
        channel,
        to_sample(starts),
        time_s[starts],
        None,
        [
            f"{n} sample(s) above 98 % of the ADC range ({clip:g} counts; highest {int(h)})"
            for n, h in zip(lengths, highest, strict=True)
        ],
    )


def zero_filled(
    cycles: np.ndarray, time_s: np.ndarray, to_sample: Callable[[np.ndarray], np.ndarray]
) -> pd.DataFrame:
    """Cycles whose words are all zero: chunks the GUI zero-filled after a USB loss."""
    width = cycles.shape[1]
    if width in (1, 2, 4):  # a cycle as one 16/32/64-bit integer: one comparison per cycle
        zero = cycles.reshape(-1).view(f"<u{2 * width}") == 0
    else:  # column by column: much faster than any(axis=1) on short rows
        zero = cycles[:, 0] == 0
        for column in range(1, width):
            zero &= cycles[:, column] == 0
    if not zero.any():
        return empty_anomalies()
    starts, lengths = runs(zero)
    return anomaly_table(
        "dropped_frames",
        "signal+control",
        to_sample(starts),
        time_s[starts],
        None,
        [
            f"{n} sample(s) with every word zero: a chunk lost on the USB link and zero-filled by "
            "the acquisition software (values are not measurements)"
            for n in lengths
        ],
    )
