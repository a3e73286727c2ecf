# Reference numbers for tests/test_stats_compare.py, computed with base R (stats package).
# Run from this directory:  Rscript make_reference.R
# Writes datasets.csv (every input, long format) and r_results.json (every R output).
# The Python tests read both files and never need R.
library(jsonlite)

# ---- datasets -------------------------------------------------------------------------------
# Hand-typed small datasets (mouse-level values, no ties unless the name says so).
hand <- list(
  tg_control = c(412.3, 388.1, 455.7, 401.2, 379.9, 430.4, 398.6, 421.8),
  tg_treated = c(468.2, 441.5, 502.9, 455.1, 489.3, 437.6, 476.0),
  # ordinal-like scores with ties: wilcox.test falls back to the normal approximation
  tie_control = c(3, 5, 4, 6, 4, 7, 5, 3, 6),
  tie_treated = c(6, 8, 7, 5, 9, 7, 8),
  pr_before = c(12.1, 15.3, 9.8, 11.4, 14.2, 10.6, 13.9, 12.7, 8.9, 11.8),
  pr_after = c(14.0, 16.1, 12.5, 11.0, 17.3, 12.2, 15.6, 14.2, 10.3, 13.9),
  # paired scores with zero differences and ties: normal approximation
  prtie_before = c(5, 7, 6, 8, 4, 6, 7, 5, 9, 6, 5, 8),
  prtie_after = c(7, 7, 8, 9, 6, 5, 9, 7, 10, 8, 6, 8),
  os_slopes = c(0.42, -0.13, 0.57, 0.31, 0.88, 0.05, 0.26, 0.64, -0.21)
)
# Generated datasets, rounded to 4 decimals so that the CSV text is the data exactly.
set.seed(20240611)
gen <- list(
  ks_a = round(rexp(20, rate = 1 / 0.8), 4),
  ks_b = round(rgamma(25, shape = 2, scale = 0.6), 4),
  # n >= 50 in both groups and no ties: wilcox.test uses the normal approximation
  big_control = round(rnorm(55, 10, 2), 4),
  big_treated = round(rnorm(52, 11, 2), 4)
)
stopifnot(!anyDuplicated(c(gen$ks_a, gen$ks_b)))
stopifnot(!anyDuplicated(c(gen$big_control, gen$big_treated)))
# R's own datasets used by the published effectsize example (effectsize 0.8.3 output).
builtin <- list(
  mtcars_mpg_am0 = mtcars$mpg[mtcars$am == 0],
  mtcars_mpg_am1 = mtcars$mpg[mtcars$am == 1],
  mtcars_wt = mtcars$wt,
  sleep_group1 = sleep$extra[sleep$group == 1],
  sleep_group2 = sleep$extra[sleep$group == 2]
)
all_data <- c(hand, gen, builtin)
long <- do.call(rbind, lapply(names(all_data), function(nm) {
  data.frame(dataset = nm, index = seq_along(all_data[[nm]]), value = all_data[[nm]])
}))
write.csv(long, "datasets.csv", row.names = FALSE)

# Re-read so that every number below is computed from exactly what Python reads.
long <- read.csv("datasets.csv")
d <- split(long$value, long$dataset)
d <- lapply(d, function(v) v)  # already in index order

# ---- helpers ----------------------------------------------------------------------------------
htest <- function(h) {
  out <- list(p = h$p.value)
  if (!is.null(h$statistic)) out$statistic <- unname(h$statistic)
  if (!is.null(h$conf.int)) out$ci_level <- attr(h$conf.int, "conf.level")
  if (!is.null(h$parameter)) out$df <- unname(h$parameter)
  if (!is.null(h$conf.int)) out$ci <- as.numeric(h$conf.int)
  if (!is.null(h$estimate)) out$estimate <- unname(h$estimate)
  out
}
# Confidence limits of a noncentrality parameter by inverting pt(), as effectsize/MBESS do.
ncp_ci <- function(t, df, level = 0.95) {
  a <- (1 - level) / 2
  f <- function(ncp, target) pt(t, df, ncp) - target
  lo <- uniroot(f, c(t - 30, t + 30), target = 1 - a, tol = 1e-13)$root
  hi <- uniroot(f, c(t - 30, t + 30), target = a, tol = 1e-13)$root
  c(lo, hi)
}
J_exact <- function(df) exp(lgamma(df / 2) - log(sqrt(df / 2)) - lgamma((df - 1) / 2))
hedges_two <- function(x, y, level = 0.95) {  # standardized mean(x) - mean(y), pooled SD
  n1 <- length(x); n2 <- length(y); df <- n1 + n2 - 2
  sp <- sqrt(((n1 - 1) * var(x) + (n2 - 1) * var(y)) / df)
  dd <- (mean(x) - mean(y)) / sp
  hn <- 1 / n1 + 1 / n2
  ci <- ncp_ci(dd / sqrt(hn), df, level) * sqrt(hn)
  J <- J_exact(df)
  list(d = dd, d_ci = ci, J = J, g = J * dd, g_ci = J * ci, df = df)
}
cohen_one <- function(x, mu = 0, level = 0.95) {  # (mean - mu) / sd, also for paired differences
  n <- length(x); df <- n - 1
  dd <- (mean(x) - mu) / sd(x)
  ci <- ncp_ci(dd * sqrt(n), df, level) / sqrt(n)
  J <- J_exact(df)
  list(d = dd, d_ci = ci, J = J, g = J * dd, g_ci = J * ci, df = df)
}

