"""DESeq2's dispersion estimates for every gene at once (Love, Huber & Anders 2014, Methods).

1. Gene-wise: maximise the Cox-Reid adjusted profile likelihood of ``a = log(alpha)``
   (McCarthy et al. 2012),
   ``lp(a) = sum_j log NB(K_j | mu_j, alpha) - 1/2 log det(X' W X)``,
   ``W = diag(1 / (1/mu + alpha))``,
   with ``mu`` from the design fitted at a rough moments estimate (bounded below by 0.5), by
   DESeq2's line search: steps ``kappa * dlp/da`` accepted by the Armijo rule (halving kappa
   otherwise), ``kappa`` growing by 1.1 after an accepted step and halved every fifth accept,
   stopped when ``lp`` gains less than 1e-6 (``fitDisp`` in DESeq2's C++). Genes that did not
   converge, or stopped at the first step, are refitted on DESeq2's two-stage grid of 20 + 20
   points; genes whose likelihood did not increase keep the start value.
2. Trend: ``alpha(mean) = a0 + a1 / mean`` fitted by a gamma GLM with identity link to the
   gene-wise estimates, iterated on the genes whose ratio to the fit is within (1e-4, 15)
   (``parametricDispersionFit``).
3. Prior width: ``max(mad(log residuals)^2 - trigamma((m - p) / 2), 0.25)``, or DESeq2's
   simulation-based value when m - p <= 3.
4. MAP: the same line search on ``lp(a) - (a - log trend)^2 / (2 prior variance)`` from the
   gene-wise value (or the trend when it is < 0.1 x trend). Genes more than 2 SD of the
   residuals above the trend keep their gene-wise value (dispersion outliers).

Every step evaluates all genes in one NumPy call; the iteration count is the slowest gene's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln, polygamma

from exneuro.errors import InputDataError
from exneuro.rnaseq.dispersion_prior import simulated_prior_variance
from exneuro.rnaseq.nbglm import MIN_MU, fit_glm, linear_model_mu

MIN_DISPERSION = 1e-8
KAPPA_0 = 1.0
TOLERANCE = 1e-6
MAX_ITERATIONS = 100
ARMIJO_EPSILON = 1e-4


@dataclass(frozen=True)
class Posterior:
    """What ``lp(a)`` needs: counts and fitted means (genes x samples), the design, and the
    normal prior on ``log(alpha)`` (mean per gene, variance; ``use_prior`` False = MLE)."""

    counts: np.ndarray
    mu: np.ndarray
    design: np.ndarray
    prior_mean: np.ndarray
    prior_variance: float
    use_prior: bool

    def rows(self, index: np.ndarray) -> Posterior:
        return Posterior(
            self.counts[index],
            self.mu[index],
            self.design,
            self.prior_mean[index],
            self.prior_variance,
            self.use_prior,
        )


def _log_det_and_inverse(design: np.ndarray, weights: np.ndarray):
    information = np.einsum("ni,gn,nj->gij", design, weights, design, optimize=True)
    _, log_det = np.linalg.slogdet(information)
    return log_det, information


def log_posterior(post: Posterior, log_alpha: np.ndarray) -> np.ndarray:
    """Cox-Reid adjusted log likelihood (+ log prior) at ``log_alpha`` for every gene."""
    alpha = np.exp(log_alpha)[:, None]
    inverse_alpha = 1.0 / alpha
    y, mu = post.counts, post.mu
    log_like = np.sum(
        gammaln(y + inverse_alpha)
        - gammaln(inverse_alpha)
        - y * np.log(mu + inverse_alpha)
        - inverse_alpha * np.log1p(mu * alpha),
        axis=1,
    )
    log_det, _ = _log_det_and_inverse(post.design, 1.0 / (1.0 / mu + alpha))
    value = log_like - 0.5 * log_det
    if post.use_prior:
        value = value - 0.5 * (log_alpha - post.prior_mean) ** 2 / post.prior_variance
    return value


def d_log_posterior(post: Posterior, log_alpha: np.ndarray) -> np.ndarray:
    """Derivative of :func:`log_posterior` with respect to ``log(alpha)``."""
    alpha = np.exp(log_alpha)[:, None]
    inverse_alpha = 1.0 / alpha
    y, mu = post.counts, post.mu
    log_like = (
        np.sum(
            digamma(inverse_alpha)
            + np.log1p(mu * alpha)
            - mu * alpha / (1.0 + mu * alpha)
            - digamma(y + inverse_alpha)
            + y / (mu + inverse_alpha),
            axis=1,
        )
        / alpha[:, 0] ** 2
    )
    _, information = _log_det_and_inverse(post.design, 1.0 / (1.0 / mu + alpha))
    d_information = np.einsum(
        "ni,gn,nj->gij", post.design, -1.0 / (1.0 / mu + alpha) ** 2, post.design, optimize=True
    )
    trace = np.einsum("gii->g", np.linalg.solve(information, d_information))
    value = (log_like - 0.5 * trace) * alpha[:, 0]
    if post.use_prior:
        value = value - (log_alpha - post.prior_mean) / post.prior_variance
    return value


def line_search(post: Posterior, log_alpha: np.ndarray, min_log_alpha: float):
    """DESeq2 ``fitDisp``: Armijo line search on ``log(alpha)`` for all genes in lockstep.

    Returns (log_alpha, iterations, initial lp, last lp) per gene.
    """
    a = log_alpha.astype(float).copy()
    lp = log_posterior(post, a)
    dlp = d_log_posterior(post, a)
    initial = lp.copy()
    kappa = np.full(a.size, KAPPA_0)
    iterations = np.zeros(a.size, int)
    accepts = np.zeros(a.size, int)
    active = np.ones(a.size, bool)
    for _ in range(MAX_ITERATIONS):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        iterations[rows] += 1
        k, d, ar = kappa[rows], dlp[rows], a[rows]
        proposal = ar + k * d
        k = np.where(proposal < -30.0, (-30.0 - ar) / d, k)
        k = np.where(proposal > 10.0, (10.0 - ar) / d, k)
        new_a = ar + k * d
        new_lp = log_posterior(post.rows(rows), new_a)
        accepted = -new_lp <= -lp[rows] - k * ARMIJO_EPSILON * d**2
        kappa[rows] = np.where(accepted, k, k / 2.0)
        took = rows[accepted]
        a[took] = new_a[accepted]
        accepts[took] += 1
        change = new_lp[accepted] - lp[took]
        converged = change < TOLERANCE
        lp[took[converged]] = new_lp[accepted][converged]
        escaped = ~converged & (a[took] < min_log_alpha)
        active[took[converged | escaped]] = False
        going = took[~converged & ~escaped]
        if going.size:
            lp[going] = new_lp[accepted][~converged & ~escaped]
            dlp[going] = d_log_posterior(post.rows(going), a[going])
            kappa[going] = np.minimum(kappa[going] * 1.1, KAPPA_0)
            fifth = accepts[going] % 5 == 0
            kappa[going[fifth]] /= 2.0
    return a, iterations, initial, lp


def grid_search(post: Posterior, n_samples: int) -> np.ndarray:
    """DESeq2 ``fitDispGrid``: best of 20 log-alpha points in [log 1e-8, log max(10, m)], then
    of 20 points within one grid step of it; returns alpha."""
    grid = np.linspace(np.log(1e-8), np.log(max(10, n_samples)), 20)
    delta = grid[1] - grid[0]
    values = np.stack([log_posterior(post, np.full(post.counts.shape[0], g)) for g in grid])
    best = grid[np.argmax(values, axis=0)]
    fine = best[None, :] + np.linspace(-delta, delta, 20)[:, None]
    values = np.stack([log_posterior(post, fine[t]) for t in range(fine.shape[0])])
    return np.exp(fine[np.argmax(values, axis=0), np.arange(fine.shape[1])])


def genewise_dispersions(
    counts: np.ndarray, design: np.ndarray, size_factors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """DESeq2 ``estimateDispersionsGeneEst`` for genes with a nonzero count; returns the
    estimates and the bounded fitted means used for them (reused by the MAP step)."""
    n_samples, n_coefficients = design.shape
    normalized = counts / size_factors[None, :]
    base_mean = normalized.mean(axis=1)
    base_var = normalized.var(axis=1, ddof=1)
    rough_mu = np.maximum(linear_model_mu(normalized, design), 1.0)
    rough = np.maximum(
        np.sum(((normalized - rough_mu) ** 2 - rough_mu) / rough_mu**2, axis=1)
        / (n_samples - n_coefficients),
        0.0,
    )
    moments = (base_var - np.mean(1.0 / size_factors) * base_mean) / base_mean**2
    max_dispersion = max(10.0, n_samples)
    start = np.clip(np.minimum(rough, moments), MIN_DISPERSION, max_dispersion)
    n_cells = len(np.unique(design, axis=0))
    if n_cells == n_coefficients:  # only group means: the linear fit is the GLM fit
        mu = linear_model_mu(normalized, design) * size_factors[None, :]
    else:
        mu = fit_glm(counts, design, size_factors, start).mu
    mu = np.maximum(mu, MIN_MU)
    post = Posterior(counts, mu, design, np.log(start), 1.0, False)
    log_alpha, iterations, initial, last = line_search(post, np.log(start), np.log(1e-9))
    estimate = np.minimum(np.exp(log_alpha), max_dispersion)
    no_increase = last < initial + np.abs(initial) / 1e6
    estimate[no_increase] = start[no_increase]
    refit = ~((iterations < MAX_ITERATIONS) & (iterations != 1)) & (estimate > MIN_DISPERSION * 10)
    if refit.any():
        estimate[refit] = grid_search(post.rows(np.flatnonzero(refit)), n_samples)
    return np.clip(estimate, MIN_DISPERSION, max_dispersion), mu


def parametric_trend(base_mean: np.ndarray, dispersion: np.ndarray) -> tuple[float, float]:
    """DESeq2 ``parametricDispersionFit``: ``(a0, a1)`` of ``alpha = a0 + a1 / mean`` by a gamma
    GLM with identity link (IRLS as R's ``glm``, started at the previous coefficients)."""
    use = dispersion > 100 * MIN_DISPERSION
    means, disps = base_mean[use], dispersion[use]
    coefs = np.array([0.1, 1.0])
    for _ in range(11):
        residuals = disps / (coefs[0] + coefs[1] / means)
        good = (residuals > 1e-4) & (residuals < 15)
        x = np.column_stack([np.ones(good.sum()), 1.0 / means[good]])
        y = disps[good]
        beta, converged, deviance_old = coefs.copy(), False, np.inf
        for _step in range(25):  # glm.control(): epsilon 1e-8, maxit 25
            fitted = x @ beta
            weights = 1.0 / fitted**2
            beta = np.linalg.solve(x.T @ (x * weights[:, None]), x.T @ (weights * y))
            fitted = x @ beta
            deviance = -2.0 * np.sum(np.log(y / fitted) - (y - fitted) / fitted)
            if abs(deviance - deviance_old) / (abs(deviance) + 0.1) < 1e-8:
                converged = True
                break
            deviance_old = deviance
        old, coefs = coefs, beta
        if not np.all(coefs > 0):
            raise InputDataError(
                "rnaseq: the parametric dispersion trend a0 + a1/mean failed (a coefficient <= 0)"
            )
        if np.sum(np.log(coefs / old) ** 2) < 1e-6 and converged:
            return float(coefs[0]), float(coefs[1])
    raise InputDataError(
        "rnaseq: the parametric dispersion trend a0 + a1/mean did not converge in 10 rounds"
    )


def mean_trend(dispersion: np.ndarray) -> float:
    """DESeq2 ``fitType = "mean"``: the 0.1%-trimmed mean of estimates above 10 x minimum."""
    values = np.sort(dispersion[dispersion > 10 * MIN_DISPERSION])
    cut = int(np.floor(values.size * 0.001))
    return float(values[cut : values.size - cut].mean())


def residual_variance(genewise: np.ndarray, trend: np.ndarray) -> float:
    """``mad(log(gene-wise) - log(trend))^2`` over estimates >= 100 x minimum."""
    use = genewise >= 100 * MIN_DISPERSION
    residuals = np.log(genewise[use]) - np.log(trend[use])
    return float((1.4826 * np.median(np.abs(residuals - np.median(residuals)))) ** 2)


def prior_variance(
    genewise: np.ndarray, trend: np.ndarray, n_samples: int, n_coefficients: int
) -> float:
    """DESeq2 ``estimateDispersionsPriorVar``: the variance of the log residuals (as
    :func:`residual_variance`) minus the sampling variance of a log dispersion estimate,
    ``trigamma((m - p) / 2)``, at least 0.25; with m - p <= 3, DESeq2's simulation-based value
    (:mod:`exneuro.rnaseq.dispersion_prior`)."""
    residual_df = n_samples - n_coefficients
    if residual_df <= 3:
        use = genewise >= 100 * MIN_DISPERSION
        residuals = np.log(genewise[use]) - np.log(trend[use])
        return simulated_prior_variance(residuals, residual_df)
    sampling = float(polygamma(1, residual_df / 2))
    return max(residual_variance(genewise, trend) - sampling, 0.25)


def map_dispersions(
    counts: np.ndarray,
    mu: np.ndarray,
    design: np.ndarray,
    genewise: np.ndarray,
    trend: np.ndarray,
    prior_var: float,
    variance_of_residuals: float,
) -> np.ndarray:
    """DESeq2 ``estimateDispersionsMAP``: final dispersions (MAP, or gene-wise for outliers)."""
    n_samples = design.shape[0]
    start = np.where(genewise > 0.1 * trend, genewise, trend)
    post = Posterior(counts, mu, design, np.log(trend), prior_var, True)
    log_alpha, iterations, _, _ = line_search(post, np.log(start), np.log(MIN_DISPERSION / 10))
    estimate = np.exp(log_alpha)
    refit = iterations >= MAX_ITERATIONS
    if refit.any():
        estimate[refit] = grid_search(post.rows(np.flatnonzero(refit)), n_samples)
    estimate = np.clip(estimate, MIN_DISPERSION, max(10.0, n_samples))
    outlier = np.log(genewise) > np.log(trend) + 2.0 * np.sqrt(variance_of_residuals)
    return np.where(outlier, genewise, estimate)
