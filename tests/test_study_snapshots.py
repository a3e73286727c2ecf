"""The snapshots of the studies' numbers: rounding to 6 significant digits, and one snapshot per
study that the tests run."""

from __future__ import annotations

from study_snapshots import SHIPPED, SNAPSHOTS, foreign_studies, round_numbers


def test_numbers_are_rounded_to_six_significant_digits_and_short_ones_kept():
    row = "lmm\tgroup\t23.395712345\t0.000407178123\t-1.23456789e-05\t16\t0.50\tF(1, 12) = 23.4"
    assert (
        round_numbers(row)
        == "lmm\tgroup\t23.3957\t0.000407178\t-1.23457e-05\t16\t0.50\tF(1, 12) = 23.4"
    )
    # identifiers that merely contain digits are left alone
    assert round_numbers("M094_d8\tFBgn0039155\tv1.2.3") == "M094_d8\tFBgn0039155\tv1.2.3"


def test_every_study_the_tests_run_has_a_committed_snapshot():
    for name in [*SHIPPED, *foreign_studies()]:
        assert (SNAPSHOTS / name / "statistics.tsv").is_file(), name
