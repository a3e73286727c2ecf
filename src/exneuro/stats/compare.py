"""Simple comparisons reported by mouse exercise-neuroscience papers, as rows of the stats table.

This module gathers the package's comparison tests under one name; each family lives in its own
module: :mod:`~exneuro.stats.multiplicity` (p-value adjustment), :mod:`~exneuro.stats.two_group`
(two groups, paired, one sample), :mod:`~exneuro.stats.ranks` (R's rank tests),
:mod:`~exneuro.stats.distribution_tests` (KS, Fisher's exact) and
:mod:`~exneuro.stats.clustered` (cells within mice).

Every public test returns a one-row frame built with :func:`exneuro.stats.table.stats_frame`; the
caller fills ``analysis``, ``outcome`` and ``subset`` with :func:`~exneuro.stats.table.label_rows`
and, where a family of tests needs it, replaces ``p_adj``/``correction`` using
:func:`adjust_pvalues` and :func:`correction_label`.

Conventions shared by all functions
-----------------------------------
* Direction: estimates are ``second - first``: ``treated - control`` (``b - a``) for two
  groups, ``after - before`` for paired data, ``mean - mu`` for one sample. Effect sizes carry
  the same sign.
* Every number that base R reports is computed the way R 4.2 computes it, so that the tests can
  assert agreement with ``t.test``, ``wilcox.test``, ``ks.test``, ``fisher.test`` and
  ``p.adjust`` (reference numbers in ``tests/reference/r_two_group``).
* Missing values are dropped (pairwise for paired data); the count dropped is ``n_excluded``.

Nested data (cells within mice)
-------------------------------
Cells from one mouse are not independent, so a t test over cells is anti-conservative
(pseudoreplication). :func:`cluster_level_test` tests per-mouse means (n = mice) and
:func:`hierarchical_bootstrap` resamples mice and then cells within mice (Saravanan, Berman &
Sober 2020, *Neurons, Behavior, Data analysis, and Theory* 3(5), "Application of the hierarchical
bootstrap to multi-level data in neuroscience"). The caller reports both next to the naive test.
"""

from __future__ import annotations

from exneuro.stats.clustered import (
    cluster_level_test,
    hierarchical_bootstrap,
    hierarchical_bootstrap_distribution,
)
from exneuro.stats.distribution_tests import fisher_exact_test, ks_test
from exneuro.stats.effect_sizes import hedges_correction
from exneuro.stats.multiplicity import PADJUST_METHODS, adjust_pvalues, correction_label
from exneuro.stats.pooling import equal_weight_pool
from exneuro.stats.two_group import one_sample_test, paired_test, two_group_test

__all__ = [
    "PADJUST_METHODS",
    "adjust_pvalues",
    "cluster_level_test",
    "correction_label",
    "equal_weight_pool",
    "fisher_exact_test",
    "hedges_correction",
    "hierarchical_bootstrap",
    "hierarchical_bootstrap_distribution",
    "ks_test",
    "one_sample_test",
    "paired_test",
    "two_group_test",
]
