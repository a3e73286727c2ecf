"""Asymmetric least-squares baselines (airPLS, arPLS) and the Martianova et al. 2019 recipe.

A baseline under a photometry trace should follow the slow loss of fluorescence and pass *below*
the transients. Asymmetric penalized least squares does this: the Whittaker smoother ``z =
argmin Σ wᵢ(xᵢ − zᵢ)² + λ Σ (Δᵈ z)²`` is refitted with weights that ignore the points above the
current baseline:

- **airPLS** (Zhang, Chen & Liang 2010, *Analyst* 135:1138): at iteration t, ``wᵢ = 0`` where
  ``dᵢ = xᵢ − zᵢ ≥ 0`` and ``wᵢ = exp(t·|dᵢ| / |dᵗ|)`` where ``dᵢ < 0``, ``|dᵗ|`` the sum of the
  negative residuals' magnitudes; stop when ``|dᵗ| < tol·Σ|xᵢ|``.
- **arPLS** (Baek, Park, Ahn & Choo 2015, *Analyst* 140:250): ``wᵢ = 1/(1 + exp(2(dᵢ − (2σ⁻ −
  m⁻))/σ⁻))`` with m⁻, σ⁻ the mean and SD of the negative residuals; stop when the weights change
  by less than ``tol`` (relative norm).

Both run through ``pybaselines`` (the maintained implementation; banded solvers, O(n)); the tests
compare it with a direct implementation of the two papers' equations.

:func:`martianova_zdff` is the whole recipe of Martianova, Aronson & Proulx 2019 (*J Vis Exp*
152:e60278), written from the paper's steps: moving-average smoothing of both channels, airPLS
baseline of each subtracted, robust standardisation ``(x − median)/SD``, a non-negative Lasso
fit of the standardised control onto the standardised signal, ``z ΔF/F = zₛ − fit``.
"""

from __future__ import annotations

import warnings

import numpy as np

from exneuro.errors import ConfigError, InputDataError

#: Asymmetric baselines by name: the function of ``pybaselines.whittaker`` computing each
#: (imported when one is computed, so recordings without an asymmetric baseline never load it).
ASYMMETRIC_METHODS = {"airpls": "airpls", "arpls": "arpls"}


def asymmetric_baseline(
    x: np.ndarray,
    method: str = "airpls",
    lam: float = 5.0e4,
    diff_order: int = 1,
    max_iter: int = 50,
    tol: float = 1e-3,
) -> np.ndarray:
    """The airPLS or arPLS baseline of ``x`` (module docstring) via ``pybaselines``.

    Defaults are those of Martianova et al. 2019 (``lambda = 5e4``, first differences, at most 50
    iterations); ``pybaselines``' own defaults (second differences, λ = 1e6 / 1e5) suit spectra.
    """
    if method not in ASYMMETRIC_METHODS:
        raise ConfigError(f"baseline method {method!r}; choose one of {sorted(ASYMMETRIC_METHODS)}")
    if lam <= 0 or diff_order < 1 or max_iter < 1:
        raise ConfigError("baseline settings need lam > 0, diff_order >= 1 and max_iter >= 1")
    x = np.asarray(x, dtype=float)
    if x.size <= diff_order + 1 or not np.all(np.isfinite(x)):
        raise InputDataError(
            f"{method} baseline needs more than {diff_order + 1} finite samples; got {x.size}"
        )
    from pybaselines import whittaker

    with warnings.catch_warnings():  # pybaselines warns when it stops early; the fit is kept
        warnings.simplefilter("ignore")
        baseline, _ = getattr(whittaker, ASYMMETRIC_METHODS[method])(
            x, lam=lam, diff_order=diff_order, max_iter=max_iter, tol=tol
        )
    return baseline


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of ``window`` samples, shrinking at the ends (the mean of the
    samples that exist), so the output keeps the input's length and level."""
    x = np.asarray(x, dtype=float)
    if window <= 1:
        return x.copy()
    kernel = np.ones(int(window))
    total = np.convolve(x, kernel, mode="same")
    count = np.convolve(np.ones(x.size), kernel, mode="same")
    return total / count


