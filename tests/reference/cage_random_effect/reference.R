# lme4/lmerTest reference: score ~ group * week + (1 | cage/mouse), type III F tests with
# Satterthwaite df, and the REML variance components. Rscript reference.R > reference.tsv
suppressPackageStartupMessages(library(lmerTest))
options(contrasts = c("contr.sum", "contr.poly"))
data <- read.csv("cage_mice.csv")
data$group <- factor(data$group, levels = c("control", "trained"))
data$week <- factor(data$week)
fit <- lmer(score ~ group * week + (1 | cage/mouse), data = data)
f_table <- anova(fit, type = 3, ddf = "Satterthwaite")
variance <- as.data.frame(VarCorr(fit))
out <- rbind(
  data.frame(kind = "F", term = rownames(f_table), value = f_table$`F value`,
    df_den = f_table$DenDF, p = f_table$`Pr(>F)`),
  data.frame(kind = "variance", term = variance$grp, value = variance$vcov, df_den = NA, p = NA))
write.table(out, stdout(), sep = "\t", quote = FALSE, row.names = FALSE)
