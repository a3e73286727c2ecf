"""Tests of exneuro.stats.compare against R 4.2.2 reference numbers and by simulation.

Reference data and R outputs live in tests/reference/r_two_group (see its README.md and
make_reference.R). Tolerances:

* rtol 1e-6 wherever R and this module run the same algorithm (t tests, exact rank tests, KS,
  p.adjust, Fisher p, noncentral-t inversion of Cohen's d checked against R's pt()).
* atol 1e-4 for wilcox.test confidence limits (and location estimates) under the normal
  approximation: R finds them with uniroot(tol.root = 1e-4), an absolute tolerance on the
  location scale, whereas this module returns the exact jump point of the same step function.
  The tests check in addition that our limit *is* such a jump point (a pairwise difference or
  Walsh average).
* 1e-6 absolute for effectsize 0.8.3's published Hedges g / Cohen's d examples, printed to
  six decimals.

Nested data (cells within mice): ``test_stats_clustered.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from exneuro.stats import compare, two_group
from exneuro.stats.table import STAT_COLUMNS

REF = Path(__file__).parent / "reference" / "r_two_group"
RTOL = 1e-6
R_UNIROOT_TOL = 1e-4  # wilcox.test(tol.root = 1e-4)


@pytest.fixture(scope="module")
def r() -> dict:
    return json.loads((REF / "r_results.json").read_text())


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    long = pd.read_csv(REF / "datasets.csv")
    return {
        name: part.sort_values("index")["value"].to_numpy(dtype=float)
        for name, part in long.groupby("dataset")
    }


def row(frame: pd.DataFrame) -> pd.Series:
    assert len(frame) == 1
    assert list(frame.columns) == list(STAT_COLUMNS)
    return frame.iloc[0]


def assert_in_zero_set(r_root: float, candidates: np.ndarray) -> None:
    """R's uniroot root (tol 1e-4) lies in [lower middle, upper middle] of the candidates."""
    srt = np.sort(candidates)
    lower, upper = srt[(srt.size - 1) // 2], srt[srt.size // 2]
    assert lower - R_UNIROOT_TOL <= r_root <= upper + R_UNIROOT_TOL, (r_root, lower, upper)


def close(actual: float, expected: float, rtol: float = RTOL, atol: float = 0.0) -> None:
    assert actual == pytest.approx(expected, rel=rtol, abs=atol), (actual, expected)


# ------------------------------------------------------------------------------------------------
# p value adjustment
# ------------------------------------------------------------------------------------------------


def _r_vector(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("method,key", [("holm", "holm"), ("bonferroni", "bonferroni"),
                                        ("fdr_bh", "BH")])  # fmt: skip
def test_adjust_pvalues_matches_r_p_adjust(r, method, key):
    p = _r_vector(r["p_adjust"]["p"])
    expected = _r_vector(r["p_adjust"][key])
    got = compare.adjust_pvalues(p, method)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(got[ok], expected[ok], rtol=RTOL)


def test_adjust_pvalues_hand_values():
    # p with one NaN: m = 10 non-missing values
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2, np.nan, 0.04, 0.5, 0.0001, 0.049, 0.9])
    holm = compare.adjust_pvalues(p, "holm")
    assert holm[8] == pytest.approx(10 * 0.0001)  # smallest p times m
    assert holm[3] == pytest.approx(9 * 0.005)  # second smallest times m - 1
    assert holm[0] == pytest.approx(8 * 0.01)
    assert holm[1] == holm[6] == holm[9] == pytest.approx(0.24)  # monotone: max(6*.04, 5*.04,...)
    assert holm[7] == 1.0 and holm[10] == 1.0  # capped
    bh = compare.adjust_pvalues(p, "fdr_bh")
    assert bh[10] == pytest.approx(0.9)  # largest p unchanged
    assert bh[7] == pytest.approx(0.5 * 10 / 9)
    assert bh[9] == pytest.approx(0.049 * 10 / 7)
    assert bh[8] == pytest.approx(0.0001 * 10)
    assert compare.adjust_pvalues(p, "bonferroni")[9] == pytest.approx(0.49)
    sidak = compare.adjust_pvalues(p, "sidak")
    assert sidak[0] == pytest.approx(1 - 0.99**10, rel=1e-12)
    assert sidak[8] == pytest.approx(1 - (1 - 0.0001) ** 10, rel=1e-12)
    hs = compare.adjust_pvalues(p, "holm-sidak")
    assert hs[8] == pytest.approx(1 - (1 - 0.0001) ** 10, rel=1e-12)
    assert hs[3] == pytest.approx(1 - (1 - 0.005) ** 9, rel=1e-12)
    for out in (holm, bh, sidak, hs):
        assert np.isnan(out[5])
    np.testing.assert_array_equal(compare.adjust_pvalues(p, "none"), p)


