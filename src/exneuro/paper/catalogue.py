"""What each kind of paper panel needs: its config section, options and result files.

Kept free of plotting imports: the workflow reads it while building the job graph (to give each
figure job exactly the files its panels read) and the config check uses it to name a wrong or
missing panel option before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

STATISTICS = "statistics/statistics.tsv"
TREADMILL = ["treadmill/tests.parquet"]
PHOTOMETRY_TRACES = ["photometry/aligned.parquet", "photometry/qc.tsv"]


@dataclass(frozen=True)
class PanelSpec:
    """A panel kind's config section (must be enabled), options and the files it reads."""

    section: str
    files: Sequence[str] | Callable[[Mapping], Sequence[str]]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def inputs(self, panel: Mapping) -> list[str]:
        return list(self.files(panel) if callable(self.files) else self.files)


CATALOGUE: dict[str, PanelSpec] = {
    "treadmill_course": PanelSpec("treadmill", TREADMILL, ("cohort",), ("metric", "test")),
    "treadmill_gain": PanelSpec("treadmill", TREADMILL, ("cohort",), ("metric", "session")),
    "table_plot": PanelSpec(
        "tables",
        lambda panel: [f"tables/{panel['table']}/data.tsv"],
        ("table",),
        ("outcome", "split", "title", "test"),
    ),
    "photometry_trace": PanelSpec("photometry", PHOTOMETRY_TRACES, ("group",), ("days",)),
    "photometry_heatmap": PanelSpec("photometry", PHOTOMETRY_TRACES, (), ("day",)),
    "photometry_window": PanelSpec(
        "photometry", ["photometry/metrics.tsv", "photometry/qc.tsv"], (), ("window", "metric")
    ),
    "photometry_peri_event": PanelSpec(
        "photometry",
        ["photometry/waveforms.tsv", "photometry/significant_intervals.tsv"],
        (),
        ("event", "day"),
    ),
    "photometry_qc": PanelSpec("photometry", ["photometry/qc.tsv"]),
    "ephys_fi": PanelSpec("ephys", ["ephys/steps.parquet"]),
    "ephys_property": PanelSpec("ephys", ["ephys/cells.parquet"], ("outcome",), ("test",)),
    "ephys_cdf": PanelSpec("ephys", ["ephys/events.parquet"], ("value",)),
    "spine_density": PanelSpec(
        "spines", ["spines/segment_density.parquet"], (), ("spine_type", "test")
    ),
    "histology_percent": PanelSpec("histology", ["histology/sections.tsv"], ("marker",)),
    "rnaseq_volcano": PanelSpec(
        "rnaseq",
        lambda panel: [f"rnaseq/de/{panel['contrast']}.tsv", "rnaseq/gene_names.tsv"],
        ("contrast",),
        ("title",),
    ),
    "rnaseq_overlap": PanelSpec("rnaseq", ["rnaseq/overlap.tsv"]),
    "rnaseq_de_counts": PanelSpec("rnaseq", ["rnaseq/de_counts.tsv"]),
    "rnaseq_pca": PanelSpec(
        "rnaseq", ["rnaseq/qc/pca.tsv", "rnaseq/qc/pca_variance.tsv", "rnaseq/samples.tsv"]
    ),
    "rnaseq_gene": PanelSpec("rnaseq", ["rnaseq/gene_panel.tsv", "rnaseq/samples.tsv"], ("gene",)),
    "statistics_table": PanelSpec("statistics", [], (), ("select",)),
    "effect_sizes": PanelSpec("statistics", [], (), ("select",)),
}
PLACEMENT = ("letter", "plot", "at", "span")


def figure_inputs(figure: Mapping) -> list[str]:
    """Result files (relative to the output folder) the figure's panels read, statistics first."""
    files = [STATISTICS]
    for panel in figure["panels"]:
        files += CATALOGUE[panel["plot"]].inputs(panel)
    return list(dict.fromkeys(files))


