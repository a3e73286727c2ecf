"""One photometry session at a glance: raw channels, the control fit, ΔF/F, with the QC verdict.

Drawn by every session's job so that a failing session can be judged by eye before a decision
to exclude it is written in the config. Thousands of sessions each draw one, so the image is
rasterised directly with Pillow (lines as per-pixel-column min/max envelopes, text in the
project's Liberation Sans) rather than through matplotlib, whose tick and text layout made the
figure half of a recording's cost; the image is a QC view, not a publication figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from exneuro.photometry.readers import Recording

#: Colours of the channels (Okabe-Ito): signal, control, fit.
SIGNAL, CONTROL, FIT = "#009E73", "#7F3C8D", "#000000"
#: Colour of the spans the analysis leaves out (disconnected, excluded in the config) and of the
#: spike marks (Okabe-Ito vermillion).
FAULT = "#D55E00"
#: Fill of the left-out spans (the fault colour at 15 % over white) and of the fit window and run.
FAULT_FILL, GREY_FILL = (250, 231, 217), (230, 230, 230)
#: The image's palette (an 8-colour indexed PNG: a third of the bytes to compress of RGB, and no
#: colour quantization); every colour drawn is one of these.
PALETTE = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "grey": (128, 128, 128),
    "fit window": GREY_FILL,
    "left out": FAULT_FILL,
    SIGNAL: (0x00, 0x9E, 0x73),
    CONTROL: (0x7F, 0x3C, 0x8D),
    FAULT: (0xD5, 0x5E, 0x00),
}
INK = {name: number for number, name in enumerate(PALETTE)}
INK[FIT] = INK["black"]
#: The figure's size (mm, a Cell Press full width) and font size (pt).
WIDTH_MM, HEIGHT_MM, FONT_PT = 174.0, 110.0, 6.0
FONT_FILE = Path(__file__).with_name("fonts") / "LiberationSans-Regular.ttf"


def envelope(
    time_s: np.ndarray, values: np.ndarray, start: float, end: float, columns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column number, minimum and maximum of the samples in each of ``columns`` equal columns
    from ``start`` to ``end`` (NaN samples ignored; columns without a finite sample left out):
    what a dense line plot of the samples shows, one vertical stroke per pixel column.

    Time in order (the usual case): each column's samples are found by bisection and reduced
    in one pass (``fmin``/``fmax.reduceat``); otherwise each sample's column is computed.
    """
    edges = start + (end - start) * np.arange(columns + 1) / columns
    if len(time_s) and np.all(np.diff(time_s) >= 0):
        bounds = np.searchsorted(time_s, edges[:-1])
        stops = np.searchsorted(time_s, edges[1:])
        stops[-1] = np.searchsorted(time_s, edges[-1], side="right")
        filled = stops > bounds
        column, bounds = np.flatnonzero(filled), bounds[filled]
        if not len(column):
            return column, np.array([]), np.array([])
        low, high = np.fmin.reduceat(values, bounds), np.fmax.reduceat(values, bounds)
    else:
        finite = np.isfinite(time_s)
        t, v = time_s[finite], values[finite]
        column = np.clip(((t - start) / (end - start) * columns).astype(int), 0, columns - 1)
        order = np.argsort(column, kind="stable")
        column, v = column[order], v[order]
        starts = np.flatnonzero(np.r_[True, np.diff(column) != 0]) if len(column) else column
        column = column[starts]
        low, high = np.fmin.reduceat(v, starts), np.fmax.reduceat(v, starts)
    finite = np.isfinite(low)
    return column[finite], low[finite], high[finite]


def _number(value: float, template: str, missing: str = "n/a") -> str:
    """``template`` filled with ``value``, or ``missing`` when it is NaN or None."""
    return missing if value is None or not np.isfinite(value) else template.format(value)


def fault_summary(faults: pd.DataFrame) -> str:
    """One line naming the faults found: kinds with their spans (s) or counts."""
    parts = []
    for kind, rows in faults.groupby("fault", sort=False):
        if kind == "spike":
            parts.append(f"{len(rows)} spikes")
        elif kind == "dark":
            parts.append(f"dark ({', '.join(sorted(set(rows['channel'])))})")
        else:
            spans = ", ".join(
                f"{a:.0f}-{b:.0f} s" for a, b in zip(rows["start_s"], rows["end_s"], strict=True)
            )
            parts.append(f"{kind} {spans}")
    return "; ".join(parts) if parts else "no signal fault"


