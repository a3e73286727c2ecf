# Reference values of the nested (segment within neuron within mouse) mixed model with sex as a
# fixed factor and cage as a random effect, computed with R (Debian packages r-cran-lmertest,
# r-cran-emmeans). Run in this folder: Rscript reference.R > reference.tsv
suppressPackageStartupMessages({
  library(lmerTest)
  library(emmeans)
})
options(contrasts = c("contr.sum", "contr.poly"))
emm_options(lmer.df = "satterthwaite")
tight <- lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12))
data <- read.csv("segments.csv")
data$group <- factor(data$group, levels = c("control", "exercise"))
data$sex <- factor(data$sex, levels = c("male", "female"))
out <- list()
models <- list(
  sex = density_per_10um ~ group * sex + (1 | mouse / neuron),
  sex_cage = density_per_10um ~ group * sex + (1 | cage / mouse / neuron))
for (case in names(models)) {
  fit <- lmer(models[[case]], data = data, control = tight)
  contrast_row <- summary(contrast(emmeans(fit, ~ group), "trt.vs.ctrl"))
  out[[length(out) + 1]] <- data.frame(case = case, test = "lmm", term = "exercise - control",
    estimate = contrast_row$estimate, se = contrast_row$SE, statistic = contrast_row$t.ratio,
    df_num = contrast_row$df, df_den = NA, p = contrast_row$p.value)
  f_table <- anova(fit, type = 3, ddf = "Satterthwaite")
  for (term in rownames(f_table)) out[[length(out) + 1]] <- data.frame(case = case,
    test = "lmm", term = term, estimate = NA, se = NA, statistic = f_table[term, "F value"],
    df_num = f_table[term, "NumDF"], df_den = f_table[term, "DenDF"], p = f_table[term, "Pr(>F)"])
}
write.table(do.call(rbind, out), stdout(), sep = "\t", quote = FALSE, row.names = FALSE)