def _section_on(config: Mapping, section: str) -> bool:
    if section == "statistics":
        return True
    if section == "tables":
        return bool(config.get("tables"))
    value = config.get(section)
    return bool(value) and value.get("enabled", True)


def _reference_problems(config: Mapping, panel: Mapping) -> Iterator[str]:
    """Options naming something the config must declare (cohort, group, table, contrast)."""
    declared = {
        "cohort": [c["id"] for c in config["cohorts"]],
        "group": [g["id"] for g in config["groups"]],
        "table": list(config.get("tables") or {}),
        "contrast": [c["name"] for c in (config.get("rnaseq") or {}).get("contrasts", [])],
    }
    for option, known in declared.items():
        if option in panel and str(panel[option]) not in known:
            yield f"{option} '{panel[option]}' is not declared (declared: {', '.join(known)})"
    if "cohort" in panel and panel["plot"].startswith("treadmill"):
        # as exneuro.config.modality_cohorts: an empty list means every cohort
        cohorts = (config.get("treadmill") or {}).get("cohorts") or declared["cohort"]
        if panel["cohort"] not in cohorts:
            yield f"cohort '{panel['cohort']}' is not a treadmill cohort ({', '.join(cohorts)})"


def _grid_problems(figure: Mapping) -> Iterator[tuple[int, str]]:
    taken: dict[tuple[int, int], str] = {}
    for index, panel in enumerate(figure["panels"]):
        row, column = panel["at"]
        rows, columns = panel.get("span", [1, 1])
        if row + rows > figure["rows"] or column + columns > figure["columns"]:
            yield (
                index,
                (
                    f"at {panel['at']} with span {[rows, columns]} leaves the grid of "
                    f"{figure['rows']} rows × {figure['columns']} columns (counted from 0)"
                ),
            )
            continue
        for cell in (
            (r, c) for r in range(row, row + rows) for c in range(column, column + columns)
        ):
            if cell in taken:
                yield index, f"overlaps panel {taken[cell]} at row {cell[0]}, column {cell[1]}"
                break
            taken[cell] = panel["letter"]


def paper_problems(config: Mapping) -> Iterator[str]:
    """Problems of the config's ``paper`` section, each naming the figure, panel and option."""
    figures = (config.get("paper") or {}).get("figures", [])
    ids = [figure["id"] for figure in figures]
    for repeated in sorted({i for i in ids if ids.count(i) > 1}):
        yield f"paper.figures: the id '{repeated}' is declared twice"
    for f_index, figure in enumerate(figures):
        where = f"paper.figures[{f_index}] ({figure['id']})"
        letters = [panel["letter"] for panel in figure["panels"]]
        for repeated in sorted({x for x in letters if letters.count(x) > 1}):
            yield f"{where}: panel letter '{repeated}' is used twice"
        for ratios, count in (("row_heights", "rows"), ("column_widths", "columns")):
            if ratios in figure and len(figure[ratios]) != figure[count]:
                yield f"{where}.{ratios}: {len(figure[ratios])} values for {figure[count]} {count}"
        for p_index, problem in _grid_problems(figure):
            yield f"{where}.panels[{p_index}]: {problem}"
        for p_index, panel in enumerate(figure["panels"]):
            spec = CATALOGUE[panel["plot"]]
            at = f"{where}.panels[{p_index}] (letter {panel['letter']}, plot {panel['plot']})"
            if not _section_on(config, spec.section):
                yield f"{at}: needs the '{spec.section}' section, which is absent or disabled"
            for option in spec.required:
                if option not in panel:
                    yield f"{at}: option '{option}' is required"
            allowed = set(PLACEMENT) | set(spec.required) | set(spec.optional)
            for option in sorted(set(panel) - allowed):
                shown = ", ".join(spec.required + spec.optional) or "none"
                yield f"{at}: option '{option}' does not apply (its options: {shown})"
            for problem in _reference_problems(config, panel):
                yield f"{at}: {problem}"
