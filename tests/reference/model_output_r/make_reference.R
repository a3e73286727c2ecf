## Reference numbers for the mixed-model output columns, singular fits, likelihood-ratio tests,
## Kenward-Roger df, Benjamini-Yekutieli, the paired Wilcoxon exact/normal choice, GLS with AR(1)
## residuals and GLMMs (tests/test_stats_model_output.py, tests/test_stats_gls.py,
## tests/test_stats_glmm.py). Run from this folder:  Rscript make_reference.R
## R only generates references; it is not a dependency of the pipeline.
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(pbkrtest); library(nlme); library(glmmTMB)
  library(jsonlite)
})
cat(R.version.string, "\n")
for (p in c("lme4", "lmerTest", "pbkrtest", "nlme", "glmmTMB", "Matrix"))
  cat(p, format(packageVersion(p)), "\n")
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 1e-14,
                                   ftol_rel = 1e-16, maxeval = 1e5))
gctrl <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
out <- list()
fit_summary <- function(m) {
  s <- summary(m)$coefficients
  vc <- as.data.frame(VarCorr(m))
  list(term = rownames(s), estimate = unname(s[, 1]), se = unname(s[, 2]),
       df = if ("df" %in% colnames(s)) unname(s[, "df"]) else NULL,
       p = unname(s[, ncol(s)]),
       logLik = as.numeric(logLik(m)), AIC = AIC(m), BIC = BIC(m),
       singular = isSingular(m), vc_grp = vc$grp, vc_vcov = vc$vcov)
}

## 1. A singular fit: mice share no variance beyond their cells (seed chosen so that lme4 puts the
##    mouse variance on its boundary); the test on mouse means is the one to read.
for (seed in 1:200) {
  set.seed(seed)
  d <- expand.grid(cell = 1:8, mouse = 1:12)
  d$group <- ifelse(d$mouse <= 6, "control", "trained")
  d$value <- 10 + 0.6 * (d$group == "trained") + rnorm(nrow(d), sd = 1)
  m <- lmer(value ~ group + (1 | mouse), data = d, control = ctrl)
  if (isSingular(m)) break
}
d$mouse <- sprintf("m%02d", d$mouse)
write.csv(d, "singular_cells.csv", row.names = FALSE)
means <- aggregate(value ~ mouse + group, data = d, FUN = mean)
tt <- t.test(means$value[means$group == "trained"], means$value[means$group == "control"])
out$singular <- c(list(seed = seed), fit_summary(m),
                  list(mouse_means_p = tt$p.value, mouse_means_t = unname(tt$statistic)))

## 2. sleepstudy: output columns of REML and ML fits, ML likelihood-ratio tests, KR df
data(sleepstudy, package = "lme4")
fm1 <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, control = ctrl)
fm1ml <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE, control = ctrl)
fm0ml <- lmer(Reaction ~ 1 + (Days | Subject), sleepstudy, REML = FALSE, control = ctrl)
fmiml <- lmer(Reaction ~ Days + (1 | Subject), sleepstudy, REML = FALSE, control = ctrl)
fm0 <- lmer(Reaction ~ 1 + (Days | Subject), sleepstudy, control = ctrl)
out$sleep_reml <- fit_summary(fm1)
out$sleep_ml <- fit_summary(fm1ml)
lrt <- anova(fm0ml, fm1ml)
out$lrt_fixed <- list(chisq = lrt$Chisq[2], df = lrt$Df[2], p = lrt$`Pr(>Chisq)`[2])
lrt2 <- anova(fmiml, fm1ml)
out$lrt_random <- list(chisq = lrt2$Chisq[2], df = lrt2$Df[2], p = lrt2$`Pr(>Chisq)`[2])
kr <- KRmodcomp(fm1, fm0)
out$kr_sleep <- list(F = kr$stats$Fstat, ndf = kr$stats$ndf, ddf = kr$stats$ddf,
                     p = kr$stats$p.value, F_scaling = kr$stats$F.scaling)
skr <- summary(fm1, ddf = "Kenward-Roger")$coefficients
out$kr_sleep_coef <- list(term = rownames(skr), se = unname(skr[, 2]), df = unname(skr[, "df"]),
                          p = unname(skr[, 5]))
unb <- read.csv("../lmm_unbalanced/unbalanced.csv")
unb$group <- factor(unb$group); unb$session <- factor(unb$session)
mu <- lmer(distance_m ~ group * session + (1 | mouse), unb, control = ctrl)
akr <- anova(mu, type = 3, ddf = "Kenward-Roger")
out$kr_unbalanced <- list(term = rownames(akr), F = akr$`F value`, ndf = akr$NumDF,
                          ddf = akr$DenDF, p = akr$`Pr(>F)`)

## 3. Benjamini-Yekutieli (NA dropped from m, as p.adjust does)
p <- c(0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, NA, 0.5, 0.9)
out$by <- list(p = p, p_by = p.adjust(p, "BY"))

