"""Every panel type, declared in the panel registry (:mod:`exneuro.figures.registry`): its config
section, options and the result files it reads; and the check of the config's paper figures.

Kept free of plotting imports: the workflow reads it while building the job graph (to give each
figure job exactly the files its panels read) and the config check uses it to name a wrong or
missing panel option before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from exneuro.figures.registry import PANEL_TYPES, panel_type

STATISTICS = "statistics/statistics.tsv"
TREADMILL = ["treadmill/tests.parquet"]
#: The validated sample sheet: the model factors (sex ...) a photometry panel is drawn apart by.
SAMPLE_SHEET = "config/samples.tsv"
#: Every session's binned traces: the panels read only the days they draw.
ALIGNED_TRACES = "photometry/aligned.parquet"
PHOTOMETRY_TRACES = [ALIGNED_TRACES, "photometry/qc.tsv", SAMPLE_SHEET]
RNASEQ_SAMPLES = "rnaseq/samples.tsv"
RNASEQ_GENE_NAMES = "rnaseq/gene_names.tsv"


@panel_type(
    "treadmill_course", section="treadmill", required=("cohort",), optional=("metric", "test")
)
def treadmill_course(panel: Mapping) -> list[str]:
    """Outcome at every test, mice and mean ± SEM, post-hoc stars (omnibus: the mixed model's,
    `test` to choose another)."""
    return TREADMILL


@panel_type(
    "treadmill_gain", section="treadmill", required=("cohort",), optional=("metric", "session")
)
def treadmill_gain(panel: Mapping) -> list[str]:
    """% change from baseline at a test (default the last), bars and mice."""
    return TREADMILL


@panel_type("treadmill_adaptation", section="treadmill", required=("cohort",))
def treadmill_adaptation(panel: Mapping) -> list[str]:
    """Fitted rise of each mouse's adaptation curve (%), the mice whose fit converged, with the
    two-group test of the rise."""
    return [f"treadmill/{panel['cohort']}/adaptation.tsv", SAMPLE_SHEET]


@panel_type(
    "table_plot",
    section="tables",
    required=("table",),
    optional=("outcome", "split", "title", "test"),
)
def table_plot(panel: Mapping) -> list[str]:
    """A declared table's outcome as its own figure draws it (`line` or `bars`; post-hoc stars
    when its rows include `emm_contrast`)."""
    return [f"tables/{panel['table']}/data.tsv"]


@panel_type(
    "photometry_trace", section="photometry", required=("group",), optional=("days", "event")
)
def photometry_trace(panel: Mapping) -> list[str]:
    """One group's ΔF/F around the run, an event (cue, lick …) or over the whole session, first
    vs last day."""
    return PHOTOMETRY_TRACES


@panel_type("photometry_heatmap", section="photometry", optional=("day", "event"))
def photometry_heatmap(panel: Mapping) -> list[str]:
    """Every mouse × time on one day (default the last), aligned as the traces (`event`)."""
    return PHOTOMETRY_TRACES


@panel_type("photometry_window", section="photometry", optional=("window", "metric"))
def photometry_window(panel: Mapping) -> list[str]:
    """A window metric across training days with contrast stars."""
    return ["photometry/metrics.tsv", "photometry/qc.tsv", SAMPLE_SHEET]


@panel_type("photometry_peri_event", section="photometry", optional=("event", "day"))
def photometry_peri_event(panel: Mapping) -> list[str]:
    """Waveforms ± CI around any declared event, with the significant intervals."""
    return ["photometry/waveforms.tsv", "photometry/significant_intervals.tsv"]


@panel_type("photometry_qc", section="photometry")
def photometry_qc(panel: Mapping) -> list[str]:
    """Control-fit R² against residual motion, thresholds, exclusions."""
    return ["photometry/qc.tsv"]


@panel_type("ephys_fi", section="ephys")
def ephys_fi(panel: Mapping) -> list[str]:
    """F–I curves, mouse means and mean ± SEM of mice."""
    return ["ephys/steps.parquet", SAMPLE_SHEET]


@panel_type("ephys_property", section="ephys", required=("outcome",), optional=("test",))
def ephys_property(panel: Mapping) -> list[str]:
    """One per-cell property as a SuperPlot."""
    return ["ephys/cells.parquet", SAMPLE_SHEET]


@panel_type("ephys_cdf", section="ephys", required=("value",))
def ephys_cdf(panel: Mapping) -> list[str]:
    """Cumulative distribution of sEPSC intervals or amplitudes per group."""
    return ["ephys/events.parquet", SAMPLE_SHEET]


@panel_type("spine_density", section="spines", optional=("spine_type", "test"))
def spine_density(panel: Mapping) -> list[str]:
    """Spine density (all or one type) as a SuperPlot."""
    return ["spines/segment_density.parquet", SAMPLE_SHEET]


@panel_type("histology_percent", section="histology", required=("marker",))
def histology_percent(panel: Mapping) -> list[str]:
    """% marker-positive labelled neurons as a SuperPlot."""
    return ["histology/sections.tsv", SAMPLE_SHEET]


def de_table(panel: Mapping) -> str:
    """The DE table of a panel's contrast: our DESeq2 result, or with ``facility`` the
    sequencing facility's precomputed table of that name (``rnaseq.precomputed_de``)."""
    folder = "facility" if panel.get("facility") else "de"
    return f"rnaseq/{folder}/{panel['contrast']}.tsv"


