"""The RNA-seq steps the workflow runs: counts -> QC -> DESeq2 per contrast -> summaries.

Each function takes the config's ``rnaseq`` section and tidy tables, so the workflow's scripts
only read and write files.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from scipy import stats as scipy_stats

from exneuro.errors import ConfigError
from exneuro.rnaseq import de, enrichment, normalize, readers, summary
from exneuro.rnaseq.precomputed_de import read_de_table
from exneuro.rnaseq.samples import match_samples
from exneuro.stats.table import stats_frame


def load_counts(
    section: Mapping, sheet: pd.DataFrame, counts_path: str, sheet_path: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Counts (genes x samples), the matching sample table (with combined factors such as
    group_training = group + '_' + training) and gene symbols (from the count table, or from
    the config's ``gene_annotation`` file)."""
    table = readers.read_counts(
        counts_path,
        section["format"],
        sample_regex=section["sample_regex"],
        round_estimated_counts=section["round_estimated_counts"],
    )
    cohort = sheet[sheet["cohort"] == section["cohort"]]
    counts, samples = match_samples(
        table.counts,
        cohort,
        section["sample_column"],
        counts_path=counts_path,
        sheet_path=sheet_path,
        exclude=section["exclude_samples"],
    )
    for name, columns in section["combine"].items():
        samples[name] = samples[columns].astype(str).agg("_".join, axis=1)
    check_numeric_design_variables(samples, section, sheet_path)
    names = table.gene_names if table.gene_names is not None else pd.Series(dtype=str)
    if section["gene_annotation"]:  # a gene without a symbol there keeps its id
        annotated = readers.read_gene_names(section["gene_annotation"]).reindex(counts.index)
        names = annotated.fillna(pd.Series(counts.index, index=counts.index))
    return counts, samples, names


def check_numeric_design_variables(
    samples: pd.DataFrame, section: Mapping, sheet_path: str
) -> None:
    """A design variable whose every value is a number must be declared a slope ('continuous')
    or levels ('categorical'): fitted silently as a factor, a RIN of 7.1 and 7.2 would be two
    unrelated levels."""
    if not section["design"]:
        return
    declared = {*section["continuous"], *section["categorical"]}
    for variable in de.design_variables(section["design"]):
        if variable in declared or variable not in samples.columns:
            continue
        values = samples[variable].astype(str).str.strip()
        numbers = pd.to_numeric(values, errors="coerce")
        if len(values) and numbers.notna().all():
            raise ConfigError(
                f"rnaseq.design: '{variable}' ({sheet_path}) holds numbers "
                f"({', '.join(values.unique()[:3])}, ...) — list it under rnaseq.continuous to "
                "fit a slope, or under rnaseq.categorical to fit its values as levels"
            )


def qc_tables(
    counts: pd.DataFrame, samples: pd.DataFrame, section: Mapping
) -> dict[str, pd.DataFrame]:
    """Size factors, normalized counts, VST, library sizes, PCA, distances and outlier flags."""
    qc = section["qc"]
    factors = normalize.size_factors(counts)
    matrix = normalize.vst(counts, nsub=qc["vst_nsub"], factors=factors)
    scores, variance = normalize.pca(matrix, n_top=qc["n_top"])
    colour = samples.get(section["colour_column"])
    tmm = normalize.tmm_factors(counts)
    return {
        "size_factors": factors.rename("size_factor").rename_axis("sample").reset_index(),
        "tmm": tmm.rename("tmm_factor").rename_axis("sample").reset_index(),
        "cpm": normalize.cpm(counts, norm_factors=tmm, log=True),
        "normalized": normalize.normalized_counts(counts, factors),
        "vst": matrix,
        "library_sizes": normalize.library_sizes(counts),
        "pca": scores,
        "pca_variance": variance,
        "distances": normalize.sample_distances(matrix),
        "outliers": normalize.sample_outliers(
            matrix, colour, threshold=qc["outlier_threshold"], n_top=qc["n_top"]
        ),
    }


def differential_expression(
    counts: pd.DataFrame, samples: pd.DataFrame, section: Mapping
) -> dict[str, pd.DataFrame]:
    """DESeq2 with the configured design and contrasts (R DESeq2 defaults)."""
    return de.run_deseq2(
        counts,
        samples,
        section["design"],
        section["contrasts"],
        alpha=section["alpha"],
        lfc_shrink=section["lfc_shrink"],
        cooks_filter=section["cooks_filter"],
        independent_filter=section["independent_filter"],
        n_cpus=1,
        seed=section["seed"],
        reference_levels=section["reference_levels"],
        min_total_count=section["min_total_count"],
        continuous=section["continuous"],
    )