## 4. Paired Wilcoxon: R's exact/normal choice at n = 49 (exact) and n = 50 (normal, continuity)
set.seed(4)
before <- rnorm(50, 20, 3); after <- before + rnorm(50, 0.8, 2)
write.csv(data.frame(before = before, after = after), "paired_50.csv", row.names = FALSE)
w49 <- wilcox.test(after[1:49], before[1:49], paired = TRUE)
w50 <- wilcox.test(after, before, paired = TRUE)
out$wilcox_paired <- list(V49 = unname(w49$statistic), p49 = w49$p.value,
                          V50 = unname(w50$statistic), p50 = w50$p.value)

## 5. GLS with AR(1) residuals within rat (nlme's BodyWeight: weekly body mass of rats on 3 diets)
bw <- as.data.frame(BodyWeight)
bw$Rat <- as.character(bw$Rat); bw$Diet <- as.character(bw$Diet)
write.csv(bw[, c("weight", "Time", "Rat", "Diet")], "body_weight.csv", row.names = FALSE)
for (method in c("REML", "ML")) {
  g <- gls(weight ~ Time * Diet, data = bw, correlation = corAR1(form = ~ 1 | Rat),
           method = method)
  tt <- summary(g)$tTable
  a <- anova(g)
  ## marginal (type III) F tests: the same model in sum-to-zero coding, each term given the others
  op <- options(contrasts = c("contr.sum", "contr.poly"))
  a3 <- anova(update(g), type = "marginal")
  options(op)
  out[[paste0("gls_", method)]] <- list(
    term = rownames(tt), estimate = unname(tt[, 1]), se = unname(tt[, 2]),
    t = unname(tt[, 3]), p = unname(tt[, 4]),
    phi = unname(coef(g$modelStruct$corStruct, unconstrained = FALSE)), sigma = g$sigma,
    logLik = as.numeric(logLik(g)), AIC = AIC(g), BIC = BIC(g),
    anova_term = rownames(a), anova_F = a$`F-value`, anova_p = a$`p-value`,
    marginal_term = rownames(a3), marginal_F = a3$`F-value`, marginal_p = a3$`p-value`, df_resid = g$dims$N - g$dims$p)
}

## 6. GLMMs by Laplace (glmer) and NB (glmmTMB): simulated spine counts and R's cbpp
set.seed(6)
n_mice <- 12; n_seg <- 8
sp <- expand.grid(segment = 1:n_seg, mouse = 1:n_mice)
sp$group <- ifelse(sp$mouse <= 6, "control", "trained")
mouse_effect <- rnorm(n_mice, 0, 0.25)
sp$length_um <- round(runif(nrow(sp), 20, 60), 1)
mu_sp <- sp$length_um / 10 * exp(log(1.2) + 0.25 * (sp$group == "trained") + mouse_effect[sp$mouse])
sp$spines <- rnbinom(nrow(sp), mu = mu_sp, size = 20)
sp$mouse <- sprintf("m%02d", sp$mouse)
write.csv(sp, "spine_counts.csv", row.names = FALSE)
glmm_summary <- function(m) {
  s <- summary(m)$coefficients
  if (is.list(s)) s <- s$cond
  list(term = rownames(s), estimate = unname(s[, 1]), se = unname(s[, 2]),
       z = unname(s[, 3]), p = unname(s[, 4]),
       logLik = as.numeric(logLik(m)), AIC = AIC(m), BIC = BIC(m))
}
pois <- glmer(spines ~ group + offset(log(length_um)) + (1 | mouse), sp, family = poisson,
              control = gctrl)
pois0 <- glmer(spines ~ 1 + offset(log(length_um)) + (1 | mouse), sp, family = poisson,
               control = gctrl)
out$glmm_poisson <- c(glmm_summary(pois), list(
  mouse_var = as.data.frame(VarCorr(pois))$vcov[1], singular = isSingular(pois),
  lrt_chisq = anova(pois0, pois)$Chisq[2], lrt_p = anova(pois0, pois)$`Pr(>Chisq)`[2]))
nb <- glmmTMB(spines ~ group + offset(log(length_um)) + (1 | mouse), sp, family = nbinom2)
nb0 <- glmmTMB(spines ~ 1 + offset(log(length_um)) + (1 | mouse), sp, family = nbinom2)
out$glmm_nb <- c(glmm_summary(nb), list(
  mouse_var = VarCorr(nb)$cond$mouse[1, 1], theta = sigma(nb),
  lrt_chisq = as.numeric(2 * (logLik(nb) - logLik(nb0))),
  lrt_p = pchisq(as.numeric(2 * (logLik(nb) - logLik(nb0))), 1, lower.tail = FALSE)))
