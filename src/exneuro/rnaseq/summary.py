"""What a lab reports from DE tables: how many genes change, how much of a response is lost in
another group and the key genes per mouse (over-represented gene sets:
:mod:`exneuro.rnaseq.enrichment`).

A gene is *differentially expressed* (DE) in a contrast when its adjusted p is below ``alpha``
(the FDR) and, if ``lfc_threshold`` > 0, its |log2 fold change| is at least the threshold (a
post-hoc filter on the MLE fold change; for a formal test of |LFC| > t give DESeq2's
``lfc_null`` instead). Genes with padj NA (independently filtered, Cook's outliers) are not DE.

The training response *lost* in a group: genes DE in the reference contrast (trained vs sedentary
in control mice) and not DE in the comparison contrast (trained vs sedentary in silenced mice).
"Not significant" is not "no change" (absence of evidence), so the overlap also reports the
through-origin slope of the comparison's fold changes on the reference's over the reference's DE
genes (1 = the whole response kept, 0 = none of it; biased towards 0 by the selection of the
reference genes, which inflates their fold changes) and, when an interaction contrast is given,
how many lost genes also differ significantly in their response — the formal test of a loss.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError

CATEGORY_ORDER = ("shared", "lost", "gained", "reversed")


def call_de(
    table: pd.DataFrame,
    alpha: float = 0.05,
    lfc_threshold: float = 0.0,
    lfc_column: str = "log2FoldChange",
) -> pd.Series:
    """Per gene: 'up', 'down' or '' (not DE) at FDR ``alpha`` and |log2FC| >= ``lfc_threshold``."""
    padj = table["padj"].to_numpy(float)
    lfc = table[lfc_column].to_numpy(float)
    de = (padj < alpha) & (np.abs(lfc) >= lfc_threshold)  # NaN padj compares False
    direction = np.where(de & (lfc > 0), "up", np.where(de & (lfc < 0), "down", ""))
    return pd.Series(direction, index=table.index, name="direction")


def de_counts(
    results: Mapping[str, pd.DataFrame], alpha: float = 0.05, lfc_threshold: float = 0.0
) -> pd.DataFrame:
    """Number of DE genes per contrast and direction (up, down, total) with the number tested
    (padj not NA) and the thresholds used."""
    rows = []
    for contrast, table in results.items():
        direction = call_de(table, alpha, lfc_threshold)
        tested = int(table["padj"].notna().sum())
        for name, n in (
            ("up", int((direction == "up").sum())),
            ("down", int((direction == "down").sum())),
            ("total", int((direction != "").sum())),
        ):
            rows.append(
                {
                    "contrast": contrast,
                    "direction": name,
                    "n_genes": n,
                    "n_tested": tested,
                    "alpha": alpha,
                    "lfc_threshold": lfc_threshold,
                }
            )
    return pd.DataFrame(rows)


def response_overlap(
    results: Mapping[str, pd.DataFrame],
    reference: str,
    comparison: str,
    alpha: float = 0.05,
    lfc_threshold: float = 0.0,
    interaction: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Overlap of the genes DE in two contrasts (e.g. training in control vs in silenced mice).

    Returns (genes, summary). ``genes``: every gene DE in either contrast with its category —
    'shared' (DE in both, same direction), 'lost' (reference only), 'gained' (comparison only),
    'reversed' (both, opposite directions) — and both fold changes and adjusted p (and the
    interaction's). ``summary``: one row with the Venn counts, the fraction of the reference
    response lost, the through-origin slope of comparison on reference fold changes, and the
    lost genes whose interaction padj < alpha.
    """
    for name in (reference, comparison, interaction):
        if name is not None and name not in results:
            raise ConfigError(
                f"no contrast '{name}' among the results ({', '.join(results)}) — fix the "
                "overlap contrast names in the config"
            )
    ref = results[reference].set_index("gene_id")
    cmp = results[comparison].set_index("gene_id").reindex(ref.index)
    ref_dir = call_de(ref, alpha, lfc_threshold)
    cmp_dir = call_de(cmp, alpha, lfc_threshold)
    category = np.select(
        [
            (ref_dir != "") & (cmp_dir == ref_dir),
            (ref_dir != "") & (cmp_dir == ""),
            (ref_dir == "") & (cmp_dir != ""),
            (ref_dir != "") & (cmp_dir != "") & (cmp_dir != ref_dir),
        ],
        list(CATEGORY_ORDER),
        default="",
    )
    genes = pd.DataFrame(
        {
            "gene_id": ref.index.astype(str),
            "category": category,
            f"log2FoldChange_{reference}": ref["log2FoldChange"].to_numpy(),
            f"padj_{reference}": ref["padj"].to_numpy(),
            f"log2FoldChange_{comparison}": cmp["log2FoldChange"].to_numpy(),
            f"padj_{comparison}": cmp["padj"].to_numpy(),
        }
    )
    if interaction is not None:
        inter = results[interaction].set_index("gene_id").reindex(ref.index)
        genes[f"log2FoldChange_{interaction}"] = inter["log2FoldChange"].to_numpy()
        genes[f"padj_{interaction}"] = inter["padj"].to_numpy()
    genes = genes[genes["category"] != ""].reset_index(drop=True)
    counts = genes["category"].value_counts().reindex(list(CATEGORY_ORDER), fill_value=0)
    n_reference = int((ref_dir != "").sum())
    ref_de = (ref_dir != "").to_numpy()
    x = ref["log2FoldChange"].to_numpy(float)[ref_de]
    y = np.nan_to_num(cmp["log2FoldChange"].to_numpy(float)[ref_de])
    slope = float(np.sum(x * y) / np.sum(x * x)) if n_reference else np.nan
    summary = {
        "reference": reference,
        "comparison": comparison,
        "alpha": alpha,
        "lfc_threshold": lfc_threshold,
        "n_de_reference": n_reference,
        "n_de_comparison": int((cmp_dir != "").sum()),
        "n_shared": int(counts["shared"]),
        "n_lost": int(counts["lost"]),
        "n_gained": int(counts["gained"]),
        "n_reversed": int(counts["reversed"]),
        "fraction_lost": counts["lost"] / n_reference if n_reference else np.nan,
        "response_slope": slope,
    }
    if interaction is not None:
        lost = genes["category"] == "lost"
        summary["interaction"] = interaction
        summary["n_lost_interaction_significant"] = int(
            (genes.loc[lost, f"padj_{interaction}"] < alpha).sum()
        )
    return genes, pd.DataFrame([summary])


