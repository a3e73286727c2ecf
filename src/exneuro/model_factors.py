"""Sample-sheet factors beside group in a modality's models: sex as a fixed factor, cage as a
random effect.

A study declares them per cohort (``cohorts[].model_factors``) or per modality (the modality's
``statistics.model_factors``, which replaces the cohort's): ``fixed`` columns are crossed with
group in every model (``group * sex * session``; the RM ANOVA's between factors
``[group, sex]``; the ANCOVA ``follow_up ~ baseline + group + sex``), and ``random`` is a unit
the mice are nested in (``(1 | cage/mouse)``). Why: male and female rats differ by ~150 g of body
mass, so a group mean over both sexes describes no animal and the sex variance inflates the error
of the group test; mice of one cage share a cage environment, so they are not independent.

A factor the data cannot support (one level present, or a group x factor cell with fewer than
:data:`MIN_PER_CELL` animals) is left out of the models and said in a "not tested" row naming
the reason; the rest of the analysis runs as if it had not been declared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from exneuro.errors import data_error
from exneuro.not_tested import not_tested_row
from exneuro.stats.table import concat_stats

#: Animals a group x factor cell needs for the factor to enter the models.
MIN_PER_CELL = 2


@dataclass(frozen=True)
class ModelFactors:
    """The factors one analysis fits beside group (and what it had to leave out, as rows)."""

    fixed: tuple[str, ...] = ()
    random: str | None = None
    untested: pd.DataFrame = field(default_factory=lambda: concat_stats([]))
    levels: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [*self.fixed, *([self.random] if self.random else [])]

    def treatment_terms(self) -> str:
        """'C(sex, Treatment('male')) * ' for a model formula (empty with no fixed factor): the
        first level (first in the sample sheet) is the reference of the coefficient table."""
        return "".join(f"C({name}, Treatment({self.levels[name][0]!r})) * " for name in self.fixed)

    def note(self) -> str:
        """'sex as a fixed factor crossed with group; cage as a random intercept above mouse'."""
        parts = []
        if self.fixed:
            parts.append(f"{', '.join(self.fixed)} as fixed factor(s) crossed with group")
        if self.random:
            parts.append(f"{self.random} as a random intercept above the animal")
        return "; ".join(parts)


def declared_factors(cohort: Mapping, section: Mapping | None = None) -> dict:
    """``{'fixed': [...], 'random': name or None}``: the modality's declaration when it makes
    one, else the cohort's, else none."""
    for source in (section or {}, cohort):
        declared = source.get("model_factors") or {}
        if declared.get("fixed") or declared.get("random"):
            return {"fixed": list(declared.get("fixed", [])), "random": declared.get("random")}
    return {"fixed": [], "random": None}


def attach_sheet_columns(
    data: pd.DataFrame,
    sheet: pd.DataFrame | None,
    columns: Sequence[str],
    subject: str = "mouse",
    sheet_path: str = "the sample sheet",
) -> pd.DataFrame:
    """``data`` with the named sample-sheet columns joined by animal (those it lacks); an animal
    with an empty value is an error naming the sheet, the column and the animal."""
    missing = [c for c in columns if c not in data.columns]
    if not missing:
        return data
    if sheet is None:
        raise data_error(sheet_path, f"no sample sheet to read {missing} from", "add one")
    absent = [c for c in missing if c not in sheet.columns]
    if absent:
        raise data_error(
            sheet_path,
            f"model_factors names column(s) {absent}, which the sample sheet does not have",
            f"add the column or fix model_factors (columns: {', '.join(sheet.columns)})",
        )
    values = sheet.set_index("mouse_id")[missing].astype("string")
    joined = data.join(values, on=subject)
    return joined


def check_filled(data: pd.DataFrame, columns: Sequence[str], subject: str, where: str) -> None:
    """Every animal analysed has a value in every factor column (else one clear line)."""
    for column in columns:
        empty = data[column].isna() | (data[column].astype("string").str.strip() == "")
        if empty.any():
            animal = data.loc[empty, subject].iloc[0]
            raise data_error(
                where,
                f"animal {animal} has no value in column '{column}', a declared model factor",
                "fill it in the sample sheet, or exclude the animal",
            )