@pytest.mark.parametrize("method", ["sidak", "holm", "holm-sidak", "bonferroni", "fdr_bh"])
def test_adjust_pvalues_agrees_with_statsmodels(method):
    rng = np.random.default_rng(7)
    p = np.concatenate([rng.uniform(0, 0.06, 12), rng.uniform(0, 1, 8), [0.03, 0.03]])
    expected = multipletests(p, method=method)[1]
    np.testing.assert_allclose(compare.adjust_pvalues(p, method), expected, rtol=1e-12)
    # monotone in p for the step-wise methods
    adj = compare.adjust_pvalues(p, method)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= -1e-15)


def test_adjust_pvalues_shape_errors_and_labels():
    grid = np.array([[0.01, 0.02], [np.nan, 0.5]])
    assert compare.adjust_pvalues(grid, "bonferroni").shape == (2, 2)
    assert np.all(np.isnan(compare.adjust_pvalues([np.nan, np.nan], "holm")))
    with pytest.raises(ValueError):
        compare.adjust_pvalues([0.1], "hochberg")
    with pytest.raises(ValueError):
        compare.adjust_pvalues([1.2], "holm")
    assert compare.correction_label("sidak", 4) == "Sidak (4 tests)"
    assert compare.correction_label("holm", 3) == "Holm (3 tests)"
    assert compare.correction_label("fdr_bh", 10) == "Benjamini-Hochberg FDR (10 tests)"
    assert compare.correction_label("holm-sidak", 1) == "Holm-Sidak (1 test)"
    assert compare.correction_label("none", 5) == "none"
    assert compare.correction_label("dunnett", 3) == "Dunnett (multivariate t, 3 tests)"


# ------------------------------------------------------------------------------------------------
# Two independent groups
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("test,key", [("student", "t_student"), ("welch", "t_welch")])
def test_t_tests_match_r(r, data, test, key):
    got = row(compare.two_group_test(data["tg_control"], data["tg_treated"], test=test))
    ref = r[key]
    assert got["test"] == f"{test}_t"
    close(got["estimate"], ref["estimate"][0] - ref["estimate"][1])
    close(got["ci_low"], ref["ci"][0])
    close(got["ci_high"], ref["ci"][1])
    close(got["statistic"], ref["statistic"])
    close(got["df_num"], ref["df"])
    close(got["p"], ref["p"])
    assert got["p_adj"] == got["p"] and got["correction"] == "none"
    assert got["statistic_name"] == "t" and got["ci_level"] == 0.95
    assert got["n_mice"] == 15 and got["n_by_group"] == "control=8; treated=7"


def test_hedges_g_closed_form_and_r_noncentral_t(r, data):
    a, b = data["tg_control"], data["tg_treated"]
    got = row(compare.two_group_test(a, b, test="welch"))
    # by hand: pooled SD, Cohen's d, exact J(13) = Gamma(6.5) / (sqrt(6.5) Gamma(6)),
    # Gamma(6.5) = 10395 sqrt(pi) / 64 and Gamma(6) = 120
    sp = math.sqrt((7 * np.var(a, ddof=1) + 6 * np.var(b, ddof=1)) / 13)
    d = (b.mean() - a.mean()) / sp
    j13 = (10395 * math.sqrt(math.pi) / 64) / (math.sqrt(6.5) * 120)
    assert compare.hedges_correction(13) == pytest.approx(j13, rel=1e-13)
    assert compare.hedges_correction(13, exact=False) == pytest.approx(1 - 3 / 51, rel=1e-13)
    close(got["effect_size_alt"], d, rtol=1e-12)
    close(got["effect_size"], j13 * d, rtol=1e-12)
    ref = r["hedges_tg"]
    close(ref["J"], j13)
    close(got["effect_size"], ref["g"])
    # CI: scipy's noncentral t against R's pt(), both inverted to 1e-12 or better
    close(got["effect_size_ci_low"], ref["g_ci"][0])
    close(got["effect_size_ci_high"], ref["g_ci"][1])
    assert got["effect_size_name"] == "Hedges g"