def _de_files(panel: Mapping) -> list[str]:
    return [de_table(panel)] + ([] if panel.get("facility") else [RNASEQ_GENE_NAMES])


@panel_type(
    "rnaseq_volcano",
    section="rnaseq",
    required=("contrast",),
    optional=("title", "facility", "n_labels"),
)
def rnaseq_volcano(panel: Mapping) -> list[str]:
    """Volcano plot of one contrast, DE genes coloured, the top genes named."""
    return _de_files(panel)


@panel_type(
    "rnaseq_ma",
    section="rnaseq",
    required=("contrast",),
    optional=("title", "facility", "n_labels"),
)
def rnaseq_ma(panel: Mapping) -> list[str]:
    """MA plot of one contrast: log2 fold change against mean expression, DE genes coloured,
    the top genes named."""
    return _de_files(panel)


@panel_type("rnaseq_heatmap", section="rnaseq", required=("contrast",))
def rnaseq_heatmap(panel: Mapping) -> list[str]:
    """Z-scored expression (VST) of the contrast's top genes (`rnaseq.figures.heatmap_top`) in
    every sample, samples by condition, genes clustered."""
    return ["rnaseq/vst.parquet", de_table(panel), RNASEQ_SAMPLES, RNASEQ_GENE_NAMES]


@panel_type("rnaseq_library_sizes", section="rnaseq")
def rnaseq_library_sizes(panel: Mapping) -> list[str]:
    """Reads counted per sample, by condition."""
    return ["rnaseq/qc/library_sizes.tsv", RNASEQ_SAMPLES]


@panel_type("rnaseq_distances", section="rnaseq")
def rnaseq_distances(panel: Mapping) -> list[str]:
    """Euclidean distances between the samples' variance-stabilized counts."""
    return ["rnaseq/qc/sample_distances.tsv", RNASEQ_SAMPLES]


@panel_type("rnaseq_overlap", section="rnaseq")
def rnaseq_overlap(panel: Mapping) -> list[str]:
    """Area-proportional Venn of the training response kept and lost under the manipulation."""
    return ["rnaseq/overlap.tsv"]


@panel_type("rnaseq_de_counts", section="rnaseq")
def rnaseq_de_counts(panel: Mapping) -> list[str]:
    """Number of DE genes per contrast, up and down."""
    return ["rnaseq/de_counts.tsv"]


@panel_type("rnaseq_pca", section="rnaseq")
def rnaseq_pca(panel: Mapping) -> list[str]:
    """PCA of the variance-stabilized counts, samples coloured by condition."""
    return ["rnaseq/qc/pca.tsv", "rnaseq/qc/pca_variance.tsv", RNASEQ_SAMPLES]


@panel_type("rnaseq_gene", section="rnaseq", required=("gene",))
def rnaseq_gene(panel: Mapping) -> list[str]:
    """Normalized counts of one gene, every mouse a point, bars mean ± SEM."""
    return ["rnaseq/gene_panel.tsv", RNASEQ_SAMPLES]


@panel_type("statistics_table", section="statistics", optional=("select",))
def statistics_table(panel: Mapping) -> list[str]:
    """Selected statistics rows as a table (`select`: column → value or list)."""
    return []


@panel_type("effect_sizes", section="statistics", optional=("select",))
def effect_sizes(panel: Mapping) -> list[str]:
    """Estimates of the selected statistics rows with their confidence intervals."""
    return []


PLACEMENT = ("letter", "plot", "at", "span")


def figure_inputs(figure: Mapping) -> list[str]:
    """Result files (relative to the output folder) the figure's panels read, statistics first."""
    files = [STATISTICS]
    for panel in figure["panels"]:
        files += PANEL_TYPES[panel["plot"]].inputs(panel)
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
    if panel.get("facility"):  # a facility's table, named under rnaseq.precomputed_de
        declared["contrast"] = list((config.get("rnaseq") or {}).get("precomputed_de", {}))
    for option, known in declared.items():
        if option in panel and str(panel[option]) not in known:
            yield f"{option} '{panel[option]}' is not declared (declared: {', '.join(known)})"
    photometry = config.get("photometry") or {}
    if "event" in panel and photometry:
        events = list(photometry.get("peri_event", {}).get("events", ["offset"]))
        whole = "session" if photometry.get("run_event", "run") is None else "run"
        if str(panel["event"]) not in [whole, *events]:
            yield (
                f"event '{panel['event']}' is not an alignment of the recordings (choose "
                f"{', '.join([whole, *events])}: '{whole}', or an event named under "
                "photometry.peri_event.events)"
            )
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
            spec = PANEL_TYPES[panel["plot"]]
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