def gene_statistics(
    results: Mapping[str, pd.DataFrame],
    samples: pd.DataFrame,
    gene_names: pd.Series,
    section: Mapping,
) -> pd.DataFrame:
    """The configured genes' DESeq2 Wald tests in every contrast, as statistics-table rows."""
    genes = summary.resolve_genes(section["genes"], gene_names)
    z = scipy_stats.norm.ppf(0.975)
    rows = []
    for name, table in results.items():
        indexed = table.set_index("gene_id")
        for gene in genes.itertuples(index=False):
            if gene.gene_id not in indexed.index:
                continue
            row = indexed.loc[gene.gene_id]
            n_tested = int(table["padj"].notna().sum())
            rows.append(
                {
                    "analysis": "rnaseq",
                    "outcome": f"{gene.gene_name} log2 expression",
                    "subset": f"cohort={section['cohort']}",
                    "test": "deseq2_wald",
                    "model": f"{section['design']}; DESeq2 method (R DESeq2 1.38 defaults)",
                    "term": name,
                    "estimate": row["log2FoldChange"],
                    "ci_low": row["log2FoldChange"] - z * row["lfcSE"],
                    "ci_high": row["log2FoldChange"] + z * row["lfcSE"],
                    "ci_level": 0.95,
                    "statistic_name": "z",
                    "statistic": row["stat"],
                    "p": row["pvalue"],
                    "p_adj": row["padj"],
                    "correction": f"Benjamini-Hochberg FDR over {n_tested} genes "
                    "(independent filtering)",
                    "effect_size": row["log2FoldChange"],
                    "effect_size_name": "log2 fold change",
                    "n_mice": len(samples),
                    "n_obs": len(samples),
                    "notes": f"baseMean {row['baseMean']:.1f}; Wald test; gene {gene.gene_id}",
                }
            )
    return stats_frame(rows)


def summary_tables(
    results: Mapping[str, pd.DataFrame],
    normalized: pd.DataFrame,
    samples: pd.DataFrame,
    gene_names: pd.Series,
    section: Mapping,
    gene_sets: Mapping[str, list[str]] | None,
) -> dict[str, pd.DataFrame]:
    """DE counts, the overlap of the training response, the gene panel and gene-set ORA."""
    alpha, threshold = section["alpha"], section["lfc_threshold"]
    tables = {
        "de_counts": summary.de_counts(results, alpha, threshold),
        "gene_panel": summary.gene_panel(normalized, samples, section["genes"], gene_names),
    }
    overlap = section["overlap"]
    if overlap:
        genes, totals = summary.response_overlap(
            results,
            overlap["reference"],
            overlap["comparison"],
            alpha,
            threshold,
            overlap.get("interaction"),
        )
        tables["overlap_genes"], tables["overlap"] = genes, totals
    else:  # not declared: the tables keep their header, with no row
        tables["overlap_genes"] = pd.DataFrame(columns=["gene_id", "category"])
        tables["overlap"] = pd.DataFrame(columns=["reference", "comparison"])
    ora = []
    for name, table in results.items() if gene_sets else []:
        found = enrichment.contrast_over_representation(
            table, gene_sets, gene_names, alpha, threshold
        )
        ora.append(found.assign(contrast=name))
    tables["ora"] = pd.concat(ora, ignore_index=True) if ora else pd.DataFrame()
    return tables


def facility_tables(section: Mapping) -> dict[str, pd.DataFrame]:
    """A facility's precomputed DE tables, in the columns of our own DE results."""
    return {
        name: read_de_table(entry["path"], entry["columns"])
        for name, entry in section["precomputed_de"].items()
    }


def facility_statistics(
    results: Mapping[str, pd.DataFrame], section: Mapping, n_mice: int
) -> pd.DataFrame:
    """The configured genes in a facility's tables, as statistics-table rows (their numbers,
    marked as such: the facility's method is not re-run here)."""
    rows = []
    for name, table in results.items():
        symbols = table["gene_name"] if "gene_name" in table else table["gene_id"]
        for gene in section["genes"]:
            found = table[(symbols == gene) | (table["gene_id"] == gene)]
            if found.empty:
                continue
            row = found.iloc[0]
            rows.append(
                {
                    "analysis": "rnaseq",
                    "outcome": f"{gene} log2 expression",
                    "subset": f"cohort={section['cohort']}",
                    "test": "facility_de",
                    "term": name,
                    "estimate": row["log2FoldChange"],
                    "statistic_name": "z" if "stat" in row else None,
                    "statistic": row.get("stat"),
                    "p": row.get("pvalue", row["padj"]),
                    "p_adj": row["padj"],
                    "correction": "as reported by the facility",
                    "effect_size": row["log2FoldChange"],
                    "effect_size_name": "log2 fold change",
                    "n_mice": n_mice,
                    "notes": f"precomputed DE table {section['precomputed_de'][name]['path']}",
                }
            )
    return stats_frame(rows)
