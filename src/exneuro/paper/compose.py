"""Lay out a declared figure: panels on a grid at a Cell Press width, bold panel letters, one
look; then write the figure (PDF, SVG, PNG), each panel's source data, the statistics rows it
reports, its legend and its layout and style as declared (``layout.yaml`` beside the source
data: the config snapshot leaves figure sections to the figure jobs).

Widths: 'single' (85 mm), 'one_and_half' (114 mm) and 'full' (174 mm) columns of Cell Press, or
a number of millimetres. The grid is placed with matplotlib's constrained layout, run once and
kept for every format; it is deterministic: the same tables and declaration give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from exneuro.figures.checks import CHECK_DPI, PanelCheck, check_figure
from exneuro.figures.legend import (
    STAR_KEY,
    counts_text,
    describe_tests,
    in_animal_words,
    tested_n,
)
from exneuro.figures.registry import DRAW
from exneuro.figures.style import apply_style, mm, save_with_source_data
from exneuro.io import write_table
from exneuro.paper import activity, behaviour, cellular, overview, transcriptome  # noqa: F401
from exneuro.paper.panels import Panel, PanelError, Study

ONE_AND_HALF_MM = 114.0


def figure_width_mm(width: str | float, style: Mapping) -> float:
    """A declared width in millimetres."""
    if width == "one_and_half":
        return ONE_AND_HALF_MM
    named = {"single": "single_column_mm", "full": "full_width_mm"}  # read only the one named
    return float(style[named[width]] if width in named else width)


def _panel_axes(figure, grid, declaration: Mapping):
    row, column = declaration["at"]
    rows, columns = declaration.get("span", [1, 1])
    return figure.add_subplot(grid[row : row + rows, column : column + columns])


def draw_panels(declaration: Mapping, study: Study, style: Mapping, where: str | None = None):
    """Draw every panel of the figure ``declaration``; return the figure and panels by letter.
    A panel that cannot be drawn stops with its place: ``where`` (default the paper figure's
    place in the config), its index, letter and type."""
    where = where or f"paper.figures[{declaration['id']}]"
    apply_style(declaration.get("font_size_pt", style["font_size_pt"]))
    size = (mm(figure_width_mm(declaration["width"], style)), mm(declaration["height_mm"]))
    figure = plt.figure(figsize=size, layout="constrained")
    figure.get_layout_engine().set(w_pad=mm(1.5), h_pad=mm(1.5), wspace=0.04, hspace=0.04)
    grid = figure.add_gridspec(
        declaration["rows"],
        declaration["columns"],
        height_ratios=declaration.get("row_heights"),
        width_ratios=declaration.get("column_widths"),
    )
    panels: dict[str, Panel] = {}
    axes = {}
    for index, spec in enumerate(declaration["panels"]):
        axis = _panel_axes(figure, grid, spec)
        axes[spec["letter"]] = axis
        try:
            panels[spec["letter"]] = DRAW[spec["plot"]](axis, spec, study)
        except PanelError as error:
            raise PanelError(
                f"{where}.panels[{index}] (letter {spec['letter']}, plot {spec['plot']}): {error}"
            ) from None
        axis.set_title(
            spec["letter"],
            loc="left",
            fontweight="bold",
            fontsize=plt.rcParams["font.size"] + 1,
            x=-0.02 if spec["plot"].endswith("table") else -0.18,
            pad=getattr(axis, "title_pad", None),
        )
    return figure, panels, axes


def fix_layout(figure) -> None:
    """Lay the figure out once (constrained layout) and keep that layout.

    matplotlib otherwise lays a constrained figure out again, in a draw of its own, before
    every format it saves and before the checker's drawing: four layout passes of the whole
    figure for one result. Measured at the checker's resolution, so that every format has the
    very layout the checker examines.
    """
    figure.set_dpi(CHECK_DPI)
    figure.get_layout_engine().execute(figure)
    figure.set_layout_engine(None)


def legend_text(
    declaration: Mapping,
    panels: Mapping[str, Panel],
    labels: Mapping,
    animal: Mapping[str, str] | None = None,
) -> str:
    """The figure legend: title, then per panel what is plotted and the tests behind it, in the
    study's word for its animals (``animal``, default mouse/mice)."""
    parts = [f"**Figure {declaration.get('number', declaration['id'])}. {declaration['title']}**"]
    for letter, panel in panels.items():
        if panel.n_by_group is not None:
            n = counts_text(panel.n_by_group, labels)
        else:
            n = tested_n(panel.statistics, labels) if len(panel.statistics) else ""
        text = f"({letter}) {panel.plotted}" + (f" ({n})." if n else ".")
        if len(panel.statistics):
            text += f" {describe_tests(panel.statistics, labels, panel.n_by_group)}."
        text += "".join(f" {caveat}" for caveat in panel.caveats)
        parts.append(text)
    parts.append(STAR_KEY)
    return in_animal_words("\n\n".join(parts), animal) + "\n"


