# Reference values of the treadmill models with sex as a fixed factor and cage as a random
# effect, computed with R (Debian packages r-cran-afex, r-cran-lmertest, r-cran-emmeans).
# Run in this folder: Rscript reference.R > reference.tsv
#   vo2max: the two-sex rat training study of tests/studies/rat_training (pre/post VO2max, one
#           missing post test), analysed as the treadmill analysis does with sex declared fixed.
#   cages:  cages.csv (make_cages.py), three sessions, two groups x two sexes, mice nested in
#           cages, sex fixed and cage random.
suppressPackageStartupMessages({
  library(afex)
  library(lmerTest)
  library(emmeans)
})
options(contrasts = c("contr.sum", "contr.poly"))
emm_options(lmer.df = "satterthwaite")
# lme4's default optimizer stops at a tolerance that moves small p values in the 4th digit;
# optimized to convergence, R's optimum is the one the pipeline reports
tight <- lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12))

out <- list()
add <- function(case, test, term, subset, estimate, se, statistic, df_num, df_den, p) {
  out[[length(out) + 1]] <<- data.frame(case = case, test = test, term = term, subset = subset,
    estimate = estimate, se = se, statistic = statistic, df_num = df_num, df_den = df_den, p = p)
}
f_rows <- function(case, fit) {
  f_table <- anova(fit, type = 3, ddf = "Satterthwaite")
  for (term in rownames(f_table)) add(case, "lmm", term, "", NA, NA, f_table[term, "F value"],
    f_table[term, "NumDF"], f_table[term, "DenDF"], f_table[term, "Pr(>F)"])
}
coefficient_rows <- function(case, formula, data) {
  treatment <- lmer(formula, data = data, control = tight,
    contrasts = list(group = "contr.treatment", sex = "contr.treatment", session = "contr.treatment"))
  table <- summary(treatment)$coefficients
  for (i in seq_len(nrow(table))) add(case, "lmm_coefficient", rownames(table)[i], "",
    table[i, "Estimate"], table[i, "Std. Error"], table[i, "t value"], table[i, "df"], NA,
    table[i, "Pr(>|t|)"])
}
contrast_rows <- function(case, fit, spec, by) {
  rows <- summary(contrast(emmeans(fit, spec), "trt.vs.ctrl", adjust = "none"))
  for (i in seq_len(nrow(rows))) add(case, "emm_contrast", as.character(rows$contrast[i]),
    paste0(by, "=", rows[[by]][i]), rows$estimate[i], rows$SE[i], rows$t.ratio[i], rows$df[i],
    NA, rows$p.value[i])
}
anova_rows <- function(case, data, dv, id) {
  complete <- data[!data[[id]] %in% data[[id]][is.na(data[[dv]])], ]
  table <- suppressMessages(aov_ez(id, dv, complete, between = c("group", "sex"),
    within = "session", type = 3, anova_table = list(correction = "none", es = "none")))
  table <- table$anova_table
  for (term in rownames(table)) add(case, "mixed_anova", term, "", NA, NA, table[term, "F"],
    table[term, "num Df"], table[term, "den Df"], table[term, "Pr(>F)"])
}

wide <- read.csv("../../studies/rat_training/vo2max.csv", na.strings = c("", "nd"))
wide$mouse <- paste(wide$sex, wide$group, wide$rat, sep = "_")
vo2 <- rbind(
  data.frame(mouse = wide$mouse, sex = wide$sex, group = wide$group, session = "pre",
    vo2max = wide$vo2max_pre),
  data.frame(mouse = wide$mouse, sex = wide$sex, group = wide$group, session = "post",
    vo2max = wide$vo2max_post))
vo2$group <- factor(vo2$group, levels = c("SED", "8W"))
vo2$sex <- factor(vo2$sex, levels = c("male", "female"))
vo2$session <- factor(vo2$session, levels = c("pre", "post"))
observed <- vo2[!is.na(vo2$vo2max), ]
fit <- lmer(vo2max ~ group * sex * session + (1 | mouse), data = observed, control = tight)
f_rows("vo2max", fit)
coefficient_rows("vo2max", vo2max ~ group * sex * session + (1 | mouse), observed)
contrast_rows("vo2max", fit, ~ group | session, "session")
contrast_rows("vo2max", fit, ~ session | group, "group")
anova_rows("vo2max", vo2, "vo2max", "mouse")
gain <- wide
gain$group <- factor(gain$group, levels = c("SED", "8W"))
gain$sex <- factor(gain$sex, levels = c("male", "female"))
ancova <- summary(lm(vo2max_post ~ vo2max_pre + group + sex, data = gain,
  contrasts = list(group = "contr.treatment", sex = "contr.treatment")))
add("vo2max", "ancova", "8W - SED", "session=post", ancova$coefficients["group8W", "Estimate"],
  ancova$coefficients["group8W", "Std. Error"], ancova$coefficients["group8W", "t value"],
  ancova$df[2], NA, ancova$coefficients["group8W", "Pr(>|t|)"])

cages <- read.csv("cages.csv")
cages$group <- factor(cages$group, levels = c("sedentary", "trained"))
cages$sex <- factor(cages$sex, levels = c("male", "female"))
cages$session <- factor(cages$session, levels = c("d0", "d14", "d28"))
fit <- lmer(distance_m ~ group * sex * session + (1 | cage / mouse), data = cages, control = tight)
f_rows("cages", fit)
coefficient_rows("cages", distance_m ~ group * sex * session + (1 | cage / mouse), cages)
contrast_rows("cages", fit, ~ group | session, "session")
anova_rows("cages", cages, "distance_m", "mouse")

write.table(do.call(rbind, out), stdout(), sep = "\t", quote = FALSE, row.names = FALSE)
