"""Bulk RNA-seq: count matrices in any common form, normalization, DESeq2 and summaries.

``readers`` turns featureCounts, nf-core/rnaseq, HTSeq-count and plain tables into one genes x
samples integer matrix, which ``samples`` matches to the sample sheet; ``precomputed_de`` reads a
facility's DE tables; ``normalize`` gives size factors, CPM/TMM,
the variance-stabilized matrix, PCA and sample QC; ``de`` runs DESeq2 (``deseq``, ``dispersion``,
``nbglm``, ``filtering``: R DESeq2's method on all genes at once) for configured contrasts;
``summary`` counts DE genes, the training response lost in a group and a gene panel;
``enrichment`` tests over-representation of gene sets.
"""
