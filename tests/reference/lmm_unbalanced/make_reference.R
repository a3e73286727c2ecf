## Reference numbers for exneuro.stats.mixed (tests/test_stats_mixed.py).
## Run from this folder:  Rscript make_reference.R
## Needs lme4, lmerTest and emmeans (R only generates references; it is not a dependency).
## The simulated data are written by make_data.py (numpy seed 20240611); sleepstudy and Pastes are
## read from the sibling reference folders. Output: r_*.csv at full precision, one row per number
## set, keyed by a 'model' id (see README.md), and a printed summary.
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(emmeans)
})
options(width = 120)  # keep the default digits = 7: lmerTest's zapsmall() depends on it
## Tight optimizer tolerances: lme4's defaults stop with the deviance ~1e-7 above its minimum, which
## moves variance components and Satterthwaite df by up to ~1e-4 (relative) and p values below 1e-12
## by more than 1e-3. The references are meant to be the optimum itself.
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 1e-14,
                                   ftol_rel = 1e-16, maxeval = 1e5))
cat(R.version.string, "\n")
for (p in c("lme4", "lmerTest", "emmeans", "Matrix")) cat(p, format(packageVersion(p)), "\n")

coefs <- list(); anovas <- list(); varcorrs <- list(); fits <- list(); emms <- list(); cons <- list()

record <- function(id, m, anova = TRUE) {
  s <- summary(m)$coefficients
  coefs[[id]] <<- data.frame(model = id, term = rownames(s), estimate = s[, "Estimate"],
                             se = s[, "Std. Error"], df = s[, "df"], t = s[, "t value"],
                             p = s[, "Pr(>|t|)"])
  if (anova) {
    a <- anova(m, type = 3, ddf = "Satterthwaite")
    anovas[[id]] <<- data.frame(model = id, term = rownames(a), F = a[, "F value"],
                                df_num = a[, "NumDF"], df_den = a[, "DenDF"], p = a[, "Pr(>F)"])
  }
  v <- as.data.frame(VarCorr(m))
  varcorrs[[id]] <<- data.frame(model = id, grp = v$grp, var1 = v$var1, var2 = v$var2,
                                vcov = v$vcov, sdcor = v$sdcor)
  fits[[id]] <<- data.frame(model = id, reml = isREML(m),
                            deviance = if (isREML(m)) REMLcrit(m) else deviance(m),
                            logLik = as.numeric(logLik(m)), nobs = nobs(m))
}
record_emm <- function(id, emm) {
  e <- as.data.frame(summary(emm))
  by <- attr(summary(emm), "by.vars")
  pri <- attr(summary(emm), "pri.vars")
  emms[[id]] <<- data.frame(model = id, level = as.character(e[[pri]]),
                            by = if (length(by)) as.character(e[[by]]) else "",
                            emmean = e$emmean, se = e$SE, df = e$df,
                            ci_low = e$lower.CL, ci_high = e$upper.CL)
}
record_con <- function(id, con, adjust) {
  s <- as.data.frame(summary(con, infer = c(TRUE, TRUE), adjust = adjust))
  raw <- as.data.frame(summary(con, infer = c(FALSE, TRUE), adjust = "none"))
  by <- attr(summary(con), "by.vars")
  cons[[paste(id, adjust)]] <<- data.frame(
    model = id, adjust = adjust, by = if (length(by)) as.character(s[[by]]) else "",
    contrast = as.character(s$contrast), estimate = s$estimate, se = s$SE, df = s$df,
    t = s$t.ratio, p = raw$p.value, p_adj = s$p.value, ci_low = s$lower.CL, ci_high = s$upper.CL)
}

## 1. Unbalanced group (3) x session (4), random mouse intercepts, ~10% missing ----------------
d <- read.csv("unbalanced.csv")
d$group <- factor(d$group, levels = c("control", "silenced", "activated"))
d$session <- factor(d$session, levels = c("s1", "s2", "s3", "s4"))
m_trt <- lmer(distance_m ~ group * session + (1 | mouse), data = d, REML = TRUE, control = ctrl)
m_sum <- lmer(distance_m ~ group * session + (1 | mouse), data = d, REML = TRUE, control = ctrl,
              contrasts = list(group = "contr.sum", session = "contr.sum"))
a_trt <- as.data.frame(anova(m_trt, type = 3))
a_sum <- as.data.frame(anova(m_sum, type = 3))
stopifnot(isTRUE(all.equal(a_trt[, c("F value", "DenDF")], a_sum[, c("F value", "DenDF")],
                           tolerance = 1e-5)))  # type III is invariant to the coding
print(anova(m_trt, type = 3))
print(summary(m_trt))
record("unbalanced", m_trt)
record("unbalanced_sum", m_sum)
record("unbalanced_ml", update(m_trt, REML = FALSE))

