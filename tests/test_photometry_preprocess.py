"""Photometry preprocessing: artifact correction against planted truth, the robust fit against
statsmodels, filters, bleaching, z-scores and QC flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from exneuro.errors import ConfigError
from exneuro.photometry import bleaching as bl
from exneuro.photometry import control_fit as cf
from exneuro.photometry import preprocess as pp
from exneuro.photometry import qc as qc_module
from exneuro.simulate.photometry import PhotometryEffects, simulate_session

FS = 100.0
ONSET, OFFSET, DURATION = 600.0, 1800.0, 4200.0
POST = 0.05


@pytest.fixture(scope="module")
def session() -> dict:
    """10 min rest, 20 min run, 40 min recovery at 100 Hz; post-run activation 5 % ΔF/F."""
    return simulate_session(
        PhotometryEffects(), np.random.default_rng(3), FS, DURATION, ONSET, OFFSET, POST
    )


def _run(session: dict, **settings) -> tuple[pd.DataFrame, dict, np.ndarray]:
    table, qc = pp.preprocess_session(
        session["time_s"], session["signal"], session["control"], FS, settings, (0.0, ONSET)
    )
    true = np.interp(table["time_s"], session["time_s"], session["true_dff"])
    return table, qc, true


def test_corrected_dff_tracks_planted_signal_although_artifacts_are_five_times_larger(session):
    assert session["truth"]["motion_rms_ratio"] == pytest.approx(5.0, rel=0.02)
    table, qc, true = _run(session)
    assert np.corrcoef(table["dff"], true)[0, 1] >= 0.95
    # without the control the motion dominates: the signal's own bleach-normalized ΔF/F
    t, s = session["time_s"], session["signal"]
    params = bl.fit_double_exponential(t, s, FS)
    trend = bl.double_exponential(t - t[0], params)
    naive = np.interp(table["time_s"], t, pp.lowpass(s / trend - 1.0, FS, 3.0))
    assert abs(np.corrcoef(naive, true)[0, 1]) < 0.5
    assert abs(qc["artifact_correlation"]) < 0.1
    assert qc["fit_slope"] == pytest.approx(session["truth"]["isosbestic_slope"], rel=0.01)
    assert qc["fs_hz"] == 20.0 and not qc["antialias_filter"]


def test_baseline_epoch_fit_keeps_post_run_response_that_whole_session_fit_absorbs(session):
    post = lambda table: (table["time_s"] >= OFFSET + 120) & (table["time_s"] < OFFSET + 1800)  # noqa: E731
    base, _, true = _run(session, control_fit={"window": "baseline"})
    whole, _, _ = _run(session, control_fit={"window": "session"})
    planted = true[post(base)].mean()
    recovered = base.loc[post(base), "dff"].mean()
    absorbed = whole.loc[post(whole), "dff"].mean()
    assert recovered == pytest.approx(planted, rel=0.1)
    assert absorbed < 0.5 * planted  # the whole-session fit shrinks the response


def test_detrended_channels_with_baseline_fit_leave_artifact_and_qc_flags_it(session):
    table, qc, true = _run(session, bleaching={"method": "double_exponential"})
    assert np.corrcoef(table["dff"], true)[0, 1] < 0.5
    flags = qc_module.qc_flags(qc)
    assert not flags["qc_pass"].iloc[0]
    assert "residual motion artifact" in flags["qc_reasons"].iloc[0]


@pytest.mark.parametrize("tuning", [4.685, 1.4])
def test_irls_equals_statsmodels_rlm_tukey_biweight(tuning):
    rng = np.random.default_rng(11)
    n = 2000
    c = 1.0 + 0.1 * np.sin(np.arange(n) / 300.0) + 0.01 * rng.standard_normal(n)
    s = 0.1 + 1.5 * c + 0.01 * rng.standard_normal(n) + (rng.random(n) < 0.1) * 0.05
    rlm = sm.RLM(s, sm.add_constant(c), M=sm.robust.norms.TukeyBiweight(tuning)).fit()
    same_rule = cf.fit_irls(c, s, tuning, criterion="deviance", tol=1e-8)
    assert same_rule.intercept == pytest.approx(rlm.params[0], abs=1e-6)
    assert same_rule.slope == pytest.approx(rlm.params[1], abs=1e-6)
    assert same_rule.scale == pytest.approx(rlm.scale, rel=1e-6)
    assert same_rule.n_iter == rlm.fit_history["iteration"] - 1  # RLM counts the OLS start
    default = cf.fit_irls(c, s, tuning)
    assert default.slope == pytest.approx(rlm.params[1], abs=1e-6)
    assert default.intercept == pytest.approx(rlm.params[0], abs=1e-6)


def test_irls_equals_statsmodels_on_large_input_where_median_search_is_banded():
    rng = np.random.default_rng(5)
    n = 120_001
    c = 1.0 + 0.05 * rng.standard_normal(n)
    s = 0.2 + 1.3 * c + 0.02 * rng.standard_t(3, n)
    rlm = sm.RLM(s, sm.add_constant(c), M=sm.robust.norms.TukeyBiweight(4.685)).fit()
    fit = cf.fit_irls(c, s, 4.685, criterion="deviance", tol=1e-8)
    assert fit.slope == pytest.approx(rlm.params[1], abs=1e-9)
    assert fit.intercept == pytest.approx(rlm.params[0], abs=1e-9)


@pytest.mark.parametrize("n", [100_000, 100_001])
@pytest.mark.parametrize("guess", [None, 0.5, 0.6745, 0.01, 100.0])
def test_banded_median_is_exact(n, guess):
    rng = np.random.default_rng(n)
    r = rng.standard_normal(n)
    work = np.empty(n)
    expected = np.median(np.abs(r))
    assert cf._median_abs(r**2, guess, work, 0.01) == pytest.approx(expected, rel=1e-15)


def test_robust_fit_resists_transients_that_bias_ols():
    rng = np.random.default_rng(2)
    n = 20_000
    c = 1.0 + 0.05 * np.sin(np.arange(n) / 2000.0) + 0.002 * rng.standard_normal(n)
    s = 2.0 * c + 0.002 * rng.standard_normal(n)
    s[: n // 5] += 0.2  # transients early, where the control is high: OLS tilts the line
    ols = cf.fit_control(c, s, "ols")
    irls = cf.fit_control(c, s, "irls", tuning=4.685)
    assert abs(irls.slope - 2.0) < 0.02 < abs(ols.slope - 2.0)


def test_lowpass_is_zero_phase_and_half_amplitude_at_cutoff():
    fs, cutoff = 1000.0, 3.0
    t = np.arange(0, 60, 1 / fs)
    slow = np.sin(2 * np.pi * 0.2 * t)
    at_cutoff = np.sin(2 * np.pi * cutoff * t)
    middle = slice(10_000, 50_000)
    assert np.max(np.abs(pp.lowpass(slow, fs, cutoff)[middle] - slow[middle])) < 1e-3
    gain = np.std(pp.lowpass(at_cutoff, fs, cutoff)[middle]) / np.std(at_cutoff[middle])
    assert gain == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ConfigError, match="Nyquist"):
        pp.lowpass(slow, 20.0, 12.0)


def test_decimation_filters_what_would_alias():
    fs = 1000.0
    t = np.arange(0, 30, 1 / fs)
    fast = np.sin(2 * np.pi * 15.0 * t)  # above the 10 Hz Nyquist frequency of 20 Hz
    _, filtered, rate = pp.decimate(t, fast, fs, 20.0)
    _, aliased, _ = pp.decimate(t, fast, fs, 20.0, antialias=False)
    assert rate == 20.0
    assert np.std(filtered[50:-50]) < 0.01
    assert np.std(aliased) > 0.5


def test_double_exponential_fit_recovers_bleaching_curve():
    fs = 100.0
    t = np.arange(0, 3600, 1 / fs)
    truth = bl.double_exponential(t, np.array([0.6, 0.25, 0.15, 4000.0, 0.05]))
    noisy = truth + 0.003 * np.random.default_rng(0).standard_normal(t.size)
    fitted = bl.double_exponential(t, bl.fit_double_exponential(t, noisy, fs))
    assert np.max(np.abs(fitted / truth - 1)) < 0.005
    corrected, trend = bl.correct_bleaching(t, noisy, fs, "double_exponential")
    assert trend is not None
    assert abs(corrected[-6000:].mean() / corrected[:6000].mean() - 1) < 0.005


def test_highpass_bleaching_trend_flattens_a_decay():
    fs = 20.0
    t = np.arange(0, 3600, 1 / fs)
    decay = 1.0 + 0.4 * np.exp(-t / 900.0)
    corrected, _ = bl.correct_bleaching(t, decay, fs, "highpass")
    raw_drop = 1 - decay[-1200:].mean() / decay[:1200].mean()
    left = abs(1 - corrected[-1200:].mean() / corrected[:1200].mean())
    assert left < 0.2 * raw_drop


def test_zscore_methods_follow_their_formulas():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(1000) * 3 + 2
    mask = np.zeros(1000, dtype=bool)
    mask[:200] = True
    z = pp.zscore(x, "baseline", mask)
    assert z[mask].mean() == pytest.approx(0, abs=1e-12)
    assert z[mask].std() == pytest.approx(1)
    assert pp.zscore(x, "session").std() == pytest.approx(1)
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    assert np.allclose(pp.zscore(x, "robust"), 0.6745 * (x - med) / mad, rtol=1e-4)


def test_settings_are_completed_and_unknown_keys_named():
    resolved = pp.resolve_settings({"control_fit": {"tuning": 1.4}})
    assert resolved["control_fit"]["tuning"] == 1.4
    assert resolved["control_fit"]["window"] == "baseline"
    with pytest.raises(ConfigError, match="tunning"):
        pp.resolve_settings({"control_fit": {"tunning": 1.4}})
    with pytest.raises(ConfigError, match="bleaching.method"):
        pp.resolve_settings({"bleaching": {"method": "als"}})


def test_baseline_zscore_of_processed_session_is_standard_in_baseline(session):
    table, _, _ = _run(session)
    base = table.loc[table["in_baseline"], "z"]
    assert base.mean() == pytest.approx(0, abs=1e-9)
    assert base.std(ddof=0) == pytest.approx(1)


def test_snr_drops_with_detector_noise():
    snr = []
    for density in (0.001, 0.004):
        effects = PhotometryEffects(noise_density_per_sqrt_hz=density)
        sim = simulate_session(effects, np.random.default_rng(4), FS, 3000, 600, 1500, 0.05)
        _, qc = pp.preprocess_session(
            sim["time_s"], sim["signal"], sim["control"], FS, {}, (0.0, 600.0)
        )
        snr.append(qc["snr_db"])
    assert snr[0] > snr[1] + 6


@pytest.mark.parametrize(
    ("n", "fs_hz", "nperseg"),
    [(450_000, 100.0, 512), (1 << 20, 1017.25, 4096), (4_099, 20.0, 256), (301, 15.0, 301)],
)
def test_welch_psd_is_scipys_welch_to_the_last_bit(n, fs_hz, nperseg):
    """Odd and even segment lengths, a length that is no multiple of the hop, one segment."""
    from scipy import signal

    rng = np.random.default_rng(n)
    x = 1.0 + 0.05 * rng.standard_normal(n) + 0.1 * np.sin(np.arange(n) / 300.0)
    freqs, psd = qc_module.welch_psd(x, fs_hz, nperseg)
    expected_freqs, expected = signal.welch(x, fs=fs_hz, nperseg=nperseg)
    assert np.array_equal(freqs, expected_freqs)
    assert np.array_equal(psd, expected)


def test_noise_density_of_white_noise_is_its_one_sided_psd():
    """White noise of SD σ at fs has the one-sided PSD 2σ²/fs at every frequency."""
    fs_hz, sd = 100.0, 0.01
    x = 1.0 + sd * np.random.default_rng(7).standard_normal(450_000)
    density = qc_module.noise_density(x, fs_hz, (10.0, 45.0))
    assert density == pytest.approx(2 * sd**2 / fs_hz, rel=0.02)


def test_saturation_fraction_counts_samples_at_the_range_limits():
    x = np.sin(np.linspace(0, 20, 10_000))
    clipped = np.clip(x, -0.95, 0.9)
    expected = np.mean((clipped >= 0.9) | (clipped <= -0.95))
    assert expected > 0.05
    assert qc_module.saturation_fraction(clipped, (-0.95, 0.9)) == pytest.approx(expected)
    assert qc_module.saturation_fraction(x, (-2.0, 2.0)) == 0.0


def test_qc_flags_name_every_failed_check_and_keep_every_session():
    good = {
        "fit_r2": 0.04,  # little shared motion: a healthy low-motion session
        "fit_slope": 1.2,
        "dark": False,
        "disconnected_fraction": 0.0,
        "spike_fraction": 0.001,
        "saturation_fraction": 0.0,
        "snr_db": 15.0,
        "bleaching_fraction": 0.2,
        "level_ratio_max": 0.8,
        "fit_rejected_fraction": 0.05,
        "artifact_correlation": 0.02,
    }
    bad = {
        **good,
        "fit_slope": -0.4,
        "dark": True,
        "disconnected_fraction": 0.28,
        "spike_fraction": 0.02,
        "saturation_fraction": 0.02,
        "snr_db": 1.0,
        "bleaching_fraction": 0.8,
        "level_ratio_max": 2.6,
    }
    table = pd.DataFrame([good, bad, {**good, "snr_db": np.nan}]).assign(mouse=["A", "B", "C"])
    flags = qc_module.qc_flags(table)
    assert list(flags["mouse"]) == ["A", "B", "C"]
    assert list(flags["qc_pass"]) == [True, False, True]
    reasons = flags.loc[1, "qc_reasons"]
    for text in (
        "dark channel",
        "disconnected (level at the detector floor) over 28.0% of the session",
        "spikes in 2.00% of samples",
        "negative",
        "saturated",
        "SNR 1.0 dB",
        "bleaching (80% lost)",
        "brightening (x2.60)",
    ):
        assert text in reasons
    assert "R2" not in reasons
    strict = qc_module.qc_flags(good, {"min_fit_r2": 0.5})
    assert strict["qc_reasons"].iloc[0] == "control fit R2 0.04 < 0.5"
    relaxed = qc_module.qc_flags(bad, {"flag_dark": False, "flag_negative_slope": False})
    assert "dark" not in relaxed["qc_reasons"].iloc[0]
    assert "negative" not in relaxed["qc_reasons"].iloc[0]
    with pytest.raises(ConfigError, match="min_r2"):
        qc_module.qc_flags(good, {"min_r2": 0.3})
