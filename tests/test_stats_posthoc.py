"""Tests of exneuro.stats.posthoc: the Dunnett (single-step multivariate t) correction.

References in ``reference/dunnett_mvt`` (R 4.2.2, lme4 1.1-31, lmerTest 3.1-3, emmeans 1.8.4-1,
mvtnorm 1.1-3 on ``reference/lmm_unbalanced/unbalanced.csv``; see its README):

* ``source == "mvtnorm_tight"``: emmeans' ``adjust = "mvt"`` rule evaluated precisely with
  mvtnorm (abseps 1e-7; two contrasts are integrated exactly by mvtnorm);
* ``source == "emmeans"``: what emmeans itself prints, with mvtnorm's default abseps 1e-3 and
  ``qmvt``'s ptol 1e-3 (Monte Carlo, fixed seed), which emmeans does not let the caller tighten.

Tolerances (absolute unless said), and the worst differences seen:

* per-session families (two contrasts): both sides are exact (exneuro's quadrature ~1e-12,
  mvtnorm's bivariate t), so what is left is the fit (estimates, SE and Satterthwaite df agree
  with lme4/lmerTest to ~1e-7-1e-6 relative, ``reference/lmm_unbalanced/README.md``): p_adj 1e-7
  (seen 1.7e-9), critical value q 1e-6 (1.3e-8), CI bounds 1e-6 (2.6e-8);
* the family of eight: exneuro's lattice error (3.5 sd <= 3.5e-5) plus mvtnorm's (<= 4.5e-6):
  p_adj 5e-5 (seen 1.4e-5); q 4e-4, that p error over the density of max |T| at q (0.114)
  (seen 4.5e-5); CI bounds 4e-4 x SE (seen 8.6e-5);
* emmeans' own printout: p_adj 2e-3 (its abseps 1e-3; seen 2.2e-4), q 1e-2 (its qmvt ptol 1e-3
  over the density ~0.11; seen 2.1e-3).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from exneuro.stats import mixed as mx
from exneuro.stats import posthoc as ph

REF = Path(__file__).resolve().parent / "reference"
DUN = REF / "dunnett_mvt"


# ----------------------------------------------------------------------------------------------
# data, fits, families
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def unbalanced() -> pd.DataFrame:
    data = pd.read_csv(REF / "lmm_unbalanced" / "unbalanced.csv")
    data["group"] = pd.Categorical(data["group"], categories=["control", "silenced", "activated"])
    return data


@pytest.fixture(scope="module")
def fit(unbalanced) -> mx.MixedModelFit:
    return mx.fit_lmm(unbalanced, "distance_m ~ group * session", "mouse")


@pytest.fixture(scope="module")
def r_ref() -> pd.DataFrame:
    return pd.read_csv(DUN / "r_dunnett.csv", keep_default_na=False, na_values=["NA"])


def family(fit, correction: str, scope: str, mvt_df: str = "emmeans") -> pd.DataFrame:
    return ph.contrast_family(
        fit,
        "group",
        "session",
        "trt.vs.ctrl",
        "control",
        correction,
        0.95,
        family=scope,
        mvt_df=mvt_df,
    )


@pytest.fixture(scope="module")
def per_session(fit) -> pd.DataFrame:
    return family(fit, "dunnett", "per_level")


@pytest.fixture(scope="module")
def all_sessions(fit) -> pd.DataFrame:
    return family(fit, "dunnett", "all")


def keyed(table: pd.DataFrame, scope: str) -> pd.DataFrame:
    """exneuro rows keyed as the R file: (by, contrast)."""
    session = table["subset"].str.replace("session=", "", regex=False)
    if scope == "per_session":
        return table.assign(by=session, contrast=table["term"]).set_index(["by", "contrast"])
    return table.assign(by="", contrast=table["term"] + " " + session).set_index(["by", "contrast"])


def reference(r_ref: pd.DataFrame, scope: str, source: str) -> pd.DataFrame:
    rows = r_ref[(r_ref["family"] == scope) & (r_ref["source"] == source)]
    assert len(rows) == 8
    return rows.set_index(["by", "contrast"])


def compare(table, r_ref, scope, source, tol_p, tol_q) -> dict[str, float]:
    """Worst absolute differences from R; asserts the tolerances."""
    ours = keyed(table, scope)
    ref = reference(r_ref, scope, source).loc[ours.index]
    se = (ours["estimate"] / ours["statistic"]).to_numpy()  # exneuro's own SE
    q = (ours["ci_high"].to_numpy() - ours["estimate"].to_numpy()) / se
    worst = {
        "estimate": np.max(np.abs(ours["estimate"].to_numpy() - ref["estimate"].to_numpy())),
        "p": np.max(np.abs(ours["p"].to_numpy() - ref["p"].to_numpy())),
        "p_adj": np.max(np.abs(ours["p_adj"].to_numpy() - ref["p_adj"].to_numpy())),
        "q": np.max(np.abs(q - ref["q"].to_numpy())),
    }
    assert worst["estimate"] < 1e-5
    assert worst["p"] < 1e-6
    assert worst["p_adj"] < tol_p, worst
    assert worst["q"] < tol_q, worst
    return worst


# ----------------------------------------------------------------------------------------------
# emmeans' df rule
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("df", "expected"),
    [
        (34.847, 35.0),
        (32.858, 33.0),  # floor(33.108)
        (32.571, 32.0),  # floor(32.821): not round()
        (31.75, 32.0),
        (0.4, 1.0),  # at least 1
        (9999.0, 9999.0),
        (10000.0, math.inf),  # above 9999: normal
        (math.inf, math.inf),
        (math.nan, math.inf),
    ],
)
def test_emmeans_mvt_df(df, expected):
    assert ph.emmeans_mvt_df(df) == expected


def test_emmeans_mvt_df_matches_r(r_ref):
    got = [ph.emmeans_mvt_df(v) for v in r_ref["df"]]
    assert got == r_ref["df_mvt"].astype(float).tolist()


# ----------------------------------------------------------------------------------------------
# the distribution of max |T|
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("df", [1.0, 2.5, 7.0, 33.0, 500.0, 9999.0, math.inf])
def test_chi_quadrature_reproduces_the_t_distribution(df):
    """The chi-scale quadrature behind the two-contrast case, checked on one contrast (R = 1)."""
    s, w = ph._chi_nodes(df)
    c = np.array([0.1, 1.0, 2.0, 4.5, 10.0])
    got = w @ (2.0 * stats.norm.sf(np.outer(s, c)))
    expected = 2.0 * (stats.t.sf(c, df) if np.isfinite(df) else stats.norm.sf(c))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("df", [3.0, 10.0, 33.0, math.inf])
def test_pairwise_family_is_tukey(df):
    """All pairwise differences of 3 equal-variance means: a singular R (rank 2) whose max |t|
    is the studentized range / sqrt(2) — an independent exact reference for the lattice rule."""
    corr = np.array([[1.0, 0.5, -0.5], [0.5, 1.0, 0.5], [-0.5, 0.5, 1.0]])
    c = np.array([1.5, 2.5, 3.5, 5.0])
    got = 1.0 - ph.max_abs_t_cdf(c, corr, df)
    expected = stats.studentized_range.sf(np.sqrt(2.0) * c, 3, df if np.isfinite(df) else 1e7)
    np.testing.assert_allclose(got, expected, atol=2e-6, rtol=0)


def test_lattice_rule_agrees_with_two_contrast_quadrature():
    corr = np.array([[1.0, 0.48], [0.48, 1.0]])
    c = np.array([1.0, 2.2, 3.0, 4.4])
    for df in (4.0, 33.0, math.inf):
        lattice, error = ph._lattice_cdf(c, corr, df)
        np.testing.assert_allclose(lattice, ph.max_abs_t_cdf(c, corr, df), atol=5e-6, rtol=0)
        assert np.all(error < 5e-6)


def test_perfectly_correlated_contrasts_are_one_t_test():
    """Rank-1 families: quadrature (two contrasts) and the lattice rule (four, singular)."""
    c = np.array([1.0, 2.0, 3.5])
    one = 1.0 - 2.0 * stats.t.sf(c, 12.0)
    for corr in (np.ones((2, 2)), np.array([[1.0, -1.0], [-1.0, 1.0]])):
        np.testing.assert_allclose(ph.max_abs_t_cdf(c, corr, 12.0), one, atol=1e-12)
    signs = np.array([1.0, -1.0, 1.0, 1.0])
    np.testing.assert_allclose(ph.max_abs_t_cdf(c, np.outer(signs, signs), 12.0), one, atol=1e-6)


def test_tiny_p_values_stay_within_their_exact_bounds():
    """Far in the tail the lattice rule's absolute error exceeds p itself; the exact bounds
    (unadjusted <= p <= Sidak, same df) keep such p values meaningful. Bounds are those of the
    whole family of eight even when only some of its t values are asked for."""
    corr = np.full((8, 8), 0.5) + 0.5 * np.eye(8)
    t = np.array([5.0, 6.0, 8.0, 10.0, 12.0])
    raw = 2 * stats.t.sf(t, 20)
    got = ph.dunnett_pvalues(t, corr, np.full(t.size, 20.0))
    assert np.all(raw <= got)
    assert np.all(got <= 1 - (1 - raw) ** 8)
    assert got[0] == pytest.approx(1 - ph.max_abs_t_cdf(5.0, corr, 20.0)[0], rel=1e-12)


def test_quantile_inverts_the_distribution():
    corr = np.full((4, 4), 0.5) + 0.5 * np.eye(4)
    for df in (7.0, 33.0):
        q = ph.dunnett_quantile(0.95, corr, df)
        assert ph.max_abs_t_cdf(q, corr, df)[0] == pytest.approx(0.95, abs=1e-9)
        assert stats.t.ppf(0.975, df) < q < stats.t.ppf(0.5 + 0.95**0.25 / 2, df)


# Dunnett's published two-sided 0.95 critical values for p treatments vs one control with equal
# group sizes (correlation 1/2), Dunnett (1955) J Am Stat Assoc 50:1096 / (1964) Biometrics
# 20:482, to the table's two decimals.
DUNNETT_TABLE = {
    5.0: (3.03, 3.29, 3.48),
    10.0: (2.57, 2.76, 2.89),
    20.0: (2.38, 2.54, 2.65),
    60.0: (2.27, 2.41, 2.51),
    math.inf: (2.21, 2.35, 2.44),
}


@pytest.mark.parametrize("df", list(DUNNETT_TABLE))
def test_critical_values_match_dunnetts_table(df):
    for p, expected in zip((2, 3, 4), DUNNETT_TABLE[df], strict=True):
        corr = np.full((p, p), 0.5) + 0.5 * np.eye(p)
        assert ph.dunnett_quantile(0.95, corr, df) == pytest.approx(expected, abs=0.005)


def test_deterministic_to_the_bit():
    """Same numbers on every call, also with every cache emptied in between."""
    corr = np.full((5, 5), 0.3) + 0.7 * np.eye(5)
    c = np.array([2.0, 2.7, 3.9])
    first = ph._lattice_cdf(c, corr, 21.0)
    for cached in (ph._lattice, ph._chi_points, ph._chi_nodes):
        cached.cache_clear()
    second = ph._lattice_cdf(c, corr, 21.0)
    assert first[0].tobytes() == second[0].tobytes()
    assert first[1].tobytes() == second[1].tobytes()
    assert ph.dunnett_quantile(0.95, corr, 21.0) == ph.dunnett_quantile(0.95, corr, 21.0)


# ----------------------------------------------------------------------------------------------
# families from the mixed model vs R
# ----------------------------------------------------------------------------------------------
def test_per_session_family_matches_r_mvtnorm(per_session, r_ref):
    compare(per_session, r_ref, "per_session", "mvtnorm_tight", 1e-7, 1e-6)
    ours = keyed(per_session, "per_session")
    ref = reference(r_ref, "per_session", "mvtnorm_tight").loc[ours.index]
    for bound in ("ci_low", "ci_high"):
        np.testing.assert_allclose(ours[bound], ref[bound], rtol=0, atol=1e-6)


def test_per_session_family_matches_emmeans_printout(per_session, r_ref):
    compare(per_session, r_ref, "per_session", "emmeans", 2e-3, 1e-2)


def test_all_sessions_family_matches_r_mvtnorm(all_sessions, r_ref):
    compare(all_sessions, r_ref, "all_sessions", "mvtnorm_tight", 5e-5, 4e-4)
    ours = keyed(all_sessions, "all_sessions")
    ref = reference(r_ref, "all_sessions", "mvtnorm_tight").loc[ours.index]
    for bound in ("ci_low", "ci_high"):
        np.testing.assert_allclose(ours[bound], ref[bound], rtol=0, atol=4e-4 * ref["se"].max())


def test_all_sessions_family_matches_emmeans_printout(all_sessions, r_ref):
    compare(all_sessions, r_ref, "all_sessions", "emmeans", 2e-3, 1e-2)


def test_the_df_rule_matters_at_these_tolerances(fit, r_ref):
    """Unrounded Satterthwaite df would miss R by more than the tolerance used above."""
    rows = mx.emm_contrasts(fit, "group", "session", "trt.vs.ctrl", "none", "control")
    first = rows.iloc[:2]
    L = ph._contrast_rows(fit, "group", "session", "trt.vs.ctrl", "control")[:2]
    cov = L @ fit.cov_beta @ L.T
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    unrounded = ph.dunnett_pvalues(first["t"].to_numpy(), corr, first["df"].to_numpy())
    ref = reference(r_ref, "per_session", "mvtnorm_tight").loc[
        [("s1", "silenced - control"), ("s1", "activated - control")]
    ]
    assert np.max(np.abs(unrounded - ref["p_adj"].to_numpy())) > 1e-5


def test_emmeans_rule_can_exceed_the_sidak_p(fit, per_session):
    """Characterization: at s4 the df (33.63, 31.34) round down to 33 and 31, which lifts the
    Dunnett p above the Sidak p of the unrounded df — why ``mvt_df='satterthwaite'`` exists."""
    sidak = family(fit, "sidak", "per_level")
    above = per_session["p_adj"].to_numpy() > sidak["p_adj"].to_numpy()
    assert per_session.loc[above, "subset"].tolist() == ["session=s4", "session=s4"]


# ----------------------------------------------------------------------------------------------
# properties
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scope", ["per_level", "all"])
def test_dunnett_lies_between_unadjusted_and_sidak(fit, scope):
    """For every contrast: unadjusted p < Dunnett p < Sidak p, and likewise the CI widths
    (Sidak 1967/1968), with the contrasts' own unrounded df as the other columns use."""
    dunnett = family(fit, "dunnett", scope, mvt_df="satterthwaite")
    sidak = family(fit, "sidak", scope)
    raw = family(fit, "none", scope)
    p_raw, p_dunnett, p_sidak = (x["p_adj"].to_numpy() for x in (raw, dunnett, sidak))
    np.testing.assert_array_equal(p_raw, dunnett["p"].to_numpy())
    assert np.all(p_raw < p_dunnett)
    assert np.all(p_dunnett < p_sidak)
    widths = [(x["ci_high"] - x["ci_low"]).to_numpy() for x in (raw, dunnett, sidak)]
    assert np.all(widths[0] < widths[1])
    assert np.all(widths[1] < widths[2])
    assert "df rounded" not in dunnett["notes"].iloc[0]


