"""airPLS and arPLS baselines equal a direct implementation of the published algorithms; the
Martianova et al. 2019 recipe recovers a planted activity trace."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from exneuro.photometry import bleaching as bl
from exneuro.photometry.baselines import (
    asymmetric_baseline,
    martianova_zdff,
    moving_average,
    nonnegative_lasso_fit,
    robust_standardize,
)


def _whittaker(y: np.ndarray, w: np.ndarray, lam: float, order: int) -> np.ndarray:
    """``(W + λ DᵀD) z = W y`` with D the dense order-``order`` difference matrix."""
    d = np.diff(np.eye(y.size), order, axis=0)
    return np.linalg.solve(np.diag(w) + lam * d.T @ d, w * y)


def airpls_paper(y, lam, order, max_iter=50, tol=1e-3):
    """Zhang, Chen & Liang 2010, Analyst 135:1138, eq. 9 (with the author's correction that the
    exponent uses |d|): w = 0 where d ≥ 0, exp(t|d|/|dᵗ|) where d < 0; stop at |dᵗ| < tol·Σ|y|."""
    w = np.ones_like(y)
    for t in range(1, max_iter + 1):
        z = _whittaker(y, w, lam, order)
        d = y - z
        negative = d < 0
        total = np.abs(d[negative]).sum()
        if total < tol * np.abs(y).sum():
            return z
        w = np.where(negative, np.exp(t * np.abs(d) / total), 0.0)
    return z


def arpls_paper(y, lam, order, max_iter=50, tol=1e-3):
    """Baek, Park, Ahn & Choo 2015, Analyst 140:250, Table 1: w = logistic(−2(d − (2σ⁻ − m⁻))/σ⁻)
    with m⁻, σ⁻ the mean and SD (n − 1) of the negative residuals; stop when
    |w − wᵗ|/|w| < tol."""
    w = np.ones_like(y)
    for _ in range(max_iter + 1):
        z = _whittaker(y, w, lam, order)
        d = y - z
        dn = d[d < 0]
        m, s = dn.mean(), dn.std(ddof=1)
        new = 1.0 / (1.0 + np.exp(2.0 * (d - (2.0 * s - m)) / s))
        if np.linalg.norm(w - new) / np.linalg.norm(w) < tol:
            return z
        w = new
    return z


def _test_vector(seed: int, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, n)
    baseline = 2.0 + 1.5 * np.exp(-x / 0.4) + 0.3 * x**2
    peaks = sum(
        a * np.exp(-0.5 * ((x - c) / s) ** 2)
        for a, c, s in zip(
            rng.uniform(0.5, 2, 6),
            rng.uniform(0.05, 0.95, 6),
            rng.uniform(0.005, 0.03, 6),
            strict=True,
        )
    )
    return baseline + peaks + rng.normal(0, 0.02, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("lam", "order"), [(5e4, 1), (1e4, 2), (1e6, 2)])
def test_airpls_equals_the_published_algorithm(seed, lam, order):
    y = _test_vector(seed)
    ours = asymmetric_baseline(y, "airpls", lam=lam, diff_order=order)
    np.testing.assert_allclose(ours, airpls_paper(y, lam, order), rtol=1e-7, atol=1e-9)
    assert np.mean(y - ours >= -1e-9) > 0.5  # below the data: the peaks stay above it


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("lam", "order"), [(5e4, 1), (1e4, 2), (1e6, 2)])
def test_arpls_equals_the_published_algorithm(seed, lam, order):
    y = _test_vector(seed)
    ours = asymmetric_baseline(y, "arpls", lam=lam, diff_order=order)
    np.testing.assert_allclose(ours, arpls_paper(y, lam, order), rtol=1e-7, atol=1e-9)


def test_nonnegative_lasso_matches_a_numerical_minimum_and_stops_at_zero():
    rng = np.random.default_rng(7)
    c = rng.normal(size=500)
    s = 0.8 * c + 0.3 + rng.normal(0, 0.5, 500)
    alpha = 0.05

    def objective(p):
        return np.sum((s - p[0] - p[1] * c) ** 2) / (2 * c.size) + alpha * abs(p[1])

    best = optimize.minimize(objective, [0.0, 0.5], bounds=[(None, None), (0, None)], tol=1e-12)
    intercept, slope = nonnegative_lasso_fit(c, s, alpha)
    assert slope == pytest.approx(best.x[1], abs=1e-6)
    assert intercept == pytest.approx(best.x[0], abs=1e-6)
    assert nonnegative_lasso_fit(c, -s, alpha)[1] == 0.0  # a negative relation is clamped


def test_martianova_recipe_recovers_the_planted_activity():
    fs = 20.0
    rng = np.random.default_rng(11)
    t = np.arange(int(900 * fs)) / fs
    activity = np.zeros(t.size)
    onsets = rng.choice(t.size - 200, 40, replace=False)
    kernel = np.exp(-np.arange(200) / (0.8 * fs)) * (1 - np.exp(-np.arange(200) / (0.1 * fs)))
    for onset in onsets:
        activity[onset : onset + 200] += 0.05 * kernel
    # slow bleaching, as the recipe's airPLS (λ = 5e4, first differences) assumes: with a
    # 4-min time constant its baseline lags the decay by up to 10 % and r falls to 0.63
    motion = 0.02 * np.sin(2 * np.pi * 0.07 * t) * np.sin(2 * np.pi * 0.011 * t)
    control = 0.8 * (0.7 + 0.3 * np.exp(-t / 1800)) * (1 + motion) + rng.normal(0, 5e-4, t.size)
    signal = 1.2 * (0.6 + 0.4 * np.exp(-t / 1500)) * (1 + motion + activity) + rng.normal(
        0, 5e-4, t.size
    )
    out = martianova_zdff(signal, control, smooth_window=10, lam=5e4)
    assert out["slope"] > 0
    # the answer: the planted activity, smoothed and standardised as the recipe does
    expected = robust_standardize(moving_average(activity, 10))
    assert np.corrcoef(out["zdff"], expected)[0, 1] > 0.95
    motion_z = robust_standardize(motion)
    assert abs(np.corrcoef(out["zdff"], motion_z)[0, 1]) < 0.1


def test_airpls_bleaching_correction_flattens_the_trend():
    fs = 20.0
    t = np.arange(int(1200 * fs)) / fs
    trend = 1.0 + 0.5 * np.exp(-t / 400)
    x = trend * (1 + 0.01 * np.random.default_rng(2).normal(size=t.size))
    corrected, fitted = bl.correct_bleaching(
        t, x, fs, "airpls", 1.0, baseline_options={"lam": 1e3, "diff_order": 2, "max_iter": 50}
    )
    assert np.max(np.abs(fitted / trend - 1)) < 0.03
    first, last = corrected[: int(60 * fs)].mean(), corrected[-int(60 * fs) :].mean()
    assert last / first == pytest.approx(1.0, abs=0.02)


def test_martianova_method_of_the_chain_runs_the_recipe_on_the_checked_channels():
    from exneuro.photometry.baselines import martianova_zdff as recipe
    from exneuro.photometry.preprocess import preprocess_session
    from exneuro.simulate.photometry import PhotometryEffects, simulate_session

    fs = 20.0
    # transients only: the recipe's airPLS baseline (about 10 s of smoothing at 20 Hz) takes
    # sustained changes (a run, a post-run plateau) for baseline, by design
    effects = PhotometryEffects(
        bleach_fast_fraction=0.0, bleach_slow_tau_s=20000.0, running_dff=0.0, motion_to_signal=1.0
    )
    sim = simulate_session(effects, np.random.default_rng(3), fs, 1800, 600, 1200, 0.0)
    settings = {"method": "martianova2019", "warmup_s": 0.0, "decimate_hz": None}
    table, qc = preprocess_session(
        sim["time_s"], sim["signal"], sim["control"], fs, settings, (0.0, 600.0)
    )
    direct = recipe(sim["signal"], sim["control"])
    np.testing.assert_array_equal(table["z"], direct["zdff"])  # the recipe, step for step
    np.testing.assert_allclose(
        table["dff"],
        (direct["smoothed_signal"] - direct["fitted_signal"]) / direct["baseline_signal"],
    )
    assert qc["fit_method"] == "nonnegative_lasso" and qc["fit_slope"] > 0
    # the known answer: the planted ΔF/F, smoothed like the recipe's first step
    truth = moving_average(sim["true_dff"], 10)
    assert np.corrcoef(table["dff"], truth)[0, 1] > 0.9
    decimated, _ = preprocess_session(
        sim["time_s"], sim["signal"], sim["control"], fs, {**settings, "decimate_hz": 5.0}, None
    )
    assert len(decimated) == len(table) // 4