def qc_title(qc: Mapping, faults: pd.DataFrame) -> list[str]:
    """The figure's two title lines: the session, its fit and QC numbers; its faults."""
    return [
        f"{qc['session']} ({qc['group']}, day {qc['day']}): fit {qc['fit_method']} over "
        f"{qc['fit_window']}, slope {qc['fit_slope']:.3g}, "
        f"R² {_number(qc['fit_r2'], '{:.2f}')}, SNR {_number(qc['snr_db'], '{:.1f} dB')}, "
        f"artifact r {_number(qc['artifact_correlation'], '{:.2f}')}, "
        f"{qc['n_anomalies']} anomalies",
        fault_summary(faults),
    ]


def nice_ticks(low: float, high: float, count: int = 4) -> np.ndarray:
    """About ``count`` round tick values (1, 2, 2.5 or 5 × 10^k apart) within [low, high]."""
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return np.array([low]) if np.isfinite(low) else np.array([])
    raw = (high - low) / count
    power = 10.0 ** np.floor(np.log10(raw))
    step = power * min((s for s in (1, 2, 2.5, 5, 10) if s * power >= raw), default=10)
    ticks = np.arange(np.ceil(low / step) * step, high + step * 1e-9, step)
    return np.round(ticks, 10) + 0.0  # no "-0" label


@cache
def _font(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_FILE), size_px)


class _Panel:
    """One panel's box (pixels) and data ranges; maps data to pixels and draws on ``draw``."""

    def __init__(self, draw, box, x_range, series, font):
        self.draw, self.font = draw, font
        self.left, self.top, self.right, self.bottom = box
        self.x0, self.x1 = x_range
        width = int(self.right - self.left)
        self.strokes = [
            (*envelope(time, values, self.x0, self.x1, width), colour)
            for time, values, colour in series
        ]
        drawn = [(low.min(), high.max()) for _, low, high, _ in self.strokes if len(low)]
        low = float(min((a for a, _ in drawn), default=0.0))
        high = float(max((b for _, b in drawn), default=1.0))
        pad = (high - low) * 0.05 or 1.0
        self.y0, self.y1 = low - pad, high + pad

    def px(self, x):
        return self.left + (np.asarray(x, float) - self.x0) / (self.x1 - self.x0) * (
            self.right - self.left
        )

    def py(self, y):
        return self.bottom - (np.asarray(y, float) - self.y0) / (self.y1 - self.y0) * (
            self.bottom - self.top
        )

    def span(self, start: float, end: float, fill) -> None:
        a, b = np.clip(self.px([start, end]), self.left, self.right)
        if b > a:
            self.draw.rectangle([a, self.top, b, self.bottom], fill=fill)

    def lines(self) -> None:
        """Each series as vertical min–max strokes per pixel column, joined column to column
        (the pen lifted over columns without a sample)."""
        for columns, low, high, colour in self.strokes:
            x = np.repeat(self.left + columns + 0.5, 2)
            y = self.py(np.column_stack([low, high]).ravel())
            points = np.column_stack([x, y]).ravel()
            breaks = np.flatnonzero(np.diff(columns) > 1) + 1
            for part in np.split(np.arange(len(columns)), breaks) if len(columns) else ():
                self.draw.line(points[4 * part[0] : 4 * part[-1] + 4].tolist(), fill=INK[colour])

    def axes(self, label: str, x_labels: bool) -> None:
        """Left and bottom spines with round ticks; the y label above the panel's left."""
        draw, font = self.draw, self.font
        draw.line([(self.left, self.top), (self.left, self.bottom)], fill=INK["black"])
        draw.line([(self.left, self.bottom), (self.right, self.bottom)], fill=INK["black"])
        for value in nice_ticks(self.y0, self.y1):
            y = float(self.py(value))
            draw.line([(self.left - 4, y), (self.left, y)], fill=INK["black"])
            draw.text((self.left - 6, y), f"{value:g}", fill=INK["black"], font=font, anchor="rm")
        for value in nice_ticks(self.x0, self.x1, 8):
            x = float(self.px(value))
            draw.line([(x, self.bottom), (x, self.bottom + 4)], fill=INK["black"])
            if x_labels:
                draw.text(
                    (x, self.bottom + 6), f"{value:g}", fill=INK["black"], font=font, anchor="mt"
                )
        draw.text((self.left + 4, self.top), label, fill=INK["black"], font=font, anchor="lt")

    def legend(self, entries: list[tuple[str, str]]) -> None:
        """Coloured names at the panel's top right, right to left."""
        x = self.right
        for name, colour in reversed(entries):
            self.draw.text((x, self.top), name, fill=INK[colour], font=self.font, anchor="rt")
            x -= self.draw.textlength(name, font=self.font) + 8