def test_hedges_g_matches_published_effectsize_example(r, data):
    """effectsize 0.8.3: hedges_g(mpg ~ am, data = mtcars) = -1.440635 [-2.208767, -0.653640];
    cohens_d = -1.477947 [-2.265973, -0.670569] (am = 0 minus am = 1), as recorded in
    WillemSleegers/tidystats tests/data/effectsize.json."""
    got = row(
        compare.two_group_test(data["mtcars_mpg_am1"], data["mtcars_mpg_am0"], test="student")
    )
    close(got["effect_size"], -1.440635, rtol=0, atol=1e-6)
    close(got["effect_size_ci_low"], -2.208767, rtol=0, atol=1e-6)
    close(got["effect_size_ci_high"], -0.653640, rtol=0, atol=1e-6)
    close(got["effect_size_alt"], -1.477947, rtol=0, atol=1e-6)
    ref = r["hedges_mtcars"]
    close(got["effect_size_ci_low"], ref["g_ci"][0])
    close(got["effect_size_ci_high"], ref["g_ci"][1])
    # swapping the groups flips the sign of everything
    flipped = row(
        compare.two_group_test(data["mtcars_mpg_am0"], data["mtcars_mpg_am1"], test="student")
    )
    close(flipped["effect_size"], -got["effect_size"], rtol=1e-12)
    close(flipped["effect_size_ci_low"], -got["effect_size_ci_high"], rtol=1e-9)


def test_noncentral_t_interval_has_nominal_coverage():
    """The d interval is an exact pivot for normal data: ~95% coverage of the true delta."""
    rng = np.random.default_rng(11)
    n1, n2, delta, n_sim = 6, 7, 0.8, 300
    cover = 0
    for _ in range(n_sim):
        a = rng.normal(0, 1, n1)
        b = rng.normal(delta, 1, n2)
        got = two_group._two_group_record(a, b, "student", ("a", "b"), 0.95, "mice")
        j = compare.hedges_correction(n1 + n2 - 2)
        lo, hi = got["effect_size_ci_low"] / j, got["effect_size_ci_high"] / j  # the d interval
        cover += lo <= delta <= hi
    # binomial SD at 95% with 300 draws is 1.3%: 0.91-0.99 is a 3-SD band
    assert 0.91 <= cover / n_sim <= 0.99


def test_mann_whitney_exact_matches_r(r, data):
    got = row(compare.two_group_test(data["tg_control"], data["tg_treated"], test="mann_whitney"))
    ref = r["wilcox_exact"]
    assert got["statistic_name"] == "W"
    close(got["statistic"], ref["statistic"])
    close(got["p"], ref["p"])
    close(got["estimate"], ref["estimate"])
    close(got["ci_low"], ref["ci"][0])
    close(got["ci_high"], ref["ci"][1])
    close(got["ci_level"], ref["ci_level"])
    # cross-check the exact p with scipy's independent implementation
    sp = stats.mannwhitneyu(data["tg_treated"], data["tg_control"], method="exact")
    close(got["statistic"], sp.statistic)
    close(got["p"], sp.pvalue)
    # rank-biserial r = 2W/(n1 n2) - 1 and its Fisher-z interval, by hand
    n1, n2 = 8, 7
    rb = 2 * ref["statistic"] / (n1 * n2) - 1
    close(got["effect_size"], rb, rtol=1e-12)
    se = math.sqrt((n1 + n2 + 1) / (3 * n1 * n2))
    close(got["effect_size_ci_low"], math.tanh(math.atanh(rb) - 1.959963984540054 * se))
    close(got["effect_size_ci_high"], math.tanh(math.atanh(rb) + 1.959963984540054 * se))
    assert "W = rank sum of treated" in got["notes"]


