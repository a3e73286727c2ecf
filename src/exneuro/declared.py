"""Statistics and a standard figure for any tidy table a lab declares in the config.

Body mass over weeks, blood glucose over a tolerance test, serum BDNF, Fos counts per section: a
lab names the file, the subject column, the within- and between-subject factors, covariates,
nested units and outcomes, and the tests to run. This module checks the declaration against the
file (every column exists, every factor has two levels or more, no subject sits in two groups),
then runs the requested tests through the shared statistics engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError, data_error
from exneuro.io import parse_numbers, read_lab_table
from exneuro.not_tested import TWO_GROUP_TEST_NAMES, not_tested_row, untested_on_failure
from exneuro.stats import compare, mixed
from exneuro.stats.anova import rm_anova
from exneuro.stats.posthoc import contrast_family
from exneuro.stats.table import concat_stats, label_rows, subset_label

ROW_SUBJECT = "@row"


def read_declared_table(declaration: Mapping, sheet: pd.DataFrame | None, key: str) -> pd.DataFrame:
    """Read a declared table, check the declaration against it, and join the sample sheet.

    Numbers stay numbers; factor columns become text. With ``join_sample_sheet`` the subject
    column holds mouse ids and the sheet's columns (group, cohort, sex ...) are added; a subject
    missing from the sheet is an error naming the line.
    """
    path = declaration["file"]
    table = _blank_missing_codes(read_lab_table(path), declaration.get("missing_values", []))
    subject = declaration["subject"]
    combined = declaration.get("subject_columns", [])
    if combined:
        _require(table, combined, path, key, "a subject_columns")
        table[subject] = table[combined].apply(lambda c: c.str.strip()).agg("_".join, axis=1)
    if subject == ROW_SUBJECT:
        table[ROW_SUBJECT] = "row" + table["_line"].astype(str)
    if declaration["wide"]:
        table = _stack_wide(table, declaration, path, key)
    if declaration["join_sample_sheet"]:
        if sheet is None:
            raise ConfigError(f"tables.{key}: join_sample_sheet needs the sample sheet")
        _require(table, [subject], path, key, "subject")
        unknown = ~table[subject].isin(sheet["mouse_id"])
        if unknown.any():
            raise data_error(
                path,
                f"subject '{table.loc[unknown, subject].iloc[0]}' is not in the sample sheet",
                "add the mouse to the sheet or remove the row",
                line=int(table.loc[unknown, "_line"].iloc[0]),
                column=subject,
            )
        extra = [c for c in sheet.columns if c not in table.columns and c != "mouse_id"]
        table = table.merge(
            sheet[["mouse_id", *extra]], left_on=subject, right_on="mouse_id", how="left"
        ).drop(columns="mouse_id")
        included = sheet.set_index("mouse_id")["excluded_reason"]
        table = table[table[subject].map(included).fillna("") == ""]
    table = _exclude_subjects(table, declaration, path, key)
    for column, values in declaration["subset"].items():
        _require(table, [column], path, key, "subset")
        table = table[table[column].isin([str(v) for v in values])]
    top = [declaration["random_group"]] if declaration.get("random_group") else []
    factors = [
        subject,
        *top,
        *declaration["between"],
        *declaration["within"],
        *declaration["nested"],
    ]
    numbers = [*declaration["outcomes"], *declaration["covariates"]]
    _require(table, factors, path, key, "a factor")
    _require(table, numbers, path, key, "an outcome or covariate")
    for column in numbers:
        table[column] = parse_numbers(table, column, path, required=False)
    for column in factors:  # an empty factor cell is a missing value, never a level ""
        table[column] = table[column].str.strip().replace("", np.nan)
    _check_factors(table, declaration, path, key)
    _check_one_row_per_cell(table, declaration, path)
    return table.reset_index(drop=True)


def read_declared_data(path: str, declaration: Mapping) -> pd.DataFrame:
    """A declared table as :func:`read_declared_table` returned it, from the TSV the workflow
    wrote of it (without ``_line``).

    Types are those of the declaration, not guessed from the values: the outcomes and
    covariates are numbers, every other column is text (a level such as week '1' or '007'
    stays the text the statistics saw) and an empty factor cell is a missing value.
    """
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for column in [*declaration["outcomes"], *declaration["covariates"]]:
        table[column] = table[column].where(table[column] != "").astype(float)
    factors = [
        declaration["subject"],
        *declaration["between"],
        *declaration["within"],
        *declaration["nested"],
    ]
    for column in dict.fromkeys(factors):
        table[column] = table[column].where(table[column] != "")
    return table


def _exclude_subjects(table: pd.DataFrame, declaration: Mapping, path: str, key: str):
    """The table without the subjects its declaration leaves out (this analysis only)."""
    subject = declaration["subject"]
    excluded = [str(entry["subject"]) for entry in declaration.get("exclude_subjects", [])]
    if not excluded:
        return table
    _require(table, [subject], path, key, "subject")
    unknown = sorted(set(excluded) - set(table[subject].astype(str).str.strip()))
    if unknown:
        raise ConfigError(
            f"tables.{key}.exclude_subjects: {', '.join(unknown)} not in {path} "
            f"(column '{subject}') — fix the id or remove the entry"
        )
    return table[~table[subject].astype(str).str.strip().isin(excluded)]


def exclusion_note(declaration: Mapping) -> str:
    """'excluded by the config: M3 (haemolysed)' for the table's left-out subjects, or ''."""
    entries = declaration.get("exclude_subjects", [])
    listed = "; ".join(f"{entry['subject']} ({entry['reason']})" for entry in entries)
    return f"excluded by the config: {listed}" if entries else ""


