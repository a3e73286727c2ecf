"""Muscle RNA-seq panels: volcano and MA plot per contrast, overlap of the training response,
DE counts, heatmap of the top genes, PCA, normalized expression of one gene (each mouse a
point), and the sample QC (library sizes, sample distances)."""

from __future__ import annotations

from collections.abc import Mapping

from exneuro.figures.registry import draws
from exneuro.figures.rnaseq import (
    condition_label,
    conditions_in_order,
    contrast_label,
    de_count_bars,
    gene_expression,
    heatmap,
    pca_plot,
    venn2,
)
from exneuro.figures.rnaseq_genes import ma_plot, volcano
from exneuro.figures.rnaseq_qc import distance_heatmap, library_size_bars
from exneuro.paper.catalogue import de_table
from exneuro.paper.panels import Panel, Study, choose
from exneuro.rnaseq.summary import top_genes

SAMPLES = "rnaseq/samples.tsv"
GENE_NAMES = "rnaseq/gene_names.tsv"
OVERLAP = "rnaseq/overlap.tsv"
DE_COUNTS = "rnaseq/de_counts.tsv"
GENE_PANEL = "rnaseq/gene_panel.tsv"
PCA = ("rnaseq/qc/pca.tsv", "rnaseq/qc/pca_variance.tsv")
VST = "rnaseq/vst.parquet"
LIBRARY_SIZES = "rnaseq/qc/library_sizes.tsv"
DISTANCES = "rnaseq/qc/sample_distances.tsv"
#: Genes named on a paper volcano panel at most (a panel is a quarter of the page wide).
PANEL_LABELS = 6


def _conditions(study: Study) -> tuple[str, list[str], dict[str, str], dict[str, str]]:
    """The colour column, its levels in display order, their colours and their labels."""
    section = study.section("rnaseq")
    groups = study.settings["groups"]
    order, colours = conditions_in_order(study.table(SAMPLES), section, groups)
    labels = {level: condition_label(level, groups) for level in order}
    return section["colour_column"], order, colours, labels


def _contrast_labels(study: Study) -> dict[str, str]:
    groups = study.settings["groups"]
    return {
        c["name"]: contrast_label(c, groups) for c in study.section("rnaseq").get("contrasts", [])
    }


def _gene_plot(draw, axis, panel: Mapping, study: Study):
    """A volcano or MA plot of the panel's contrast (``draw``), with its table and title."""
    section = study.section("rnaseq")
    contrast = panel["contrast"]
    table = study.table(de_table(panel))
    names = None
    if not panel.get("facility"):
        names = study.table(GENE_NAMES).set_index("gene_id")["gene_name"]
    title = panel.get("title") or _contrast_labels(study).get(contrast, contrast.replace("_", " "))
    source = draw(
        axis,
        table,
        alpha=section["alpha"],
        lfc_threshold=section["lfc_threshold"],
        n_labels=panel.get("n_labels", min(section["figures"]["n_labels"], PANEL_LABELS)),
        gene_names=names,
        title=title.replace(": ", ":\n"),
    )
    return source.assign(contrast=contrast), table, title


def _tested(table, section: Mapping, panel: Mapping) -> str:
    tested = table["padj"].notna().sum()
    significant = (table["padj"] < section["alpha"]).sum()
    method = (
        "the facility's test, as delivered"
        if panel.get("facility")
        else "DESeq2 Wald test, Benjamini-Hochberg FDR"
    )
    return (
        f"{tested:,} genes tested ({method}); {significant:,} genes at FDR < "
        f"{section['alpha']:g} coloured"
    )


@draws("rnaseq_volcano")
def rnaseq_volcano(axis, panel: Mapping, study: Study) -> Panel:
    """Volcano plot of one contrast: DE genes coloured, the top genes named."""
    source, table, title = _gene_plot(volcano, axis, panel, study)
    plotted = f"Differential expression, {title}: log2 fold change against −log10 p of " + _tested(
        table, study.section("rnaseq"), panel
    )
    return Panel(source, plotted)


@draws("rnaseq_ma")
def rnaseq_ma(axis, panel: Mapping, study: Study) -> Panel:
    """MA plot of one contrast: log2 fold change against mean expression, DE genes coloured."""
    source, table, title = _gene_plot(ma_plot, axis, panel, study)
    plotted = (
        f"Differential expression, {title}: log2 fold change against the mean of normalized "
        "counts of " + _tested(table, study.section("rnaseq"), panel)
    )
    return Panel(source, plotted)


@draws("rnaseq_heatmap")
def rnaseq_heatmap(axis, panel: Mapping, study: Study) -> Panel:
    """Z-scored VST expression of the top genes of one contrast in every sample."""
    section = study.section("rnaseq")
    column, order, colours, labels = _conditions(study)
    top = top_genes(
        study.table(de_table(panel)), section["figures"]["heatmap_top"], alpha=section["alpha"]
    )
    genes = list(top["gene_id"])
    source = heatmap(
        axis,
        study.table(VST).set_index("gene_id"),
        genes,
        study.table(SAMPLES).set_index("sample"),
        column,
        order,
        colours,
        study.table(GENE_NAMES).set_index("gene_id")["gene_name"],
        labels,
    )
    title = _contrast_labels(study).get(panel["contrast"], panel["contrast"].replace("_", " "))
    plotted = (
        f"Variance-stabilized expression of the {len(genes)} genes with the smallest adjusted p "
        f"in {title} (z-scored per gene; genes ordered by average-linkage clustering)"
    )
    return Panel(source, plotted)


