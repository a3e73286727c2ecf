"""Statistics and a standard figure for any tidy table a lab declares in the config.

Body mass over weeks, blood glucose over a tolerance test, serum BDNF, Fos counts per section: a
lab names the file, the subject column, the within- and between-subject factors, covariates,
nested units and outcomes, and the tests to run. The table is read and checked, and its levels
ordered, by :mod:`exneuro.tables.design`; this module runs the requested tests through the
shared statistics engine, and writes a "not tested" row with the reason for a test the data
cannot support (one subject in a group, one level in a split, an empty cell).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from exneuro.not_tested import TWO_GROUP_TEST_NAMES, not_tested_row, untested_on_failure
from exneuro.stats import compare, mixed
from exneuro.stats.anova import rm_anova
from exneuro.stats.clustered import NAIVE_NOTE
from exneuro.stats.posthoc import contrast_family
from exneuro.stats.table import concat_stats, label_rows, subset_label
from exneuro.tables.design import factor_levels, read_declared_data, read_declared_table

#: The declared-table API: its statistics here, reading and level order from declared_design.
__all__ = [
    "declared_statistics",
    "factor_levels",
    "fit_declared_lmm",
    "read_declared_data",
    "read_declared_table",
]


def exclusion_note(declaration: Mapping) -> str:
    """'excluded by the config: M3 (haemolysed)' for the table's left-out subjects, or ''."""
    entries = declaration.get("exclude_subjects", [])
    listed = "; ".join(f"{entry['subject']} ({entry['reason']})" for entry in entries)
    return f"excluded by the config: {listed}" if entries else ""


def lmm_formula(outcome: str, declaration: Mapping, levels: Mapping[str, list[str]]) -> str:
    """Fixed-effect formula: all factors and covariates fully crossed, reference = first level."""
    terms = [
        f"C({f}, Treatment('{levels[f][0]}'))"
        for f in [*declaration["between"], *declaration["within"]]
    ]
    terms += list(declaration["covariates"])
    return f"{outcome} ~ " + (" * ".join(terms) if terms else "1")


def replicated_units(data: pd.DataFrame, subject: str, nested: list[str]) -> list[str]:
    """The nested units that hold several rows each. A unit with one row per level (cells when
    each row is a cell) is the observation itself: its variance is the residual, so it gets no
    random intercept of its own."""
    units, keys = [], [subject]
    for unit in nested:
        keys = [*keys, unit]
        if data.groupby(keys, observed=True).size().max() > 1:
            units.append(unit)
    return units


def fit_declared_lmm(
    data: pd.DataFrame, outcome: str, declaration: Mapping, levels: Mapping[str, list[str]]
):
    """The declared mixed model: random intercept per subject, declared random slopes, a
    random intercept for every nested unit (e.g. cell within mouse), and with ``random_group``
    one for the unit the subjects are nested in (e.g. cage: ``(1 | cage/mouse)``)."""
    slopes = declaration["random_slopes"]
    re_formula = "~" + " + ".join(slopes) if slopes else None
    subject = declaration["subject"]
    vc_formula = {
        unit: f"0 + C({unit})" for unit in replicated_units(data, subject, declaration["nested"])
    }
    top = declaration.get("random_group")
    if top:  # (1 | cage/mouse): the subject becomes a variance component within the cage
        vc_formula = {subject: f"0 + C({subject})", **vc_formula}
    return mixed.fit_lmm(
        data.dropna(subset=[outcome]),
        lmm_formula(outcome, declaration, levels),
        groups=top or subject,
        re_formula=re_formula,
        vc_formula=vc_formula or None,
    )


def _posthoc_rows(
    fit, declaration: Mapping, levels: Mapping[str, list[str]], level: float
) -> pd.DataFrame:
    """The declared post-hoc family from the fitted mixed model."""
    spec = declaration["posthoc"]
    factor = spec.get("factor") or [*declaration["between"], *declaration["within"]][0]
    return contrast_family(
        fit,
        factor,
        spec.get("by"),
        spec["method"],
        spec.get("reference") or levels[factor][0],
        declaration["correction"],
        level,
        family=spec["family"],
    )


