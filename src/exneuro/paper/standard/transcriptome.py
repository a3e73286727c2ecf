"""The standard RNA-seq figures: the overview (PCA, DE counts, overlap of the training
response, heatmap of the top genes, key genes), the sample QC figure, and a volcano and MA plot
of every contrast (ours, or a facility's precomputed tables)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from exneuro.paper.catalogue import de_table
from exneuro.paper.compose import compose_figure
from exneuro.paper.panels import Study
from exneuro.paper.standard import letter
from exneuro.paper.transcriptome import GENE_PANEL

#: Heights of the overview's rows: first panels, heatmap, a row of gene panels (mm).
OVERVIEW_ROWS_MM = (58.0, 80.0, 45.0)
#: Gene panels per row of the overview.
GENES_PER_ROW = 3


def overview_layout(first_contrast: str, genes: Sequence[str]) -> dict:
    """The RNA-seq overview: PCA (A), DE counts (B), overlap of the training response (C), the
    heatmap of the first contrast's top genes across the page (D), then one panel per key gene
    (``genes``: their names), three per row."""
    rows = 2 + -(-len(genes) // GENES_PER_ROW)
    panels = [
        {"letter": "A", "plot": "rnaseq_pca", "at": [0, 0]},
        {"letter": "B", "plot": "rnaseq_de_counts", "at": [0, 1]},
        {"letter": "C", "plot": "rnaseq_overlap", "at": [0, 2]},
        {
            "letter": "D",
            "plot": "rnaseq_heatmap",
            "at": [1, 0],
            "span": [1, 3],
            "contrast": first_contrast,
        },
    ]
    panels += [
        {
            "letter": letter(4 + k),
            "plot": "rnaseq_gene",
            "at": [2 + k // GENES_PER_ROW, k % GENES_PER_ROW],
            "gene": gene,
        }
        for k, gene in enumerate(genes)
    ]
    heights = [*OVERVIEW_ROWS_MM[:2], *[OVERVIEW_ROWS_MM[2]] * (rows - 2)]
    return {
        "id": "rnaseq",
        "title": "Muscle RNA-seq",
        "width": "full",
        "height_mm": sum(heights),
        "rows": rows,
        "columns": GENES_PER_ROW,
        "row_heights": heights,
        "panels": panels,
    }


def qc_layout() -> dict:
    """The sample QC figure: library sizes (A), sample distances (B), PCA (C)."""
    plots = ("rnaseq_library_sizes", "rnaseq_distances", "rnaseq_pca")
    return {
        "id": "rnaseq_qc",
        "title": "RNA-seq sample quality control",
        "width": "full",
        "height_mm": 80.0,
        "rows": 1,
        "columns": 3,
        "column_widths": [1.2, 1.3, 1.0],
        "panels": [
            {"letter": letter(i), "plot": plot, "at": [0, i]} for i, plot in enumerate(plots)
        ],
    }


def contrast_layout(contrast: str, title: str, n_labels: int, facility: bool = False) -> dict:
    """Volcano (A) and MA plot (B) of one contrast, ``n_labels`` top genes named on each;
    ``facility``: the facility's precomputed table of that name."""
    options = {"contrast": contrast, "title": title, "n_labels": n_labels}
    options |= {"facility": True} if facility else {}
    return {
        "id": contrast,
        "title": title,
        "width": "full",
        "height_mm": 62.0,
        "rows": 1,
        "columns": 2,
        "panels": [
            {"letter": "A", "plot": "rnaseq_volcano", "at": [0, 0]} | options,
            {"letter": "B", "plot": "rnaseq_ma", "at": [0, 1]} | options,
        ],
    }


def _study(
    tables: Mapping[str, pd.DataFrame],
    section: Mapping,
    groups: Sequence[Mapping],
    cohort: Mapping | None = None,
) -> Study:
    """The study the RNA-seq panels read: the tables, no statistics rows (a DE table is its own
    statistics), the groups and the rnaseq section; ``cohort``: the sequenced cohort's entry
    (its groups colour the overlap panel), when a panel needs it."""
    cohorts = [cohort] if cohort else []
    statistics = pd.DataFrame(columns=["analysis", "outcome", "subset", "test", "term", "p_adj"])
    return Study(
        tables, statistics, {"groups": list(groups), "cohorts": cohorts, "rnaseq": section}
    )


def overview_figure(
    tables: Mapping[str, pd.DataFrame],
    section: Mapping,
    cohort: Mapping,
    groups: Sequence[Mapping],
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
) -> dict[str, pd.DataFrame]:
    """Draw and save the RNA-seq overview (:func:`overview_layout`) of the sequenced ``cohort``
    (its config entry) from the result tables, named by their path in the output folder; return
    each panel's source data."""
    genes = list(dict.fromkeys(tables[GENE_PANEL]["gene_name"]))
    first = section["contrasts"][0]["name"]
    panels = compose_figure(
        overview_layout(first, genes),
        _study(tables, section, groups, cohort),
        style,
        figure_paths,
        source_data_dir,
        where="the RNA-seq figure",
    )
    return {name: panel.source for name, panel in panels.items()}


def qc_figure(
    tables: Mapping[str, pd.DataFrame],
    section: Mapping,
    groups: Sequence[Mapping],
    style: Mapping,
    figure_paths: Sequence[str],
    source_data_dir: str,
) -> dict[str, pd.DataFrame]:
    """Draw and save the sample QC figure (:func:`qc_layout`); return each panel's source
    data."""
    panels = compose_figure(
        qc_layout(),
        _study(tables, section, groups),
        style,
        figure_paths,
        source_data_dir,
        where="the RNA-seq QC figure",
    )
    return {name: panel.source for name, panel in panels.items()}


def contrast_figures(
    results: Mapping[str, pd.DataFrame],
    section: Mapping,
    groups: Sequence[Mapping],
    style: Mapping,
    folder: str | Path,
    *,
    gene_names: pd.DataFrame | None = None,
    titles: Mapping[str, str] | None = None,
    facility: bool = False,
) -> None:
    """Volcano and MA plots of every contrast of ``results`` into ``folder``
    (``<contrast>.<format>`` and ``<contrast>_source_data/``), titled by ``titles``;
    ``facility``: the tables are a facility's precomputed ones (no gene-name table)."""
    folder = Path(folder)
    for name, table in results.items():
        title = (titles or {}).get(name, name.replace("_", " "))
        layout = contrast_layout(name, title, section["figures"]["n_labels"], facility)
        tables = {de_table(layout["panels"][0]): table}
        if gene_names is not None:
            tables["rnaseq/gene_names.tsv"] = gene_names
        compose_figure(
            layout,
            _study(tables, section, groups),
            style,
            [str(folder / f"{name}.{fmt}") for fmt in style["formats"]],
            str(folder / f"{name}_source_data"),
            where=f"the figure of contrast {name}",
        )
