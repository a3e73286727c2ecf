"""Over-represented gene sets among a contrast's DE genes, and the GMT files that declare them.

Over-representation (ORA): the one-sided hypergeometric test (Fisher's exact test) of the overlap
between the DE genes and each gene set within the universe of tested genes, BH-adjusted over the
gene sets tested (Rivals et al. 2007, Bioinformatics 23:401).

Apart from :mod:`exneuro.rnaseq.summary` (whose DE calls it uses) so that the figures, which read
the summary's calls, do not load SciPy's statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, hypergeom

from exneuro.errors import ConfigError, data_error
from exneuro.rnaseq.summary import call_de


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