def nesting_counts(data: pd.DataFrame, outcome: str, declaration: Mapping) -> dict[str, int]:
    """n at each nested level of the rows with an outcome: the first nested unit is counted as
    cells, the deeper ones as segments (e.g. neuron -> n_cells, segment -> n_segments)."""
    rows = data.dropna(subset=[outcome])
    counts, keys = {}, [declaration["subject"]]
    for depth, unit in enumerate(declaration["nested"]):
        keys = [*keys, unit]
        counts["n_cells" if depth == 0 else "n_segments"] = rows.groupby(
            keys, observed=True
        ).ngroups
    return counts


def _two_group_rows(
    data: pd.DataFrame,
    outcome: str,
    declaration: Mapping,
    levels: Mapping[str, list[str]],
    level: float,
) -> list[pd.DataFrame]:
    """Two-group tests (and, for nested data, the cluster-level test and the hierarchical
    bootstrap) of the first between factor, at every level of the first within factor."""
    between = declaration["between"][0]
    a, b = levels[between][:2]
    strata = [(None, data)]
    if declaration["within"]:
        within = declaration["within"][0]
        strata = [(value, data[data[within] == value]) for value in levels[within]]
    rows = []
    for value, stratum in strata:
        label = subset_label(**({declaration["within"][0]: value} if value is not None else {}))
        rows += _stratum_two_group_rows(stratum, outcome, declaration, (a, b), label, level)
    if len(strata) > 1:
        for kind in {r["test"].iloc[0] for r in rows}:
            family = [r for r in rows if r["test"].iloc[0] == kind and r["p"].notna().all()]
            adjusted = compare.adjust_pvalues(
                [r["p"].iloc[0] for r in family], declaration["correction"]
            )
            for r, p in zip(family, adjusted, strict=True):
                r["p_adj"] = p
                r["correction"] = compare.correction_label(declaration["correction"], len(family))
    return rows


def _naive_rows(
    cells: pd.DataFrame, outcome: str, declaration: Mapping, options: Mapping, label: str
) -> pd.DataFrame:
    """The two-group test with every innermost nested unit as n (``<test>_naive``): the
    pseudoreplicated test shown beside the mouse-level ones, named apart from the mouse-level
    two-group test so that no figure or legend can take one for the other."""
    between = declaration["between"][0]
    unit = declaration["nested"][-1]
    a, b = options["labels"]
    row = compare.two_group_test(
        cells.loc[cells[between] == a, outcome],
        cells.loc[cells[between] == b, outcome],
        unit="cells",
        **options,
    )
    row["test"] = row["test"].astype(str) + "_naive"
    row["model"] = f"naive (pseudoreplicated): {outcome} ~ {between}, every {unit} as n"
    note = NAIVE_NOTE.format(unit=unit, units=f"{unit}s")
    row["notes"] = [f"{note}; {n}" if isinstance(n, str) and n else note for n in row["notes"]]
    return label_rows(row, subset=label)


def _stratum_two_group_rows(
    stratum: pd.DataFrame,
    outcome: str,
    declaration: Mapping,
    labels: tuple[str, str],
    label: str,
    level: float,
) -> list[pd.DataFrame]:
    """The two-group tests of one level of the within factor (or of the whole table); a test
    the data cannot support is a "not tested" row, the others still run."""
    between = declaration["between"][0]
    a, b = labels
    subject = declaration["subject"]
    test_name = TWO_GROUP_TEST_NAMES[declaration["two_group_test"]]
    term = f"{b} - {a}"
    options = {"test": declaration["two_group_test"], "labels": (a, b), "level": level}
    means = stratum.groupby([subject, between], as_index=False, observed=True)[outcome].mean()
    cells = stratum.dropna(subset=[outcome])
    tests = declaration["tests"]
    rows = []
    if "two_group" in tests:
        rows += untested_on_failure(
            lambda: label_rows(
                compare.two_group_test(
                    means.loc[means[between] == a, outcome].dropna(),
                    means.loc[means[between] == b, outcome].dropna(),
                    **options,
                ),
                subset=label,
            ),
            test_name,
            term,
            label,
        )
    if "cluster" in tests:
        rows += untested_on_failure(
            lambda: [
                _naive_rows(cells, outcome, declaration, options, label),
                label_rows(
                    compare.cluster_level_test(cells, outcome, between, subject, **options),
                    subset=label,
                ),
            ],
            f"{test_name}_mouse_means",
            term,
            label,
        )
    if "bootstrap" in tests:
        rows += untested_on_failure(
            lambda: label_rows(
                compare.hierarchical_bootstrap(
                    cells,
                    outcome,
                    between,
                    levels=[subject, *declaration["nested"]],
                    n_boot=declaration["bootstrap_resamples"],
                    seed=0,
                    labels=(a, b),
                    level=level,
                ),
                subset=label,
            ),
            "hierarchical_bootstrap",
            term,
            label,
        )
    return rows


