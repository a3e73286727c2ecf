"""One look for every figure: Cell Press sizes and fonts, fixed group colours, deterministic files.

Cell Press asks for Arial or Helvetica at 6-8 pt, figures 85 mm (single column) or 174 mm (full
width) wide, and lines of 0.5-1 pt. Arial is used where installed; Liberation Sans (metric
compatible with Arial, installed by the project's set-up) otherwise. Text stays text in PDF and SVG
(TrueType embedding, no outlines) so that a journal's editor can edit it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager

from exneuro.io import write_table, write_workbook

MM_PER_INCH = 25.4
FONT_PREFERENCE = ["Arial", "Helvetica", "Liberation Sans", "DejaVu Sans"]


def mm(value: float) -> float:
    """Millimetres to inches (matplotlib's unit)."""
    return value / MM_PER_INCH


def available_font() -> str:
    """The first installed font of :data:`FONT_PREFERENCE`."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next(name for name in FONT_PREFERENCE if name in installed or name == "DejaVu Sans")


def apply_style(font_size_pt: float = 7.0) -> None:
    """Set matplotlib's parameters for Cell Press figures (call before drawing)."""
    plt.rcdefaults()
    plt.rcParams.update(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [available_font()],
            "font.size": font_size_pt,
            "axes.titlesize": font_size_pt,
            "axes.labelsize": font_size_pt,
            "xtick.labelsize": font_size_pt - 1,
            "ytick.labelsize": font_size_pt - 1,
            "legend.fontsize": font_size_pt - 1,
            "axes.linewidth": 0.6,
            "lines.linewidth": 0.8,
            "xtick.major.width": 0.6,
            "ytick.major.width": 0.6,
            "xtick.major.size": 2.5,
            "ytick.major.size": 2.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "pdf.fonttype": 42,
            "ps.fonttype": 42,
            "svg.fonttype": "none",
            "svg.hashsalt": "exneuro",
            "path.simplify": False,
            "savefig.dpi": 600,
        }
    )


def group_palette(groups: Sequence[Mapping]) -> dict[str, str]:
    """Group id -> colour from the config, the same in every figure."""
    return {group["id"]: group["color"] for group in groups}


def save_figure(figure, stem: str | Path, formats: Sequence[str], dpi: int) -> list[str]:
    """Write ``stem.<format>`` for each format with no timestamps or random ids inside,
    so the same input gives the same bytes."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "pdf": {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None},
        "svg": {"Date": None, "Creator": None},
        "png": {"Software": None},
    }
    written = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        figure.savefig(path, format=fmt, dpi=dpi, metadata=metadata[fmt])
        written.append(str(path))
    plt.close(figure)
    return written


def save_with_source_data(
    figure,
    figure_paths: Sequence[str],
    dpi: int,
    source: Mapping[str, object],
    source_data_dir: str | Path,
) -> None:
    """Save the figure in every format of ``figure_paths`` and each panel's source data (the
    exact numbers drawn, as journals ask) in ``source_data_dir``: ``panel_<letter>.tsv`` and one
    workbook, ``source_data.xlsx``, with a sheet per panel."""
    stem = Path(figure_paths[0]).with_suffix("")
    save_figure(figure, stem, [Path(p).suffix[1:] for p in figure_paths], dpi)
    Path(source_data_dir).mkdir(parents=True, exist_ok=True)
    for letter, table in source.items():
        write_table(table, Path(source_data_dir) / f"panel_{letter}.tsv")
    write_workbook(
        {f"panel_{letter}": table for letter, table in source.items()},
        Path(source_data_dir) / "source_data.xlsx",
    )


def panel_label(axis, letter: str) -> None:
    """Bold panel letter at the top left, outside the axes, as Cell Press figures have."""
    axis.text(
        -0.28,
        1.06,
        letter,
        transform=axis.transAxes,
        fontweight="bold",
        fontsize=plt.rcParams["font.size"] + 1,
        va="bottom",
        ha="left",
    )