@pytest.mark.parametrize("scope", ["per_level", "all"])
def test_emmeans_rule_lies_within_the_bounds_at_its_df(fit, per_session, all_sessions, scope):
    """Under emmeans' rule the same bounds hold at each contrast's rounded df."""
    dunnett = per_session if scope == "per_level" else all_sessions
    m = 2 if scope == "per_level" else 8
    df = np.array([ph.emmeans_mvt_df(v) for v in dunnett["df_num"]])
    t = np.abs(dunnett["statistic"].to_numpy())
    p_raw = 2 * stats.t.sf(t, df)
    assert np.all(p_raw < dunnett["p_adj"].to_numpy())
    assert np.all(dunnett["p_adj"].to_numpy() < 1 - (1 - p_raw) ** m)
    se = dunnett["estimate"].to_numpy() / dunnett["statistic"].to_numpy()
    q = (dunnett["ci_high"] - dunnett["estimate"]).to_numpy() / se
    assert np.all(stats.t.ppf(0.975, df) < q)
    assert np.all(q < stats.t.ppf(0.5 + 0.95 ** (1 / m) / 2, df))


def test_single_contrast_family_is_the_t_test(unbalanced):
    two = unbalanced[unbalanced["group"] != "activated"].copy()
    two["group"] = two["group"].cat.remove_unused_categories()
    fit = mx.fit_lmm(two, "distance_m ~ group * session", "mouse")
    got = ph.contrast_family(
        fit, "group", "session", "trt.vs.ctrl", "control", "dunnett", family="per_level"
    )
    raw = mx.emm_contrasts(fit, "group", "session", "trt.vs.ctrl", "none", "control")
    assert len(got) == 4
    np.testing.assert_array_equal(got["p_adj"].to_numpy(), raw["p"].to_numpy())
    np.testing.assert_array_equal(got["ci_low"].to_numpy(), raw["ci_low"].to_numpy())
    np.testing.assert_array_equal(got["ci_high"].to_numpy(), raw["ci_high"].to_numpy())
    assert set(got["correction"]) == {"Dunnett (multivariate t, 1 test)"}
    # and the pure function, for a family of one
    t, df = raw["t"].to_numpy()[:1], raw["df"].to_numpy()[:1]
    np.testing.assert_allclose(
        ph.dunnett_pvalues(t, np.ones((1, 1)), df), 2 * stats.t.sf(np.abs(t), df), rtol=1e-14
    )


def test_family_is_deterministic(fit, all_sessions):
    again = family(fit, "dunnett", "all")
    pd.testing.assert_frame_equal(again, all_sessions, check_exact=True)


def test_labels_and_notes(per_session, all_sessions):
    assert set(per_session["correction"]) == {"Dunnett (multivariate t, 2 tests)"}
    assert set(all_sessions["correction"]) == {"Dunnett (multivariate t, 8 tests)"}
    assert "Dunnett-adjusted (multivariate t) 0.95 CI" in per_session["notes"].iloc[0]
    assert "corrected at each session" in per_session["notes"].iloc[0]
    assert "corrected all together" in all_sessions["notes"].iloc[0]


def test_unknown_correction_is_refused(fit):
    with pytest.raises(ValueError, match="unknown correction 'tukey'"):
        family(fit, "tukey", "all")