def declared_statistics(
    data: pd.DataFrame, declaration: Mapping, key: str, level: float = 0.95
) -> pd.DataFrame:
    """Every requested test of every outcome of a declared table, as statistics-table rows;
    each level of ``split_by`` (e.g. each cohort) is analysed on its own."""
    splits = declaration["split_by"]
    parts = data.groupby(splits, sort=True) if splits else [((), data)]
    tables = []
    for values, part in parts:
        values = values if isinstance(values, tuple) else (values,)
        table = _part_statistics(part, declaration, level)
        prefix = subset_label(**dict(zip(splits, values, strict=True)))
        if prefix:
            table["subset"] = [
                f"{prefix}; {s}" if isinstance(s, str) and s else prefix
                for s in table["subset"].astype(object).where(table["subset"].notna(), "")
            ]
        tables.append(table)
    table = concat_stats(tables)
    table["analysis"] = f"table {key}"
    note = exclusion_note(declaration)
    if note:
        table["notes"] = _append(table["notes"], note)
    for outcome, missing in data.attrs.get("missing", {}).items():
        if missing:
            rows = table["outcome"] == outcome
            table.loc[rows, "notes"] = _append(table.loc[rows, "notes"], f"{outcome}: {missing}")
    return table


def _append(notes: pd.Series, note: str) -> list[str]:
    """Each row's notes with one more."""
    return [
        f"{n}; {note}" if isinstance(n, str) and n else note
        for n in notes.astype(object).where(notes.notna(), "")
    ]


def safe_names(declaration: Mapping) -> dict[str, str]:
    """Lab column name -> a name model formulas accept ('Body mass (g)' -> 'Body_mass_g')."""
    columns = [
        declaration["subject"],
        *([declaration["random_group"]] if declaration.get("random_group") else []),
        *declaration["between"],
        *declaration["within"],
        *declaration["covariates"],
        *declaration["nested"],
        *declaration["outcomes"],
    ]
    names = {}
    for column in dict.fromkeys(columns):
        name = re.sub(r"\W+", "_", column).strip("_") or "column"
        name = f"v_{name}" if name[0].isdigit() else name
        while name in names.values():
            name += "_"
        names[column] = name
    return names


def _rename_declaration(declaration: Mapping, names: Mapping[str, str]) -> dict:
    renamed = dict(declaration)
    renamed["subject"] = names.get(declaration["subject"], declaration["subject"])
    for key in ("between", "within", "covariates", "nested", "outcomes", "random_slopes"):
        renamed[key] = [names.get(c, c) for c in declaration[key]]
    posthoc = dict(declaration["posthoc"])
    if declaration.get("random_group"):
        renamed["random_group"] = names.get(
            declaration["random_group"], declaration["random_group"]
        )
    for key in ("factor", "by"):
        if posthoc.get(key):
            posthoc[key] = names.get(posthoc[key], posthoc[key])
    renamed["posthoc"] = posthoc
    renamed["level_order"] = {names.get(k, k): v for k, v in declaration["level_order"].items()}
    if declaration["wide"]:
        factor = declaration["wide"]["factor"]
        renamed["wide"] = {**declaration["wide"], "factor": names.get(factor, factor)}
    return renamed