# fisher.test's conditional MLE and exact CI, with its internal functions copied from R 4.2.2
# stats::fisher.test but solved on the log odds-ratio scale to tol 1e-13: fisher.test itself
# uses uniroot's default tol (~1.2e-4 on t or 1/t), so its printed limits are only that precise.
fisher_tight <- function(tab, conf.level = 0.95) {
  m <- sum(tab[, 1L]); n <- sum(tab[, 2L]); k <- sum(tab[1L, ]); x <- tab[1L, 1L]
  lo <- max(0L, k - n); hi <- min(k, m); support <- lo:hi
  logdc <- dhyper(support, m, n, k, log = TRUE)
  dnhyper <- function(ncp) { d <- logdc + log(ncp) * support; d <- exp(d - max(d)); d / sum(d) }
  mnhyper <- function(ncp) sum(support * dnhyper(ncp))
  pnhyper <- function(q, ncp, upper.tail = FALSE)
    sum(dnhyper(ncp)[if (upper.tail) support >= q else support <= q])
  solve <- function(f) exp(uniroot(f, c(-40, 40), tol = 1e-13)$root)
  alpha <- (1 - conf.level) / 2
  list(
    estimate = solve(function(l) mnhyper(exp(l)) - x),
    ci = c(solve(function(l) pnhyper(x, exp(l), upper.tail = TRUE) - alpha),
           solve(function(l) pnhyper(x, exp(l)) - alpha))
  )
}

res <- list()
res$R_version <- R.version.string

# ---- two independent groups (estimate = treated - control, so R gets x = treated) ----------
res$t_student <- htest(t.test(d$tg_treated, d$tg_control, var.equal = TRUE))
res$t_welch <- htest(t.test(d$tg_treated, d$tg_control, var.equal = FALSE))
res$hedges_tg <- hedges_two(d$tg_treated, d$tg_control)
res$wilcox_exact <- htest(wilcox.test(d$tg_treated, d$tg_control, conf.int = TRUE))
res$wilcox_ties <- htest(suppressWarnings(
  wilcox.test(d$tie_treated, d$tie_control, conf.int = TRUE)))
res$wilcox_big <- htest(wilcox.test(d$big_treated, d$big_control, conf.int = TRUE))
# Welch/Student and Hedges for the effectsize worked example (x = am 0, y = am 1)
res$hedges_mtcars <- hedges_two(d$mtcars_mpg_am0, d$mtcars_mpg_am1)

# ---- paired (estimate = after - before, so R gets x = after, y = before) -------------------
res$t_paired <- htest(t.test(d$pr_after, d$pr_before, paired = TRUE))
res$dz_paired <- cohen_one(d$pr_after - d$pr_before)
res$wilcox_paired_exact <- htest(wilcox.test(d$pr_after, d$pr_before, paired = TRUE,
                                             conf.int = TRUE))
res$wilcox_paired_ties <- htest(suppressWarnings(
  wilcox.test(d$prtie_after, d$prtie_before, paired = TRUE, conf.int = TRUE)))
res$t_paired_ties <- htest(t.test(d$prtie_after, d$prtie_before, paired = TRUE))
res$dz_sleep <- cohen_one(d$sleep_group1 - d$sleep_group2)

# ---- one sample ------------------------------------------------------------------------------
res$t_one <- htest(t.test(d$os_slopes, mu = 0))
res$d_one <- cohen_one(d$os_slopes, mu = 0)
res$t_one_mu <- htest(t.test(d$os_slopes, mu = 0.1))
res$wilcox_one <- htest(wilcox.test(d$os_slopes, mu = 0, conf.int = TRUE))
res$d_wt <- cohen_one(d$mtcars_wt, mu = 0)

# ---- Kolmogorov-Smirnov ----------------------------------------------------------------------
res$ks_exact <- htest(ks.test(d$ks_a, d$ks_b))
res$ks_asymptotic <- htest(ks.test(d$ks_a, d$ks_b, exact = FALSE))
# ks.test(exact = FALSE) evaluates the Kolmogorov limit with C_pKS2(tol = 1e-6), whose series
# stops at k_max = floor(sqrt(2 - log(tol))) = 3 (one term for x < 1). The same limit summed to
# convergence, Q(x) = 1 - sqrt(2 pi)/x sum_{k odd} exp(-k^2 pi^2 / (8 x^2)), for comparison:
ks_limit <- function(D, nx, ny) {
  x <- sqrt(nx * ny / (nx + ny)) * D
  k <- seq(1, 199, by = 2)
  1 - sqrt(2 * pi) / x * sum(exp(-k^2 * pi^2 / (8 * x^2)))
}
res$ks_asymptotic_full_series <- ks_limit(res$ks_asymptotic$statistic, length(d$ks_a),
                                          length(d$ks_b))

# ---- Fisher exact test: rows treated, control; columns responders, non-responders ----------
fisher_table <- matrix(c(8, 3, 3, 7), nrow = 2,
                       dimnames = list(c("treated", "control"), c("resp", "nonresp")))
res$fisher <- htest(fisher.test(fisher_table))
res$fisher$table_rows_treated_control <- as.vector(t(fisher_table))
res$fisher_tight <- fisher_tight(fisher_table)
fisher_table2 <- matrix(c(1, 9, 7, 2), nrow = 2)  # rows treated(1/8), control(9/11)
res$fisher2 <- htest(fisher.test(fisher_table2))
res$fisher2$table_rows_treated_control <- as.vector(t(fisher_table2))
res$fisher2_tight <- fisher_tight(fisher_table2)

# ---- multiplicity ----------------------------------------------------------------------------
p <- c(0.01, 0.04, 0.03, 0.005, 0.2, NA, 0.04, 0.5, 0.0001, 0.049, 0.9)
res$p_adjust <- list(
  p = p,
  holm = p.adjust(p, "holm"),
  bonferroni = p.adjust(p, "bonferroni"),
  BH = p.adjust(p, "BH")
)

writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "r_results.json")
