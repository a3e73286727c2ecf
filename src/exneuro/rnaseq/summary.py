"""What a lab reports from DE tables: how many genes change, how much of a response is lost in
another group, the key genes per mouse, and over-represented gene sets.

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

Over-representation (ORA): the one-sided hypergeometric test (Fisher's exact test) of the overlap
between the DE genes and each gene set within the universe of tested genes, BH-adjusted over the
gene sets tested (Rivals et al. 2007, Bioinformatics 23:401).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, hypergeom

from exneuro.errors import ConfigError, data_error

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


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """Gene sets from a GMT file: per line a name, a description, then the genes (tabs)."""
    path = Path(path)
    if not path.exists():
        raise data_error(str(path), "file not found", "check the gene set path in the config")
    sets: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 3:
            raise data_error(
                str(path),
                f"{len(fields)} tab-separated field(s), expected name, description, genes",
                "GMT lines are tab-separated: name<TAB>description<TAB>gene1<TAB>gene2...",
                line=number,
            )
        if fields[0] in sets:
            raise data_error(
                str(path), f"gene set '{fields[0]}' defined twice", "rename one", line=number
            )
        sets[fields[0]] = list(dict.fromkeys(g for g in fields[2:] if g))
    if not sets:
        raise data_error(str(path), "no gene sets", "give at least one line")
    return sets


def over_representation(
    selected: Sequence[str],
    universe: Sequence[str],
    gene_sets: Mapping[str, Sequence[str]],
    min_size: int = 5,
    max_size: int = 500,
) -> pd.DataFrame:
    """Hypergeometric over-representation of ``selected`` genes in each gene set.

    Only genes of the ``universe`` (the genes tested) count; sets with fewer than ``min_size`` or
    more than ``max_size`` universe genes are skipped. p = P(X >= k), X ~ Hypergeometric(N, K, n)
    with N universe genes, K of them in the set, n selected, k selected in the set; padj BH over
    the sets tested. Sorted by p then name.
    """
    universe_set = set(map(str, universe))
    chosen = set(map(str, selected)) & universe_set
    n_universe, n_selected = len(universe_set), len(chosen)
    rows = []
    for name, members in gene_sets.items():
        in_universe = set(members) & universe_set
        if not min_size <= len(in_universe) <= max_size:
            continue
        hits = sorted(in_universe & chosen)
        expected = n_selected * len(in_universe) / n_universe if n_universe else np.nan
        rows.append(
            {
                "gene_set": name,
                "set_size": len(in_universe),
                "n_selected": n_selected,
                "n_universe": n_universe,
                "overlap": len(hits),
                "expected": expected,
                "fold_enrichment": len(hits) / expected if expected else np.nan,
                "pvalue": float(
                    hypergeom.sf(len(hits) - 1, n_universe, len(in_universe), n_selected)
                ),
                "genes": ",".join(hits),
            }
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "gene_set",
            "set_size",
            "n_selected",
            "n_universe",
            "overlap",
            "expected",
            "fold_enrichment",
            "pvalue",
            "genes",
        ],
    )
    table.insert(8, "padj", false_discovery_control(table["pvalue"]) if len(table) else [])
    return table.sort_values(["pvalue", "gene_set"], kind="stable").reset_index(drop=True)


def contrast_over_representation(
    table: pd.DataFrame,
    gene_sets: Mapping[str, Sequence[str]],
    gene_names: pd.Series | None = None,
    alpha: float = 0.05,
    lfc_threshold: float = 0.0,
    direction: str = "both",
    min_size: int = 5,
    max_size: int = 500,
) -> pd.DataFrame:
    """ORA of one contrast's DE genes (``direction`` 'up', 'down' or 'both') against the genes
    it tested. Genes are matched to the sets by symbol when ``gene_names`` is given and the
    symbols overlap the sets more than the ids do (GMT files usually list symbols)."""
    if direction not in ("up", "down", "both"):
        raise ConfigError(f"over-representation direction '{direction}': use up, down or both")
    calls = call_de(table, alpha, lfc_threshold)
    tested = table["padj"].notna().to_numpy()
    chosen = (calls != "") if direction == "both" else (calls == direction)
    ids = table["gene_id"].astype(str)
    labels = ids
    if gene_names is not None:
        symbols = ids.map(gene_names.astype(str)).fillna(ids)
        members = {g for genes in gene_sets.values() for g in genes}
        if symbols.isin(members).sum() > ids.isin(members).sum():
            labels = symbols
    result = over_representation(
        labels[chosen.to_numpy() & tested], labels[tested], gene_sets, min_size, max_size
    )
    return result.assign(direction=direction, alpha=alpha, lfc_threshold=lfc_threshold)