@draws("rnaseq_library_sizes")
def rnaseq_library_sizes(axis, panel: Mapping, study: Study) -> Panel:
    """Reads counted per sample, samples by condition."""
    column, order, colours, _ = _conditions(study)
    samples = study.table(SAMPLES).set_index("sample")
    source = library_size_bars(axis, study.table(LIBRARY_SIZES), samples, column, order, colours)
    return Panel(source, f"Reads counted in each of the {len(samples)} samples")


@draws("rnaseq_distances")
def rnaseq_distances(axis, panel: Mapping, study: Study) -> Panel:
    """Euclidean distances between samples (variance-stabilized counts)."""
    column, order, _, _ = _conditions(study)
    samples = study.table(SAMPLES).set_index("sample")
    distances = study.table(DISTANCES).set_index("sample")
    source = distance_heatmap(axis, distances, samples, column, order)
    plotted = "Euclidean distances between the samples' variance-stabilized counts"
    return Panel(source, plotted)


@draws("rnaseq_overlap")
def rnaseq_overlap(axis, panel: Mapping, study: Study) -> Panel:
    """Area-proportional Venn of the training response kept and lost under the manipulation."""
    overlap = study.table(OVERLAP)
    if overlap.empty:  # the config declares no 'overlap' of two contrasts
        axis.axis("off")
        axis.text(
            0.5,
            0.5,
            "No overlap of two contrasts\ndeclared in the config",
            ha="center",
            va="center",
        )
        return Panel(overlap, "No overlap of two contrasts declared")
    row = overlap.iloc[0]
    groups = study.cohort(study.section("rnaseq")["cohort"])["groups"]
    names = _contrast_labels(study)
    reference = names.get(row["reference"], str(row["reference"]).replace("_", " "))
    comparison = names.get(row["comparison"], str(row["comparison"]).replace("_", " "))
    source = venn2(
        axis,
        int(row["n_lost"] + row["n_reversed"]),
        int(row["n_shared"]),
        int(row["n_gained"] + row["n_reversed"]),
        (reference.replace(": ", "\n"), comparison.replace(": ", "\n")),
        (study.colours[groups[0]], study.colours[groups[-1]]),
    )
    plotted = (
        f"Genes changed by training (FDR < {row['alpha']:g}) in {reference} and "
        f"{comparison}: {int(row['n_lost'])} lost, {int(row['n_shared'])} shared, "
        f"{int(row['n_gained'])} gained ({100 * row['fraction_lost']:.0f}% of the reference "
        "response lost)"
    )
    return Panel(source, plotted)


@draws("rnaseq_de_counts")
def rnaseq_de_counts(axis, panel: Mapping, study: Study) -> Panel:
    """Number of DE genes per contrast, up and down."""
    counts = study.table(DE_COUNTS)
    source = de_count_bars(axis, counts, _contrast_labels(study))
    plotted = (
        f"Genes up (above zero) and down (below) at FDR < {counts['alpha'].iloc[0]:g} in each "
        "contrast"
    )
    return Panel(source, plotted)


@draws("rnaseq_pca")
def rnaseq_pca(axis, panel: Mapping, study: Study) -> Panel:
    """PCA of the variance-stabilized counts, samples coloured by condition."""
    column, order, colours, labels = _conditions(study)
    samples = study.table(SAMPLES).set_index("sample")
    source = pca_plot(
        axis, study.table(PCA[0]), study.table(PCA[1]), samples, column, order, colours, labels
    )
    plotted = f"Principal components of the variance-stabilized counts ({len(samples)} samples)"
    return Panel(source, plotted)


@draws("rnaseq_gene")
def rnaseq_gene(axis, panel: Mapping, study: Study) -> Panel:
    """Normalized counts of one gene: every mouse a point, bars mean ± SEM."""
    column, order, colours, labels = _conditions(study)
    genes = study.table(GENE_PANEL)
    names = list(dict.fromkeys(genes["gene_name"]))
    name = choose(panel["gene"], names, "gene (rnaseq.genes)")
    part = genes[genes["gene_name"] == name]
    source = gene_expression(axis, part, column, order, colours, labels, title=name)
    counts = part.groupby(column)["mouse_id"].nunique()
    n = ", ".join(f"{int(counts.get(level, 0))} {labels[level]}" for level in order)
    # the DESeq2 rows carry the total n only: the legend keeps the per-condition count
    rows = study.rows(analysis="rnaseq", outcome=f"{name} log2 expression")
    plotted = (
        f"{name} normalized counts (DESeq2 size factors) of {n} mice; points, mice; bars, "
        "mean ± SEM"
    )
    return Panel(source.assign(gene=name), plotted, rows)
