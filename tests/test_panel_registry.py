"""One panel registry for every figure: the standard figure of each analysis is a declaration of
registered panel types, valid as a paper figure, drawn by the one composer; and a panel type a
standard figure uses works in a paper figure of the config."""

from __future__ import annotations

import ast
import copy

import pandas as pd
import pytest
from conftest import REPO

from exneuro.cellular.ephys_stats import CELL_OUTCOMES
from exneuro.config import ConfigError, validate_config
from exneuro.figures.registry import DRAW, PANEL_TYPES
from exneuro.paper import compose  # noqa: F401  (imports every drawing module)
from exneuro.paper.catalogue import figure_inputs, paper_problems
from exneuro.paper.standard.activity import photometry_layout
from exneuro.paper.standard.behaviour import table_layout, treadmill_layout
from exneuro.paper.standard.cellular import ephys_layout, histology_layout, spine_layout
from exneuro.paper.standard.transcriptome import contrast_layout, overview_layout, qc_layout

#: The modules the workflow's figure scripts draw through, and the one composer they all call.
STANDARD = "exneuro.paper.standard."
COMPOSER = "exneuro.paper.compose"
PANELS = "exneuro.paper.panels"  # the study a paper figure's panels read


def standard_figures(config) -> list[dict]:
    """The standard figure of every analysis of ``config``, as the workflow declares them."""
    figures = [treadmill_layout(cohort) for cohort in config["treadmill"]["cohorts"]]
    for key, table in config["tables"].items():
        splits = {column: ["a", "b"] for column in table.get("split_by", [])}
        figures.append(table_layout(key, pd.DataFrame(splits or {"x": [0]}), table))
    spines = config["spines"]
    figures.append(spine_layout(spines["cohort"], spines["spine_types"]))
    figures.append(histology_layout(config["histology"]["cohort"], ["Fos", "Bdnf"]))
    ephys = config["ephys"]
    outcomes = ephys["statistics"].get("outcomes") or CELL_OUTCOMES
    figures.append(ephys_layout(ephys["cohort"], outcomes[:8], with_events=True))
    photometry = config["photometry"]
    cohort = next(c for c in config["cohorts"] if c["id"] == photometry["cohort"])
    figures.append(photometry_layout(cohort["groups"], photometry["figure"].get("days")))
    rnaseq = config["rnaseq"]
    contrasts = [c["name"] for c in rnaseq["contrasts"]]
    figures += [overview_layout(contrasts[0], rnaseq["genes"]), qc_layout()]
    figures += [contrast_layout(name, name, 10) for name in contrasts]
    return figures


def test_every_standard_figure_is_a_valid_paper_figure_of_registered_panels(example_config):
    figures = standard_figures(example_config)
    kinds = {panel["plot"] for figure in figures for panel in figure["panels"]}
    assert kinds <= set(PANEL_TYPES) and kinds <= set(DRAW)
    # every modality's panels are covered: behaviour, tables, cellular, photometry, RNA-seq
    assert {"treadmill_adaptation", "table_plot", "ephys_cdf", "photometry_heatmap"} <= kinds
    assert {"rnaseq_ma", "rnaseq_heatmap", "rnaseq_library_sizes", "rnaseq_distances"} <= kinds
    # the config's own check of paper figures finds nothing wrong: the options, the grid and
    # every cohort, table and contrast named are those of the study
    checked = {**example_config, "paper": {"figures": figures}}
    assert list(paper_problems(checked)) == []
    # a broken standard declaration would be named, not drawn
    broken = copy.deepcopy(figures)
    broken[0]["panels"][2]["cohort"] = "no_such_cohort"
    assert any("no_such_cohort" in problem for problem in paper_problems({**checked, "paper": {
        "figures": broken}}))  # fmt: skip


def _imported(path) -> dict[str, set[str]]:
    """Module -> names a Python file imports from it."""
    imported: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.setdefault(node.module, set()).update(a.name for a in node.names)
    return imported


def test_every_figure_script_draws_through_the_composer_only():
    scripts = sorted((REPO / "scripts").glob("*figure*.py"))
    assert len(scripts) == 10  # every figure rule's script, the paper figures' too
    for script in scripts:
        modules = _imported(script)
        drawing = [m for m in modules if m.startswith(("exneuro.figures.", "exneuro.paper."))]
        assert drawing, script.name
        for module in drawing:
            if module.startswith(STANDARD) or module in (COMPOSER, PANELS):
                continue
            # besides the composer, a script imports only labels (no drawing function)
            assert module == "exneuro.figures.rnaseq" and modules[module] == {"contrast_label"}, (
                script.name,
                module,
            )
    # the composer is the only library code that creates a matplotlib figure
    creating = [
        path.relative_to(REPO / "src").as_posix()
        for path in sorted((REPO / "src" / "exneuro").rglob("*.py"))
        if any(
            call in path.read_text(encoding="utf-8")
            for call in ("plt.figure(", "plt.subplots(", "save_with_source_data(")
        )
    ]
    assert creating == ["exneuro/figures/style.py", "exneuro/paper/compose.py"]


def test_a_standard_figure_panel_type_is_usable_in_a_paper_figure(
    raw_example_config, config_schema
):
    raw = copy.deepcopy(raw_example_config)
    figure = {
        "id": "adaptation",
        "title": "Adaptation",
        "width": "single",
        "height_mm": 60,
        "rows": 1,
        "columns": 2,
        "panels": [
            {"letter": "A", "plot": "treadmill_adaptation", "at": [0, 0], "cohort": "silencing"},
            {"letter": "B", "plot": "rnaseq_ma", "at": [0, 1], "contrast": "training_silenced"},
        ],
    }
    raw["paper"]["figures"].append(figure)
    config = validate_config(raw, config_schema, "config/config.yaml")
    declared = {f["id"]: f for f in config["paper"]["figures"]}["adaptation"]
    assert figure_inputs(declared) == [
        "statistics/statistics.tsv",
        "treadmill/silencing/adaptation.tsv",
        "config/samples.tsv",
        "rnaseq/de/training_silenced.tsv",
        "rnaseq/gene_names.tsv",
    ]
    figure["panels"][0]["cohort"] = "plasticity"
    with pytest.raises(ConfigError, match="cohort 'plasticity' is not a treadmill cohort"):
        validate_config(raw, config_schema, "config/config.yaml")
