# Reference values of the nested (segment within neuron within mouse) mixed model with sex as a
# fixed factor and cage as a random effect, computed with R (Debian packages r-cran-lmertest,
# r-cran-emmeans). Run in this folder: Rscript reference.R > reference.tsv
suppressPackageStartupMessages({
  library(lmerTest)
  library(emmeans)
  library(afex)
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
# the ephys models on the same numbers: each segment a step current of its neuron (F-I curve,
# current as a factor, cage/mouse/cell random) and each segment a cell (per-cell values)
data$current_pa <- factor(20 * (as.integer(sub("s", "", data$segment)) + 1))
fit <- lmer(density_per_10um ~ group * sex * current_pa + (1 | cage / mouse / neuron), data = data,
  control = tight)
f_table <- anova(fit, type = 3, ddf = "Satterthwaite")
for (term in rownames(f_table)) out[[length(out) + 1]] <- data.frame(case = "fi_curve",
  test = "lmm", term = term, estimate = NA, se = NA, statistic = f_table[term, "F value"],
  df_num = f_table[term, "NumDF"], df_den = f_table[term, "DenDF"], p = f_table[term, "Pr(>F)"])
rows <- summary(contrast(emmeans(fit, ~ group | current_pa), "trt.vs.ctrl", adjust = "none"))
for (i in seq_len(nrow(rows))) out[[length(out) + 1]] <- data.frame(case = "fi_curve",
  test = "emm_contrast", term = paste0("current_pa=", rows$current_pa[i]),
  estimate = rows$estimate[i], se = rows$SE[i], statistic = rows$t.ratio[i], df_num = rows$df[i],
  df_den = NA, p = rows$p.value[i])
fit <- lmer(density_per_10um ~ group * sex + (1 | mouse), data = data, control = tight)
f_table <- anova(fit, type = 3, ddf = "Satterthwaite")
for (term in rownames(f_table)) out[[length(out) + 1]] <- data.frame(case = "cells",
  test = "lmm", term = term, estimate = NA, se = NA, statistic = f_table[term, "F value"],
  df_num = f_table[term, "NumDF"], df_den = f_table[term, "DenDF"], p = f_table[term, "Pr(>F)"])
rows <- summary(contrast(emmeans(fit, ~ group), "trt.vs.ctrl", adjust = "none"))
out[[length(out) + 1]] <- data.frame(case = "cells", test = "emm_contrast",
  term = "exercise - control", estimate = rows$estimate, se = rows$SE, statistic = rows$t.ratio,
  df_num = rows$df, df_den = NA, p = rows$p.value)
# histology-shaped: each mouse's mean as its percentage, two-way ANOVA group x sex (afex)
mice <- aggregate(density_per_10um ~ mouse + group + sex, data = data, FUN = mean)
table <- suppressMessages(aov_ez("mouse", "density_per_10um", mice, between = c("group", "sex"),
  type = 3, anova_table = list(es = "none")))$anova_table
for (term in rownames(table)) out[[length(out) + 1]] <- data.frame(case = "histology",
  test = "anova", term = term, estimate = NA, se = NA, statistic = table[term, "F"],
  df_num = table[term, "num Df"], df_den = table[term, "den Df"], p = table[term, "Pr(>F)"])
write.table(do.call(rbind, out), stdout(), sep = "\t", quote = FALSE, row.names = FALSE)
