"""What the mixed-model tests share: the reference data sets (lme4's sleepstudy, the simulated
unbalanced and nested designs of ``reference/lmm_unbalanced``), the fits several tests read, the
tolerances of the comparisons with R, and a relative comparison with no absolute slack.

Tolerances (relative): fixed effects and SE 1e-3, variance components 1e-2, Satterthwaite df 1e-2,
F 1e-3, p 1e-3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.stats import mixed as mx

REF = Path(__file__).parent / "reference"
UNB = REF / "lmm_unbalanced"

TOL_FE = 1e-3
TOL_SE = 1e-3
TOL_VC = 1e-2
TOL_DF = 1e-2
TOL_F = 1e-3
TOL_P = 1e-3


def close(actual, expected, rtol: float) -> None:
    """Relative comparison, elementwise, with no absolute slack."""
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=rtol, atol=0
    )


def vc_value(fit: mx.MixedModelFit, var1: str | None, var2: str | None = None) -> float:
    """A variance component of the fit: of ``var1`` (None: the residual), or its covariance with
    ``var2``."""
    table = mx.variance_components(fit)
    if var1 is None:
        return float(table.loc[table.grp == "Residual", "vcov"].iloc[0])
    v2 = table.var2.isna() if var2 is None else table.var2 == var2
    rows = table[(table.var1 == var1) & v2]
    assert len(rows) == 1, table
    return float(rows.vcov.iloc[0])


def sleepstudy() -> pd.DataFrame:
    """lme4's sleepstudy: reaction time of 18 subjects over 10 days of sleep deprivation."""
    return pd.read_csv(REF / "sleepstudy" / "sleepstudy.csv")


def unbalanced_design() -> pd.DataFrame:
    """Unbalanced group x session with missing values, groups in the order of the R reference."""
    data = pd.read_csv(UNB / "unbalanced.csv")
    data["group"] = pd.Categorical(data["group"], categories=["control", "silenced", "activated"])
    return data


def sleepstudy_fit(sleep: pd.DataFrame) -> mx.MixedModelFit:
    """Random intercept and slope of Days per subject, REML (lme4's fm1)."""
    return mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", re_formula="~Days")


def unbalanced_fit(unbalanced: pd.DataFrame) -> mx.MixedModelFit:
    """group * session with a random intercept per mouse, REML."""
    return mx.fit_lmm(unbalanced, "distance_m ~ group * session", "mouse")


def segments_fit() -> mx.MixedModelFit:
    """Segment densities with cells nested within mice."""
    data = pd.read_csv(UNB / "nested_segments.csv")
    return mx.fit_lmm(data, "density ~ C(group)", "mouse", vc_formula={"cell": "0 + C(cell)"})
