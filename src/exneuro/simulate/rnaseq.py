"""Simulated skeletal-muscle RNA-seq after Kindel et al. (Neuron 2026): control and SF1-silenced
mice, sedentary or endurance-trained.

Counts are negative binomial (DESeq2's model): for gene g and sample j,
``K_gj ~ NB(mean = L_j q_g 2^(x_j b_g) / sum_g(q_g 2^(...)), dispersion a_g)`` with

- library sizes ``L_j`` uniform in ``library_size_mean`` +/- ``library_size_spread`` (25 M +/- 30%);
- baseline proportions ``q_g`` lognormal (``log_expression_sd``), so that most genes have tens to
  thousands of reads and a tail is barely expressed;
- dispersion on DESeq2's trend ``a_g = (a0 + a1 / mu_g) exp(e_g)``, ``a0 = 0.05``, ``a1 = 1``,
  ``e_g ~ N(0, 0.35)`` (gene-to-gene scatter around the trend, as seen in real data);
- planted effects on the log2 scale: a training response in control mice (``n_training_genes``,
  |log2FC| uniform in ``training_lfc_range``; the PGC-1a programme — Ppargc1a +1.2, Tfam, Cox4i1,
  Cycs, Esrra, Ppara (at muscle-like expression, ``key_gene_reads``) and most of an
  oxidative-phosphorylation set — up; all planted genes have >= ``min_planted_mean`` reads), of
  which ``fraction_lost`` is absent in silenced mice (the rest is the same as in control); a
  silenced-vs-control difference in ``n_group_genes`` other genes regardless of training; and a
  small library-batch shift per gene (two batches, balanced within each group x training cell).

Written files (in ``folder``): nf-core/rnaseq's ``salmon.merged.gene_counts.tsv`` (gene_id,
gene_name, samples; salmon-like estimated counts = the integer counts plus a fraction, so
rounding gives the integers back), the same counts as a featureCounts table
``featurecounts/counts.txt.gz`` (columns named by BAM path), ``gene_sets.gmt``, the sample
sheet of the sequenced mice ``rnaseq_samples.tsv`` (mouse_id, cohort, sex, group, training, batch,
rnaseq_sample, group_training) and the planted truth ``rnaseq_truth.tsv`` (one row per gene with a
planted training or group effect — every other gene has none: gene_id, gene_name, baseline_mean,
planted_training, log2fc_training_control, log2fc_training_silenced, lost_in_silenced,
log2fc_silenced_vs_control, batch_log2_shift, dispersion). Gene ids ``SIMMUSG...`` are simulated,
not Ensembl. Same effects and generator state give the same bytes.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


def _words(text: str) -> list[str]:
    return text.split()


OXPHOS_GENES = _words(
    "Ndufa1 Ndufa2 Ndufa3 Ndufa4 Ndufa5 Ndufa6 Ndufa7 Ndufa8 Ndufa9 Ndufa10 Ndufb2 Ndufb3 "
    "Ndufb4 Ndufb5 Ndufb6 Ndufb7 Ndufb8 Ndufb9 Ndufb10 Ndufs1 Ndufs2 Ndufs3 Ndufs4 Ndufs5 "
    "Ndufs6 Ndufs7 Ndufs8 Ndufv1 Ndufv2 Sdha Sdhb Sdhc Sdhd Uqcrc1 Uqcrc2 Uqcrfs1 Uqcrb Uqcrq "
    "Uqcrh Cyc1 Cox4i1 Cox5a Cox5b Cox6a2 Cox6c Cox7a1 Cox7b Cox8b Cycs Atp5a1 Atp5b Atp5c1 "
    "Atp5d Atp5o Atp5h Atp5j Mdh2 Idh3a Cs Aco2"
)
FATTY_ACID_GENES = _words(
    "Ppara Ppard Cpt1b Cpt2 Acadm Acadl Acadvl Hadha Hadhb Hadh Ech1 Echs1 Acaa2 Decr1 Etfa "
    "Etfb Etfdh Slc25a20 Lpl Cd36 Fabp3 Ucp3 Pdk4 Acox1 Ehhadh Acsl1 Mlycd Plin5 Angptl4 Acot2"
)
INFLAMMATORY_GENES = _words(
    "Il1b Il6 Tnf Ccl2 Ccl3 Ccl4 Ccl5 Cxcl1 Cxcl2 Cxcl10 Nfkbia Socs3 Irf1 Irf7 Stat1 Tlr2 "
    "Tlr4 Cd14 Myd88 Ptgs2 Icam1 Vcam1 Sele Selp Il1r1 Il10 Il18 Nlrp3 Casp1 Saa3 Lcn2 Timp1 "
    "Serpina3n C3 Cd68 Adgre1 Itgam Lyz2 Cd74 H2-Ab1"
)
RIBOSOME_GENES = [f"Rpl{i}" for i in range(3, 23)] + [f"Rps{i}" for i in range(2, 22)]
GENE_SETS = {
    "OXIDATIVE_PHOSPHORYLATION": OXPHOS_GENES,
    "FATTY_ACID_OXIDATION": FATTY_ACID_GENES,
    "INFLAMMATORY_RESPONSE": INFLAMMATORY_GENES,
    "CYTOSOLIC_RIBOSOME": RIBOSOME_GENES,
}
KEY_GENES = {"Ppargc1a": 1.2, "Tfam": 0.8, "Cox4i1": 0.7, "Cycs": 0.9, "Esrra": 0.8, "Ppara": 0.7}
# mean reads at 25 M of the key genes in mouse skeletal muscle (order of magnitude)
KEY_GENE_READS = {
    "Ppargc1a": 600.0,
    "Tfam": 1500.0,
    "Cox4i1": 20000.0,
    "Cycs": 15000.0,
    "Esrra": 800.0,
    "Ppara": 400.0,
}


@dataclass(frozen=True)
class RnaseqEffects:
    """Planted RNA-seq model: see the module docstring."""

    n_genes: int = 15000
    groups: tuple[str, str] = ("control", "silenced")
    training_levels: tuple[str, str] = ("sedentary", "trained")
    mice_per_cell: int = 5
    library_size_mean: float = 25e6
    library_size_spread: float = 0.3
    log_expression_sd: float = 2.7
    dispersion_asymptote: float = 0.05
    dispersion_extra_poisson: float = 1.0
    dispersion_scatter_sd: float = 0.35
    n_training_genes: int = 400
    training_lfc_range: tuple[float, float] = (0.5, 2.0)
    fraction_up: float = 0.6
    fraction_lost: float = 0.8
    key_genes: dict[str, float] = field(default_factory=lambda: dict(KEY_GENES))
    key_gene_reads: dict[str, float] = field(default_factory=lambda: dict(KEY_GENE_READS))
    oxphos_planted: int = 36
    fatty_acid_planted: int = 10
    n_group_genes: int = 60
    group_lfc_range: tuple[float, float] = (0.5, 1.5)
    batch_lfc_sd: float = 0.1
    min_planted_mean: float = 30.0
    estimated_count_noise: float = 0.45


def rnaseq_mice(
    effects: RnaseqEffects, first_number: int = 1, prefix: str = "M", cohort: str = "rnaseq"
) -> pd.DataFrame:
    """The sequenced mice: ``mice_per_cell`` per group x training cell, numbered from
    ``first_number``, sexes alternating, two library batches alternating within each cell, and
    the sample name of each library (``RNA01``...) in ``rnaseq_sample``."""
    rows = []
    for group in effects.groups:
        for training in effects.training_levels:
            for k in range(effects.mice_per_cell):
                number = first_number + len(rows)
                rows.append(
                    {
                        "mouse_id": f"{prefix}{number:03d}",
                        "cohort": cohort,
                        "sex": "female" if number % 2 else "male",
                        "group": group,
                        "training": training,
                        "batch": f"B{k % 2 + 1}",
                        "rnaseq_sample": f"RNA{len(rows) + 1:02d}",
                    }
                )
    return pd.DataFrame(rows)


def _gene_table(effects: RnaseqEffects, rng: np.random.Generator) -> pd.DataFrame:
    """Gene ids SIMMUSG00000001... (simulated, not Ensembl) with the named genes of the gene
    sets at random positions among placeholder names Simg00001..."""
    named = list(
        dict.fromkeys(
            list(effects.key_genes)
            + OXPHOS_GENES
            + FATTY_ACID_GENES
            + INFLAMMATORY_GENES
            + RIBOSOME_GENES
        )
    )
    needed = len(named) + 4 * (effects.n_training_genes + effects.n_group_genes)
    if effects.n_genes < needed:
        raise ValueError(f"n_genes must be at least {needed} for the planted effects")
    names = np.array(
        named + [f"Simg{i:05d}" for i in range(1, effects.n_genes - len(named) + 1)], dtype=object
    )
    names = names[rng.permutation(len(names))]
    return pd.DataFrame(
        {
            "gene_id": [f"SIMMUSG{i:08d}" for i in range(1, effects.n_genes + 1)],
            "gene_name": names,
        }
    )


def _plant(
    effects: RnaseqEffects, genes: pd.DataFrame, mean: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Choose planted genes and their log2 effects; returns the truth table."""
    n = len(genes)
    name = genes["gene_name"].to_numpy()
    low, high = effects.training_lfc_range
    expressed = mean >= effects.min_planted_mean
    training = np.zeros(n)
    key_index = np.flatnonzero(np.isin(name, list(effects.key_genes)))
    training[key_index] = [effects.key_genes[g] for g in name[key_index]]
    pools = [
        (OXPHOS_GENES, effects.oxphos_planted, 1.0),
        (FATTY_ACID_GENES, effects.fatty_acid_planted, 1.0),
    ]
    for members, count, up in pools:
        pool = np.flatnonzero(np.isin(name, members) & (training == 0) & expressed)
        chosen = rng.choice(pool, size=min(count, len(pool)), replace=False)
        training[chosen] = up * rng.uniform(low, high, len(chosen))
    in_sets = np.isin(name, [g for members in GENE_SETS.values() for g in members])
    remaining = effects.n_training_genes - int((training != 0).sum())
    pool = np.flatnonzero(~in_sets & (training == 0) & expressed)
    chosen = np.sort(rng.choice(pool, size=remaining, replace=False))
    signs = np.where(rng.random(remaining) < effects.fraction_up, 1.0, -1.0)
    training[chosen] = signs * rng.uniform(low, high, remaining)
    planted = np.flatnonzero(training != 0)
    n_lost = int(round(effects.fraction_lost * len(planted)))
    others = planted[~np.isin(planted, key_index)]
    lost_index = np.concatenate(
        [key_index, rng.choice(others, size=n_lost - len(key_index), replace=False)]
    )
    lost = np.zeros(n, bool)
    lost[lost_index] = True
    group_effect = np.zeros(n)
    pool = np.flatnonzero(~in_sets & (training == 0) & expressed)
    chosen = rng.choice(pool, size=effects.n_group_genes, replace=False)
    group_effect[chosen] = np.where(rng.random(len(chosen)) < 0.5, 1.0, -1.0) * rng.uniform(
        *effects.group_lfc_range, len(chosen)
    )
    return genes.assign(
        baseline_mean=mean,
        planted_training=training != 0,
        log2fc_training_control=training,
        log2fc_training_silenced=np.where(lost, 0.0, training),
        lost_in_silenced=lost,
        log2fc_silenced_vs_control=group_effect,
        batch_log2_shift=rng.normal(0, effects.batch_lfc_sd, n),
    )


