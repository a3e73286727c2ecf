"""How panels draw: the :class:`Study` they read and the :class:`Panel` they return.

A panel type is declared in :mod:`exneuro.paper.catalogue` and its drawing registered with
:func:`exneuro.figures.registry.draws`; the drawing function receives the matplotlib
axis, the panel's declaration from the config and the :class:`Study` (the result tables it asked
for, the statistics table and the config settings) and returns a :class:`Panel`: the exact
numbers drawn (source data), a sentence saying what is plotted, and the statistics rows the
legend reports. Stars and n are read from the statistics table, never recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from exneuro.errors import ExneuroError
from exneuro.figures.legend import DEFAULT_ANIMAL
from exneuro.figures.style import group_palette
from exneuro.paper import catalogue  # noqa: F401  (declares the panel types drawings register)
from exneuro.paper.catalogue import ALIGNED_TRACES, SAMPLE_SHEET


class PanelError(ExneuroError):
    """A panel's declaration does not match the study's results (unknown window, gene...)."""


@dataclass(frozen=True)
class Panel:
    """What one drawn panel contributes to the figure's source data and legend.

    ``statistics``: the rows the legend reports; ``marked``: the rows whose stars the panel
    draws (each significant one must carry its mark); ``n_by_group``: mice drawn per group id,
    the n the legend states (None where the panel draws no mice); ``caveats``: sentences the
    legend adds about a degenerate test (singular fit, fits that failed, a group left empty).
    """

    source: pd.DataFrame
    plotted: str
    statistics: pd.DataFrame = field(default_factory=pd.DataFrame)
    marked: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_by_group: Mapping[str, int] | None = None
    caveats: tuple[str, ...] = ()


@dataclass(frozen=True)
class Study:
    """The results a figure reads: tables by path relative to the output folder, the study's
    statistics table and the config settings the panels need (``groups``, ``cohorts``, the
    ``animal`` word and the analysis sections)."""

    tables: Mapping[str, pd.DataFrame]
    statistics: pd.DataFrame
    settings: Mapping

    def table(self, path: str) -> pd.DataFrame:
        return self.tables[path]

    @classmethod
    def read(cls, names: Sequence[str], paths: Sequence[str], settings: Mapping) -> Study:
        """The study from a figure's input files, each named by its path in the output folder.

        A declared table (``tables/<key>/data.tsv``) is read with the types of its declaration
        (levels such as week 1 stay the text the statistics saw), not with types guessed from
        its values: a level read as the number 1 would match no level '1' and draw nothing;
        likewise the sample sheet. The photometry cohort's aligned traces are not read here:
        the panels read only the days they draw from them (:class:`AlignedTraces`).
        """
        from exneuro.config import read_validated_sheet
        from exneuro.io import read_table
        from exneuro.photometry.aligned_traces import AlignedTraces
        from exneuro.tables.design import read_declared_data

        declared = settings.get("tables", {})
        tables = {}
        for name, path in zip(names, paths, strict=True):
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "tables" and parts[2] == "data.tsv":
                tables[name] = read_declared_data(path, declared[parts[1]])
            elif name == "config/samples.tsv":  # every column text, as the jobs read it
                tables[name] = read_validated_sheet(path)
            elif name == ALIGNED_TRACES:  # read in parts by the panels that draw it
                tables[name] = AlignedTraces(path)
            else:
                tables[name] = read_table(path)
        return cls(tables, tables["statistics/statistics.tsv"], settings)

    @property
    def colours(self) -> dict[str, str]:
        return group_palette(self.settings["groups"])

    @property
    def animal(self) -> dict[str, str]:
        """The study's word for its animals, one and several (``study.animal``)."""
        return {**DEFAULT_ANIMAL, **self.settings.get("animal", {})}

    @property
    def labels(self) -> dict[str, str]:
        return {g["id"]: g.get("label", g["id"]) for g in self.settings["groups"]}

    def cohort(self, cohort_id: str) -> Mapping:
        return next(c for c in self.settings["cohorts"] if c["id"] == cohort_id)

    def section(self, name: str) -> Mapping:
        return self.settings[name]

    def rows(self, **match: object) -> pd.DataFrame:
        """Statistics rows whose columns equal ``match`` (a list value matches any of its items)."""
        mask = pd.Series(True, index=self.statistics.index)
        for column, value in match.items():
            values = value if isinstance(value, list | tuple) else [value]
            mask &= self.statistics[column].astype(str).isin([str(v) for v in values])
        return self.statistics[mask]


def require(condition: bool, message: str) -> None:
    """Raise :class:`PanelError` with ``message`` unless ``condition``."""
    if not condition:
        raise PanelError(message)


def choose(value, available: Sequence, what: str):
    """``value`` if it is one of ``available`` (compared as text), else a clear error."""
    for item in available:
        if str(item) == str(value):
            return item
    shown = ", ".join(str(a) for a in available)
    raise PanelError(f"{what} '{value}' is not in the results (available: {shown})")


def mice_per_group(
    table: pd.DataFrame, order: Sequence[str], group: str = "group", mouse: str = "mouse"
) -> dict[str, int]:
    """Mice per group of ``table`` (one row or more per mouse), every group of ``order``."""
    counts = table.dropna(subset=[mouse]).groupby(group, observed=True)[mouse].nunique()
    return {str(g): int(counts.get(g, 0)) for g in order}


def group_n_text(table: pd.DataFrame, order: Sequence[str], labels: Mapping[str, str]) -> str:
    """'n = 8 Control, 7 SF1 inhibited after exercise mice' counted from the drawn mice."""
    counts = table.drop_duplicates(["group", "mouse"]).groupby("group")["mouse"].size()
    parts = [f"{int(counts.get(g, 0))} {labels.get(g, g)}" for g in order]
    return f"n = {', '.join(parts)} mice"


def declared_split(study: Study, section: str) -> str | None:
    """The first fixed model factor (e.g. sex) of the models of ``section`` (its cohort's
    ``model_factors`` or its ``statistics.model_factors``), or None."""
    from exneuro.model_factors import declared_factors

    settings = study.section(section)
    cohort = study.cohort(settings["cohort"])
    return (declared_factors(cohort, settings.get("statistics"))["fixed"] or [None])[0]


def with_split(study: Study, section: str, table: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """``table`` with the split factor's column (its own, or joined from the sample sheet by
    mouse), and the factor; (``table``, None) when none is declared, neither carries it or the
    data hold one level of it."""
    from exneuro.model_factors import attach_sheet_columns

    split = declared_split(study, section)
    if split is None or (split not in table.columns and SAMPLE_SHEET not in study.tables):
        return table, None
    joined = attach_sheet_columns(table, study.tables.get(SAMPLE_SHEET), [split])
    joined.attrs = dict(table.attrs)  # e.g. the values per cell of a pooled distribution
    return (joined, split) if joined[split].nunique() > 1 else (table, None)
