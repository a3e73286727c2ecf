"""RNA-seq: readers, normalization, DESeq2 against R DESeq2/edgeR on pasilla, the
planted training response recovered from simulated counts, summaries and figures."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exneuro.errors import ConfigError, InputDataError
from exneuro.figures import rnaseq as rnaseq_figures
from exneuro.paper.standard.transcriptome import contrast_figures, overview_figure
from exneuro.rnaseq import de, enrichment, normalize, readers, summary
from exneuro.rnaseq.precomputed_de import read_de_table
from exneuro.rnaseq.samples import match_samples
from exneuro.simulate.rnaseq import RnaseqEffects, rnaseq_mice, simulate_counts, write_rnaseq

PASILLA = Path(__file__).parent / "reference" / "pasilla_rnaseq"
ALPHA_PASILLA = 0.1  # DESeq2's default, used by the reference run
TRAINED_VS_SEDENTARY = ("control_trained", "control_sedentary")


# ---------------------------------------------------------------- pasilla (DESeq2 1.38.3 reference)


def pasilla_counts_and_sheet() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pasilla through the lab route: plain matrix reader, sample sheet whose row names carry an
    'fb' suffix and another order than the count columns (the classic off-by-label trap)."""
    table = readers.read_counts(PASILLA / "pasilla_gene_counts.tsv", format="matrix")
    sheet = pd.read_csv(PASILLA / "pasilla_sample_annotation.csv", dtype=str)
    sheet["sample"] = sheet["file"].str.replace("fb$", "", regex=True)
    return match_samples(table.counts, sheet, "sample")


@pytest.fixture(scope="module")
def pasilla() -> dict:
    counts, sheet = pasilla_counts_and_sheet()
    kept = counts[counts.sum(axis=1) >= 10]
    results = de.run_deseq2(
        counts,
        sheet,
        "~ condition",
        [{"name": "treated", "factor": "condition", "level": "treated", "reference": "untreated"}],
        alpha=ALPHA_PASILLA,
        min_total_count=10,
    )
    reference = pd.read_csv(PASILLA / "ref_deseq2_condition_prefilter10.csv.gz", index_col=0)
    return {"counts": kept, "result": results["treated"].set_index("gene_id"), "ref": reference}


def test_match_samples_reorders_counts_to_the_sheet():
    counts, sheet = pasilla_counts_and_sheet()
    assert list(counts.columns) == list(sheet.index)
    assert counts.columns[0] == "treated1"  # sheet order, not the file's untreated1 first
    assert counts.at["FBgn0000008", "treated1"] == 140


def test_size_factors_equal_deseq2_to_1e_4():
    counts, _ = pasilla_counts_and_sheet()
    reference = pd.read_csv(PASILLA / "ref_size_factors.csv", index_col=0)
    for column, matrix in (
        ("sizeFactor_nofilter", counts),
        ("sizeFactor_prefilter10", counts[counts.sum(axis=1) >= 10]),
    ):
        ours = normalize.size_factors(matrix)
        relative = (ours / reference.loc[ours.index, column] - 1).abs()
        assert relative.max() < 1e-4, f"{column}: worst relative error {relative.max():.2e}"


def test_tmm_factors_equal_edger():
    counts, _ = pasilla_counts_and_sheet()
    kept = counts[counts.sum(axis=1) >= 10]
    edger = pd.Series(  # edgeR 3.40.2 calcNormFactors (README section D)
        [1.070912, 0.991127, 0.995573, 1.002899, 1.015861, 0.977517, 0.950228],
        index=["treated1", "treated2", "treated3", "untreated1", "untreated2", "untreated3"]
        + ["untreated4"],
    )
    ours = normalize.tmm_factors(kept)
    assert (ours - edger[ours.index]).abs().max() < 1e-5


def test_pasilla_de_count_within_two_percent_of_deseq2(pasilla):
    padj = pasilla["result"]["padj"]
    n_ours, n_ref = int((padj < 0.1).sum()), 1054
    assert int((pasilla["ref"]["padj"] < 0.1).sum()) == n_ref
    assert abs(n_ours - n_ref) / n_ref <= 0.02, f"{n_ours} DE genes vs DESeq2's {n_ref}"
    up = int(((padj < 0.1) & (pasilla["result"]["log2FoldChange"] > 0)).sum())
    assert abs(up - 518) / 518 <= 0.02


