"""Write the RNA-seq study's count matrix, sample sheet and gene annotation (run once).

Eight muscle samples named by the facility's numbers (1001..1008), four sedentary and four
trained mice; a plain genes x samples matrix with Ensembl ids only and the gene symbols in a
separate annotation file; RNA integrity (RIN) measured per sample, a continuous covariate of the
design. Planted: genes 0-19 up 4-fold with training, genes 20-29 down 4-fold, genes 30-39 rise
by 1 log2 unit per RIN unit. Negative-binomial counts, dispersion 0.05.
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(1001)
n_genes, samples = 300, [str(1000 + i) for i in range(1, 9)]
trained = np.array([0, 0, 0, 0, 1, 1, 1, 1])
rin = np.array([7.9, 6.8, 8.4, 7.2, 7.5, 8.8, 6.9, 8.1])
base = np.exp(rng.uniform(np.log(40), np.log(4000), n_genes))
log2_fold = np.zeros((n_genes, len(samples)))
log2_fold[:20] += 2 * trained
log2_fold[20:30] -= 2 * trained
log2_fold[30:40] += rin - rin.mean()
mean = base[:, None] * 2**log2_fold * rng.uniform(0.8, 1.25, len(samples))
dispersion = 0.05
counts = rng.negative_binomial(1 / dispersion, 1 / (1 + mean * dispersion))
ids = [f"ENSMUSG{i:011d}" for i in range(n_genes)]
matrix = pd.DataFrame(counts, index=pd.Index(ids, name="gene_id"), columns=samples)
matrix.to_csv("counts.tsv", sep="\t")
symbols = [f"Trn{i}" if i < 30 else f"Rin{i}" if i < 40 else f"Gene{i}" for i in range(n_genes)]
pd.DataFrame({"gene_id": ids, "gene_name": symbols}).to_csv("genes.tsv", sep="\t", index=False)
pd.DataFrame(
    {
        "mouse_id": [f"R{i}" for i in range(1, 9)],
        "cohort": "muscle",
        "sex": ["male", "female"] * 4,
        "group": np.where(trained == 1, "trained", "sedentary"),
        "rnaseq_sample": samples,
        "x_rin": rin,
    }
).to_csv("samples.tsv", sep="\t", index=False)