def _blank_missing_codes(table: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Cells holding one of the table's missing-value codes ('nd', 'Dead') become empty."""
    if not codes:
        return table
    cells = table.drop(columns="_line")
    blanked = cells.where(~cells.apply(lambda c: c.str.strip()).isin(codes), "")
    return blanked.assign(_line=table["_line"])


def _stack_wide(table: pd.DataFrame, declaration: Mapping, path: str, key: str) -> pd.DataFrame:
    """One row per subject and level from a wide table (one column per level of a factor)."""
    wide = declaration["wide"]
    if len(declaration["outcomes"]) != 1:
        raise ConfigError(f"tables.{key}: a wide table holds one outcome; declare exactly one")
    _require(table, wide["columns"], path, key, "a wide")
    keep = [c for c in table.columns if c not in wide["columns"]]
    long = table.melt(
        id_vars=keep,
        value_vars=wide["columns"],
        var_name=wide["factor"],
        value_name=declaration["outcomes"][0],
    )
    return long.sort_values(
        ["_line", wide["factor"]],
        key=lambda c: (
            c.map({v: i for i, v in enumerate(wide["columns"])}) if c.name == wide["factor"] else c
        ),
        kind="stable",
    ).reset_index(drop=True)


def _require(table: pd.DataFrame, columns, path: str, key: str, role: str) -> None:
    present = [c for c in table.columns if c != "_line"]
    for column in columns:
        if column not in table.columns:
            raise ConfigError(
                f"tables.{key}: {role} column '{column}' is not in {path} "
                f"(columns: {', '.join(present)})"
            )


def _check_factors(table: pd.DataFrame, declaration: Mapping, path: str, key: str) -> None:
    for factor in [*declaration["between"], *declaration["within"]]:
        levels = table[factor].dropna().unique()
        if len(levels) < 2:
            raise ConfigError(
                f"tables.{key}: factor '{factor}' has only one level "
                f"({', '.join(map(str, levels))}) in {path} — a factor needs two"
            )
    subject = declaration["subject"]
    top = [declaration["random_group"]] if declaration.get("random_group") else []
    for factor in [*declaration["between"], *top]:
        per_subject = table.groupby(subject)[factor].nunique()
        if (per_subject > 1).any():
            mouse = per_subject.index[per_subject > 1][0]
            found = sorted(table.loc[table[subject] == mouse, factor].unique())
            raise data_error(
                path,
                f"subject {mouse} appears in more than one {factor} ({', '.join(found)})",
                f"'{factor}' must be a between-subject factor: fix the rows, declare it under "
                "'within', or, when ids are numbered within each group, give the columns that "
                "together identify a subject under 'subject_columns'",
            )


def _check_one_row_per_cell(table: pd.DataFrame, declaration: Mapping, path: str) -> None:
    """Without nested units a subject has one row per design cell; a repeated row (a pasted
    duplicate, or a measure repeated within the cell) is named by its line."""
    if declaration["nested"]:
        return
    keys = [
        declaration["subject"],
        *declaration["split_by"],
        *declaration["within"],
        *declaration["covariates"],
    ]
    repeated = table.duplicated(subset=list(dict.fromkeys(keys)), keep="first")
    if repeated.any():
        row = table[repeated].iloc[0]
        same = table[keys].astype(str).eq(row[keys].astype(str)).all(axis=1)
        first = table[same].iloc[0]
        cell = ", ".join(f"{k}={row[k]}" for k in keys)
        raise data_error(
            path,
            f"{cell} is on two rows (lines {first['_line']} and {row['_line']})",
            "keep one row per subject and level, or declare the repeated unit (e.g. cell, "
            "replicate) under 'nested'",
            line=int(row["_line"]),
        )


def _ordered(present: list[str], order: list[str]) -> list[str]:
    return [level for level in order if level in present] + [
        level for level in present if level not in order
    ]


def _natural_key(text: str):
    """Sort 'w2' before 'w10' and numbers numerically: digit runs compare as numbers."""
    try:
        return ((0, float(text)),)
    except ValueError:
        parts = re.split(r"(\d+(?:\.\d+)?)", text)
        return tuple((0, float(p)) if i % 2 else (1, p) for i, p in enumerate(parts) if p)


def default_level_order(present: list[str], factor: str, declaration: Mapping) -> list[str]:
    """The levels of a factor with no declared order, in the order the design gives them.

    The wide columns in the order the file has them (``pre`` before ``post``); the study's
    groups in the config's order with the control groups first (so every contrast is
    ``other - control``); levels that carry a number (weeks, days, ``w10``) by that number;
    any other text in the order it first appears in the file — never alphabetically, which
    would put ``post`` before ``pre``.
    """
    wide = declaration.get("wide")
    if wide and factor == wide["factor"]:
        return _ordered(present, list(wide["columns"]))
    groups = list(declaration.get("group_order", []))
    if groups and set(present) <= set(groups):
        return _ordered(present, groups)
    if all(re.search(r"\d", level) for level in present):
        return sorted(present, key=_natural_key)
    return present


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
                label_rows(
                    compare.two_group_test(
                        cells.loc[cells[between] == a, outcome],
                        cells.loc[cells[between] == b, outcome],
                        unit="cells",
                        **options,
                    ),
                    subset=label,
                ),
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
        table["notes"] = [
            f"{n}; {note}" if isinstance(n, str) and n else note
            for n in table["notes"].astype(object).where(table["notes"].notna(), "")
        ]
    return table


def factor_levels(data: pd.DataFrame, declaration: Mapping) -> dict[str, list[str]]:
    """Levels of every factor in display and reference order (first = reference): the
    declared ``level_order``, else :func:`default_level_order`."""
    order = {f: [str(v) for v in levels] for f, levels in declaration["level_order"].items()}
    levels = {}
    for factor in [*declaration["between"], *declaration["within"]]:
        present = list(dict.fromkeys(data[factor].dropna().astype(str)))
        levels[factor] = (
            _ordered(present, order[factor])
            if factor in order
            else default_level_order(present, factor, declaration)
        )
    return levels


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
                not_tested_row(test, "", "", "; ".join(single)).assign(outcome=outcome)
                for test in tests
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
