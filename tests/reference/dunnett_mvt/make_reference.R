## Reference numbers for the Dunnett (multivariate t) correction of exneuro.stats.posthoc
## (tests/test_stats_posthoc.py). Run from this folder:  Rscript make_reference.R
## Needs lme4, lmerTest, emmeans and mvtnorm (R only generates references; it is not a dependency).
## Data: ../lmm_unbalanced/unbalanced.csv (simulated, see ../lmm_unbalanced/README.md).
## Output: r_dunnett.csv (one row per contrast and source) and a printed summary. Takes ~20 min
## (the precise evaluation of the family of eight).
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(emmeans)
  library(mvtnorm)
})
options(width = 120)
## Same tight optimizer control as ../lmm_unbalanced/make_reference.R: the numbers are those of
## the optimum itself, not of lme4's default stopping point.
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 1e-14,
                                   ftol_rel = 1e-16, maxeval = 1e5))
cat(R.version.string, "\n")
for (p in c("lme4", "lmerTest", "emmeans", "mvtnorm", "Matrix")) {
  cat(p, format(packageVersion(p)), "\n")
}

d <- read.csv("../lmm_unbalanced/unbalanced.csv")
d$group <- factor(d$group, levels = c("control", "silenced", "activated"))
d$session <- factor(d$session, levels = c("s1", "s2", "s3", "s4"))
m <- lmer(distance_m ~ group * session + (1 | mouse), data = d, REML = TRUE, control = ctrl)

## Family 1: group vs control at each session (emmeans' default family: one per `by` level).
emm_gs <- emmeans(m, ~ group | session, lmer.df = "satterthwaite")
con_ps <- contrast(emm_gs, "trt.vs.ctrl", ref = 1)
## Family 2: the same 8 contrasts as ONE family across all sessions. The grid of
## emmeans(m, ~ group * session) has group varying fastest (control s1, silenced s1, ...).
emm_all <- emmeans(m, ~ group * session, lmer.df = "satterthwaite")
grid <- as.data.frame(summary(emm_all))[, c("group", "session")]
vs_ctrl <- list()
for (s in levels(d$session)) for (g in c("silenced", "activated")) {
  w <- numeric(nrow(grid))
  w[grid$group == g & grid$session == s] <- 1
  w[grid$group == "control" & grid$session == s] <- -1
  vs_ctrl[[paste(g, "- control", s)]] <- w
}
con_all <- contrast(emm_all, method = vs_ctrl)

## emmeans' own rule for adjust = "mvt" (emmeans:::.adj.p.value, .my.pmvt, .adj.critval,
## .my.qmvt): the correlation matrix of a family is cov2cor(vcov(contrasts)) restricted to the
## family; contrast i's adjusted p is 1 - pmvt(-|t_i|, |t_i|, corr, df = fix(df_i)) with its OWN
## Satterthwaite df, made an integer by emmeans:::.fix.df (floor(df + 0.25), at least 1; df > 9999
## or infinite -> 0, i.e. normal); its CI half-width is qmvt(level, "both.tails", df = fix(df_i))
## times SE (one quantile per family when all fixed df are equal).
fix_df <- emmeans:::.fix.df
print(emmeans:::.fix.df)