data(cbpp, package = "lme4")
cb <- cbpp; cb$herd <- as.character(cb$herd); cb$period <- as.character(cb$period)
write.csv(cb, "cbpp.csv", row.names = FALSE)
bin <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial,
             control = gctrl)
bin0 <- glmer(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, family = binomial,
              control = gctrl)
out$glmm_binomial <- c(glmm_summary(bin), list(
  herd_var = as.data.frame(VarCorr(bin))$vcov[1],
  lrt_chisq = anova(bin0, bin)$Chisq[2], lrt_df = anova(bin0, bin)$Df[2],
  lrt_p = anova(bin0, bin)$`Pr(>Chisq)`[2]))

## 7. Baseline-adjusted ANCOVA: follow-up ~ baseline + group (lm), three groups of 8 mice
set.seed(8)
an <- data.frame(mouse = sprintf("m%02d", 1:24),
                 group = rep(c("control", "silenced", "stimulated"), each = 8))
an$baseline <- round(rnorm(24, 500, 80), 1)
an$follow_up <- round(100 + 0.8 * an$baseline + c(0, -60, 40)[as.integer(factor(an$group))] +
                      rnorm(24, 0, 40), 1)
write.csv(an, "ancova.csv", row.names = FALSE)
fit_an <- lm(follow_up ~ baseline + group, an)
s_an <- summary(fit_an)$coefficients
a_an <- anova(lm(follow_up ~ baseline, an), fit_an)
ci_an <- confint(fit_an)
out$ancova <- list(term = rownames(s_an), estimate = unname(s_an[, 1]), se = unname(s_an[, 2]),
                   t = unname(s_an[, 3]), p = unname(s_an[, 4]), ci_low = unname(ci_an[, 1]),
                   ci_high = unname(ci_an[, 2]), df = fit_an$df.residual,
                   group_F = a_an$F[2], group_p = a_an$`Pr(>F)`[2])

## glmmTMB fits of the same Poisson and binomial models: glmer's Laplace optimum and its finite-
## difference SEs stop short on cbpp (logLik 3e-4 below glmmTMB's, SEs 1 % apart); glmmTMB's
## automatic-differentiation Hessian is the reference for fixed effects and SEs.
tmb_p <- glmmTMB(spines ~ group + offset(log(length_um)) + (1 | mouse), sp, family = poisson)
tmb_p0 <- glmmTMB(spines ~ 1 + offset(log(length_um)) + (1 | mouse), sp, family = poisson)
out$tmb_poisson <- c(glmm_summary(tmb_p), list(
  mouse_var = VarCorr(tmb_p)$cond$mouse[1, 1],
  lrt_chisq = as.numeric(2 * (logLik(tmb_p) - logLik(tmb_p0)))))
tmb_b <- glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp,
                 family = binomial)
tmb_b0 <- glmmTMB(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, family = binomial)
out$tmb_binomial <- c(glmm_summary(tmb_b), list(
  herd_var = VarCorr(tmb_b)$cond$herd[1, 1],
  lrt_chisq = as.numeric(2 * (logLik(tmb_b) - logLik(tmb_b0)))))

## 8. A random slope at a nested level: firing rate over current steps, a slope per cell within
##    its mouse (uncorrelated with the cell's intercept), as an F-I analysis declares it
set.seed(9)
fi <- expand.grid(current = 0:5, cell = sprintf("c%d", 1:5), mouse = sprintf("m%02d", 1:8),
                  stringsAsFactors = FALSE)
fi$group <- ifelse(fi$mouse <= "m04", "sedentary", "trained")
key <- paste(fi$mouse, fi$cell)
cell_int <- rnorm(40, 0, 2)[as.integer(factor(key))]
cell_slope <- rnorm(40, 0, 0.8)[as.integer(factor(key))]
mouse_int <- rnorm(8, 0, 1.5)[as.integer(factor(fi$mouse))]
fi$rate <- round(5 + mouse_int + cell_int + (3 + cell_slope + 1 * (fi$group == "trained")) *
                 fi$current + rnorm(nrow(fi), 0, 1.5), 3)
write.csv(fi, "fi_cells.csv", row.names = FALSE)
m_fi <- lmer(rate ~ group * current + (1 | mouse) + (1 | mouse:cell) + (0 + current | mouse:cell),
             fi, control = ctrl)
s_fi <- summary(m_fi)$coefficients
vc_fi <- as.data.frame(VarCorr(m_fi))
out$nested_slope <- list(term = rownames(s_fi), estimate = unname(s_fi[, 1]),
                         se = unname(s_fi[, 2]), df = unname(s_fi[, "df"]),
                         p = unname(s_fi[, 5]), vc_grp = vc_fi$grp, vc_var1 = vc_fi$var1,
                         vc_vcov = vc_fi$vcov, logLik = as.numeric(logLik(m_fi)),
                         singular = isSingular(m_fi))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "r_results.json")
cat("singular seed", seed, "\n")
