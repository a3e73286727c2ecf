# Reference values of the nested slice study's spine table, computed with R (Debian r-base,
# lme4, lmerTest): Rscript reference.R > reference.tsv
suppressPackageStartupMessages(library(lmerTest))
options(contrasts = c("contr.sum", "contr.poly"))
spines <- read.csv("spines.csv")
spines$genotype <- factor(spines$genotype, levels = c("WT", "KO"))
fit <- lmer(density_per_um ~ genotype + (1 | mouse) + (1 | mouse:neuron), data = spines)
f_test <- anova(fit, type = 3, ddf = "Satterthwaite")
means <- aggregate(density_per_um ~ mouse + genotype, spines, mean)
on_means <- t.test(means$density_per_um[means$genotype == "KO"],
  means$density_per_um[means$genotype == "WT"])
naive <- t.test(spines$density_per_um[spines$genotype == "KO"],
  spines$density_per_um[spines$genotype == "WT"])
row <- function(test, estimate, statistic, df, p) data.frame(test = test, term = "KO - WT",
  estimate = estimate, statistic = statistic, df = df, p = p)
out <- rbind(
  data.frame(test = "lmm", term = "genotype", estimate = NA, statistic = f_test$`F value`,
    df = f_test$DenDF, p = f_test$`Pr(>F)`),
  row("welch_t_mouse_means", diff(rev(on_means$estimate)), on_means$statistic,
    on_means$parameter, on_means$p.value),
  row("welch_t_cells", diff(rev(naive$estimate)), naive$statistic, naive$parameter, naive$p.value))
write.table(out, stdout(), sep = "\t", quote = FALSE, row.names = FALSE)
