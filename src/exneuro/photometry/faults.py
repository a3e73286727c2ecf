"""Signal faults of one photometry channel, each with its time span: what went wrong, and when.

The readers check timing (gaps, dropped frames, clocks); these checks read the values, on the raw
channel at its own rate, before any filter spreads a fault over its neighbours:

- ``spike`` — electrical noise: one or two samples far from their neighbours. Hampel identifier
  (Hampel 1974; Pearson 2002) with a 5-sample running median: ``|x − med₅(x)| > k·σ̂``, the
  noise SD ``σ̂ = 1.4826·median|Δx|/√2`` over the channel's usable samples (or over the
  surrounding second, when larger: fast motion), in one channel only: an
  excursion every channel shares (each beyond ``k/2``, within a sample) is motion or stray light,
  which the control fit removes. Optionally replaced by ``med₅(x)``
  (``remove_spikes``), the count reported either way.
- ``disconnected`` — a fibre unplugged or a patch cord off: the level falls toward the detector
  floor (camera black level, or 0 V). Level = means of ``window_s`` blocks of the despiked trace;
  a block is low when ``(level − floor) < disconnect_fraction · (reference − floor)``, the
  reference being the 90th percentile of the block levels (the connected level, even when the
  fibre is off for most of the session); the span's edges are then placed per sample, connected
  stretches shorter than ``merge_gap_s`` between two low spans joined (the flashes and flicker of
  plugging a fibre in) and spans shorter than ``min_duration_s`` dropped. A span counts only
  where every channel of the fibre is low: unplugging darkens every wavelength.
- ``dark`` — the whole channel within ``dark_above_floor`` of the floor (a region of interest on
  no fibre, an LED that never lit). Not "saturated": nothing reached the top of the range.
- ``saturated`` — samples at or above the detector's top (``full_scale``); without a known top,
  runs of 3 or more samples at the trace's maximum (a clipped plateau).
- ``bleaching`` / ``brightening`` — the level at the end against the start, floor subtracted:
  ``ratio = (end − floor)/(start − floor)``, medians of the first and last ``edge_s`` worth of
  usable samples (not disconnected, saturated or spikes). Bleaching loses fluorescence (ratio
  < 1); a channel that grows 2-3× (a fibre pushed in, light from elsewhere) is a fault too.

Everything is vectorized (sorting-network median of 5, block means, run-length edges; only the
few candidate spikes are looked at again): a one-hour 1 kHz recording with two channels takes
about a quarter of a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Settings of the fault checks, with their defaults (``photometry.preprocessing.faults``). The
#: thresholds were set on a real Neurophotometrics session (healthy regions pass, unplugged,
#: dark and brightening regions are found; tests/test_photometry_faults.py).
FAULT_DEFAULTS: dict[str, Any] = {
    "floor": None,
    "full_scale": None,
    "spike_threshold": 10.0,
    "remove_spikes": False,
    "window_s": 5.0,
    "disconnect_fraction": 0.3,
    "min_duration_s": 2.0,
    "merge_gap_s": 30.0,
    "dark_above_floor": None,
    "edge_s": 60.0,
    "mask_disconnected": True,
}

#: Columns of a fault table: one row per span.
FAULT_COLUMNS = ["channel", "fault", "start_s", "end_s", "n_samples", "detail"]

#: What each fault means (QC reasons and the fault table name them).
FAULT_KINDS = {
    "spike": "electrical-noise spikes (1-2 samples far from their neighbours)",
    "disconnected": "level at the detector floor: fibre unplugged or patch cord off",
    "dark": "the whole channel at the detector floor (no light reached it)",
    "saturated": "samples at the top of the detector's range",
    "bleaching": "fluorescence lost from start to end",
    "brightening": "fluorescence grew from start to end",
    "excluded": "a time span excluded in the config",
}

#: σ of a Gaussian from its MAD.
MAD_SCALE = 1.482602218505602

#: σ of white noise from the median absolute first difference (MAD scale / √2).
DIFF_SCALE = MAD_SCALE / np.sqrt(2.0)


def running_median5(x: np.ndarray) -> np.ndarray:
    """Centred 5-sample running median (ends padded with the end values).

    Sorting network: the median of five is the median of the fifth with the larger of the two
    pair minima and the smaller of the two pair maxima (the extremes of the four are discarded).
    """
    p = np.pad(np.asarray(x, dtype=float), 2, mode="edge")
    a, b, c, d, e = p[:-4], p[1:-3], p[2:-2], p[3:-1], p[4:]
    low = np.minimum(a, b)
    high = np.maximum(a, b)
    low2 = np.minimum(c, d)
    np.maximum(low, low2, out=low)
    np.maximum(c, d, out=low2)
    np.minimum(high, low2, out=high)
    # median3(e, low, high) = max(min(e, low), min(max(e, low), high))
    np.minimum(e, low, out=low2)
    np.maximum(e, low, out=low)
    np.minimum(low, high, out=low)
    return np.maximum(low2, low, out=low)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in ``mask``."""
    index = np.flatnonzero(mask)
    if index.size == 0:
        return index, index
    breaks = np.flatnonzero(np.diff(index) > 1)
    starts = np.concatenate(([index[0]], index[breaks + 1]))
    ends = np.concatenate((index[breaks] + 1, [index[-1] + 1]))
    return starts, ends


