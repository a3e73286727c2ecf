"""Figure-legend sentences written from rows of the study's statistics table.

A legend states, for each panel, what is plotted and the test behind it with its statistic,
degrees of freedom, p, correction, effect size and n, as journals ask ("two-way mixed-design RM
ANOVA, group × session: F(3.1, 43.4) = 8.1, p = 0.0002, Greenhouse-Geisser corrected"). Every
number comes from the table; nothing is recomputed here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import pandas as pd

TEST_NAMES = {
    "mixed_anova": "mixed-design repeated-measures ANOVA",
    "rm_anova": "repeated-measures ANOVA",
    "anova": "ANOVA",
    "lmm": "linear mixed model (REML, Satterthwaite df)",
    "emm_contrast": "post-hoc contrasts of the mixed model's estimated marginal means",
    "welch_t": "Welch's t-test",
    "student_t": "Student's t-test",
    "welch_t_mouse_means": "Welch's t-test on mouse means",
    "welch_t_cells_as_n": "Welch's t-test with cells as n (naive, for comparison)",
    "welch_t_naive": "Welch's t-test with segments as n (naive, for comparison)",
    "one_sample_t": "one-sample t-test",
    "paired_t": "paired t-test",
    "mann_whitney": "Mann-Whitney U test",
    "wilcoxon": "Wilcoxon signed-rank test",
    "fisher_exact": "Fisher's exact test",
    "ks_2samp": "two-sample Kolmogorov-Smirnov test (descriptive)",
    "hierarchical_bootstrap": "hierarchical bootstrap (mice, then neurons, then segments)",
    "deseq2_wald": "DESeq2 Wald test",
    "waveform_bootstrap": "bootstrap of mouse waveforms",
    "ancova": "ANCOVA of the last test adjusted for baseline",
    "lmm_coefficient": "mixed-model fixed effect",
    "glmm_nb": "negative-binomial GLMM of the counts (offset log length, Laplace)",
    "glmm_poisson": "Poisson GLMM of the counts (offset log length, Laplace)",
    "glmm_binomial": "binomial GLMM of positive among labelled cells (Laplace)",
    "gls_ar1": "GLS with AR(1) residuals within mouse",
}
#: How a contrast's notes say its means were averaged over a model factor (e.g. sex).
AVERAGED = re.compile(r"means averaged over ([\w, ]+?) with equal weights")
STAR_KEY = "* p < 0.05, ** p < 0.01, *** p < 0.001, **** p < 0.0001; ns, not significant."
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


#: The study's animals when the config names none (``study.animal``).
DEFAULT_ANIMAL = {"singular": "mouse", "plural": "mice"}
_ANIMAL_WORDS = re.compile(r"\b([Mm])(ice|ouse)\b")


def in_animal_words(text: str, animal: Mapping[str, str] | None = None) -> str:
    """``text`` with the library's words for the animals ('mouse', 'mice', capitalized or not)
    replaced by the study's (``study.animal``: 'rat', 'rats'), so that a rat study's legends
    say rats. Whole words only: column names such as ``n_mice`` are left alone."""
    words = {**DEFAULT_ANIMAL, **(animal or {})}

    def word(match: re.Match) -> str:
        chosen = words["plural" if match.group(2) == "ice" else "singular"]
        return chosen[:1].upper() + chosen[1:] if match.group(1) == "M" else chosen

    return _ANIMAL_WORDS.sub(word, text)


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def format_number(value: float, digits: int = 3) -> str:
    """``digits`` significant figures (trailing zeros kept: 27.0), powers of ten for very large
    or small magnitudes (1.6 × 10⁻⁵), true minus sign."""
    if not _present(value):
        return "NA"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        power = str(int(exponent)).translate(SUPERSCRIPT)
        return f"{mantissa} × 10{power}".replace("-", "−")
    text = f"{value:#.{digits}g}".rstrip(".")
    if "e" in text:  # e.g. 1.23e+04 from %g: write it out
        text = f"{value:.0f}"
    return text.replace("-", "−")


def format_df(value: float) -> str:
    """Degrees of freedom: integers as integers, Satterthwaite or corrected df to one decimal."""
    if abs(value - round(value)) < 1e-3:
        return str(int(round(value)))
    return f"{value:.1f}"


def format_p(p: float) -> str:
    """'p = 0.012', 'p = 3.4 × 10⁻⁵', 'p < 10⁻¹⁶' (below double precision)."""
    if not _present(p):
        return ""
    if p < 1e-16:
        return "p < 10⁻¹⁶"
    if p < 1e-3:
        return f"p = {format_number(p, 2)}"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def term_text(term: str, labels: Mapping[str, str] | None = None) -> str:
    """'group:session' -> 'group × session'; a contrast 'silenced - control' with the groups'
    labels ('SF1 silenced − Control'); underscores of factor names as spaces."""
    labels = dict(labels or {})
    text = str(term)
    if " - " in text or " vs " in text:
        separator = " - " if " - " in text else " vs "
        parts = [labels.get(part, part) for part in text.split(separator)]
        text = (" − " if separator == " - " else " vs ").join(parts)
    else:
        text = " × ".join(labels.get(part, part) for part in text.split(":"))
    return text.replace("_", " ")


def _corrected_df(row: Mapping) -> tuple[float | None, float | None]:
    df_num, df_den = row.get("df_num"), row.get("df_den")
    epsilon = row.get("epsilon")
    correction = str(row.get("correction", ""))
    sphericity = "Greenhouse" in correction or "Huynh" in correction
    if sphericity and _present(epsilon):
        df_num = df_num * epsilon if _present(df_num) else df_num
        df_den = df_den * epsilon if _present(df_den) else df_den
    return df_num, df_den


def statistic_text(row: Mapping) -> str:
    """'F(1, 14) = 27.0' or 't(10.9) = −6.89' (sphericity-corrected df where corrected)."""
    name = row.get("statistic_name")
    if not _present(name) or not _present(row.get("statistic")):
        return ""
    df_num, df_den = _corrected_df(row)
    dfs = [format_df(v) for v in (df_num, df_den) if _present(v)]
    df_text = f"({', '.join(dfs)})" if dfs else ""
    return f"{name}{df_text} = {format_number(float(row['statistic']))}"


def _p_for(row: Mapping) -> float | None:
    if _present(row.get("p_family")):  # the declared family's adjusted p is the one reported
        return row.get("p_family")
    correction = str(row.get("correction", "none"))
    reported = row.get("p_adj") if not correction.startswith("none") else row.get("p")
    return reported if _present(reported) else row.get("p")


def correction_text(row: Mapping) -> str:
    """The correction in words ('Šidák-corrected (6 tests)'), '' when none; a declared family's
    correction when the row belongs to one ('Holm-adjusted across family primary (4 tests)')."""
    correction = str(row.get("correction", "none"))
    if _present(row.get("p_family")) and _present(row.get("family_correction")):
        method, _, count = str(row["family_correction"]).partition(" (")
        primary = " primary" if str(row.get("primary")) == "yes" else ""
        family = f"{method}-adjusted across{primary} family {row.get('family')} ({count}"
        if correction in ("Greenhouse-Geisser", "Huynh-Feldt"):  # part of the test itself
            return f"{correction_text({**row, 'p_family': None})}, then {family}"
        return family
    if correction.startswith("none") or not correction or correction == "nan":
        return ""
    if correction.startswith("Sidak"):
        return "Šidák-corrected" + correction[len("Sidak") :]
    if correction in ("Greenhouse-Geisser", "Huynh-Feldt"):
        return f"{correction} corrected (ε = {format_number(float(row['epsilon']))})"
    return correction


def effect_text(row: Mapping) -> str:
    """'partial η² = 0.66' or 'Hedges g = −3.26 [−4.74, −1.72]'."""
    value, name = row.get("effect_size"), row.get("effect_size_name")
    if not _present(value) or not _present(name):
        return ""
    name = str(name).split(" (")[0].replace("eta^2", "η²")
    text = f"{name} = {format_number(float(value))}"
    low, high = row.get("effect_size_ci_low"), row.get("effect_size_ci_high")
    if _present(low) and _present(high):
        text += f" [{format_number(float(low))}, {format_number(float(high))}]"
    return text


def n_text(row: Mapping, labels: Mapping[str, str] | None = None) -> str:
    """'n = 8 Control, 8 SF1 silenced mice' (+ cells or segments when the test had them)."""
    labels = dict(labels or {})
    parts = []
    by_group = row.get("n_by_group")
    if _present(by_group) and str(by_group):
        for item in str(by_group).split("; "):
            group, _, count = item.partition("=")
            parts.append(f"{count} {labels.get(group, group)}")
    text = f"n = {', '.join(parts)} mice" if parts else ""
    if not text and _present(row.get("n_mice")):
        text = f"n = {int(row['n_mice'])} mice"
    for column, unit in (("n_cells", "cells"), ("n_segments", "segments")):
        if _present(row.get(column)) and text:
            text += f" ({int(row[column])} {unit})"
            break
    return text


def counts_text(counts: Mapping[str, int], labels: Mapping[str, str] | None = None) -> str:
    """'n = 8 Control, 7 SF1 inhibited after exercise mice' from mice per group id."""
    labels = dict(labels or {})
    parts = [f"{int(n)} {labels.get(group, group)}" for group, n in counts.items()]
    return f"n = {', '.join(parts)} mice" if parts else ""


def row_counts(row: Mapping) -> dict[str, int]:
    """Mice per group of a statistics row ('control=8; silenced=7'), {} when not recorded."""
    by_group = row.get("n_by_group")
    if not _present(by_group) or not str(by_group):
        return {}
    counts = {}
    for item in str(by_group).split("; "):
        group, _, count = item.partition("=")
        if count.strip().isdigit():
            counts[group] = int(count)
    return counts


def is_singular(row: Mapping) -> bool:
    """A mixed model fit whose random-effect variance is estimated at zero (flagged by the
    statistics table's ``singular_fit`` column, or named in its notes)."""
    for column in ("singular_fit", "singular"):
        flag = row.get(column)
        if _present(flag) and str(flag).strip().lower() in ("true", "1", "yes"):
            return True
    return "singular" in str(row.get("notes", "")).lower()


def describe_row(row: Mapping, labels: Mapping[str, str] | None = None) -> str:
    """One test result: '<term>: <statistic>, <p>, <correction>; <effect size>' (a result with
    neither statistic nor p, such as a waveform test's significant interval, gives its note)."""
    pieces = [piece for piece in (statistic_text(row), format_p(_p_for(row))) if piece]
    if not pieces and _present(row.get("notes")):
        pieces = [str(row["notes"])]
    correction = correction_text(row)
    if correction:
        pieces.append(correction)
    text = f"{term_text(row['term'], labels)}: {', '.join(pieces)}"
    effect = effect_text(row)
    text = f"{text}; {effect}" if effect else text
    return text + singular_text(row)


def singular_text(row: Mapping) -> str:
    """'; singular fit (a variance estimated at zero), test on mouse means p = 0.0018' or ''."""
    if not is_singular(row):
        return ""
    text = "; singular fit (a variance estimated at zero)"
    if _present(row.get("p_mouse_level")):
        text += f", test on mouse means {format_p(float(row['p_mouse_level']))}"
    return text


def describe_tests(
    rows: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    drawn: Mapping[str, int] | None = None,
) -> str:
    """Sentences for the statistics rows behind one panel, one per test, in table order.

    Omnibus tests list every term; post-hoc families (``emm_contrast``) are summarized as the
    family and its correction, since their p values are the stars drawn on the panel. A test
    whose mice differ from the ``drawn`` mice per group (e.g. a repeated-measures ANOVA that
    drops mice with a missed test) states its own n; a singular mixed-model fit is said so.
    """
    sentences = []
    for test, part in rows.groupby("test", sort=False):
        name = TEST_NAMES.get(str(test), str(test).replace("_", " "))
        first = part.iloc[0].to_dict()
        if test == "emm_contrast":
            terms = ", ".join(dict.fromkeys(term_text(t, labels) for t in part["term"]))
            correction = correction_text({**first, "p_family": None}) or "uncorrected"
            family = correction_text(first) if _present(first.get("p_family")) else ""
            averaged = AVERAGED.search(str(first.get("notes", "")))
            sentence = (
                f"{name} ({terms})"
                + (f", averaged over {averaged.group(1)}" if averaged else "")
                + f", {correction}; stars show adjusted p"
                + (f"; p also {family}" if family else "")
                + singular_text(first)
            )
        else:
            results = "; ".join(describe_row(r, labels) for r in part.to_dict("records"))
            sentence = f"{name}, {results}"
        counts = row_counts(first)
        if drawn is not None and counts and counts != {g: n for g, n in drawn.items() if n}:
            sentence += f" (this test on {counts_text(counts, labels)})"
        if any(is_singular(r) for r in part.to_dict("records")):
            sentence += (
                " (with the mouse variance at zero this test treats the observations as "
                "independent; the test on mouse means is the safer one)"
            )
        sentences.append(sentence)
    return ". ".join(sentence[0].upper() + sentence[1:] for sentence in sentences)


def tested_n(rows: pd.DataFrame, labels: Mapping[str, str] | None = None) -> str:
    """n of the panel's first test (omnibus before post-hoc), as :func:`n_text` writes it."""
    ordered = pd.concat(
        [rows[rows["test"] != "emm_contrast"], rows[rows["test"] == "emm_contrast"]]
    )
    for row in ordered.to_dict("records"):
        text = n_text(row, labels)
        if text:
            return text
    return ""