def top_genes(table: pd.DataFrame, n: int = 20, alpha: float | None = None) -> pd.DataFrame:
    """The ``n`` genes with the smallest adjusted p (ties by larger |log2FC|, then gene id);
    with ``alpha``, only genes below it."""
    ranked = table.assign(_abs=-table["log2FoldChange"].abs()).sort_values(
        ["padj", "_abs", "gene_id"], na_position="last", kind="stable"
    )
    if alpha is not None:
        ranked = ranked[ranked["padj"] < alpha]
    return ranked.drop(columns="_abs").head(n).reset_index(drop=True)


def heatmap_genes(results: Mapping[str, pd.DataFrame], section: Mapping) -> list[str]:
    """Top genes of the first contrast (by padj) for the heatmap."""
    first = next(iter(results.values()))
    return list(
        top_genes(first, section["figures"]["heatmap_top"], alpha=section["alpha"])["gene_id"]
    )


def resolve_genes(
    genes: Sequence[str], gene_names: pd.Series, where: str = "rnaseq genes"
) -> pd.DataFrame:
    """Configured genes (ids or symbols) -> rows (gene, gene_id, gene_name), in config order.

    A gene id matches first, then an exact symbol, then a symbol ignoring case. An unknown gene
    stops the run with the closest names suggested.
    """
    ids = pd.Index(gene_names.index.astype(str))
    symbols = gene_names.astype(str).to_numpy()
    lower = np.char.lower(symbols.astype(str))
    rows = []
    for gene in genes:
        if gene in ids:
            hits = [ids.get_loc(gene)]
        else:
            hits = list(np.flatnonzero(symbols == gene)) or list(
                np.flatnonzero(lower == gene.lower())
            )
        if not hits:
            close = difflib.get_close_matches(gene, list(symbols) + list(ids), n=3, cutoff=0.75)
            hint = f"did you mean {', '.join(close)}?" if close else "check the spelling"
            raise ConfigError(f"{where}: gene '{gene}' is not in the counts — {hint}")
        for hit in hits:
            rows.append({"gene": gene, "gene_id": ids[hit], "gene_name": symbols[hit]})
    return pd.DataFrame(rows)


def gene_panel(
    normalized: pd.DataFrame,
    samples: pd.DataFrame,
    genes: Sequence[str],
    gene_names: pd.Series | None = None,
) -> pd.DataFrame:
    """Normalized counts of the configured genes for every sample (one row per gene x sample),
    with the sample-sheet columns (mouse, group, ...) joined, and log2(normalized + 1)."""
    names = (
        gene_names
        if gene_names is not None
        else pd.Series(normalized.index, index=normalized.index)
    )
    names = names.reindex(normalized.index).fillna(pd.Series(normalized.index, normalized.index))
    wanted = resolve_genes(genes, names)
    values = normalized.loc[wanted["gene_id"]]
    long = (
        values.set_axis(range(len(wanted)))
        .rename_axis("row")
        .reset_index()
        .melt(id_vars="row", var_name="sample", value_name="normalized_count")
    )
    long = wanted.reset_index(names="row").merge(long, on="row").drop(columns="row")
    sheet = samples.copy()
    sheet.index = sheet.index.astype(str)
    long["sample"] = long["sample"].astype(str)
    long = long.merge(sheet, left_on="sample", right_index=True, how="left")
    long["log2_normalized"] = np.log2(long["normalized_count"] + 1.0)
    return long.reset_index(drop=True)