## (a) what emmeans reports: mvtnorm's defaults GenzBretz(maxpts = 25000, abseps = 1e-3) and qmvt's
## ptol = 1e-3, which emmeans does not let the caller change. Stochastic: fixed seed.
native <- function(con, family) {
  set.seed(20240611)
  s <- as.data.frame(summary(con, infer = c(TRUE, TRUE), adjust = "mvt"))
  raw <- as.data.frame(summary(con, infer = c(TRUE, TRUE), adjust = "none"))
  by <- if ("session" %in% names(s)) as.character(s$session) else ""
  data.frame(family = family, source = "emmeans", by = by, contrast = as.character(s$contrast),
             estimate = s$estimate, se = s$SE, df = s$df, df_mvt = fix_df(s$df), t = s$t.ratio,
             p = raw$p.value, p_adj = s$p.value, p_adj_error = NA_real_,
             ci_low = s$lower.CL, ci_high = s$upper.CL, q = (s$upper.CL - s$estimate) / s$SE,
             q_error = NA_real_)
}
## (b) the same rule evaluated precisely with mvtnorm directly (emmeans has no way to pass
## `algorithm` through): GenzBretz(maxpts = 1e7, abseps = 1e-7, releps = 0) and the quantile by
## uniroot() on the fixed-seed (common random numbers) probability, to 1e-9 in q. `p_adj_error`
## is mvtnorm's error estimate (3.5 sd of the randomized lattice estimate; ~1e-15 for two contrasts,
## which mvtnorm integrates exactly); `q_error` = abseps / (density of max|T| at q) bounds the
## quantile's error.
abseps <- 1e-7
gb <- GenzBretz(maxpts = 1e7, abseps = abseps, releps = 0)
tight <- function(con, family, rows_by) {
  s <- as.data.frame(summary(con, infer = c(TRUE, TRUE), adjust = "none"))
  corr <- cov2cor(vcov(con))
  out <- list()
  for (rows in rows_by) {
    R <- corr[rows, rows, drop = FALSE]
    k <- length(rows)
    quantiles <- list()  # one equicoordinate quantile per (fixed) df in the family
    for (i in rows) {
      nu <- fix_df(s$df[i])
      cdf <- function(q) {
        set.seed(20240611)
        pmvt(rep(-q, k), rep(q, k), df = nu, corr = R, algorithm = gb)
      }
      P <- cdf(abs(s$t.ratio[i]))
      key <- as.character(nu)
      if (is.null(quantiles[[key]])) {
        q <- uniroot(function(q) cdf(q) - 0.95, c(qt(0.975, nu), qt(1 - 0.025 / k, nu)),
                     tol = 1e-9)$root
        h <- 1e-3
        quantiles[[key]] <- c(q, abseps / ((cdf(q + h) - cdf(q - h)) / (2 * h)))
      }
      q <- quantiles[[key]][1]
      out[[length(out) + 1]] <- data.frame(
        family = family, source = "mvtnorm_tight",
        by = if ("session" %in% names(s)) as.character(s$session[i]) else "",
        contrast = as.character(s$contrast[i]), estimate = s$estimate[i], se = s$SE[i],
        df = s$df[i], df_mvt = nu, t = s$t.ratio[i], p = s$p.value[i], p_adj = 1 - P[1],
        p_adj_error = attr(P, "error"), ci_low = s$estimate[i] - q * s$SE[i],
        ci_high = s$estimate[i] + q * s$SE[i], q = q, q_error = quantiles[[key]][2])
    }
  }
  do.call(rbind, out)
}

print(summary(con_ps, infer = c(TRUE, TRUE), adjust = "mvt"))
print(summary(con_all, infer = c(TRUE, TRUE), adjust = "mvt"))
s_ps <- as.data.frame(summary(con_ps))
res <- rbind(
  native(con_ps, "per_session"),
  tight(con_ps, "per_session", split(seq_len(nrow(s_ps)), s_ps$session)),
  native(con_all, "all_sessions"),
  tight(con_all, "all_sessions", list(seq_len(length(vs_ctrl))))
)
print(res, digits = 10)
## emmeans' numbers must agree with the precise ones within its own (loose) tolerances.
both <- merge(res[res$source == "emmeans", ], res[res$source == "mvtnorm_tight", ],
              by = c("family", "by", "contrast"))
cat("max |p_adj emmeans - tight|:", max(abs(both$p_adj.x - both$p_adj.y)), "\n")
cat("max |q emmeans - tight|:", max(abs(both$q.x - both$q.y)), "\n")
cat("max mvtnorm error estimate (tight):", max(res$p_adj_error, na.rm = TRUE), "\n")
write.csv(res, "r_dunnett.csv", row.names = FALSE)