def test_pasilla_log2_fold_changes_within_0_02_of_deseq2(pasilla):
    ref = pasilla["ref"]
    ours = pasilla["result"].reindex(ref.index)
    expressed = ref["baseMean"] > 10
    error = (ours["log2FoldChange"] - ref["log2FoldChange"])[expressed].abs()
    base_error = (ours["baseMean"] / ref["baseMean"] - 1).abs().max()
    assert error.max() < 0.02, f"worst |dLFC| {error.max():.4f} at {error.idxmax()}"
    assert base_error < 1e-4


def test_pasilla_top_ten_genes_are_deseq2s(pasilla):
    ours = pasilla["result"].sort_values("pvalue").index[:10]
    ref = pasilla["ref"].sort_values("pvalue").index[:10]
    assert set(ours) == set(ref)
    assert ours[0] == "FBgn0039155"


# ---------------------------------------------------------------- readers on hand-built files


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


FEATURECOUNTS = (
    '# Program:featureCounts v2.0.6; Command:"featureCounts" "-o" "counts.txt"\n'
    "Geneid\tChr\tStart\tEnd\tStrand\tLength\taligned/S1.markdup.bam\taligned/S2.markdup.bam\n"
    "G1\tchr1\t100\t900\t+\t800\t10\t0\n"
    "G2\tchr1;chr1\t1000\t3000\t-\t1500\t5\t7\n"
)


def test_featurecounts_reader_names_samples_from_bam_paths(tmp_path):
    table = readers.read_counts(write(tmp_path / "counts.txt", FEATURECOUNTS))
    assert table.format == "featurecounts"
    assert list(table.counts.columns) == ["S1", "S2"]
    assert table.counts.loc["G2"].tolist() == [5, 7]
    assert table.counts.dtypes.eq(np.int64).all()
    custom = readers.read_featurecounts(tmp_path / "counts.txt", r"aligned/(S\d)\.markdup")
    assert list(custom.counts.columns) == ["S1", "S2"]


def test_featurecounts_reader_reads_gzip(tmp_path):
    table = readers.read_counts(write(tmp_path / "counts.txt.gz", FEATURECOUNTS))
    assert table.counts.shape == (2, 2)


def test_nfcore_reader_rounds_estimated_counts_and_says_so(tmp_path):
    text = "gene_id\tgene_name\tA\tB\nE1\tPpargc1a\t10.4\t0\nE2\tTfam\t3\t2.6\n"
    table = readers.read_counts(write(tmp_path / "salmon.merged.gene_counts.tsv", text))
    assert table.format == "nfcore"
    assert table.counts.loc["E1"].tolist() == [10, 0]
    assert table.counts.loc["E2"].tolist() == [3, 3]
    assert table.gene_names["E1"] == "Ppargc1a"
    assert "rounded 2 of 4" in table.notes[0]
    with pytest.raises(InputDataError, match=r"gene 'E1', sample 'A'.*round_estimated_counts"):
        readers.read_nfcore_counts(tmp_path / "salmon.merged.gene_counts.tsv", False)


def test_htseq_reader_drops_summary_rows(tmp_path):
    rows = "G1\t4\nG2\t0\n__no_feature\t100\n__ambiguous\t3\n__alignment_not_unique\t9\n"
    files = {s: write(tmp_path / f"{s}.htseq.txt", rows) for s in ("m1", "m2")}
    table = readers.read_counts(files)
    assert table.format == "htseq"
    assert list(table.counts.index) == ["G1", "G2"]
    assert "m1 112" in table.notes[0]
    from_names = readers.read_htseq_counts(sorted(files.values()))
    assert list(from_names.counts.columns) == ["m1", "m2"]