@pytest.mark.parametrize("stem,key", [("tie", "wilcox_ties"), ("big", "wilcox_big")])
def test_mann_whitney_normal_approximation_matches_r(r, data, stem, key):
    a, b = data[f"{stem}_control"], data[f"{stem}_treated"]
    got = row(compare.two_group_test(a, b, test="mann_whitney"))
    ref = r[key]
    close(got["statistic"], ref["statistic"])
    close(got["p"], ref["p"])  # same closed-form normal approximation
    close(got["ci_level"], ref["ci_level"])
    diffs = np.subtract.outer(b, a).ravel()
    for ours, theirs in ((got["ci_low"], ref["ci"][0]), (got["ci_high"], ref["ci"][1])):
        assert abs(ours - theirs) <= R_UNIROOT_TOL, (ours, theirs)
        assert np.any(diffs == ours)  # an exact jump point of R's step function
    # R's estimate is uniroot's zero of the uncorrected rank-sum score, which is 0 exactly on
    # [D_(k), D_(k+1)] between the middle pairwise differences (a single point when n1 n2 is
    # odd); we report the Hodges-Lehmann median, the midpoint of that set
    close(got["estimate"], float(np.median(diffs)), rtol=1e-12)
    assert_in_zero_set(ref["estimate"], diffs)
    assert "normal approximation" in got["notes"]


# ------------------------------------------------------------------------------------------------
# Paired and one-sample tests
# ------------------------------------------------------------------------------------------------


def test_paired_t_matches_r(r, data):
    got = row(compare.paired_test(data["pr_before"], data["pr_after"]))
    ref = r["t_paired"]
    for ours, key in (("estimate", "estimate"), ("statistic", "statistic"), ("df_num", "df"),
                      ("p", "p")):  # fmt: skip
        close(got[ours], ref[key])
    close(got["ci_low"], ref["ci"][0])
    close(got["ci_high"], ref["ci"][1])
    dz = r["dz_paired"]
    close(got["effect_size"], dz["d"])
    close(got["effect_size_ci_low"], dz["d_ci"][0])
    close(got["effect_size_ci_high"], dz["d_ci"][1])
    close(got["effect_size_alt"], dz["g"])
    assert got["effect_size_name"] == "Cohen's d_z" and got["n_mice"] == 10


def test_paired_effect_size_matches_published_effectsize_example(data):
    """effectsize 0.8.3 on R's sleep data, group 1 - group 2: cohens_d(paired) = -1.284558
    [-2.118017, -0.414628]; hedges_g(paired) = -1.173925."""
    got = row(compare.paired_test(data["sleep_group2"], data["sleep_group1"]))
    close(got["effect_size"], -1.284558, rtol=0, atol=1e-6)
    close(got["effect_size_ci_low"], -2.118017, rtol=0, atol=1e-6)
    close(got["effect_size_ci_high"], -0.414628, rtol=0, atol=1e-6)
    close(got["effect_size_alt"], -1.173925, rtol=0, atol=1e-6)


def test_paired_wilcoxon_exact_matches_r(r, data):
    got = row(compare.paired_test(data["pr_before"], data["pr_after"], test="wilcoxon"))
    ref = r["wilcox_paired_exact"]
    assert got["statistic_name"] == "V"
    close(got["statistic"], ref["statistic"])
    close(got["p"], ref["p"])
    close(got["estimate"], ref["estimate"])
    close(got["ci_low"], ref["ci"][0])
    close(got["ci_high"], ref["ci"][1])
    diffs = data["pr_after"] - data["pr_before"]
    sp = stats.wilcoxon(diffs, method="exact")  # scipy reports min(V+, V-)
    close(got["p"], sp.pvalue)
    n = 10
    close(got["effect_size"], 4 * ref["statistic"] / (n * (n + 1)) - 1, rtol=1e-12)


def test_paired_wilcoxon_with_ties_and_zeros_matches_r(r, data):
    got = row(compare.paired_test(data["prtie_before"], data["prtie_after"], test="wilcoxon"))
    ref = r["wilcox_paired_ties"]
    close(got["statistic"], ref["statistic"])
    close(got["p"], ref["p"])
    close(got["ci_level"], ref["ci_level"])  # R widens to a 90% interval here
    diffs = data["prtie_after"] - data["prtie_before"]
    nz = diffs[diffs != 0]
    walsh = (np.add.outer(nz, nz) / 2)[np.triu_indices(nz.size)]
    for ours, theirs in ((got["ci_low"], ref["ci"][0]), (got["ci_high"], ref["ci"][1])):
        assert abs(ours - theirs) <= R_UNIROOT_TOL, (ours, theirs)
        assert np.any(walsh == ours)
    close(got["estimate"], float(np.median(walsh)), rtol=1e-12)
    assert_in_zero_set(ref["estimate"], walsh)
    assert "2 zero difference(s) dropped" in got["notes"]
    assert got["n_mice"] == 12
    t = row(compare.paired_test(data["prtie_before"], data["prtie_after"]))
    close(t["statistic"], r["t_paired_ties"]["statistic"])
    close(t["p"], r["t_paired_ties"]["p"])