def simulate_counts(
    effects: RnaseqEffects, mice: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The integer count matrix (genes x rnaseq_sample, sorted by sample) and the truth table."""
    genes = _gene_table(effects, rng)
    n = len(genes)
    log_q = rng.normal(0.0, effects.log_expression_sd, n)
    for name, reads in effects.key_gene_reads.items():
        log_q[(genes["gene_name"] == name).to_numpy()] = np.log(
            reads / effects.library_size_mean * np.exp(log_q).sum()
        )
    proportion = np.exp(log_q) / np.exp(log_q).sum()
    truth = _plant(effects, genes, proportion * effects.library_size_mean, rng)
    truth["dispersion"] = (
        effects.dispersion_asymptote
        + effects.dispersion_extra_poisson / np.maximum(truth["baseline_mean"].to_numpy(), 1e-3)
    ) * np.exp(rng.normal(0, effects.dispersion_scatter_sd, n))
    mice = mice.sort_values("rnaseq_sample", kind="stable").reset_index(drop=True)
    trained = (mice["training"] == effects.training_levels[1]).to_numpy(float)
    silenced = (mice["group"] == effects.groups[1]).to_numpy(float)
    batch = (mice["batch"] != sorted(mice["batch"].unique())[0]).to_numpy(float)
    log2_effect = (
        np.outer(truth["log2fc_training_control"], trained * (1 - silenced))
        + np.outer(truth["log2fc_training_silenced"], trained * silenced)
        + np.outer(truth["log2fc_silenced_vs_control"], silenced)
        + np.outer(truth["batch_log2_shift"], batch)
    )
    spread = effects.library_size_spread
    library = effects.library_size_mean * rng.uniform(1 - spread, 1 + spread, len(mice))
    relative = proportion[:, None] * 2.0**log2_effect
    mu = relative / relative.sum(axis=0) * library[None, :]
    size = 1.0 / truth["dispersion"].to_numpy()[:, None]
    counts = rng.negative_binomial(size, size / (size + mu))
    matrix = pd.DataFrame(
        counts.astype(np.int64),
        index=pd.Index(truth["gene_id"], name="gene_id"),
        columns=pd.Index(mice["rnaseq_sample"], name="sample"),
    )
    return matrix, truth


def _write_gzip_text(text: str, path: Path) -> None:
    """gzip with no file name and time in the header: the same text gives the same bytes."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as z:
        z.write(text.encode("utf-8"))


def _featurecounts_text(matrix: pd.DataFrame, rng: np.random.Generator) -> str:
    n = len(matrix)
    bams = [f"star_salmon/{s}.markdup.sorted.bam" for s in matrix.columns]
    chromosome = np.sort(rng.integers(1, 20, n))
    start = rng.integers(3_000_000, 190_000_000, n)
    length = rng.integers(600, 9_000, n)
    table = pd.DataFrame(
        {
            "Geneid": matrix.index,
            "Chr": [f"chr{c}" for c in chromosome],
            "Start": start,
            "End": start + rng.integers(2_000, 80_000, n),
            "Strand": np.where(rng.random(n) < 0.5, "+", "-"),
            "Length": length,
        }
    )
    table[bams] = matrix.to_numpy()
    buffer = io.StringIO()
    command = " ".join(
        ['"featureCounts"', '"-T" "6" "-s" "2" "-p" "--countReadPairs" "-a" "genes.gtf"']
        + ['"-o" "counts.txt"']
        + [f'"{b}"' for b in bams]
    )
    buffer.write(f"# Program:featureCounts v2.0.6; Command:{command}\n")
    table.to_csv(buffer, sep="\t", index=False, lineterminator="\n")
    return buffer.getvalue()


def write_rnaseq(
    effects: RnaseqEffects, mice: pd.DataFrame, folder: Path, rng: np.random.Generator
) -> dict:
    """Simulate the counts of ``mice`` (mouse_id, group, training; optional batch and
    rnaseq_sample — see :func:`rnaseq_mice`) and write them into ``folder``; return the truth."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mice = mice.copy()
    missing = [c for c in ("mouse_id", "group", "training") if c not in mice.columns]
    if missing:
        raise ValueError(f"mice table needs column(s) {', '.join(missing)} (see rnaseq_mice)")
    if "rnaseq_sample" not in mice.columns:
        mice["rnaseq_sample"] = [f"RNA{i + 1:02d}" for i in range(len(mice))]
    if "batch" not in mice.columns:
        mice["batch"] = [f"B{i % 2 + 1}" for i in range(len(mice))]
    mice["group_training"] = mice["group"] + "_" + mice["training"]
    matrix, truth = simulate_counts(effects, mice, rng)

    estimated = matrix.to_numpy(float)
    jitter = rng.uniform(
        -effects.estimated_count_noise, effects.estimated_count_noise, matrix.shape
    )
    estimated = np.where(matrix.to_numpy() > 0, estimated + jitter, 0.0)
    salmon = pd.DataFrame(estimated, index=matrix.index, columns=matrix.columns)
    salmon.insert(0, "gene_name", truth["gene_name"].to_numpy())
    salmon.reset_index().to_csv(
        folder / "salmon.merged.gene_counts.tsv",
        sep="\t",
        index=False,
        float_format="%.3f",
        lineterminator="\n",
    )
    (folder / "featurecounts").mkdir(exist_ok=True)
    _write_gzip_text(_featurecounts_text(matrix, rng), folder / "featurecounts" / "counts.txt.gz")
    gmt = "".join(
        f"{name}\tsimulated exneuro gene set ({len(members)} genes)\t" + "\t".join(members) + "\n"
        for name, members in GENE_SETS.items()
    )
    (folder / "gene_sets.gmt").write_text(gmt, encoding="utf-8")
    mice.to_csv(folder / "rnaseq_samples.tsv", sep="\t", index=False, lineterminator="\n")
    planted_rows = truth["planted_training"] | (truth["log2fc_silenced_vs_control"] != 0)
    truth.loc[planted_rows].to_csv(
        folder / "rnaseq_truth.tsv", sep="\t", index=False, float_format="%.6g", lineterminator="\n"
    )

    planted = truth[truth["planted_training"]]
    key = truth.set_index("gene_name").loc[list(effects.key_genes)]
    oxphos = planted["gene_name"].isin(OXPHOS_GENES)
    return {
        "model": "counts ~ NB(L_j q_g 2^(x_j b_g) / sum, dispersion (0.05 + 1/mu) e^N(0,0.35))",
        "n_genes": int(len(truth)),
        "n_samples": int(matrix.shape[1]),
        "design": {
            f"{g}_{t}": int(((mice["group"] == g) & (mice["training"] == t)).sum())
            for g in effects.groups
            for t in effects.training_levels
        },
        "training_genes_in_control": int(len(planted)),
        "training_genes_lost_in_silenced": int(planted["lost_in_silenced"].sum()),
        "fraction_lost": round(float(planted["lost_in_silenced"].mean()), 4),
        "training_genes_up": int((planted["log2fc_training_control"] > 0).sum()),
        "group_difference_genes": int((truth["log2fc_silenced_vs_control"] != 0).sum()),
        "key_genes": {
            name: {
                "gene_id": str(row["gene_id"]),
                "log2fc_training_control": float(row["log2fc_training_control"]),
                "log2fc_training_silenced": float(row["log2fc_training_silenced"]),
            }
            for name, row in key.iterrows()
        },
        "enriched_gene_set": "OXIDATIVE_PHOSPHORYLATION",
        "oxphos_genes_planted": int(oxphos.sum()),
        "library_size_range": [int(matrix.sum().min()), int(matrix.sum().max())],
        "files": {
            "salmon_counts": "salmon.merged.gene_counts.tsv",
            "featurecounts": "featurecounts/counts.txt.gz",
            "gene_sets": "gene_sets.gmt",
            "samples": "rnaseq_samples.tsv",
            "truth": "rnaseq_truth.tsv",
        },
    }