def test_plain_matrix_reader_with_gene_name_column(tmp_path):
    text = "id,symbol,M1,M2\nE1,Cycs,1,2\nE2,Tfam,3,4\n"
    table = readers.read_count_matrix(write(tmp_path / "m.csv", text), "id", "symbol")
    assert table.counts.loc["E2", "M2"] == 4
    assert table.gene_names.to_dict() == {"E1": "Cycs", "E2": "Tfam"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gene_id,A,B\nG1,3,-2\n", r"line 2, column 'B'.*gene 'G1', sample 'B': negative count"),
        ("gene_id,A,B\nG1,3,2.5\n", r"gene 'G1', sample 'B': '2.5' is not a whole number"),
        ("gene_id,A,B\nG1,3,\n", r"gene 'G1', sample 'B': '' is not a count"),
        ("gene_id,A,B\nG1,3,x\n", r"gene 'G1', sample 'B': 'x' is not a count"),
        ("gene_id,A,B\nG1,3,2\nG1,4,4\n", r"gene id 'G1' appears 2 times \(lines 2, 3\)"),
        ("gene_id,A,A\nG1,3,2\n", r"column 'A' appears twice in the header"),
    ],
)
def test_bad_counts_are_named(tmp_path, text, message):
    with pytest.raises(InputDataError, match=message):
        readers.read_counts(write(tmp_path / "counts.csv", text), format="matrix")


def test_samples_missing_on_either_side_are_named():
    counts = pd.DataFrame({"S1": [1], "S2": [2], "S3": [3]}, index=["G1"])
    sheet = pd.DataFrame({"mouse_id": ["M1", "M2", "M3"], "rnaseq_sample": ["S1", "S2", ""]})
    with pytest.raises(InputDataError, match=r"in the counts but not in the sheet.*: S3"):
        match_samples(counts, sheet, "rnaseq_sample")
    matched, rows = match_samples(counts, sheet, "rnaseq_sample", exclude=["S3"])
    assert list(matched.columns) == ["S1", "S2"] and rows.loc["S2", "mouse_id"] == "M2"
    sheet.loc[2, "rnaseq_sample"] = "S9"
    with pytest.raises(InputDataError, match=r"in column 'rnaseq_sample' but not in .*: S9"):
        match_samples(counts.drop(columns="S3"), sheet, "rnaseq_sample")
    with pytest.raises(InputDataError, match=r"no column 'library'"):
        match_samples(counts, sheet, "library")


def test_htseq_files_with_different_genes_are_named(tmp_path):
    a = write(tmp_path / "a.txt", "G1\t1\nG2\t2\n")
    b = write(tmp_path / "b.txt", "G1\t1\nG3\t2\n")
    with pytest.raises(InputDataError, match=r"b.txt: gene list differs .* gene 2 \('G3'\)"):
        readers.read_htseq_counts({"a": a, "b": b})


def test_de_table_reader_maps_columns_and_checks_p(tmp_path):
    text = "Gene,FC,P,FDR,Mean\nE1,1.5,0.001,0.01,100\nE2,-0.2,0.5,NA,3\n"
    columns = {
        "gene_id": "Gene",
        "log2FoldChange": "FC",
        "pvalue": "P",
        "padj": "FDR",
        "baseMean": "Mean",
    }
    table = read_de_table(write(tmp_path / "de.csv", text), columns)
    assert list(table.columns) == ["gene_id", "baseMean", "log2FoldChange", "pvalue", "padj"]
    assert np.isnan(table.loc[1, "padj"]) and table.loc[0, "log2FoldChange"] == 1.5
    with pytest.raises(InputDataError, match=r"no column 'Padj' \(configured for 'padj'\)"):
        read_de_table(tmp_path / "de.csv", {**columns, "padj": "Padj"})
    bad = write(tmp_path / "bad.csv", "Gene,FC,P,FDR,Mean\nE1,1,3.2,0.5,1\n")
    with pytest.raises(InputDataError, match=r"line 2, column 'P'.*outside 0-1"):
        read_de_table(bad, columns)


# ---------------------------------------------------------------- simulated training response

SMALL = RnaseqEffects(
    n_genes=2000, n_training_genes=120, n_group_genes=30, mice_per_cell=4, oxphos_planted=30
)


def small_mice() -> pd.DataFrame:
    mice = rnaseq_mice(SMALL)
    return mice.assign(group_training=mice["group"] + "_" + mice["training"])


def cells(*weights_and_levels) -> list[dict]:
    return [{"weight": w, "where": {"group_training": level}} for w, level in weights_and_levels]