def test_one_sample_t_matches_r(r, data):
    got = row(compare.one_sample_test(data["os_slopes"], mu=0, test="t"))
    ref = r["t_one"]
    close(got["estimate"], ref["estimate"])
    close(got["ci_low"], ref["ci"][0])
    close(got["ci_high"], ref["ci"][1])
    close(got["statistic"], ref["statistic"])
    close(got["df_num"], ref["df"])
    close(got["p"], ref["p"])
    close(got["effect_size"], r["d_one"]["d"])
    close(got["effect_size_ci_low"], r["d_one"]["d_ci"][0])
    close(got["effect_size_ci_high"], r["d_one"]["d_ci"][1])
    close(got["effect_size_alt"], r["d_one"]["g"])
    shifted = row(compare.one_sample_test(data["os_slopes"], mu=0.1, test="t"))
    ref_mu = r["t_one_mu"]
    close(shifted["statistic"], ref_mu["statistic"])
    close(shifted["p"], ref_mu["p"])
    close(shifted["estimate"], ref_mu["estimate"] - 0.1)  # estimate is mean - mu
    close(shifted["ci_low"], ref_mu["ci"][0] - 0.1)  # R's CI is of the mean itself


def test_one_sample_effect_size_matches_published_effectsize_example(data):
    """effectsize 0.8.3: cohens_d(wt ~ 1, data = mtcars) = 3.288084 [2.398357, 4.168372];
    hedges_g = 3.207777."""
    got = row(compare.one_sample_test(data["mtcars_wt"]))
    close(got["effect_size"], 3.288084, rtol=0, atol=1e-6)
    close(got["effect_size_ci_low"], 2.398357, rtol=0, atol=1e-6)
    close(got["effect_size_ci_high"], 4.168372, rtol=0, atol=1e-6)
    close(got["effect_size_alt"], 3.207777, rtol=0, atol=1e-6)


def test_one_sample_wilcoxon_matches_r(r, data):
    got = row(compare.one_sample_test(data["os_slopes"], test="wilcoxon"))
    ref = r["wilcox_one"]
    for ours, key in (("statistic", "statistic"), ("p", "p"), ("estimate", "estimate")):
        close(got[ours], ref[key])
    close(got["ci_low"], ref["ci"][0])
    close(got["ci_high"], ref["ci"][1])


# ------------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov, equal-weight pooling, Fisher
# ------------------------------------------------------------------------------------------------


def test_ks_matches_r(r, data):
    got = row(compare.ks_test(data["ks_a"], data["ks_b"]))
    close(got["statistic"], r["ks_exact"]["statistic"])
    close(got["p"], r["ks_exact"]["p"])
    assert got["statistic_name"] == "D" and "exact" in got["notes"]
    asym = row(compare.ks_test(data["ks_a"], data["ks_b"], method="asymp"))
    # the Kolmogorov limit summed to convergence in R
    close(asym["p"], r["ks_asymptotic_full_series"], rtol=1e-10)
    # ks.test(exact = FALSE) keeps only the first series term (C_pKS2 with tol 1e-6 gives
    # k_max = 3); the omitted k = 3 term is ~6e-5 of p here
    close(asym["p"], r["ks_asymptotic"]["p"], rtol=1e-4)
    x = math.sqrt(20 * 25 / 45) * 0.29
    one_term = 1 - math.sqrt(2 * math.pi) / x * math.exp(-(math.pi**2) / (8 * x**2))
    close(one_term, r["ks_asymptotic"]["p"], rtol=1e-10)


