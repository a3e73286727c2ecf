# Reference values of the rat training study, computed with R (Debian packages r-cran-afex,
# r-cran-lmertest, r-cran-emmeans): Rscript reference.R > reference.tsv (run in this folder).
suppressPackageStartupMessages({
  library(afex)
  library(lmerTest)
  library(emmeans)
})
options(contrasts = c("contr.sum", "contr.poly"))
emm_options(lmer.df = "satterthwaite")

long <- function(file, outcome, columns, missing = character()) {
  wide <- read.csv(file, na.strings = c("", missing), colClasses = "character")
  wide$rat_id <- paste(wide$sex, wide$group, wide$rat, sep = "_")
  rows <- do.call(rbind, lapply(columns, function(column) data.frame(
    rat_id = wide$rat_id, sex = wide$sex, group = wide$group, test = column,
    value = as.numeric(wide[[column]]))))
  rows$group <- factor(rows$group, levels = c("SED", "8W"))
  rows$sex <- factor(rows$sex, levels = c("male", "female"))
  rows$test <- factor(rows$test, levels = columns)
  names(rows)[names(rows) == "value"] <- outcome
  rows
}

out <- list()
add <- function(table, test, term, subset, statistic, df_num, df_den, p, estimate = NA) {
  out[[length(out) + 1]] <<- data.frame(table = table, test = test, term = term, subset = subset,
    estimate = estimate, statistic = statistic, df_num = df_num, df_den = df_den, p = p)
}

vo2 <- long("vo2max.csv", "vo2max", c("vo2max_pre", "vo2max_post"), "nd")
complete <- vo2[!vo2$rat_id %in% vo2$rat_id[is.na(vo2$vo2max)], ]
anova_table <- suppressMessages(aov_ez("rat_id", "vo2max", complete, between = c("group", "sex"),
  within = "test", type = 3, anova_table = list(correction = "none", es = "none")))$anova_table
for (term in rownames(anova_table)) add("vo2max", "mixed_anova", term, "", anova_table[term, "F"],
  anova_table[term, "num Df"], anova_table[term, "den Df"], anova_table[term, "Pr(>F)"])
fit <- lmer(vo2max ~ group * sex * test + (1 | rat_id), data = vo2[!is.na(vo2$vo2max), ])
f_table <- anova(fit, type = 3, ddf = "Satterthwaite")
for (term in rownames(f_table)) add("vo2max", "lmm", term, "", f_table[term, "F value"],
  f_table[term, "NumDF"], f_table[term, "DenDF"], f_table[term, "Pr(>F)"])
contrasts <- summary(contrast(emmeans(fit, ~ group | test), "trt.vs.ctrl", adjust = "sidak"))
for (i in seq_len(nrow(contrasts))) add("vo2max", "emm_contrast", as.character(contrasts$contrast[i]),
  paste0("test=", contrasts$test[i]), contrasts$t.ratio[i], contrasts$df[i], NA, contrasts$p.value[i],
  contrasts$estimate[i])

speed <- long("run_speed.csv", "speed", c("speed_pre", "speed_post"))
speed$sex <- NULL
anova_table <- suppressMessages(aov_ez("rat_id", "speed", speed, between = "group",
  within = "test", type = 3, anova_table = list(correction = "none", es = "none")))$anova_table
for (term in rownames(anova_table)) add("run_speed", "mixed_anova", term, "", anova_table[term, "F"],
  anova_table[term, "num Df"], anova_table[term, "den Df"], anova_table[term, "Pr(>F)"])
fit <- lmer(speed ~ group * test + (1 | rat_id), data = speed)
contrasts <- summary(contrast(emmeans(fit, ~ test | group), "trt.vs.ctrl", adjust = "sidak"))
for (i in seq_len(nrow(contrasts))) add("run_speed", "emm_contrast",
  as.character(contrasts$contrast[i]), paste0("group=", contrasts$group[i]), contrasts$t.ratio[i],
  contrasts$df[i], NA, contrasts$p.value[i], contrasts$estimate[i])

write.table(do.call(rbind, out), stdout(), sep = "\t", quote = FALSE, row.names = FALSE)