CONTRASTS = [
    {
        "name": "training_control",
        "factor": "group_training",
        "level": "control_trained",
        "reference": "control_sedentary",
    },
    {
        "name": "training_silenced",
        "factor": "group_training",
        "level": "silenced_trained",
        "reference": "silenced_sedentary",
    },
    {
        "name": "interaction",
        "cells": cells(
            (1, "silenced_trained"),
            (-1, "silenced_sedentary"),
            (-1, "control_trained"),
            (1, "control_sedentary"),
        ),
    },
]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("rnaseq")
    truth_summary = write_rnaseq(SMALL, rnaseq_mice(SMALL), folder, np.random.default_rng(7))
    table = readers.read_counts(folder / "salmon.merged.gene_counts.tsv")
    sheet = pd.read_csv(folder / "rnaseq_samples.tsv", sep="\t", dtype=str)
    counts, samples = match_samples(table.counts, sheet, "rnaseq_sample")
    results = de.run_deseq2(
        counts, samples, "~ batch + group_training", CONTRASTS, alpha=0.05, lfc_shrink=True
    )
    truth = pd.read_csv(folder / "rnaseq_truth.tsv", sep="\t").set_index("gene_id")
    truth = truth.reindex(counts.index)  # the truth file lists the planted genes only
    effects = [c for c in truth.columns if c.startswith("log2fc")]
    truth[effects] = truth[effects].fillna(0.0)
    truth["lost_in_silenced"] = truth["lost_in_silenced"].eq(True)
    return {
        "folder": folder,
        "summary": truth_summary,
        "table": table,
        "counts": counts,
        "samples": samples,
        "results": results,
        "truth": truth,
    }


@pytest.fixture(scope="module")
def simulated_vst(simulated) -> pd.DataFrame:
    return normalize.vst(simulated["counts"])


def sensitivity_and_fdr(result: pd.DataFrame, planted: pd.Series) -> tuple[float, float, int]:
    called = (result.set_index("gene_id")["padj"] < 0.05).reindex(planted.index, fill_value=False)
    true_positive = int((called & planted).sum())
    return true_positive / planted.sum(), 1 - true_positive / max(called.sum(), 1), called.sum()


def test_both_simulated_files_read_to_the_same_integer_matrix(simulated):
    featurecounts = readers.read_counts(simulated["folder"] / "featurecounts" / "counts.txt.gz")
    salmon = simulated["table"]
    assert featurecounts.format == "featurecounts" and salmon.format == "nfcore"
    pd.testing.assert_frame_equal(featurecounts.counts, salmon.counts)
    assert salmon.notes and "rounded" in salmon.notes[0]


