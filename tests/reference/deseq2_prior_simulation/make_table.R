# The random part of DESeq2's dispersion prior width for designs with 1-3 residual degrees of
# freedom (estimateDispersionsPriorVar, DESeq2 1.38.3): after set.seed(2), for each of 200
# variances x in seq(0, 8, length = 200), 10,000 draws of
#   log(rchisq(1e4, df)) + rnorm(1e4, 0, sqrt(x)) - log(df)
# are binned with hist(breaks = -20:20 / 2) after dropping values outside (-10, 10).
# The draws do not depend on the data, so their bin counts are a table per df.
# Usage: Rscript make_table.R output.tsv   (columns: df, grid_index, bin_1 .. bin_40)
args <- commandArgs(trailingOnly = TRUE)
brks <- -20:20 / 2
grid <- seq(from = 0, to = 8, length = 200)
rows <- list()
for (df in 1:3) {
  set.seed(2)
  for (i in seq_along(grid)) {
    draws <- log(rchisq(10000, df = df)) + rnorm(10000, 0, sqrt(grid[i])) - log(df)
    draws <- draws[draws > min(brks) & draws < max(brks)]
    rows[[length(rows) + 1]] <- c(df, i, hist(draws, breaks = brks, plot = FALSE)$counts)
  }
}
table <- do.call(rbind, rows)
colnames(table) <- c("df", "grid_index", paste0("bin_", 1:40))
write.table(table, args[1], sep = "\t", quote = FALSE, row.names = FALSE)
