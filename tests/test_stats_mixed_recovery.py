"""Mixed models beyond the R references: planted effects recovered (an interaction, random
slopes of 100 mice), a type I error exactly that of the test on mouse means, the rows a fit
writes to the statistics table, and failures and bad requests reported, never silent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mixed_models import (
    TOL_SE,
    close,
    segments_fit,
    sleepstudy,
    sleepstudy_fit,
    unbalanced_design,
    unbalanced_fit,
    vc_value,
)
from scipy import stats

from exneuro.stats import lmm_fit
from exneuro.stats import mixed as mx
from exneuro.stats.table import STAT_COLUMNS


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return sleepstudy()


@pytest.fixture(scope="module")
def fm1(sleep) -> mx.MixedModelFit:
    return sleepstudy_fit(sleep)


@pytest.fixture(scope="module")
def unb_fit() -> mx.MixedModelFit:
    return unbalanced_fit(unbalanced_design())


@pytest.fixture(scope="module")
def seg_fit() -> mx.MixedModelFit:
    return segments_fit()


# ----------------------------------------------------------------------------------------------
# Planted effect recovery
# ----------------------------------------------------------------------------------------------
def simulate(n_per_group: int, interaction: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for g, group in enumerate(["control", "treated"]):
        for m in range(n_per_group):
            u = rng.normal(0.0, 2.0)
            for s, session in enumerate(["s1", "s2", "s3", "s4"]):
                mean = 10.0 + 1.0 * g + 0.5 * s + (interaction if (g == 1 and s == 3) else 0.0)
                rows.append(
                    {
                        "mouse": f"{group}{m}",
                        "group": group,
                        "session": session,
                        "y": mean + u + rng.normal(0.0, 1.5),
                    }
                )
    return pd.DataFrame(rows)


def test_planted_interaction_is_recovered():
    planted = 2.0
    data = simulate(60, planted, seed=7)
    fit = mx.fit_lmm(data, "y ~ C(group) * C(session)", "mouse")
    row = mx.coef_table(fit).set_index("term").loc["C(group)[T.treated]:C(session)[T.s4]"]
    assert abs(row.estimate - planted) < 3 * row.se
    assert row.p < 1e-4
    # the between-mouse variance (4) and residual variance (2.25) are recovered too
    assert vc_value(fit, "mouse") == pytest.approx(4.0, rel=0.35)
    assert vc_value(fit, None) == pytest.approx(2.25, rel=0.15)
    anova = mx.anova_table(fit).set_index("term")
    assert anova.loc["group:session", "p"] < 1e-4
    # group x session difference at s4 minus at s1 equals the planted interaction
    diffs = mx.emm_contrasts(fit, "group", by="session", method="trt.vs.ctrl", adjust="none")
    diffs = diffs.set_index("by_level").estimate
    assert abs((diffs["s4"] - diffs["s1"]) - planted) < 3 * row.se


def test_type1_error_is_exactly_that_of_the_test_on_mouse_means_under_the_null():
    # Balanced design, 6 mice per group: the Satterthwaite F test of group equals the exact t
    # test on mouse means (t(10)), whose type I error is exactly 5 %. Checked p by p on 200 null
    # data sets (a z test on so few mice would reject more often and fail here).
    rejections = 0
    for seed in range(200):
        data = simulate(6, 0.0, seed=1000 + seed)
        data["y"] -= np.where(data.group == "treated", 1.0, 0.0)
        fit = mx.fit_lmm(data, "y ~ C(group) + C(session)", "mouse")
        p = mx.anova_table(fit).set_index("term").loc["group", "p"]
        means = data.groupby(["group", "mouse"])["y"].mean()
        exact = stats.ttest_ind(means["control"], means["treated"]).pvalue
        assert p == pytest.approx(exact, abs=1e-6), seed
        rejections += p < 0.05
    assert rejections == 11  # of 200, the exact test's count on these data sets


# ----------------------------------------------------------------------------------------------
# Statistics-table rows
# ----------------------------------------------------------------------------------------------
def test_to_stats_rows(unb_fit):
    contrasts = mx.emm_contrasts(unb_fit, "group", by="session", method="pairwise")
    table = mx.to_stats(unb_fit, contrasts, between="group", include_coefficients=True)
    assert list(table.columns) == list(STAT_COLUMNS)
    f_rows = table[(table.test == "lmm") & (table.statistic_name == "F")]
    assert list(f_rows.term) == ["group", "session", "group:session"]
    assert (
        f_rows.model == "distance_m ~ group * session + (1 | mouse); REML; Satterthwaite df"
    ).all()
    anova = mx.anova_table(unb_fit)
    close(f_rows.statistic, anova.F, 1e-12)
    close(f_rows.df_den, anova.df_den, 1e-12)
    assert (f_rows.n_mice == 23).all() and (f_rows.n_obs == 84).all()
    assert f_rows.n_by_group.iloc[0] == "control=8; silenced=6; activated=9"
    assert "8 rows with missing values dropped" in f_rows.notes.iloc[0]
    t_rows = table[(table.test == "lmm") & (table.statistic_name == "t")]
    assert len(t_rows) == len(unb_fit.beta)
    c_rows = table[table.test == "emm_contrast"].reset_index(drop=True)
    assert len(c_rows) == 12
    assert (c_rows.correction == "Sidak (3 tests)").all()
    assert c_rows.term.iloc[0] == "group: control - silenced | session=s1"
    close(c_rows.p_adj, contrasts.p_adj, 1e-12)
    total_sd = np.sqrt(vc_value(unb_fit, "mouse") + vc_value(unb_fit, None))
    close(c_rows.effect_size, contrasts.estimate / total_sd, 1e-12)
    assert (c_rows.effect_size_name == "d (total SD)").all()


def test_to_stats_nested_levels(seg_fit):
    table = mx.to_stats(seg_fit, levels={"cell": "n_cells"})
    assert table.n_cells.iloc[0] == 69 and table.n_mice.iloc[0] == 10
    assert pd.isna(table.n_segments.iloc[0])
    assert table.model.iloc[0].startswith("density ~ group + (1 | mouse) + (1 | mouse:cell)")
    with pytest.raises(ValueError, match="segment"):
        mx.to_stats(seg_fit, levels={"segment": "n_segments"})


def test_adjust_pvalues_is_the_shared_one():
    from exneuro.stats import compare

    assert mx.adjust_pvalues is compare.adjust_pvalues
    p = np.array([0.01, 0.04, 0.03])
    close(mx.adjust_pvalues(p, "sidak"), 1 - (1 - p) ** 3, 1e-12)
    close(mx.adjust_pvalues(p, "holm"), [0.03, 0.06, 0.06], 1e-12)


# ----------------------------------------------------------------------------------------------
# Robustness, errors, speed
# ----------------------------------------------------------------------------------------------
def test_optimizer_failures_are_reported_not_silent(sleep, monkeypatch):
    def broken_fit(self, *args, **kwargs):
        raise RuntimeError("optimizer exploded")

    monkeypatch.setattr(lmm_fit.MixedLM, "fit", broken_fit)
    fit = mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", re_formula="~Days")
    failures = [m for m in fit.warnings if "optimizer exploded" in m]
    # lme4's own optimum passes lme4's checks: statsmodels' fallback optimizers are not tried
    assert len(failures) == 1
    assert any("other optimizers not tried" in m for m in fit.warnings)
    assert not fit.statsmodels_converged
    assert fit.result is None
    # lme4's criterion is still optimized directly, and the numbers are right
    close(mx.coef_table(fit).se, [6.8246, 1.5458], TOL_SE)
    assert fit.converged


def test_every_statsmodels_optimizer_is_tried_when_the_own_optimum_fails_the_checks(
    sleep, monkeypatch
):
    def broken_fit(self, *args, **kwargs):
        raise RuntimeError("optimizer exploded")

    monkeypatch.setattr(lmm_fit.MixedLM, "fit", broken_fit)
    monkeypatch.setattr(lmm_fit, "_passes_lme4_checks", lambda engine, theta: False)
    fit = mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", re_formula="~Days")
    failures = [m for m in fit.warnings if "optimizer exploded" in m]
    assert len(failures) == len(lmm_fit.OPTIMIZERS)
    assert not any("not tried" in m for m in fit.warnings)


def test_a_variance_at_zero_is_fitted_without_statsmodels_fallbacks(monkeypatch):
    """Values centred on each mouse's mean (a metric z-scored to each session's own baseline):
    the mouse variance is zero, statsmodels cannot start from there and its fallback optimizers
    took minutes at a thousand mice. lme4's optimum passes lme4's checks, so statsmodels runs
    once; the fit is the least-squares fit, as lme4's is at theta = 0."""
    rng = np.random.default_rng(3)
    mice, days = 24, 4
    data = pd.DataFrame(
        {
            "mouse": np.repeat([f"m{i:02d}" for i in range(mice)], days),
            "day": np.tile(np.arange(1, days + 1), mice),
            "group": np.where(np.repeat(np.arange(mice), days) % 2, "trained", "control"),
            "value": rng.normal(0.0, 1.0, mice * days),
        }
    )
    data["value"] -= data.groupby("mouse")["value"].transform("mean")
    calls = []
    statsmodels_fit = lmm_fit.MixedLM.fit

    def counted_fit(self, *args, **kwargs):
        calls.append(kwargs.get("method"))
        return statsmodels_fit(self, *args, **kwargs)

    monkeypatch.setattr(lmm_fit.MixedLM, "fit", counted_fit)
    formula = "value ~ C(group, Treatment('control')) * C(day, Treatment(1))"
    fit = mx.fit_lmm(data, formula, "mouse")
    assert calls == [None]  # statsmodels' default only
    assert any("other optimizers not tried" in m for m in fit.warnings)
    assert fit.converged and fit.singular
    X = fit.model.exog
    beta, rss = np.linalg.lstsq(X, data["value"].to_numpy(), rcond=None)[:2]
    sigma2 = rss[0] / (len(data) - X.shape[1])
    close(fit.beta, beta, 1e-10)
    close(fit.scale, sigma2, 1e-10)
    close(np.diag(fit.cov_beta), sigma2 * np.diag(np.linalg.inv(X.T @ X)), 1e-10)


