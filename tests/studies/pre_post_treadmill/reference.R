# Reference values of the pre/post treadmill study (cohort 'training', distance run), computed
# with R (Debian r-base, afex, lmerTest, emmeans): Rscript reference.R > reference.tsv
suppressPackageStartupMessages({
  library(afex)
  library(lmerTest)
  library(emmeans)
})
options(contrasts = c("contr.sum", "contr.poly"))
emm_options(lmer.df = "satterthwaite")

sheet <- read.delim("samples.tsv", colClasses = "character")
tests <- read.csv("endurance.csv", check.names = FALSE, colClasses = "character")
data <- merge(tests, sheet, by.x = "Animal", by.y = "mouse_id")
data <- data[data$cohort == "training", ]
data$distance_m <- as.numeric(data[["Distance (m)"]])
data$group <- factor(data$group, levels = c("sedentary", "trained"))
data$session <- factor(data$Test, levels = c("pre", "post"))

out <- list()
add <- function(test, term, subset, statistic, df_num, df_den, p, estimate = NA) {
  out[[length(out) + 1]] <<- data.frame(test = test, term = term, subset = subset,
    estimate = estimate, statistic = statistic, df_num = df_num, df_den = df_den, p = p)
}
anova_table <- suppressMessages(aov_ez("Animal", "distance_m", data, between = "group",
  within = "session", type = 3, anova_table = list(correction = "none", es = "none")))$anova_table
for (term in rownames(anova_table)) add("mixed_anova", term, "cohort=training",
  anova_table[term, "F"], anova_table[term, "num Df"], anova_table[term, "den Df"],
  anova_table[term, "Pr(>F)"])
fit <- lmer(distance_m ~ group * session + (1 | Animal), data = data)
groups <- summary(contrast(emmeans(fit, ~ group | session), "trt.vs.ctrl", adjust = "none"))
for (i in seq_len(nrow(groups))) add("emm_contrast", as.character(groups$contrast[i]),
  paste0("cohort=training; session=", groups$session[i]), groups$t.ratio[i], groups$df[i], NA,
  groups$p.value[i], groups$estimate[i])
sessions <- summary(contrast(emmeans(fit, ~ session | group), "trt.vs.ctrl", adjust = "none"))
for (i in seq_len(nrow(sessions))) add("emm_contrast", as.character(sessions$contrast[i]),
  paste0("cohort=training; group=", sessions$group[i]), sessions$t.ratio[i], sessions$df[i], NA,
  sessions$p.value[i], sessions$estimate[i])
# the gain test: ANCOVA of the post-training distance on the pre-training one (Vickers & Altman 2001)
wide <- reshape(data[, c("Animal", "group", "session", "distance_m")], idvar = c("Animal", "group"),
  timevar = "session", direction = "wide")
ancova <- summary(lm(distance_m.post ~ distance_m.pre + group, data = wide,
  contrasts = list(group = "contr.treatment")))
gain <- ancova$coefficients["grouptrained", ]
add("ancova", "trained - sedentary", "cohort=training; session=post", gain[["t value"]],
  ancova$df[2], NA, gain[["Pr(>|t|)"]], gain[["Estimate"]])
write.table(do.call(rbind, out), stdout(), sep = "\t", quote = FALSE, row.names = FALSE)