def test_equal_weight_pool_quantiles_and_resampling():
    rng = np.random.default_rng(3)
    sizes = {"c1": 5, "c2": 40, "c3": 12}
    values = np.concatenate([rng.exponential(1.0, n) for n in sizes.values()])
    ids = np.repeat(list(sizes), list(sizes.values()))
    pooled = compare.equal_weight_pool(values, ids)
    assert pooled.groupby("unit").size().to_dict() == {"c1": 5, "c2": 5, "c3": 5}
    # the smallest unit is returned exactly (sorted): Hazen positions (k - 0.5)/n hit its values
    np.testing.assert_allclose(pooled.loc[pooled.unit == "c1", "value"], np.sort(values[:5]))
    # larger units: their type-5 quantiles at the same probabilities
    c2 = values[5:45]
    expected = np.quantile(c2, (np.arange(5) + 0.5) / 5, method="hazen")
    np.testing.assert_allclose(pooled.loc[pooled.unit == "c2", "value"], expected)
    assert compare.equal_weight_pool(values, ids).equals(pooled)  # deterministic
    res1 = compare.equal_weight_pool(values, ids, n_per_unit=8, seed=1, method="resample")
    res2 = compare.equal_weight_pool(values, ids, n_per_unit=8, seed=1, method="resample")
    assert res1.equals(res2)
    assert res1.groupby("unit").size().tolist() == [8, 8, 8]
    c3 = set(values[45:])
    picked = res1.loc[res1.unit == "c3", "value"]
    assert set(picked) <= c3 and len(set(picked)) == 8  # without replacement when possible


def test_fisher_matches_r(r):
    # rows control, treated; columns responders, non-responders (R got rows treated, control)
    got = row(compare.fisher_exact_test([[3, 7], [8, 3]]))
    ref, tight = r["fisher"], r["fisher_tight"]
    assert ref["table_rows_treated_control"] == [8, 3, 3, 7]
    close(got["p"], ref["p"])
    # conditional MLE and exact conditional CI, against R's own algorithm solved to 1e-13
    close(got["estimate"], tight["estimate"])
    close(got["ci_low"], tight["ci"][0])
    close(got["ci_high"], tight["ci"][1])
    # fisher.test's printed values are uniroot(tol ~ 1.22e-4) solutions on t (< 1) or 1/t
    tol = np.finfo(float).eps ** 0.25
    assert abs(1 / got["estimate"] - 1 / ref["estimate"]) <= tol
    assert abs(got["ci_low"] - ref["ci"][0]) <= tol
    assert abs(1 / got["ci_high"] - 1 / ref["ci"][1]) <= tol
    close(got["effect_size"], 8 / 11 - 3 / 10, rtol=1e-12)
    close(got["effect_size_alt"], (8 * 7) / (3 * 3), rtol=1e-12)  # sample OR, not the MLE
    assert got["n_mice"] == 21 and got["n_by_group"] == "control=10; treated=11"
    same = row(compare.fisher_exact_test(successes=[3, 8], totals=[10, 11]))
    assert same["p"] == got["p"] and same["estimate"] == got["estimate"]


def test_fisher_second_table_matches_r(r):
    got = row(compare.fisher_exact_test(successes=[9, 1], totals=[11, 8]))
    assert r["fisher2"]["table_rows_treated_control"] == [1, 7, 9, 2]
    close(got["p"], r["fisher2"]["p"])
    close(got["estimate"], r["fisher2_tight"]["estimate"])
    close(got["ci_low"], r["fisher2_tight"]["ci"][0])
    close(got["ci_high"], r["fisher2_tight"]["ci"][1])
    with pytest.raises(ValueError):
        compare.fisher_exact_test([[1, 2, 3], [4, 5, 6]])


def test_input_validation_and_missing_values():
    with pytest.raises(ValueError):
        compare.two_group_test([1, 2, 3], [4, 5, 6], test="ttest")
    with pytest.raises(ValueError):
        compare.two_group_test([1.0], [2.0, 3.0])
    got = row(compare.two_group_test([1, 2, np.nan, 4], [3, 5, 6, 8], test="student"))
    assert got["n_excluded"] == 1 and got["n_mice"] == 7
    cells = row(compare.two_group_test([1, 2, 4], [3, 5, 6], unit="cells"))
    assert pd.isna(cells["n_mice"]) and cells["n_cells"] == 6
    paired = row(compare.paired_test([1, 2, np.nan, 4, 5], [2, 4, 3, np.nan, 7.5]))
    assert paired["n_excluded"] == 2 and paired["n_mice"] == 3
    with pytest.raises(ValueError):
        compare.paired_test([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        compare.one_sample_test([0.0, 0.0, 0.0], test="wilcoxon")
    with pytest.raises(ValueError):
        compare.two_group_test([1, 2, 3], [4, 5, 6], level=95)