def usable_factors(
    data: pd.DataFrame,
    declared: Mapping,
    subset: str,
    subject: str = "mouse",
    group: str | None = "group",
    test: str = "lmm",
    where: str = "the sample sheet",
) -> ModelFactors:
    """The declared factors the data can support: a fixed factor needs two levels and
    :data:`MIN_PER_CELL` animals in every group x factor cell; a random unit needs two units.
    The others come back as "not tested" rows (term = the factor) with the reason."""
    fixed, random = list(declared.get("fixed", [])), declared.get("random")
    check_filled(data, [*fixed, *([random] if random else [])], subject, where)
    animals = data.drop_duplicates(subject)
    kept, levels, rows = [], {}, []
    for name in fixed:
        present = list(dict.fromkeys(animals[name].astype(str)))
        cells = animals.groupby([*([group] if group else []), name], observed=True)[subject]
        counts = cells.nunique()
        expected = (animals[group].nunique() if group else 1) * len(present)
        if len(present) < 2:
            reason = f"{name} has one level in the data ({present[0]}): {name} is not in the model"
        elif len(counts) < expected or counts.min() < MIN_PER_CELL:
            small = "; ".join(
                f"{'/'.join(map(str, key if isinstance(key, tuple) else (key,)))}={n}"
                for key, n in counts.items()
                if n < MIN_PER_CELL
            )
            reason = (
                f"too few animals per {'group x ' if group else ''}{name} cell (need "
                f"{MIN_PER_CELL}; {small or 'a cell is empty'}): {name} is not in the model"
            )
        else:
            kept.append(name)
            levels[name] = present
            continue
        rows.append(not_tested_row(test, name, subset, reason))
    if random:
        units = animals[random].nunique()
        per_animal = data.groupby(subject, observed=True)[random].nunique()
        if (per_animal > 1).any():
            animal = per_animal.index[per_animal > 1][0]
            raise data_error(
                where,
                f"animal {animal} is in more than one {random}: {random} cannot be a unit the "
                "animals are nested in",
                f"give each animal one {random}, or drop it from model_factors.random",
            )
        if units < 2:
            reason = f"one {random} in the data: no random intercept for {random}"
            rows.append(not_tested_row(test, f"(1 | {random})", subset, reason))
            random = None
    return ModelFactors(tuple(kept), random, concat_stats(rows), levels)


def fit_lmm(
    data: pd.DataFrame,
    formula: str,
    factors: ModelFactors,
    subject: str = "mouse",
    vc_formula: Mapping[str, str] | None = None,
):
    """The mixed model with a random intercept per animal, or, with a random unit declared,
    per animal within its unit (``(1 | cage/mouse)``: the unit is lme4's grouping factor and the
    animal a variance component in it; nested units are labelled within their animal).

    The mixed-model stack (statsmodels, formulaic, scipy.stats: about a second of start-up) is
    imported here, not with the module: figure jobs read this module for the sample sheet's
    columns and fit nothing."""
    from exneuro.stats import mixed

    if not factors.random:
        return mixed.fit_lmm(data, formula, groups=subject, vc_formula=vc_formula or None)
    nested = {
        name: spec.replace("0 + ", f"0 + C({subject}):", 1)
        for name, spec in (vc_formula or {}).items()
    }
    return mixed.fit_lmm(
        data, formula, groups=factors.random, vc_formula={subject: f"0 + C({subject})", **nested}
    )


def count_animals(rows: pd.DataFrame, data: pd.DataFrame, factors: ModelFactors, subject: str):
    """Model rows with n_mice counting animals, not the random unit above them."""
    if not factors.random or not len(rows):
        return rows
    return rows.assign(n_mice=data[subject].nunique())


#: No factor beside group: the models of a study that declares none.
NO_FACTORS = ModelFactors()