def _part_statistics(data: pd.DataFrame, declaration: Mapping, level: float) -> pd.DataFrame:
    """Statistics of one part, run on formula-safe column names and reported in the lab's."""
    names = {k: v for k, v in safe_names(declaration).items() if k != v}
    if names:
        renamed = data.rename(columns=names)
        table = _part_statistics(renamed, _rename_declaration(declaration, names), level)
        back = {new: old for old, new in names.items()}
        pattern = re.compile(
            r"\b(" + "|".join(map(re.escape, sorted(back, key=len, reverse=True))) + r")\b"
        )
        for column in ("outcome", "term", "model", "subset"):
            table[column] = (
                table[column]
                .map(
                    lambda text: (
                        pattern.sub(lambda m: back[m.group(0)], text)
                        if isinstance(text, str)
                        else text
                    )
                )
                .astype("string")
            )
        return table
    levels = factor_levels(data, declaration)
    data = data.assign(**{f: pd.Categorical(data[f], categories=lv) for f, lv in levels.items()})
    single = [f"'{f}' has one level ({lv[0]}) here" for f, lv in levels.items() if len(lv) < 2]
    single += _lone_subject_levels(data, declaration)
    tests = declaration["tests"]
    rows = []
    for outcome in declaration["outcomes"]:
        if single:
            rows += [
                not_tested_row(name, "", "", "; ".join(single)).assign(outcome=outcome)
                for name in statistics_test_names(declaration)
            ]
            continue
        outcome_rows = []
        if "rm_anova" in tests:
            outcome_rows += untested_on_failure(
                lambda outcome=outcome: rm_anova(
                    _cell_means(data, outcome, declaration),
                    dv=outcome,
                    subject=declaration["subject"],
                    within=list(declaration["within"]) or None,
                    between=list(declaration["between"]) or None,
                    ss_type=declaration["ss_type"],
                ).to_stats(correction=declaration["sphericity_correction"]),
                "rm_anova",
                "",
            )
        if "lmm" in tests or "posthoc" in tests:
            outcome_rows += untested_on_failure(
                lambda outcome=outcome: _model_rows(data, outcome, declaration, levels, level),
                "lmm" if "lmm" in tests else "emm_contrast",
                "",
            )
        if {"two_group", "cluster", "bootstrap"} & set(tests):
            outcome_rows += _two_group_rows(data, outcome, declaration, levels, level)
        table = concat_stats(outcome_rows)
        table["outcome"] = table["outcome"].fillna(outcome)
        rows.append(table)
    return concat_stats(rows)


def statistics_test_names(declaration: Mapping) -> list[str]:
    """The statistics table's ``test`` of each declared test (a posthoc row is an
    'emm_contrast', a two_group row e.g. a 'welch_t'), in the declared order."""
    two_group = TWO_GROUP_TEST_NAMES[declaration["two_group_test"]]
    names = {
        "rm_anova": "rm_anova",
        "lmm": "lmm",
        "posthoc": "emm_contrast",
        "two_group": two_group,
        "cluster": f"{two_group}_mouse_means",
        "bootstrap": "hierarchical_bootstrap",
    }
    return [names[test] for test in declaration["tests"]]


def _lone_subject_levels(data: pd.DataFrame, declaration: Mapping) -> list[str]:
    """Between-subject levels with a single subject: its group difference would rest on one
    animal (a model would take its cells as independent), so nothing is tested."""
    counts = [
        (factor, level, n)
        for factor in declaration["between"]
        for level, n in data.groupby(factor, observed=True)[declaration["subject"]]
        .nunique()
        .items()
        if n < 2
    ]
    return [
        f"{factor} '{level}' has {n} subject (a between-subject comparison needs 2 or more)"
        for factor, level, n in counts
    ]


def _model_rows(
    data: pd.DataFrame,
    outcome: str,
    declaration: Mapping,
    levels: Mapping[str, list[str]],
    level: float,
) -> list[pd.DataFrame]:
    """The mixed model's F tests and its post-hoc contrasts, as requested."""
    fit = fit_declared_lmm(data, outcome, declaration, levels)
    rows = []
    if "lmm" in declaration["tests"]:
        model_rows = mixed.to_stats(fit, include_coefficients=bool(declaration["covariates"]))
        rows.append(model_rows.assign(**nesting_counts(data, outcome, declaration)))
    if "posthoc" in declaration["tests"]:
        rows.append(_posthoc_rows(fit, declaration, levels, level))
    if declaration.get("random_group"):  # the model's top unit is the cage: n is still mice
        mice = data.dropna(subset=[outcome])[declaration["subject"]].nunique()
        rows = [frame.assign(n_mice=mice) for frame in rows]
    return rows


def _cell_means(data: pd.DataFrame, outcome: str, declaration: Mapping) -> pd.DataFrame:
    """One value per subject and design cell: nested units are averaged first (an ANOVA needs
    the subject as its unit)."""
    keys = [declaration["subject"], *declaration["between"], *declaration["within"]]
    if not declaration["nested"]:
        return data
    return data.groupby(keys, as_index=False, observed=True)[outcome].agg(
        lambda values: values.mean() if values.notna().any() else np.nan
    )