def robust_standardize(x: np.ndarray) -> np.ndarray:
    """``(x − median(x)) / SD(x)`` (Martianova et al. 2019, step "standardize")."""
    x = np.asarray(x, dtype=float)
    sd = float(np.std(x))
    if sd == 0:
        raise InputDataError("robust standardisation: the trace has SD 0")
    return (x - float(np.median(x))) / sd


def nonnegative_lasso_fit(control: np.ndarray, signal: np.ndarray, alpha: float = 1e-4):
    """Intercept and slope of ``signal ≈ b₀ + b₁·control`` minimising ``Σr²/(2n) + α·|b₁|`` with
    ``b₁ ≥ 0`` (scikit-learn's ``Lasso(alpha, positive=True)`` objective).

    With one predictor the minimiser is closed-form: on centred data ``b₁ = max(0, (c·s/n − α) /
    (c·c/n))`` (soft threshold), ``b₀ = mean(s) − b₁·mean(c)``.
    """
    c = np.asarray(control, dtype=float)
    s = np.asarray(signal, dtype=float)
    c0, s0 = c - c.mean(), s - s.mean()
    sxx = float(c0 @ c0) / c.size
    if sxx == 0:
        raise InputDataError("the control is constant; cannot fit it")
    slope = max(0.0, (float(c0 @ s0) / c.size - alpha) / sxx)
    return float(s.mean() - slope * c.mean()), slope


def martianova_zdff(
    signal: np.ndarray,
    control: np.ndarray,
    smooth_window: int = 10,
    lam: float = 5.0e4,
    max_iter: int = 50,
    alpha: float = 1e-4,
) -> dict[str, np.ndarray | float]:
    """z-scored ΔF/F by the recipe of Martianova, Aronson & Proulx 2019 (module docstring).

    Steps: (1) moving average of ``smooth_window`` samples; (2) airPLS baseline (λ = ``lam``,
    first differences, ≤ ``max_iter`` iterations) subtracted from each channel; (3) robust
    standardisation of each; (4) non-negative Lasso (α = ``alpha``) of the control onto the
    signal; (5) ``zdff = z_signal − (b₀ + b₁·z_control)``. Returns every intermediate, and
    in the signal's raw units the fitted control ``fitted_signal = B + median + SD·(b₀ +
    b₁·z_control)`` (B the signal's airPLS baseline, median and SD those of the baseline-
    subtracted signal) and ``dff = (S − fitted_signal)/B = SD·zdff/B``: the motion-corrected
    change relative to the bleaching baseline (the paper reports the z-scored form; this is its
    ΔF/F counterpart, not one of the paper's steps).
    """
    smoothed = {
        name: moving_average(x, smooth_window)
        for name, x in (("signal", signal), ("control", control))
    }
    baselines = {
        name: asymmetric_baseline(x, "airpls", lam, 1, max_iter) for name, x in smoothed.items()
    }
    flat = {name: smoothed[name] - baselines[name] for name in smoothed}
    z_signal = robust_standardize(flat["signal"])
    z_control = robust_standardize(flat["control"])
    intercept, slope = nonnegative_lasso_fit(z_control, z_signal, alpha)
    fitted = intercept + slope * z_control
    zdff = z_signal - fitted
    # the same fit in the signal's raw units: S_smooth − (B + median + SD·ẑ) = SD·zdff
    level, spread = float(np.median(flat["signal"])), float(np.std(flat["signal"]))
    return {
        "smoothed_signal": smoothed["signal"],
        "smoothed_control": smoothed["control"],
        "baseline_signal": baselines["signal"],
        "z_signal": z_signal,
        "z_control": z_control,
        "fitted_control": fitted,
        "zdff": zdff,
        "fitted_signal": baselines["signal"] + level + spread * fitted,
        "dff": spread * zdff / baselines["signal"],
        "intercept": intercept,
        "slope": slope,
    }
