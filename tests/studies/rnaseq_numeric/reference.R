# DESeq2 reference of the RNA-seq study: design ~ x_rin + group (RIN a continuous covariate),
# genes with fewer than 10 reads over all samples dropped first, contrast trained vs sedentary,
# DESeq2 defaults. Computed with Debian's r-bioc-deseq2: Rscript reference.R > reference.tsv
suppressPackageStartupMessages(library(DESeq2))
counts <- as.matrix(read.delim("counts.tsv", row.names = 1, check.names = FALSE))
sheet <- read.delim("samples.tsv", colClasses = c(rnaseq_sample = "character"))
rownames(sheet) <- sheet$rnaseq_sample
sheet <- sheet[colnames(counts), ]
sheet$group <- factor(sheet$group, levels = c("sedentary", "trained"))
counts <- counts[rowSums(counts) >= 10, ]
dds <- DESeqDataSetFromMatrix(counts, sheet, design = ~ x_rin + group)
dds <- DESeq(dds, quiet = TRUE)
training <- results(dds, contrast = c("group", "trained", "sedentary"), alpha = 0.05)
rin <- results(dds, name = "x_rin", alpha = 0.05)
out <- data.frame(gene_id = rownames(training), baseMean = training$baseMean,
  log2FoldChange = training$log2FoldChange, pvalue = training$pvalue, padj = training$padj,
  rin_log2FoldChange = rin$log2FoldChange)
write.table(out, stdout(), sep = "\t", quote = FALSE, row.names = FALSE)
