"""Repeated-measures and mixed ANOVA, reproducing R ``afex::aov_ez`` (and so JASP / JAMOVI).

Why a multivariate route: ``afex`` does not fit ``aov()`` with error strata; it fits one
multivariate linear model (subjects x within-cells) and lets ``car::Anova`` derive the univariate
tests from it. That route gives type II and type III sums of squares for unbalanced between-subject
groups, and the sphericity statistics (Mauchly, Greenhouse-Geisser, Huynh-Feldt) of every within
term from the same error matrices. We follow it step by step:

1. Reshape the tidy data to a wide matrix ``Y`` (subjects x within cells); subjects missing a
   cell, or a between-factor value, are dropped listwise (as afex does) and reported.
2. Regress ``Y`` on the between-subject design ``X`` (intercept + sum-to-zero coded factors and
   their interactions): ``B = (X'X)^-1 X'Y``, residual SSCP ``E = (Y - XB)'(Y - XB)``.
3. For each between term ``T`` (the intercept included) the hypothesis SSCP over the cells is
   ``H_T = (LB)' [L (X'X)^-1 L']^-1 (LB)`` with ``L`` selecting the columns of ``T`` (type III), or
   the difference of two such matrices that respects marginality (type II, as ``car``).
4. For each within term ``W`` an orthonormal contrast matrix ``C_W`` (Kronecker product of
   per-factor normalized Helmert contrasts; the constant vector for factors not in ``W``) projects
   onto the ``k = ncol(C_W)`` dimensional subspace of that term: the term ``T:W`` has
   ``SS = tr(C_W' H_T C_W)``, ``SS_error = tr(C_W' E C_W)``, ``df = (df_T k, df_e k)`` and
   ``F = (SS / df_num) / (SS_error / df_den)`` (Maxwell & Delaney 2004, ch. 13-14; Fox & Weisberg
   2019, *An R Companion to Applied Regression*, 3rd ed., sec. 5.9).
5. For ``k > 1`` the error matrix ``S = C_W' E C_W`` gives Mauchly's W with R's chi-square
   approximation (``stats::mauchly.test``), the Greenhouse-Geisser epsilon
   ``tr(S)^2 / (k tr(S^2))`` (Greenhouse & Geisser 1959) and the Huynh-Feldt epsilon in the
   Lecoutre (1991) form that ``car`` uses, ``((df_e + 1) k GG - 2) / (k (df_e - k GG))``.

Effect sizes: partial eta^2 = SS / (SS + SS_error of the term); generalized eta^2 (Olejnik &
Algina 2003; Bakeman 2005) with no observed factors, as afex: SS / (SS + sum of the error SS of
every stratum of the design).

The design and contrast matrices and the hypothesis SSCPs (steps 2-4) are built in
:mod:`exneuro.stats.anova_design`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd
from scipy import stats

from exneuro.stats.anova_design import (
    between_design,
    between_hypotheses,
    factorial_terms,
    term_contrasts,
)
from exneuro.stats.table import format_n_by_group, stats_frame

TABLE_COLUMNS = [
    "term",
    "ss",
    "df_num",
    "df_den",
    "ms",
    "mse",
    "F",
    "p",
    "eps_gg",
    "eps_hf",
    "p_gg",
    "p_hf",
    "mauchly_w",
    "mauchly_p",
    "eta2_partial",
    "eta2_generalized",
]

_CORRECTIONS = {
    "greenhouse-geisser": "Greenhouse-Geisser",
    "huynh-feldt": "Huynh-Feldt",
    "none": "none",
}
_ROMAN = {2: "II", 3: "III"}
_NO_SPHERICITY = dict.fromkeys(("mauchly_w", "mauchly_p", "eps_gg", "eps_hf"), np.nan)


@dataclass(frozen=True)
class AnovaResult:
    """Result of :func:`rm_anova`: the ANOVA table plus the sample bookkeeping.

    ``table`` has one row per term (afex naming and order, e.g. ``Group``, ``Time``,
    ``Group:Time``). Sphericity columns (``eps_gg``, ``eps_hf``, ``p_gg``, ``p_hf``,
    ``mauchly_w``, ``mauchly_p``) are NaN for between-subject terms; for within terms with one
    contrast (k = 1) sphericity holds trivially: both epsilons are 1, ``p_gg = p_hf = p`` and
    Mauchly's test is NaN (afex prints NA there). ``eps_hf`` is the uncapped Huynh-Feldt
    estimate (it can exceed 1); ``p_hf`` uses ``min(eps_hf, 1)``.
    """

    table: pd.DataFrame
    n_subjects: int
    n_dropped: int
    dropped_subjects: list
    ss_type: int
    n_by_group: dict[str, int]
    dv: str = ""
    subject: str = ""
    within: tuple[str, ...] = ()
    between: tuple[str, ...] = ()
    n_cells: int = 1
    k_within: dict[str, int] = field(default_factory=dict)
    within_terms: frozenset[str] = frozenset()

    @property
    def model(self) -> str:
        """R-style design, e.g. ``'Scores ~ Group * Time, Error(Subject/Time); type III SS'``."""
        rhs = " * ".join([*self.between, *self.within])
        if not self.within:
            error = ""
        elif len(self.within) == 1:
            error = f", Error({self.subject}/{self.within[0]})"
        else:
            error = f", Error({self.subject}/({' * '.join(self.within)}))"
        return f"{self.dv} ~ {rhs}{error}; type {_ROMAN[self.ss_type]} SS"

    def to_stats(self, correction: str = "greenhouse-geisser") -> pd.DataFrame:
        """Rows of the project's statistics table (:func:`exneuro.stats.table.stats_frame`).

        ``df_num``/``df_den`` and ``p`` are uncorrected; ``p_adj`` is the sphericity-corrected p
        (``correction`` = ``'greenhouse-geisser'``, ``'huynh-feldt'`` or ``'none'``) for terms with
        more than one within-subject contrast, and equals ``p`` otherwise.
        """
        key = correction.lower() if isinstance(correction, str) else correction
        if key not in _CORRECTIONS:
            raise ValueError(
                f"correction must be one of {sorted(_CORRECTIONS)}, not {correction!r}"
            )
        test = "mixed_anova" if self.between else "rm_anova"
        if not self.within:
            test = "anova"
        records = [self._stats_record(row, key, test) for row in self.table.itertuples()]
        return stats_frame(records)

    def _stats_record(self, row, key: str, test: str) -> dict[str, object]:
        """One statistics-table row for one ANOVA term (see :meth:`to_stats`)."""
        k = self.k_within.get(row.term, 1)
        ss_note = f"type {_ROMAN[self.ss_type]} SS (afex/car multivariate route)"
        p_adj, epsilon = row.p, np.nan
        if k > 1 and key != "none":
            p_adj = row.p_gg if key == "greenhouse-geisser" else row.p_hf
            epsilon = row.eps_gg if key == "greenhouse-geisser" else np.minimum(row.eps_hf, 1.0)
            label = _CORRECTIONS[key]
        elif k > 1:
            label = "none"
        else:
            label = "none (1 df)" if row.term in self.within_terms else "none (between)"
        if k > 1:
            notes = (
                f"{ss_note}; sphericity: Mauchly W and p, GG and HF epsilon and p in their "
                "columns (HF epsilon uncapped; capped at 1 for the HF correction)"
            )
        elif row.term in self.within_terms:
            notes = f"{ss_note}; one within-subject contrast: sphericity holds trivially"
        else:
            notes = f"{ss_note}; between-subject term"
        if self.n_dropped:
            notes += f"; dropped listwise: {', '.join(map(str, self.dropped_subjects))}"
        return {
            "test": test,
            "model": self.model,
            "term": row.term,
            "statistic_name": "F",
            "statistic": row.F,
            "df_num": row.df_num,
            "df_den": row.df_den,
            "p": row.p,
            "p_adj": p_adj,
            "correction": label,
            "epsilon": epsilon,
            **(
                {
                    "mauchly_w": row.mauchly_w,
                    "mauchly_p": row.mauchly_p,
                    "eps_gg": row.eps_gg,
                    "eps_hf": row.eps_hf,
                    "p_gg": row.p_gg,
                    "p_hf": row.p_hf,
                }
                if k > 1
                else {}
            ),
            "effect_size": row.eta2_partial,
            "effect_size_name": "partial eta^2",
            "effect_size_alt": row.eta2_generalized,
            "effect_size_alt_name": "generalized eta^2",
            "n_mice": self.n_subjects,
            "n_obs": self.n_subjects * self.n_cells,
            "n_excluded": self.n_dropped,
            "n_by_group": format_n_by_group(self.n_by_group),
            "notes": notes,
        }


def rm_anova(
    data: pd.DataFrame,
    dv: str,
    subject: str,
    within: list[str] | None = None,
    between: list[str] | None = None,
    ss_type: int = 3,
) -> AnovaResult:
    """Repeated-measures / mixed ANOVA with any number of within and between factors.

    Reproduces ``afex::aov_ez(id=subject, dv=dv, data, within=..., between=..., type=ss_type)``
    (sum-to-zero contrasts, univariate tests with sphericity corrections; see the module
    docstring for the formulas).

    ``data`` is tidy long format, one row per subject x within cell. Subjects missing a within cell
    (absent row or NaN ``dv``) or a between-factor value are dropped listwise and reported in
    ``n_dropped`` / ``dropped_subjects``. Raises ``ValueError`` for duplicate subject x cell rows
    (aggregate first: afex would silently average), for a subject in two between groups, for a
    factor with one level, for an empty between cell and for missing subject or within labels.
    """
    within, between = list(within or []), list(between or [])
    _check_arguments(data, dv, subject, within, between, ss_type)
    levels = {factor: _factor_levels(data[factor]) for factor in within + between}
    Y, groups, dropped = _complete_subjects(data, dv, subject, within, between, levels)
    n_by_group = _count_groups(groups, between, levels)
    X, assign, between_terms = between_design(groups, between, levels)
    df_error = X.shape[0] - X.shape[1]
    if df_error < 1:
        raise ValueError(
            f"{X.shape[0]} complete subjects leave no error degrees of freedom for "
            f"{X.shape[1]} between-subject parameters"
        )
    V = np.linalg.inv(X.T @ X)
    B = V @ X.T @ Y
    residual = Y - X @ B
    hypotheses = between_hypotheses(B, V, assign, between_terms, ss_type)
    table, k_within, within_terms = _anova_table(
        residual.T @ residual, hypotheses, df_error, within, levels
    )
    return AnovaResult(
        table=table,
        n_subjects=int(Y.shape[0]),
        n_dropped=len(dropped),
        dropped_subjects=dropped,
        ss_type=ss_type,
        n_by_group=n_by_group,
        dv=dv,
        subject=subject,
        within=tuple(within),
        between=tuple(between),
        n_cells=int(Y.shape[1]),
        k_within=k_within,
        within_terms=frozenset(t for t in table["term"] if any(f in within for f in t.split(":"))),
    )


def _anova_table(
    E: np.ndarray,
    hypotheses: list[tuple[tuple[str, ...], int, np.ndarray]],
    df_error: int,
    within: list[str],
    levels: dict[str, list],
) -> tuple[pd.DataFrame, dict[str, int], frozenset[str]]:
    """Cross every between hypothesis with every within term (car's order and naming).

    ``E`` is the residual SSCP over the within cells. Returns the table, k (number of within
    contrasts) per term, and the names of the terms that involve a within factor.
    """
    rows, k_within, within_terms, stratum_error_ss = [], {}, set(), []
    for w_term in [(), *factorial_terms(within)]:
        C = term_contrasts(w_term, within, levels)
        S = C.T @ E @ C
        ss_error = float(np.trace(S))
        stratum_error_ss.append(ss_error)
        sphericity = _sphericity(S, df_error, E.shape[0]) if w_term else _NO_SPHERICITY
        for b_term, df_h, H in hypotheses:
            if not b_term and not w_term:
                continue  # the grand mean: not reported, as in afex
            name = ":".join(b_term + w_term)
            k_within[name] = C.shape[1]
            if w_term:
                within_terms.add(name)
            ss = float(np.trace(C.T @ H @ C))
            rows.append(_term_row(name, ss, ss_error, df_h, df_error, C.shape[1], sphericity))
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    # generalized eta^2 (no observed factors): the error SS of every stratum in the denominator
    table["eta2_generalized"] = table["ss"] / (table["ss"] + sum(stratum_error_ss))
    return table, k_within, frozenset(within_terms)


# --------------------------------------------------------------------------- input checks


def _check_arguments(
    data: pd.DataFrame,
    dv: str,
    subject: str,
    within: list[str],
    between: list[str],
    ss_type: int,
) -> None:
    """Reject unknown columns, repeated factors, unsupported SS types and one-level factors."""
    if ss_type not in _ROMAN:
        raise ValueError(f"ss_type must be 2 or 3, not {ss_type!r}")
    factors = within + between
    if not factors:
        raise ValueError("give at least one within or between factor")
    if len(set(factors)) != len(factors) or {dv, subject} & set(factors):
        raise ValueError(f"factors must be distinct columns other than dv and subject: {factors}")
    missing = [c for c in [dv, subject, *factors] if c not in data.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not in data")
    if data[subject].isna().any():
        raise ValueError(f"{int(data[subject].isna().sum())} row(s) have no {subject!r} value")
    for factor in within:
        if data[factor].isna().any():
            ids = pd.unique(data.loc[data[factor].isna(), subject]).tolist()
            raise ValueError(f"within factor {factor!r} is missing in rows of subject(s) {ids}")
    for factor in factors:
        observed = data[factor].dropna().unique()
        if len(observed) < 2:
            raise ValueError(
                f"factor {factor!r} has {len(observed)} level(s) {observed.tolist()}; needs >= 2"
            )


def _factor_levels(values: pd.Series) -> list:
    """Observed levels in factor order: category order if categorical, else sorted (as R)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        return [level for level in values.cat.categories if level in present]
    observed = list(pd.unique(values.dropna()))
    try:
        return sorted(observed)
    except TypeError:
        return observed


def _subject_groups(data: pd.DataFrame, subject: str, between: list[str]) -> pd.DataFrame:
    """One row per subject with its between-factor levels (NaN if any row lacks the value)."""
    grouped = data.groupby(subject, sort=False)
    if not between:
        return pd.DataFrame(index=pd.Index(list(grouped.groups), name=subject))
    n_levels = grouped[between].nunique()
    conflict = n_levels[(n_levels > 1).any(axis=1)]
    if len(conflict):
        subject_id = conflict.index[0]
        factor = conflict.columns[(conflict.iloc[0] > 1).to_numpy()][0]
        seen = pd.unique(data.loc[data[subject] == subject_id, factor].dropna()).tolist()
        raise ValueError(
            f"subject {subject_id} appears in several levels of between factor {factor!r}: "
            f"{seen} ({len(conflict)} subject(s) affected)"
        )
    groups = grouped[between].first()
    any_missing = data[between].isna().groupby(data[subject], sort=False).any()
    return groups.mask(any_missing)


def _wide_matrix(
    data: pd.DataFrame, dv: str, subject: str, within: list[str], levels: dict[str, list]
) -> tuple[np.ndarray, np.ndarray]:
    """Subjects x within-cells matrix (first factor varying slowest); NaN for absent cells."""
    subject_codes, subjects = pd.factorize(data[subject], sort=True)
    cell_codes = np.zeros(len(data), dtype=np.int64)
    for factor in within:
        codes = pd.Categorical(data[factor], categories=levels[factor]).codes
        cell_codes = cell_codes * len(levels[factor]) + codes
    n_cells = int(np.prod([len(levels[f]) for f in within])) if within else 1
    duplicated = pd.Series(subject_codes * n_cells + cell_codes).duplicated().to_numpy()
    if duplicated.any():
        first = np.flatnonzero(duplicated)[0]
        cell = ", ".join(f"{f}={data[f].iloc[first]}" for f in within) or "(single cell)"
        raise ValueError(
            f"subject {data[subject].iloc[first]} has several rows for cell {cell} "
            f"({int(duplicated.sum())} duplicate row(s)); aggregate to one row per cell first"
        )
    Y = np.full((len(subjects), n_cells), np.nan)
    Y[subject_codes, cell_codes] = pd.to_numeric(data[dv], errors="raise").to_numpy(
        dtype=float, na_value=np.nan
    )
    return Y, np.asarray(subjects)


def _complete_subjects(
    data: pd.DataFrame,
    dv: str,
    subject: str,
    within: list[str],
    between: list[str],
    levels: dict[str, list],
) -> tuple[np.ndarray, pd.DataFrame, list]:
    """Wide matrix and between levels of the complete subjects, and the ids dropped listwise."""
    groups = _subject_groups(data, subject, between)
    Y, subjects = _wide_matrix(data, dv, subject, within, levels)
    groups = groups.reindex(subjects)
    complete = ~np.isnan(Y).any(axis=1) & groups.notna().all(axis=1).to_numpy()
    return Y[complete], groups[complete], subjects[~complete].tolist()


def _count_groups(groups: pd.DataFrame, between: list[str], levels: dict) -> dict[str, int]:
    """Subjects per between cell (keys 'a1' for one factor, 'a1 x b1' for several, matching the
    'group=n' form of the statistics table); every cell must keep a subject."""
    if not between:
        return {"all": len(groups)}
    counts, empty = {}, []
    for cell in product(*(levels[f] for f in between)):
        pairs = list(zip(between, cell, strict=True))
        in_cell = np.logical_and.reduce([groups[f].to_numpy() == level for f, level in pairs])
        counts[" x ".join(str(level) for _, level in pairs)] = int(in_cell.sum())
        if not in_cell.any():
            empty.append(", ".join(f"{f}={level}" for f, level in pairs))
    if empty:
        raise ValueError(f"between-subject cell(s) without complete subjects: {empty}")
    return counts


# --------------------------------------------------------------------------- statistics


def _sphericity(S: np.ndarray, df_error: int, n_cells: int) -> dict[str, float]:
    """Mauchly's W, its p value, and the GG and HF epsilons of a term's error SSCP ``S`` (k x k).

    The p value is R's ``stats::mauchly.test`` (also ``car``): chi-square approximation with the
    second-order term ``w2`` (Anderson 2003, sec. 10.7). As in R, the ``3 p`` inside ``w2`` uses
    the number of within cells ``p = n_cells``, not ``k``; this matters only for k >= 3 and is kept
    so that p matches afex, JASP and JAMOVI.
    """
    k = S.shape[0]
    if k == 1:  # one contrast: sphericity holds by construction, epsilon is exactly 1
        return {**_NO_SPHERICITY, "eps_gg": 1.0, "eps_hf": 1.0}
    sign, logdet = np.linalg.slogdet(S)
    log_w = (logdet if sign > 0 else -np.inf) - k * np.log(np.trace(S) / k)
    rho = 1 - (2 * k**2 + k + 2) / (6 * k * df_error)
    w2 = (
        (k + 2)
        * (k - 1)
        * (k - 2)
        * (2 * k**3 + 6 * k**2 + 3 * n_cells + 2)
        / (288 * (df_error * k * rho) ** 2)
    )
    z = -df_error * rho * log_w
    f = k * (k + 1) / 2 - 1
    p1, p2 = stats.chi2.sf(z, f), stats.chi2.sf(z, f + 4)
    gg = np.trace(S) ** 2 / (k * np.trace(S @ S))
    hf = ((df_error + 1) * k * gg - 2) / (k * (df_error - k * gg))
    return {
        "mauchly_w": float(np.exp(log_w)),
        "mauchly_p": float(p1 + w2 * (p2 - p1)),
        "eps_gg": float(gg),
        "eps_hf": float(hf),
    }


def _term_row(
    name: str,
    ss: float,
    ss_error: float,
    df_h: int,
    df_error: int,
    k: int,
    sphericity: dict[str, float],
) -> dict[str, object]:
    """Univariate F test of one term with its sphericity-corrected p values."""
    df_num, df_den = df_h * k, df_error * k
    F = (ss / df_num) / (ss_error / df_den)
    gg, hf = sphericity["eps_gg"], np.minimum(sphericity["eps_hf"], 1.0)  # NaN: between term
    p_gg = stats.f.sf(F, gg * df_num, gg * df_den) if np.isfinite(gg) else np.nan
    p_hf = stats.f.sf(F, hf * df_num, hf * df_den) if np.isfinite(hf) else np.nan
    return {
        "term": name,
        "ss": ss,
        "df_num": float(df_num),
        "df_den": float(df_den),
        "ms": ss / df_num,
        "mse": ss_error / df_den,
        "F": F,
        "p": float(stats.f.sf(F, df_num, df_den)),
        "p_gg": float(p_gg),
        "p_hf": float(p_hf),
        **sphericity,
        "eta2_partial": ss / (ss + ss_error),
    }
