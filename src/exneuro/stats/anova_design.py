"""The matrices of the multivariate route of :mod:`exneuro.stats.anova` (steps 2-4 of its
description): the between-subject design with sum-to-zero coded factors (R's ``contr.sum``) and
their interactions, the orthonormal Helmert contrasts spanning each within term, and the
hypothesis SSCP of each between term, type III or type II as ``car::Anova`` computes them.
"""

from __future__ import annotations

from functools import reduce
from itertools import combinations

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- design matrices


def factorial_terms(factors: list[str]) -> list[tuple[str, ...]]:
    """All terms of a full factorial in R's order: main effects, then 2-way, ... interactions."""
    return [term for order in range(1, len(factors) + 1) for term in combinations(factors, order)]


def _helmert(m: int) -> np.ndarray:
    """Normalized Helmert contrasts (m x (m-1)): orthonormal columns, each orthogonal to 1.

    Column j contrasts level j+1 with the mean of levels 1..j (R's ``contr.helmert``).
    """
    row, col = np.arange(m)[:, None], np.arange(m - 1)[None, :]
    H = np.where(row <= col, -1.0, 0.0) + np.where(row == col + 1, col + 1.0, 0.0)
    return H / np.linalg.norm(H, axis=0)


def term_contrasts(term: tuple[str, ...], within: list[str], levels: dict[str, list]) -> np.ndarray:
    """Orthonormal basis C_W (cells x k) of the within term's subspace (Kronecker product)."""
    blocks = [
        _helmert(len(levels[f]))
        if f in term
        else np.full((len(levels[f]), 1), len(levels[f]) ** -0.5)
        for f in within
    ]
    return reduce(np.kron, blocks, np.ones((1, 1)))


def _sum_contrasts(m: int) -> np.ndarray:
    """R's ``contr.sum``: identity for the first m-1 levels, -1 for the last (m x (m-1))."""
    return np.vstack([np.eye(m - 1), -np.ones((1, m - 1))])


def between_design(
    groups: pd.DataFrame, between: list[str], levels: dict[str, list]
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]]:
    """Between design X (intercept + effect-coded full factorial) and term index per column."""
    coded = {}
    for f in between:
        codes = pd.Categorical(groups[f], categories=levels[f]).codes
        if (codes < 0).any():  # never let code -1 silently pick the last contrast row
            raise ValueError(f"between factor {f!r} has values outside its levels {levels[f]}")
        coded[f] = _sum_contrasts(len(levels[f]))[codes]
    terms = factorial_terms(between)
    columns, assign = [np.ones((len(groups), 1))], [0]
    for index, term in enumerate(terms, start=1):
        block = reduce(_rowwise_kron, (coded[f] for f in term))
        columns.append(block)
        assign.extend([index] * block.shape[1])
    return np.hstack(columns), np.asarray(assign), [(), *terms]


def _rowwise_kron(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Kronecker product: the interaction columns of two coded factors."""
    return (a[:, :, None] * b[:, None, :]).reshape(len(a), -1)


# --------------------------------------------------------------------------- hypotheses


def _hypothesis_sscp(B: np.ndarray, V: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """SSH = (LB)' [L V L']^-1 (LB) for L selecting rows ``cols`` of B; V = (X'X)^-1."""
    if len(cols) == 0:
        return np.zeros((B.shape[1], B.shape[1]))
    LB = B[cols]
    return LB.T @ np.linalg.solve(V[np.ix_(cols, cols)], LB)


def between_hypotheses(
    B: np.ndarray,
    V: np.ndarray,
    assign: np.ndarray,
    terms: list[tuple[str, ...]],
    ss_type: int,
) -> list[tuple[tuple[str, ...], int, np.ndarray]]:
    """(term, df, hypothesis SSCP over cells) for the intercept and every between term.

    Type III tests each term's coefficients given all others. Type II (``car::Anova.II.mlm``)
    tests a term after every term not containing it: SSH(term + relatives) - SSH(relatives),
    where relatives are the higher-order terms containing it (all terms, for the intercept).
    """
    out = []
    for index, term in enumerate(terms):
        cols = np.flatnonzero(assign == index)
        H = _hypothesis_sscp(B, V, cols)
        if ss_type == 2:
            relatives = [i for i, t in enumerate(terms) if set(term) < set(t)]
            rel_cols = np.flatnonzero(np.isin(assign, relatives))
            H = _hypothesis_sscp(B, V, np.concatenate([rel_cols, cols])) - _hypothesis_sscp(
                B, V, rel_cols
            )
        out.append((term, len(cols), H))
    return out
