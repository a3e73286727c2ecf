"""Formula handling and type III hypothesis matrices of the linear mixed models.

Columns a formula uses, lme4-style term labels, the random-effect designs of nested variance
components, and the type III estimable functions built as lmerTest's ``get_contrasts_type3``
(with its documented fallbacks). See :mod:`exneuro.stats.mixed`.
"""

from __future__ import annotations

import builtins
import itertools
import re
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
import patsy
from patsy.contrasts import Sum
from patsy.design_info import DesignInfo, SubtermInfo

# Names a formula may use that are not data columns (patsy built-ins and common transforms).
_FORMULA_NAMES = {
    "C",
    "Treatment",
    "Sum",
    "Poly",
    "Helmert",
    "Diff",
    "I",
    "Q",
    "np",
    "center",
    "standardize",
    "scale",
    "bs",
    "cr",
    "cc",
    "te",
}
_INDICATOR_VC = re.compile(r"^\s*0\s*\+\s*C\(\s*(\w+)\s*\)((?:\s*:\s*C\(\s*\w+\s*\))*)\s*$")


#: What the F test of a term tests, by how its hypothesis matrix was built (``fit.type3_method``).
TYPE3_NOTES = {
    "lmerTest": "type III F test (SAS/lmerTest estimable functions)",
    "sum-coding": (
        "F test of the term's sum-to-zero-coded coefficients (fallback: lmerTest's type III "
        "construction failed for this formula; type III for factor designs, covariates at 0)"
    ),
    "caller-coding": (
        "F test of the term's coefficients in the model's own coding: NOT a type III test "
        "(both type III constructions failed); with treatment coding these are simple effects "
        "at the reference levels"
    ),
}


# ----------------------------------------------------------------------------------------------
# Formula helpers
# ----------------------------------------------------------------------------------------------
def _eval_env() -> patsy.EvalEnvironment:
    return patsy.EvalEnvironment([{"np": np}])


def _formula_columns(formula: str, data: pd.DataFrame, what: str) -> list[str]:
    """Data columns used by a formula; unknown names raise ValueError naming them."""
    desc = patsy.ModelDesc.from_formula(formula)
    names: list[str] = []
    for term in list(desc.lhs_termlist) + list(desc.rhs_termlist):
        for factor in term.factors:
            code = factor.code
            for quoted in re.findall(r"Q\(\s*['\"](.+?)['\"]\s*\)", code):
                names.append(quoted)
            for name in patsy.eval.ast_names(code):
                names.append(name)
    used = []
    for name in names:
        if name in data.columns:
            if name not in used:
                used.append(name)
            continue
        base = name.split(".")[0]
        if base in _FORMULA_NAMES or hasattr(builtins, base):
            continue
        raise ValueError(f"column {name!r} used in {what} {formula!r} is not in the data")
    return used