def test_unknown_column_raises(sleep):
    with pytest.raises(ValueError, match="'Dayz'"):
        mx.fit_lmm(sleep, "Reaction ~ Dayz", "Subject")
    with pytest.raises(ValueError, match="'Dayz'"):
        mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", re_formula="~Dayz")
    with pytest.raises(ValueError, match="'cell'"):
        mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", vc_formula={"cell": "0 + C(cell)"})


def test_missing_groups_column_raises(sleep):
    with pytest.raises(ValueError, match="'Mouse'"):
        mx.fit_lmm(sleep, "Reaction ~ Days", "Mouse")


def test_bad_emmeans_requests_raise(unb_fit, fm1):
    with pytest.raises(ValueError, match="'treatment'"):
        mx.emmeans(unb_fit, ["treatment"])
    with pytest.raises(ValueError, match="'Days'"):
        mx.emmeans(fm1, ["Days"])
    with pytest.raises(ValueError, match="adjust"):
        mx.emm_contrasts(unb_fit, "group", adjust="tukey")
    with pytest.raises(ValueError, match="'sham'"):
        mx.emm_contrasts(unb_fit, "group", method="trt.vs.ctrl", ref="sham")


def test_100_mice_by_10_sessions_recover_the_planted_random_slopes():
    # planted: intercept SD 2, slope 0.3 per session with SD 0.2 between mice, residual SD 1
    rng = np.random.default_rng(3)
    mice = np.repeat(np.arange(100), 10)
    session = np.tile(np.arange(10), 100)
    group = np.array(["a", "b", "c"])[mice % 3]
    slopes = rng.normal(0.3, 0.2, 100)[mice]
    y = 5 + rng.normal(0, 2, 100)[mice] + slopes * session + rng.normal(0, 1, 1000)
    data = pd.DataFrame({"mouse": mice, "group": group, "session": session, "y": y})
    fit = mx.fit_lmm(data, "y ~ C(group) * C(session)", "mouse")
    assert len(mx.anova_table(fit)) == 3 and fit.converged
    fit = mx.fit_lmm(data, "y ~ C(group) * session", "mouse", re_formula="~session")
    assert fit.converged and not fit.singular
    slope = mx.coef_table(fit).set_index("term").loc["session"]
    assert abs(slope.estimate - 0.3) < 2 * slope.se
    assert vc_value(fit, "mouse") == pytest.approx(4.0, rel=0.15)
    assert vc_value(fit, "session") == pytest.approx(0.04, rel=0.3)
    assert vc_value(fit, None) == pytest.approx(1.0, rel=0.05)
