"""One look for every figure: Cell Press sizes and fonts, fixed group colours, deterministic files.

Cell Press asks for Arial or Helvetica at 6-8 pt, figures 85 mm (single column) or 174 mm (full
width) wide, and lines of 0.5-1 pt. Text is set in Liberation Sans (metric compatible with Arial),
whose font files ship with the project (``fonts/``, SIL Open Font License) and are registered by
path; the few glyphs it lacks come from matplotlib's bundled DejaVu Sans. No font installed on the
machine is ever consulted, so a figure has the same bytes on every machine. Text stays text in PDF
and SVG (TrueType embedding, no outlines) so that a journal's editor can edit it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager

from exneuro.figures.workbook import write_workbook
from exneuro.io import write_table

MM_PER_INCH = 25.4
FONT_DIR = Path(__file__).with_name("fonts")
FONT_FAMILY = "Liberation Sans"
FALLBACK_FAMILY = "DejaVu Sans"


def mm(value: float) -> float:
    """Millimetres to inches (matplotlib's unit)."""
    return value / MM_PER_INCH


@cache
def register_fonts() -> list[str]:
    """Make matplotlib's font list hold only the project's Liberation Sans files and
    matplotlib's own bundled fonts (DejaVu, STIX, Computer Modern for mathtext), each registered
    by path, and return those paths.

    matplotlib otherwise scans the system's font folders, and which "Liberation Sans" it finds
    (version 1 or 2, another glyph set) would change a figure's bytes with the machine's
    packages. Called by :func:`apply_style`; cached, so the list is built once per process.
    """
    bundled = Path(matplotlib.get_data_path(), "fonts", "ttf")
    paths = sorted(bundled.glob("*.ttf")) + sorted(FONT_DIR.glob("*.ttf"))
    manager = font_manager.fontManager
    manager.ttflist = []
    manager.afmlist = []
    for path in paths:
        manager.addfont(path)  # also clears the font lookup cache
    return [str(path) for path in paths]


def apply_style(font_size_pt: float = 7.0) -> None:
    """Set matplotlib's parameters for Cell Press figures (call before drawing)."""
    register_fonts()
    plt.rcdefaults()
    plt.rcParams.update(
        {
            "font.family": [FONT_FAMILY, FALLBACK_FAMILY],
            "font.sans-serif": [FONT_FAMILY, FALLBACK_FAMILY],
            "mathtext.fontset": "dejavusans",
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


def fit_tick_labels(axis, angle: float = 45.0, share: float = 0.8) -> None:
    """Rotate the x tick labels when, set flat, they would take more than ``share`` of the
    axis's width (weekly sessions, long level names): rotated labels never overlap. Measured
    with the renderer before the final layout, hence the margin ``share`` leaves."""
    labels = [label for label in axis.get_xticklabels() if label.get_text()]
    if len(labels) < 2:
        return
    renderer = axis.figure.canvas.get_renderer()
    needed = sum(label.get_window_extent(renderer).width for label in labels)
    available = axis.get_window_extent(renderer).width
    if needed > share * available:
        for label in axis.get_xticklabels():
            label.set(rotation=angle, ha="right", rotation_mode="anchor")


def legend_above(axis, ncols: int = 1, **options):
    """The axis's legend above its plotting area, left-aligned, so that it never covers data;
    returns the legend (None when nothing is labelled). A panel title set afterwards needs
    :func:`title_above_legend` to clear it."""
    handles, labels = axis.get_legend_handles_labels()
    if not handles:
        return None
    settings = {
        "loc": "lower left",
        "bbox_to_anchor": (0.0, 1.01),
        "borderaxespad": 0.0,
        "ncols": ncols,
        "handlelength": 1.2,
        "columnspacing": 1.0,
    }
    settings.update(options)
    legend = axis.legend(handles, labels, **settings)
    legend.rows = -(-len(labels) // settings["ncols"])
    return legend


def title_above_legend(axis, title: str, **options) -> None:
    """A panel title set above a legend placed by :func:`legend_above` (padded by the legend's
    height: one line per row of entries)."""
    rows = getattr(axis.get_legend(), "rows", 0)
    size = plt.rcParams["legend.fontsize"]
    size = size if isinstance(size, int | float) else plt.rcParams["font.size"]
    width_pt = axis.get_position().width * axis.figure.get_figwidth() * 72
    title = textwrap.fill(title, max(int(width_pt / (0.62 * plt.rcParams["font.size"])), 8))
    axis.title_pad = 4 + rows * size * 1.45  # the panel letter, a title too, keeps this pad
    axis.set_title(title, pad=axis.title_pad, **options)