def session_qc_figure(
    recording: Recording,
    trace: pd.DataFrame,
    qc: Mapping,
    path: str | Path,
    dpi: int = 150,
    faults: pd.DataFrame | None = None,
) -> Image.Image:
    """Three stacked panels over the session (minutes): raw signal and control; processed
    signal with the fitted control (the fit window shaded); ΔF/F with the run shaded. The spans
    left out (``faults`` rows ``disconnected`` and ``excluded``) are shaded in every panel and
    spikes marked on the raw panel. The title (:func:`qc_title`) carries the fit and QC numbers
    and the faults, in the fault colour when a span was left out or a channel is dark.
    Written as PNG at ``path`` (174 × 110 mm at ``dpi``, no timestamp: the same session gives
    the same bytes); the image is returned."""
    faults = faults if faults is not None else pd.DataFrame(columns=["fault", "start_s", "end_s"])
    width, height = (round(mm / 25.4 * dpi) for mm in (WIDTH_MM, HEIGHT_MM))
    image = Image.new("P", (width, height), INK["white"])
    image.putpalette([level for colour in PALETTE.values() for level in colour])
    draw = ImageDraw.Draw(image)
    font = _font(max(8, round(FONT_PT / 72 * dpi)))
    line_height = font.size * 1.25
    left_out = faults[faults["fault"].isin(["disconnected", "excluded"])]
    warn = len(left_out) or (faults["fault"] == "dark").any()
    spans = list(
        zip(left_out["start_s"].to_numpy(float), left_out["end_s"].to_numpy(float), strict=True)
    )
    for number, text in enumerate(qc_title(qc, faults)):
        draw.text(
            (width / 2, 4 + number * line_height),
            text,
            fill=INK[FAULT if warn else "black"],
            font=font,
            anchor="ma",
        )
    raw_t = np.asarray(recording.time_s, float) / 60.0
    t = trace["time_s"].to_numpy(float) / 60.0
    x_range = (float(np.nanmin(raw_t)), float(np.nanmax(raw_t)))
    signal, control = (np.asarray(v, float) for v in (recording.signal, recording.control))
    dff = trace["dff"].to_numpy(float) * 100
    panels = [
        ("raw", [(raw_t, signal, SIGNAL), (raw_t, control, CONTROL)]),
        (
            "filtered",
            [
                (t, trace["signal"].to_numpy(float), SIGNAL),
                (t, trace["fitted_control"].to_numpy(float), FIT),
            ],
        ),
        ("dff", [(t, dff, "black")]),
    ]
    labels = {
        "raw": f"Raw ({recording.metadata.get('units') or 'a.u.'})",
        "filtered": "Filtered",
        "dff": "ΔF/F (%)",
    }
    left, right = round(0.07 * width), round(0.98 * width)
    top, bottom = round(4 + 2.4 * line_height), round(height - 2.6 * line_height)
    gap = round(0.6 * line_height)
    panel_height = (bottom - top - 2 * gap) / 3
    in_fit = trace["in_baseline"].to_numpy(bool)
    for number, (name, series) in enumerate(panels):
        upper = top + number * (panel_height + gap)
        box = (left, round(upper), right, round(upper + panel_height))
        panel = _Panel(draw, box, x_range, series, font)
        if name == "filtered" and in_fit.any() and qc["fit_window"] == "baseline":
            panel.span(t[in_fit][0], t[in_fit][-1], INK["fit window"])
        if name == "dff":
            panel.span(qc["run_onset_s"] / 60.0, qc["run_offset_s"] / 60.0, INK["fit window"])
        for start, end in spans:
            panel.span(start / 60.0, end / 60.0, INK["left out"])
        if name == "dff" and panel.y0 < 0 < panel.y1:
            zero = float(panel.py(0.0))
            draw.line([(left, zero), (right, zero)], fill=INK["grey"])
        panel.lines()
        panel.axes(labels[name], x_labels=number == len(panels) - 1)
        if name == "raw":
            spikes = faults.loc[faults["fault"] == "spike", "start_s"].to_numpy(float) / 60.0
            for x in panel.px(spikes):
                y = panel.top + 2
                draw.polygon([(x - 3, y), (x + 3, y), (x, y + 5)], fill=INK[FAULT])
            entries = [("signal", SIGNAL), ("control", CONTROL)]
            panel.legend(entries + ([("spike", FAULT)] if spikes.size else []))
        elif name == "filtered":
            panel.legend([("signal", SIGNAL), ("fit", FIT)])
    draw.text(
        ((left + right) / 2, height - 4), "Time (min)", fill=INK["black"], font=font, anchor="md"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", compress_level=1)
    return image