def _strip_codings(text: str) -> str:
    """'C(group, Treatment("control")) * C(session)' -> 'group * session'."""
    out = []
    i = 0
    while i < len(text):
        if text.startswith("C(", i) and (
            i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            depth, j = 0, i + 1
            first_end = None
            while j < len(text):
                if text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                elif text[j] == "," and depth == 1 and first_end is None:
                    first_end = j
                j += 1
            inner = text[i + 2 : first_end if first_end is not None else j]
            out.append(inner.strip())
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _term_label(term: Any) -> str:
    return ":".join(_strip_codings(f.code) for f in term.factors)


def _zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits of the largest absolute value."""
    x = np.asarray(x, dtype=float)
    mx = np.abs(x).max() if x.size else 0.0
    if not mx > 0:
        return x
    return np.round(x, max(0, digits - int(np.ceil(np.log10(mx)))))


def _treatment_reference(cm: Any, levels: list) -> int:
    """Index of the reference level of a reduced-rank coding (0 unless it is a Treatment coding)."""
    m = np.asarray(cm.matrix)
    zero_rows = np.flatnonzero(np.all(m == 0, axis=1))
    if len(zero_rows) == 1 and np.isin(m, (0.0, 1.0)).all() and (m.sum(axis=0) == 1).all():
        return int(zero_rows[0])
    return 0


def _recoded_design(
    design_info: DesignInfo, full_rank: bool
) -> tuple[DesignInfo, list[tuple[Any, tuple[int, ...]]]]:
    """The caller's design re-coded as R's contr.treatment (``full_rank=False``) or as the
    overparametrized all-level-indicator design lmerTest calls ``rdX`` (``full_rank=True``).

    Returns the DesignInfo and, per column, its identity ``(term, level or column index per
    factor)``; patsy orders columns with the left-most factor varying fastest, as R does.
    """
    codings: OrderedDict[Any, list[SubtermInfo]] = OrderedDict()
    identities: list[tuple[Any, tuple[int, ...]]] = []
    names: list[str] = []
    for term, subterms in design_info.term_codings.items():
        if len(subterms) != 1:
            raise ValueError(f"term {term.name()} has several subterms")
        st = subterms[0]
        matrices = {}
        per_factor: list[list[int]] = []
        for factor in st.factors:
            info = design_info.factor_infos[factor]
            if info.type == "categorical":
                levels = list(info.categories)
                k = len(levels)
                cm = st.contrast_matrices[factor]
                if full_rank or cm.matrix.shape[1] == k:
                    matrices[factor] = patsy.ContrastMatrix(np.eye(k), [f"[{i}]" for i in range(k)])
                    per_factor.append(list(range(k)))
                else:
                    ref = _treatment_reference(cm, levels)
                    keep = [i for i in range(k) if i != ref]
                    matrices[factor] = patsy.ContrastMatrix(
                        np.eye(k)[:, keep], [f"[{i}]" for i in keep]
                    )
                    per_factor.append(keep)
            else:
                per_factor.append(list(range(info.num_columns)))
        combos = [c[::-1] for c in itertools.product(*reversed(per_factor))]
        codings[term] = [SubtermInfo(st.factors, matrices, len(combos))]
        identities.extend((term, tuple(c)) for c in combos)
        names.extend(f"{term.name()}#{len(names) + i}" for i in range(len(combos)))
    info = DesignInfo(names, factor_infos=design_info.factor_infos, term_codings=codings)
    return info, identities


def _type3_lmertest(
    design_info: DesignInfo, data: pd.DataFrame, X: np.ndarray
) -> dict[str, np.ndarray]:
    """Type III hypothesis matrices built exactly as lmerTest 3.1 ``get_contrasts_type3`` does.

    SAS-style type III estimable functions (Goodnight 1978): express the overparametrized
    all-level design ``rdX`` in the treatment-coded coefficients, ``L = (X^+ rdX)'``; for every
    term, from the highest order down, make its columns orthogonal to those of the terms that
    contain it (containment as in lmerTest: all variables included, plus more, same numeric
    variables); the rows of the term's columns are its hypothesis. They are finally mapped to the
    caller's coefficients with ``X_trt^+ X``. The Satterthwaite df of ``contestMD`` depends on
    the basis of L, not only on the hypothesis, so the basis is reproduced too; the treatment
    reference is the first level of each factor (or the caller's Treatment reference), as R's
    first factor level.
    """
    trt_info, trt_ids = _recoded_design(design_info, full_rank=False)
    rd_info, rd_ids = _recoded_design(design_info, full_rank=True)
    X_trt, rdX = (
        np.asarray(m)
        for m in patsy.build_design_matrices([trt_info, rd_info], data, NA_action="raise")
    )
    pinv = np.linalg.pinv(X_trt)
    L = _zapsmall((pinv @ rdX).T)  # rows: rdX parameters, columns: X_trt coefficients
    terms = [t for t in design_info.terms if t.factors]
    cols = {t: [j for j, (tt, _) in enumerate(trt_ids) if tt == t] for t in terms}

    def variables(term: Any) -> set:
        return set(term.factors)

    def numerics(term: Any) -> set:
        return {f for f in term.factors if design_info.factor_infos[f].type != "categorical"}

    def contains(t1: Any, t2: Any) -> bool:
        return (
            variables(t1) <= variables(t2)
            and bool(variables(t2) - variables(t1))
            and numerics(t1) == numerics(t2)
        )

    for term in sorted(terms, key=lambda t: -len(t.factors)):  # stable: ties keep model order
        containers = [t for t in terms if contains(term, t)]
        if containers:
            xc = L[:, [j for t in containers for j in cols[t]]]
            y = L[:, cols[term]]
            coef, *_ = np.linalg.lstsq(xc, y, rcond=None)
            L[:, cols[term]] = _zapsmall(y - xc @ coef)
    rd_index = {identity: i for i, identity in enumerate(rd_ids)}
    L = L[[rd_index[identity] for identity in trt_ids]]  # rows named as the X_trt columns
    to_user = _zapsmall(pinv @ X)
    out: dict[str, np.ndarray] = {}
    for term in terms:
        Lt = L[:, cols[term]].T
        Lt = Lt[np.abs(Lt).sum(axis=1) > 1e-8]
        out[_term_label(term)] = Lt @ to_user
    return out


def _type3_sum(design_info: DesignInfo, data: pd.DataFrame, X: np.ndarray) -> dict[str, np.ndarray]:
    """Fallback type III hypotheses: each term's coefficients in sum-to-zero coding equal zero."""
    codings: OrderedDict[Any, list[SubtermInfo]] = OrderedDict()
    for term, subterms in design_info.term_codings.items():
        new_subterms = []
        for st in subterms:
            matrices = {}
            for factor, cm in st.contrast_matrices.items():
                levels = list(design_info.factor_infos[factor].categories)
                if cm.matrix.shape[1] == len(levels) - 1:
                    matrices[factor] = Sum().code_without_intercept(levels)
                else:
                    matrices[factor] = cm
            new_subterms.append(SubtermInfo(st.factors, matrices, st.num_columns))
        codings[term] = new_subterms
    info = DesignInfo(
        design_info.column_names, factor_infos=design_info.factor_infos, term_codings=codings
    )
    X_sum = np.asarray(patsy.build_design_matrices([info], data, NA_action="raise")[0])
    to_user, *_ = np.linalg.lstsq(X_sum, X, rcond=None)
    if not np.allclose(X_sum @ to_user, X, atol=1e-8 * max(1.0, np.abs(X).max())):
        raise ValueError("the sum-coded design spans a different space")
    eye = np.eye(X.shape[1])
    return {
        _term_label(term): eye[cols] @ to_user
        for term, cols in info.term_slices.items()
        if term.factors
    }


def _doolittle_l(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Unit lower-triangular factor of the Doolittle LU of ``x`` (lmerTest's ``doolittle``)."""
    n = x.shape[0]
    L = np.eye(n)
    U = np.zeros((n, n))
    for i in range(n):
        U[i, :] = x[i, :] - L[i, :i] @ U[:i, :]
        for j in range(i + 1, n):
            value = x[j, i] - L[j, :i] @ U[:i, i]
            L[j, i] = 0.0 if abs(U[i, i]) < eps else value / U[i, i]
    L[np.abs(L) < eps] = 0.0
    return L


def _type1_single_term(design_info: DesignInfo, X: np.ndarray) -> dict[str, np.ndarray]:
    """lmerTest's ``get_contrasts_type1`` (rows of the Doolittle factor of X'X), which lmerTest's
    ``anova()`` uses instead of type III when the model has a single term."""
    Lt = _doolittle_l(X.T @ X).T if X.shape[1] > 1 else np.ones((1, 1))
    return {_term_label(t): Lt[c] for t, c in design_info.term_slices.items() if t.factors}


def _type3_contrasts(
    design_info: DesignInfo, data: pd.DataFrame, X: np.ndarray, messages: list[str]
) -> tuple[dict[str, np.ndarray], str]:
    """Type III hypothesis matrices: lmerTest's construction, else sum coding, else the caller's.

    As lmerTest's ``anova()``, a model with a single term (besides the intercept) uses the type I
    construction, which tests the same hypothesis in another basis.
    """
    if sum(1 for t in design_info.terms if t.factors) <= 1 or X.shape[1] <= 1:
        return _type1_single_term(design_info, X), "lmerTest"
    try:
        return _type3_lmertest(design_info, data, X), "lmerTest"
    except Exception as exc:  # unusual formulas: fall back, and say so
        messages.append(f"type III: lmerTest construction failed ({exc}); using sum coding")
    try:
        return _type3_sum(design_info, data, X), "sum-coding"
    except Exception as exc:
        messages.append(f"type III: sum coding failed ({exc}); testing the caller's coefficients")
    eye = np.eye(X.shape[1])
    return {
        _term_label(t): eye[c] for t, c in design_info.term_slices.items() if t.factors
    }, "caller-coding"


# ----------------------------------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------------------------------
def _vc_design(
    vc_formula: str, data: pd.DataFrame, rows: list[np.ndarray]
) -> tuple[list[np.ndarray], list[list[str]]]:
    """Per-group design of one variance component; indicator designs are built directly."""
    mats, names = [], []
    match = _INDICATOR_VC.match(vc_formula)
    if match:
        columns = [match.group(1)] + re.findall(r"C\(\s*(\w+)\s*\)", match.group(2) or "")
        key_codes, key_values = pd.factorize(
            pd.MultiIndex.from_frame(data[columns].astype(str)), sort=True
        )
        key_names = np.array([":".join(k) for k in key_values], dtype=object)
        for idx in rows:
            codes, uniques = pd.factorize(key_codes[idx], sort=True)
            mat = np.zeros((len(idx), len(uniques)))
            mat[np.arange(len(idx)), codes] = 1.0
            mats.append(mat)
            names.append(list(key_names[uniques]))
        return mats, names
    env = _eval_env()
    for idx in rows:
        frame = patsy.dmatrix(
            vc_formula, data.iloc[idx], eval_env=env, NA_action="raise", return_type="dataframe"
        )
        keep = np.abs(frame.to_numpy()).sum(axis=0) > 0
        mats.append(frame.to_numpy()[:, keep])
        names.append([c for c, k in zip(frame.columns, keep, strict=True) if k])
    return mats, names


def _is_indicator(mats: list[np.ndarray]) -> bool:
    """True if each row of every matrix has at most one 1 and otherwise 0 (an intercept-type RE)."""
    for m in mats:
        if m.size and not (np.isin(m, (0.0, 1.0)).all() and (m.sum(axis=1) <= 1).all()):
            return False
    return True