def paint(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A length-``n`` mask, True on ``[start, end)`` of every pair."""
    if len(starts) == 0:
        return np.zeros(n, bool)
    marks = np.zeros(n + 1, dtype=np.int64)
    np.add.at(marks, starts, 1)
    np.add.at(marks, ends, -1)
    return np.cumsum(marks[:n]) > 0


def clean_runs(mask: np.ndarray, min_samples: int, max_gap: int | None = None) -> np.ndarray:
    """Close gaps shorter than ``max_gap`` (default ``min_samples``) between runs, then drop
    runs shorter than ``min_samples``."""
    mask = np.asarray(mask, dtype=bool)
    starts, ends = runs(mask)
    if starts.size == 0:
        return mask
    short_gap = (starts[1:] - ends[:-1]) < (min_samples if max_gap is None else max_gap)
    closed = mask | paint(mask.size, ends[:-1][short_gap], starts[1:][short_gap])
    starts, ends = runs(closed)
    short = (ends - starts) < min_samples
    return closed & ~paint(mask.size, starts[short], ends[short])


def spans_table(
    time_s: np.ndarray, mask: np.ndarray, channel: str, fault: str, detail: str = ""
) -> pd.DataFrame:
    """One row per run of ``mask``: start and end time (s; end = the run's last sample)."""
    starts, ends = runs(mask)
    return pd.DataFrame(
        {
            "channel": channel,
            "fault": fault,
            "start_s": np.asarray(time_s, dtype=float)[starts],
            "end_s": np.asarray(time_s, dtype=float)[ends - 1],
            "n_samples": (ends - starts).astype(int),
            "detail": detail,
        },
        columns=FAULT_COLUMNS,
    )


def empty_faults() -> pd.DataFrame:
    """A fault table with no row."""
    return pd.DataFrame(
        {c: pd.Series(dtype=float if c.endswith("_s") else object) for c in FAULT_COLUMNS}
    )


@dataclass(frozen=True)
class Faults:
    """The faults of one recording's channels: spans, per-sample masks and summary numbers.

    ``disconnected`` is shared by the channels (a fibre unplugged darkens every wavelength, so a
    span counts only where every channel that is not dark falls to the floor: a dim, slowly
    bleaching channel is not taken for an unplugged one); ``spike``, ``saturated``, ``dark``,
    ``level_ratio`` and ``cleaned`` (spikes replaced by the running median when
    ``remove_spikes`` is on, else the input) are per channel. Fractions are of the samples, in
    [0, 1].
    """

    spans: pd.DataFrame
    disconnected: np.ndarray
    spike: dict[str, np.ndarray]
    saturated: dict[str, np.ndarray]
    dark: dict[str, bool]
    level_ratio: dict[str, float]
    cleaned: dict[str, np.ndarray]

    def unusable(self) -> np.ndarray:
        """Samples no analysis should use: disconnected or saturated in any channel."""
        return self.disconnected | np.logical_or.reduce(list(self.saturated.values()))

    def metrics(self) -> dict[str, Any]:
        """QC numbers: per channel (suffix ``_<channel>``) and the worst over the channels."""
        n = max(1, self.disconnected.size)
        out: dict[str, Any] = {"disconnected_fraction": np.count_nonzero(self.disconnected) / n}
        for name in self.spike:
            ratio = self.level_ratio[name]
            out[f"spike_fraction_{name}"] = np.count_nonzero(self.spike[name]) / n
            out[f"n_spikes_{name}"] = int(runs(self.spike[name])[0].size)
            out[f"saturation_fraction_{name}"] = np.count_nonzero(self.saturated[name]) / n
            out[f"dark_{name}"] = bool(self.dark[name])
            out[f"level_ratio_{name}"] = ratio
            out[f"bleaching_fraction_{name}"] = (
                float(np.clip(1.0 - ratio, 0.0, 1.0)) if np.isfinite(ratio) else float("nan")
            )
        names = list(self.spike)
        for key in ("spike_fraction", "saturation_fraction", "bleaching_fraction"):
            values = [out[f"{key}_{name}"] for name in names]
            out[key] = float(np.nanmax(values)) if np.isfinite(values).any() else float("nan")
        ratios = [self.level_ratio[name] for name in names if np.isfinite(self.level_ratio[name])]
        out["level_ratio_max"] = max(ratios) if ratios else float("nan")
        out["dark"] = any(self.dark.values())
        return out


def _block_levels(x: np.ndarray, q: int) -> np.ndarray:
    """Means of consecutive ``q``-sample blocks (the last, shorter block included)."""
    n_full = (x.size // q) * q
    levels = x[:n_full].reshape(-1, q).mean(axis=1) if n_full else np.empty(0)
    if n_full < x.size:
        levels = np.append(levels, x[n_full:].mean())
    return levels


def _edge_ratio(x: np.ndarray, usable: np.ndarray, floor: float, n_edge: int) -> float:
    """``(median of the last n_edge − floor)/(median of the first n_edge − floor)`` over the
    ``usable`` samples; NaN when too few samples or a start level at the floor."""
    index = np.flatnonzero(usable)
    if index.size < 4:
        return float("nan")
    n_edge = max(1, min(n_edge, index.size // 2))
    start = float(np.median(x[index[:n_edge]])) - floor
    end = float(np.median(x[index[-n_edge:]])) - floor
    return end / start if start > 0 else float("nan")


def _block_scale(d: np.ndarray, blocks: np.ndarray, q: int) -> np.ndarray:
    """Noise SD ``1.4826·median|Δd|/√2`` within each of the ``q``-sample ``blocks`` (indices)."""
    out = np.empty(blocks.size)
    for i, block in enumerate(blocks):  # only blocks holding a candidate spike: a few
        part = d[block * q : (block + 1) * q + 1]
        out[i] = DIFF_SCALE * float(np.median(np.abs(np.diff(part)))) if part.size > 2 else 0.0
    return out


def _spikes(
    relative: Mapping[str, np.ndarray],
    unusable: Mapping[str, np.ndarray],
    fs_hz: float,
    threshold: float,
) -> dict[str, np.ndarray]:
    """Spike samples of each channel from its relative deviation ``(x − med₅)/(med₅ − floor)``.

    Motion and stray light scale every wavelength of a fibre alike, so with two or more channels
    a channel's deviation is compared with the mean of the others' (``d = rel_x − rel_others``:
    shared excursions cancel, an electrical spike in one channel stays) and the spike is put on
    the channel that moved more. ``|d| > threshold·σ̂``, σ̂ the noise SD of ``d`` from its first
    differences (``1.4826·median|Δd|/√2``; the deviation from a 5-sample median is 0 for a fifth
    of the samples, no basis for an SD) over the usable samples, or over the surrounding second
    (at least 16 samples) where that is larger: fast motion is not electrical noise. The
    session-wide σ̂ selects the candidates; only their seconds are measured again.
    """
    names = list(relative)
    q = max(16, int(round(fs_hz)))
    out = {}
    pair = None
    for name in names:
        own = relative[name]
        n = own.size
        others = [relative[o] for o in names if o != name]
        reference = others[0] if len(others) == 1 else np.mean(others, axis=0) if others else 0.0
        if len(names) == 2:  # the second channel's difference is the first's, negated
            pair = own - reference if pair is None else np.negative(pair, out=pair)
            d = pair
        else:
            d = own - reference
        reference = np.broadcast_to(reference, own.shape)
        out[name] = np.zeros(n, bool)
        usable = np.flatnonzero(~unusable[name][:-1])
        if usable.size < 2:
            continue
        sample = usable[:: max(1, usable.size // 200_000)]
        scale = DIFF_SCALE * float(np.median(np.abs(d[sample + 1] - d[sample])))
        if scale <= 0:
            continue
        candidates = np.flatnonzero(np.abs(d) > threshold * scale)
        candidates = candidates[~unusable[name][candidates]]
        candidates = candidates[np.abs(own[candidates]) >= np.abs(reference[candidates])]
        if candidates.size == 0:
            continue
        blocks, position = np.unique(candidates // q, return_inverse=True)
        local = np.maximum(_block_scale(d, blocks, q), scale)[position]
        out[name][candidates[np.abs(d[candidates]) > threshold * local]] = True
    return out


def _low_level(
    median: np.ndarray, fs_hz: float, cfg: Mapping[str, Any], floor: float
) -> tuple[np.ndarray, float, float]:
    """Samples whose level is near the floor, the connected reference level and the threshold.

    A sample is low when its block is low or next to a low block, and its 5-sample median is
    below ``floor + disconnect_fraction·(reference − floor)``.
    """
    q = max(1, int(round(cfg["window_s"] * fs_hz)))
    levels = _block_levels(median, q)
    reference = float(np.percentile(levels, 90))
    threshold = floor + cfg["disconnect_fraction"] * (reference - floor)
    low_blocks = levels < threshold
    near = low_blocks.copy()
    near[1:] |= low_blocks[:-1]
    near[:-1] |= low_blocks[1:]
    return (median < threshold) & np.repeat(near, q)[: median.size], reference, threshold


def detect_faults(
    time_s: np.ndarray,
    channels: Mapping[str, np.ndarray],
    fs_hz: float,
    settings: Mapping[str, Any] | None = None,
) -> Faults:
    """Find the faults of a recording's raw channels (``{name: values}`` on ``time_s``; see the
    module docstring). ``settings`` over :data:`FAULT_DEFAULTS`: ``floor`` None counts as 0 and
    ``dark_above_floor`` None as a quarter of the floor (so no dark check at a floor of 0 unless
    it is set). Nothing is modified unless ``remove_spikes`` is set (then ``cleaned``)."""
    cfg = {**FAULT_DEFAULTS, **(settings or {})}
    time_s = np.asarray(time_s, dtype=float)
    n = time_s.size
    floor = float(cfg["floor"] or 0.0)
    dark_margin = cfg["dark_above_floor"]
    dark_margin = 0.25 * floor if dark_margin is None else float(dark_margin)
    min_samples = max(1, int(round(cfg["min_duration_s"] * fs_hz)))
    merge_samples = max(1, int(round(cfg["merge_gap_s"] * fs_hz)))
    tables: list[pd.DataFrame] = []
    medians, lows, dark, saturated, notes = {}, [], {}, {}, []
    for name, values in channels.items():
        x = np.asarray(values, dtype=float)
        medians[name] = running_median5(x)
        low, reference, threshold = _low_level(medians[name], fs_hz, cfg, floor)
        dark[name] = bool(dark_margin > 0 and reference - floor < dark_margin)
        if dark[name]:
            detail = f"level {reference:.4g} within {dark_margin:.3g} of the floor {floor:.4g}"
            tables.append(spans_table(time_s, np.ones(n, bool), name, "dark", detail))
        else:
            lows.append(low)
            notes.append(f"{name} < {threshold:.4g} (connected {reference:.4g})")
        if cfg["full_scale"] is not None:
            saturated[name] = x >= float(cfg["full_scale"])
        elif dark[name]:  # a flash on a dark region is not a clipped detector
            saturated[name] = np.zeros(n, bool)
        else:
            saturated[name] = clean_runs(x == x.max(), 3)
        tables.append(spans_table(time_s, saturated[name], name, "saturated"))
    disconnected = (
        clean_runs(np.logical_and.reduce(lows), min_samples, merge_samples)
        if lows
        else np.zeros(n, bool)
    )
    detail = f"floor {floor:.4g}; " + ", ".join(notes)
    tables.append(spans_table(time_s, disconnected, "all", "disconnected", detail))

    unusable = {name: disconnected | saturated[name] for name in channels}
    lit = [name for name in channels if not dark[name]]
    relative = {
        name: (np.asarray(channels[name], dtype=float) - medians[name])
        / np.maximum(np.abs(medians[name] - floor), np.finfo(float).tiny)
        for name in lit
    }
    spike_found = _spikes(relative, unusable, fs_hz, cfg["spike_threshold"])
    spike, ratio, cleaned = {}, {}, {}
    for name, values in channels.items():
        x = np.asarray(values, dtype=float)
        spike[name] = spike_found.get(name, np.zeros(n, bool))
        usable = ~(disconnected | saturated[name] | spike[name])
        ratio[name] = (
            float("nan")
            if dark[name]
            else _edge_ratio(x, usable, floor, int(round(cfg["edge_s"] * fs_hz)))
        )
        detail = f"> {cfg['spike_threshold']:g} x noise, this channel only"
        tables.append(spans_table(time_s, spike[name], name, "spike", detail))
        cleaned[name] = np.where(spike[name], medians[name], x) if cfg["remove_spikes"] else x
    kept = [t for t in tables if len(t)]
    spans = pd.concat(kept, ignore_index=True) if kept else empty_faults()
    return Faults(spans, disconnected, spike, saturated, dark, ratio, cleaned)


def level_change_spans(
    time_s: np.ndarray,
    faults: Faults,
    max_bleaching: float | None,
    max_brightening: float | None,
) -> pd.DataFrame:
    """A ``bleaching`` or ``brightening`` row per channel whose level ratio passes ``1 −
    max_bleaching`` or ``1 + max_brightening`` (None: not checked), spanning its usable
    samples."""
    rows = []
    usable = ~faults.unusable()
    for name, ratio in faults.level_ratio.items():
        if not np.isfinite(ratio) or not usable.any():
            continue
        if max_bleaching is not None and ratio < 1.0 - max_bleaching:
            kind = "bleaching"
        elif max_brightening is not None and ratio > 1.0 + max_brightening:
            kind = "brightening"
        else:
            continue
        t = np.asarray(time_s)[usable]
        rows.append([name, kind, float(t[0]), float(t[-1]), int(usable.sum()), f"x{ratio:.2f}"])
    return pd.DataFrame(rows, columns=FAULT_COLUMNS) if rows else empty_faults()
