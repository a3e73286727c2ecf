"""Bulk RNA-seq: count matrices in any common form, normalization, DESeq2 (pydeseq2) and summaries.

``readers`` turns featureCounts, nf-core/rnaseq, HTSeq-count and plain tables into one genes x
samples integer matrix matched to the sample sheet; ``normalize`` gives size factors, CPM/TMM,
the variance-stabilized matrix, PCA and sample QC; ``de`` runs pydeseq2 for configured contrasts;
``summary`` counts DE genes, the training response lost in a group, a gene panel and
over-representation of gene sets.
"""