def test_simulator_writes_the_same_bytes_twice(tmp_path):
    paths = []
    for name in ("a", "b"):
        write_rnaseq(SMALL, rnaseq_mice(SMALL), tmp_path / name, np.random.default_rng(3))
        paths.append(sorted(p for p in (tmp_path / name).rglob("*") if p.is_file()))
    assert [p.name for p in paths[0]] == [p.name for p in paths[1]]
    for a, b in zip(*paths, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_simulated_counts_look_like_rna_seq():
    effects = RnaseqEffects()
    matrix, truth = simulate_counts(effects, small_mice().iloc[:4], np.random.default_rng(1))
    library = matrix.sum()
    assert matrix.shape == (15000, 4)
    assert library.between(15e6, 35e6).all()
    mean = matrix.mean(axis=1)
    assert 0.55 < (mean > 10).mean() < 0.85  # most genes expressed, a real low tail
    assert truth["planted_training"].sum() == 400
    assert truth.loc[truth["planted_training"], "lost_in_silenced"].mean() == pytest.approx(0.8)


def test_planted_training_response_is_recovered(simulated):
    truth = simulated["truth"]
    planted = truth["log2fc_training_control"] != 0
    sensitivity, fdr, n_called = sensitivity_and_fdr(
        simulated["results"]["training_control"], planted
    )
    print(f"training in control: {n_called} called, sensitivity {sensitivity:.2f}, FDR {fdr:.3f}")
    assert sensitivity > 0.7, f"sensitivity {sensitivity:.2f}"
    assert fdr < 0.15, f"false discovery proportion {fdr:.3f}"
    result = simulated["results"]["training_control"].set_index("gene_id")
    called = result["padj"] < 0.05
    estimated = result.loc[called & planted, "log2FoldChange"]
    error = (estimated - truth.loc[estimated.index, "log2fc_training_control"]).abs()
    assert error.median() < 0.25
    ppargc1a = simulated["summary"]["key_genes"]["Ppargc1a"]["gene_id"]
    assert result.at[ppargc1a, "padj"] < 0.05
    assert result.at[ppargc1a, "log2FoldChange"] == pytest.approx(1.2, abs=0.4)


def test_training_response_is_lost_in_silenced_mice(simulated):
    results, truth = simulated["results"], simulated["truth"]
    genes, overlap = summary.response_overlap(
        results, "training_control", "training_silenced", interaction="interaction"
    )
    row = overlap.iloc[0]
    print(overlap.T)
    assert 0.6 < row["fraction_lost"] <= 1.0, row["fraction_lost"]
    assert row["response_slope"] < 0.5
    lost = genes.loc[genes["category"] == "lost", "gene_id"]
    assert truth.loc[lost, "lost_in_silenced"].mean() > 0.8  # lost calls are truly lost genes
    assert row["n_lost_interaction_significant"] > 0.3 * row["n_lost"]
    silenced = results["training_silenced"].set_index("gene_id")
    ppargc1a = simulated["summary"]["key_genes"]["Ppargc1a"]["gene_id"]
    assert not silenced.at[ppargc1a, "padj"] < 0.05
    inter_truth = truth["log2fc_training_silenced"] - truth["log2fc_training_control"]
    sensitivity, fdr, _ = sensitivity_and_fdr(results["interaction"], inter_truth != 0)
    print(f"interaction: sensitivity {sensitivity:.2f}, FDR {fdr:.3f}")
    assert sensitivity > 0.3 and fdr < 0.2


def test_shrunk_fold_changes_are_smaller_for_noisy_genes(simulated):
    table = simulated["results"]["training_control"].dropna(subset=["log2FoldChange_shrunk"])
    assert (
        table["log2FoldChange_shrunk"].abs() <= table["log2FoldChange"].abs() + 1e-6
    ).mean() > 0.95
    strong = table[table["padj"] < 1e-6]
    assert np.corrcoef(strong["log2FoldChange"], strong["log2FoldChange_shrunk"])[0, 1] > 0.95


def test_de_counts_and_over_representation(simulated):
    counts = summary.de_counts(simulated["results"], alpha=0.05)
    total = counts.query("contrast == 'training_control' and direction == 'total'")
    up = counts.query("contrast == 'training_control' and direction == 'up'")["n_genes"].iloc[0]
    down = counts.query("contrast == 'training_control' and direction == 'down'")["n_genes"].iloc[0]
    assert total["n_genes"].iloc[0] == up + down > 0
    with_lfc = summary.de_counts(simulated["results"], alpha=0.05, lfc_threshold=1.0)
    assert (with_lfc["n_genes"].to_numpy() <= counts["n_genes"].to_numpy()).all()
    sets = enrichment.read_gmt(simulated["folder"] / "gene_sets.gmt")
    ora = enrichment.contrast_over_representation(
        simulated["results"]["training_control"], sets, simulated["table"].gene_names
    ).set_index("gene_set")
    assert ora.at["OXIDATIVE_PHOSPHORYLATION", "padj"] < 1e-6
    assert ora.at["INFLAMMATORY_RESPONSE", "padj"] > 0.05
    assert ora.at["OXIDATIVE_PHOSPHORYLATION", "overlap"] >= 15
    assert ora.at["OXIDATIVE_PHOSPHORYLATION", "fold_enrichment"] > 5


def test_over_representation_is_the_hypergeometric_tail():
    universe = [f"g{i}" for i in range(100)]
    table = enrichment.over_representation(universe[:10], universe, {"S": universe[5:25]})
    from scipy.stats import fisher_exact

    expected = fisher_exact([[5, 5], [15, 75]], alternative="greater").pvalue
    assert table.loc[0, "pvalue"] == pytest.approx(expected, rel=1e-10)
    assert table.loc[0, "overlap"] == 5 and table.loc[0, "expected"] == pytest.approx(2.0)


def test_gene_panel_has_every_mouse_and_names_unknown_genes(simulated):
    normalized = normalize.normalized_counts(simulated["counts"])
    panel = summary.gene_panel(
        normalized, simulated["samples"], ["Ppargc1a", "tfam"], simulated["table"].gene_names
    )
    assert len(panel) == 2 * simulated["counts"].shape[1]
    assert set(panel["gene_name"]) == {"Ppargc1a", "Tfam"}
    assert {"mouse_id", "group", "training", "normalized_count"} <= set(panel.columns)
    with pytest.raises(
        ConfigError, match=r"'Ppargc1b' is not in the counts — did you mean Ppargc1a"
    ):
        summary.gene_panel(
            normalized, simulated["samples"], ["Ppargc1b"], simulated["table"].gene_names
        )


def test_gmt_errors_name_the_line(tmp_path):
    path = write(tmp_path / "sets.gmt", "A\tdesc\tg1\tg2\nB g3 g4\n")
    with pytest.raises(InputDataError, match=r"sets.gmt line 2: 1 tab-separated field"):
        enrichment.read_gmt(path)


# ---------------------------------------------------------------- contrasts and design checks


def test_cell_contrast_equals_interaction_coefficient():
    mice = small_mice().set_index("rnaseq_sample")
    spec = {
        "name": "interaction",
        "cells": [
            {"weight": 1, "where": {"group": "silenced", "training": "trained"}},
            {"weight": -1, "where": {"group": "silenced", "training": "sedentary"}},
            {"weight": -1, "where": {"group": "control", "training": "trained"}},
            {"weight": 1, "where": {"group": "control", "training": "sedentary"}},
        ],
    }
    coefficient = {"name": "coef", "coefficient": "group[T.silenced]:training[T.trained]"}
    weights = de.contrast_matrix(
        mice,
        "~ batch + group * training",
        [spec, coefficient],
        reference_levels={"group": "control", "training": "sedentary"},
    )
    np.testing.assert_allclose(weights.loc["interaction"], weights.loc["coef"], atol=1e-12)
    combined = de.contrast_matrix(mice, "~ batch + group_training", CONTRASTS)
    assert combined.loc["training_control"].abs().sum() == 1.0  # trained - sedentary, same batch


@pytest.mark.parametrize(
    ("design", "spec", "message"),
    [
        (
            "~ group_training",
            {
                "name": "x",
                "factor": "group_training",
                "level": "ctrl",
                "reference": "control_sedentary",
            },
            r"level 'ctrl' is not a level",
        ),
        (
            "~ group_training",
            {"name": "x", "cells": [{"weight": 1, "where": {"group_training": "control_trained"}}]},
            r"weights sum to 1",
        ),
        ("~ group_training", {"name": "x", "coefficient": "trained"}, r"no design coefficient"),
        ("~ diet + group_training", CONTRASTS[0], r"'diet', which is not a sample-sheet column"),
        ("~ cohort + group_training", CONTRASTS[0], r"'cohort' has one level"),
        ("~ group + group_training", CONTRASTS[0], r"not full rank"),
    ],
)
def test_contrast_and_design_mistakes_are_named(design, spec, message):
    with pytest.raises(ConfigError, match=message):
        de.contrast_matrix(small_mice().set_index("rnaseq_sample"), design, [spec])


# ---------------------------------------------------------------- VST, PCA, QC


def test_vst_subsample_matches_pydeseq2_full_vst(simulated, simulated_vst):
    from pydeseq2.dds import DeseqDataSet

    counts = simulated["counts"]
    ours = simulated_vst
    full = DeseqDataSet(
        counts=counts.T,
        metadata=pd.DataFrame(index=counts.columns),
        design="~1",
        quiet=True,
        n_cpus=1,
    )
    with normalize.single_threaded_blas():
        full.vst()
    difference = np.abs(ours.to_numpy() - full.layers["vst_counts"].T)
    assert np.nanmax(difference) < 0.15, np.nanmax(difference)


def test_pca_and_outliers_flag_swapped_samples_only(simulated, simulated_vst):
    counts, samples = simulated["counts"], simulated["samples"]
    matrix = simulated_vst
    scores, variance = normalize.pca(matrix)
    assert variance["variance_explained"].is_monotonic_decreasing
    assert np.allclose(scores[["PC1", "PC2"]].mean(), 0, atol=1e-9)
    from scipy.spatial.distance import pdist, squareform

    distances = normalize.sample_distances(matrix)
    np.testing.assert_allclose(distances, squareform(pdist(matrix.T.to_numpy())), atol=1e-6)
    flags = normalize.sample_outliers(matrix, samples["group_training"])
    assert not flags["outlier"].any(), flags.loc[flags["outlier"], "sample"].tolist()
    # a sample mix-up: a trained control's library labelled as a sedentary silenced mouse
    trained = samples.index[samples["group_training"] == "control_trained"][1]
    sedentary = samples.index[samples["group_training"] == "silenced_sedentary"][1]
    swapped = counts.rename(columns={trained: sedentary, sedentary: trained})[counts.columns]
    flags = normalize.sample_outliers(normalize.vst(swapped), samples["group_training"])
    assert sorted(flags.loc[flags["outlier"], "sample"]) == sorted([trained, sedentary])


def test_cpm_and_library_sizes():
    counts = pd.DataFrame({"A": [10, 0, 90], "B": [20, 20, 160]}, index=["g1", "g2", "g3"])
    assert normalize.cpm(counts)["A"].tolist() == [1e5, 0.0, 9e5]
    log = normalize.cpm(counts, log=True)
    assert np.isfinite(log.to_numpy()).all()
    sizes = normalize.library_sizes(counts)
    assert sizes["library_size"].tolist() == [100, 200]
    assert sizes["genes_detected"].tolist() == [2, 3]


# ---------------------------------------------------------------- figures


def test_figures_return_source_data_and_same_bytes(simulated, simulated_vst, tmp_path):
    results, counts, samples = simulated["results"], simulated["counts"], simulated["samples"]
    names = simulated["table"].gene_names
    matrix = simulated_vst
    scores, variance = normalize.pca(matrix)
    _, overlap = summary.response_overlap(results, "training_control", "training_silenced")
    panel = summary.gene_panel(
        normalize.normalized_counts(counts), samples, ["Ppargc1a", "Cycs"], names
    )
    order = ["control_sedentary", "control_trained", "silenced_sedentary", "silenced_trained"]
    groups = [{"id": "control", "color": "#4D4D4D"}, {"id": "silenced", "color": "#D55E00"}]
    colours = rnaseq_figures.condition_colours(order, groups, ["sedentary"])
    assert colours["control_trained"] == "#4D4D4D" != colours["control_sedentary"]
    style = {"font_size_pt": 7, "png_dpi": 100, "full_width_mm": 174, "formats": ["png", "svg"]}
    section = {
        "cohort": "muscle",
        "colour_column": "group_training",
        "alpha": 0.05,
        "lfc_threshold": 0.0,
        "figures": {"n_labels": 10, "heatmap_top": 20},
        "contrasts": [{"name": name} for name in results],
    }
    top = summary.top_genes(results["training_control"], 20, alpha=0.05)["gene_id"]
    gene_names = names.rename("gene_name").rename_axis("gene_id").reset_index()
    tables = {f"rnaseq/de/{name}.tsv": table for name, table in results.items()}
    tables |= {
        "rnaseq/qc/pca.tsv": scores,
        "rnaseq/qc/pca_variance.tsv": variance,
        "rnaseq/de_counts.tsv": summary.de_counts(results),
        "rnaseq/overlap.tsv": overlap,
        "rnaseq/vst.parquet": matrix.rename_axis("gene_id").reset_index(),
        "rnaseq/gene_panel.tsv": panel,
        "rnaseq/samples.tsv": samples.rename_axis("sample").reset_index(),
        "rnaseq/gene_names.tsv": gene_names,
    }
    source = overview_figure(
        tables,
        section,
        {"id": "muscle", "groups": ["control", "silenced"], "control_group": "control"},
        groups,
        style,
        [str(tmp_path / "overview.png"), str(tmp_path / "overview.svg")],
        str(tmp_path / "source"),
    )
    written = []
    for run in ("a", "b"):  # the same input gives the same bytes
        contrast_figures(
            {"training_control": results["training_control"]},
            section,
            groups,
            style,
            tmp_path / run,
            gene_names=gene_names,
        )
        stem = tmp_path / run / "training_control"
        written.append([stem.with_suffix(f".{x}").read_bytes() for x in ("png", "svg")])
    assert written[0] == written[1]
    assert len(source["A"]) == counts.shape[1]
    assert source["C"].set_index("region").at["lost", "n_genes"] == overlap.at[0, "n_lost"]
    assert len(source["D"]) == len(top) * counts.shape[1]
    assert set(source) >= {"E", "F"} and len(source["E"]) == counts.shape[1] + len(order)
    volcano = pd.read_csv(tmp_path / "a" / "training_control_source_data" / "panel_A.tsv", sep="\t")
    assert volcano["labelled"].sum() == 10
    assert pd.read_csv(tmp_path / "source" / "checks.tsv", sep="\t")["problem"].tolist() == []
    assert (tmp_path / "source" / "panel_D.tsv").exists()
    assert (tmp_path / "overview.svg").stat().st_size > 0