def drawn_mice(panel: Panel) -> dict[str, int] | None:
    """Mice per group in the panel's source data (rows of kind 'mouse' or 'subject'), counted
    independently of the legend's n; None for a panel that draws no mice."""
    source = panel.source
    if panel.n_by_group is None or not {"kind", "group", "mouse"} <= set(source.columns):
        return None
    mice = source[source["kind"].isin(["mouse", "subject"]) & source["value"].notna()]
    counts = mice.groupby("group")["mouse"].nunique()
    return {group: int(counts.get(group, 0)) for group in panel.n_by_group}


def study_identifiers(settings: Mapping) -> dict[str, str]:
    """Config ids a figure must show by their label: the groups (ids with '_' of any kind are
    caught by the checker anyway)."""
    return {g["id"]: g.get("label", g["id"]) for g in settings.get("groups", [])}


def reported_statistics(panels: Mapping[str, Panel]) -> pd.DataFrame:
    """The statistics rows behind the figure, with the panel letter that reports them."""
    rows = [p.statistics.assign(panel=letter) for letter, p in panels.items() if len(p.statistics)]
    if not rows:
        return pd.DataFrame(columns=["panel"])
    table = pd.concat(rows, ignore_index=True)
    return table[["panel", *[c for c in table.columns if c != "panel"]]]


def compose_figure(
    declaration: Mapping,
    study: Study,
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
    where: str | None = None,
) -> dict[str, Panel]:
    """Draw and write one declared figure (a paper figure, or the default figure of an
    analysis): the figure in every format, each panel's source data, the checker's findings
    (``checks.tsv``) and the declaration with its style (``layout.yaml``)."""
    figure, panels, axes = draw_panels(declaration, study, style, where)
    fix_layout(figure)
    source = {letter: panel.source for letter, panel in panels.items()}
    save_with_source_data(figure, figure_paths, style["png_dpi"], source, source_data_dir)
    checks = [
        PanelCheck(letter, axes[letter], panel.marked, panel.n_by_group, drawn_mice(panel))
        for letter, panel in panels.items()
    ]
    problems = check_figure(figure, study.statistics, checks, study_identifiers(study.settings))
    write_table(pd.DataFrame({"problem": problems}), Path(source_data_dir, "checks.tsv"))
    layout = {"figure": dict(declaration), "style": dict(style)}
    Path(source_data_dir, "layout.yaml").write_text(
        yaml.safe_dump(layout, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return panels


def paper_figure(
    declaration: Mapping,
    study: Study,
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
    legend_path: str,
    statistics_path: str,
) -> dict[str, Panel]:
    """Draw and write one declared figure with its source data, statistics rows and legend."""
    panels = compose_figure(declaration, study, style, figure_paths, source_data_dir)
    write_table(reported_statistics(panels), statistics_path)
    Path(legend_path).write_text(
        legend_text(declaration, panels, study.labels, study.animal), encoding="utf-8"
    )
    return panels