emm_gs <- emmeans(m_trt, ~ group | session, lmer.df = "satterthwaite")
emm_sg <- emmeans(m_trt, ~ session | group, lmer.df = "satterthwaite")
emm_g <- emmeans(m_trt, ~ group, lmer.df = "satterthwaite")
record_emm("unbalanced group|session", emm_gs)
record_emm("unbalanced group", emm_g)
pw <- contrast(emm_gs, "pairwise")
print(summary(pw, infer = c(TRUE, TRUE), adjust = "sidak"))
for (adj in c("sidak", "bonferroni", "holm", "fdr", "none")) {
  record_con("unbalanced pairwise group|session", pw, adj)
}
record_con("unbalanced trt.vs.ctrl session|group", contrast(emm_sg, "trt.vs.ctrl", ref = 1), "sidak")
record_con("unbalanced consec session|group", contrast(emm_sg, "consec"), "holm")
record_con("unbalanced pairwise group", contrast(emm_g, "pairwise"), "sidak")

## 1b. The same data with session as a continuous covariate (day = 7 x session number): type III
## for a covariate x factor model. lmerTest's multi-df Satterthwaite df depends on the basis of the
## hypothesis matrix, hence on the order of the factor levels, so two orders are recorded.
d$day <- 7 * as.numeric(d$session)
m_cov <- lmer(distance_m ~ group * day + (1 | mouse), data = d, REML = TRUE, control = ctrl)
print(anova(m_cov, type = 3))
record("covariate", m_cov)
d_alpha <- transform(d, group = factor(as.character(group)))  # levels activated, control, silenced
record("covariate_alpha", update(m_cov, data = d_alpha))
m_cov_slope <- lmer(distance_m ~ group * day + (day | mouse), data = d, REML = TRUE, control = ctrl)
print(summary(m_cov_slope))  # singular fit: the day-slope variance is estimated at zero
record("covariate_slope", m_cov_slope)

## 1c. A single-term model with a multi-df term (lmerTest's anova() then uses its type I basis).
record("group_only", lmer(distance_m ~ group + (1 | mouse), data = d, REML = TRUE, control = ctrl))

## 2. Cells within mice: one value per cell, y ~ group + (1 | mouse) --------------------------
cells <- read.csv("nested_cells.csv")
cells$group <- factor(cells$group, levels = c("control", "silenced"))
m_cells <- lmer(y ~ group + (1 | mouse), data = cells, REML = TRUE, control = ctrl)
print(summary(m_cells))
print(anova(m_cells, type = 3))
record("cells", m_cells)

## 3. Segments within cells within mice: density ~ group + (1 | mouse/cell) -------------------
seg <- read.csv("nested_segments.csv")
seg$group <- factor(seg$group, levels = c("control", "silenced"))
m_seg <- lmer(density ~ group + (1 | mouse/cell), data = seg, REML = TRUE,
              control = ctrl)
print(summary(m_seg))
print(anova(m_seg, type = 3))
record("segments", m_seg)
record("segments_ml", update(m_seg, REML = FALSE))
record_con("segments trt.vs.ctrl group",
           contrast(emmeans(m_seg, ~ group, lmer.df = "satterthwaite"), "trt.vs.ctrl"), "none")

## 4. Extra numbers on the public data sets ----------------------------------------------------
ss <- read.csv("../sleepstudy/sleepstudy.csv")
ss$Subject <- factor(ss$Subject)
fm1 <- lmer(Reaction ~ Days + (Days | Subject), data = ss, REML = TRUE, control = ctrl)
record("sleepstudy fm1", fm1, anova = FALSE)
record("sleepstudy fm1 ML", update(fm1, REML = FALSE), anova = FALSE)
record("sleepstudy intercept", lmer(Reaction ~ Days + (1 | Subject), data = ss, control = ctrl),
       anova = FALSE)
record("sleepstudy uncorrelated",
       lmer(Reaction ~ Days + (1 | Subject) + (0 + Days | Subject), data = ss, control = ctrl),
       anova = FALSE)
pastes <- read.csv("../lme4_pastes/pastes.csv")
record("pastes", lmer(strength ~ 1 + (1 | batch/cask), data = pastes, control = ctrl),
       anova = FALSE)
record("pastes ML", lmer(strength ~ 1 + (1 | batch/cask), data = pastes, REML = FALSE,
                                  control = ctrl),
       anova = FALSE)

w <- function(x, file) write.csv(do.call(rbind, unname(x)), file, row.names = FALSE)
w(coefs, "r_coef.csv"); w(anovas, "r_anova.csv"); w(varcorrs, "r_varcorr.csv"); w(fits, "r_fit.csv")
w(emms, "r_emmeans.csv"); w(cons, "r_contrasts.csv")
