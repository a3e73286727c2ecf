# DESeq2 reference results for a count matrix, a sample sheet, a design and a list of contrasts.
#
# Usage: Rscript deseq2_reference.R counts.tsv samples.tsv contrasts.tsv "~ design" alpha outdir \
#          [fitType [prefix]]
#   counts.tsv    gene_id, then one integer column per sample
#   samples.tsv   column `sample` (= count column names) and the design variables; the first
#                 level of each factor in sort order is its reference unless the column
#                 `<variable>` has its levels listed in contrasts.tsv row `reference`
#   contrasts.tsv name, kind, value: kind `character` -> value "factor,level,reference"
#                 (results(contrast = c(...))); kind `numeric` -> comma-separated weights on
#                 resultsNames(dds); kind `reference` -> value "variable,level" (relevel)
#   alpha         results(alpha = ): the FDR that independent filtering maximises
#   fitType       DESeq(fitType = ): parametric (default) or mean
#   prefix        output file prefix (default "ref_")
# Writes outdir/<prefix><name>.csv (gene_id, baseMean, log2FoldChange, lfcSE, stat, pvalue, padj)
# and prints the wall time of DESeq() and of all results() calls (one core).
suppressMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
counts <- read.delim(args[1], check.names = FALSE)
samples <- read.delim(args[2], colClasses = "character")
contrasts <- read.delim(args[3], colClasses = "character")
design <- as.formula(args[4])
alpha <- as.numeric(args[5])
outdir <- args[6]
fit_type <- if (length(args) >= 7) args[7] else "parametric"
prefix <- if (length(args) >= 8) args[8] else "ref_"
matrix <- as.matrix(counts[, -1])
rownames(matrix) <- counts$gene_id
rownames(samples) <- samples$sample
samples <- samples[colnames(matrix), , drop = FALSE]
for (variable in all.vars(design)) {
  samples[[variable]] <- factor(samples[[variable]])
}
for (i in which(contrasts$kind == "reference")) {
  parts <- strsplit(contrasts$value[i], ",")[[1]]
  samples[[parts[1]]] <- relevel(samples[[parts[1]]], ref = parts[2])
}
dds <- DESeqDataSetFromMatrix(matrix, samples, design)
fit_time <- system.time(dds <- DESeq(dds, fitType = fit_type, quiet = TRUE))[["elapsed"]]
cat("resultsNames:", paste(resultsNames(dds), collapse = " "), "\n")
results_time <- 0
for (i in which(contrasts$kind != "reference")) {
  parts <- strsplit(contrasts$value[i], ",")[[1]]
  contrast <- if (contrasts$kind[i] == "character") parts else as.numeric(parts)
  elapsed <- system.time(res <- results(dds, contrast = contrast, alpha = alpha))[["elapsed"]]
  results_time <- results_time + elapsed
  table <- data.frame(gene_id = rownames(res), as.data.frame(res), check.names = FALSE)
  write.csv(table, file.path(outdir, paste0(prefix, contrasts$name[i], ".csv")),
            row.names = FALSE, quote = FALSE)
  cat(contrasts$name[i], ": padj < ", alpha, ": ", sum(res$padj < alpha, na.rm = TRUE),
      "; filter threshold ", metadata(res)$filterThreshold, "\n", sep = "")
}
cat(sprintf("DESeq2 %s fit %.3f s results %.3f s total %.3f s\n",
            packageVersion("DESeq2"), fit_time, results_time, fit_time + results_time))
