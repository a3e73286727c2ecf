"""The F–I curve of every cell from an exported current-clamp step table: one row per cell ×
current step, then the curve's features per cell.

Whole-cell current clamp, a family of square current steps; the number of action potentials
per step divided by the step duration is the firing rate (Hz) at that current. The curve's
features per cell (:func:`fi_features`) are the **rheobase** — the smallest depolarizing step
that evokes at least one spike (a step protocol only brackets the true threshold current, so
the rheobase has the resolution of the step increment) — the maximal rate, and the **F–I
gain**, the least-squares slope of rate against current over the suprathreshold steps.
Increased intrinsic excitability shows as a left-shifted (lower rheobase) and/or steeper curve.
The same features come from raw ``.abf`` sweeps (:mod:`exneuro.cellular.abf`); where a cell has
both, :func:`combine_steps` keeps the exported table and lists every disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from exneuro.cellular.ephys import (
    CellIds,
    check_cell_in_one_mouse,
    first_bad_line,
    mouse_cell_ids,
    reject_duplicate_rows,
)
from exneuro.errors import data_error
from exneuro.io import parse_numbers, read_lab_table, require_columns
from exneuro.lab_tables import mapped_columns

#: Columns of the tidy step table (plus ``source_line`` or ``sweep``), whatever the source.
STEP_COLUMNS = ["mouse", "cell", "current_pa", "n_spikes", "step_duration_ms", "firing_rate_hz"]
#: Columns of :func:`fi_features`.
FI_COLUMNS = [
    "mouse",
    "cell",
    "rheobase_pa",
    "block_from_pa",
    "max_rate_hz",
    "fi_slope_hz_per_pa",
    "n_steps",
    "n_suprathreshold_steps",
    "max_current_pa",
    "rheobase_note",
]


def read_step_table(
    path: str | Path,
    columns: Mapping[str, str],
    step_duration_ms: float | None = None,
    cell_ids: CellIds = "study",
) -> pd.DataFrame:
    """Read an exported current-clamp step table: one row per cell × current step.

    ``columns`` maps the fields ``mouse``, ``cell``, ``current_pa``, ``n_spikes`` and
    ``step_duration_ms`` to the lab's column names (CSV, TSV or Excel, as Clampfit, Easy
    Electrophysiology or a hand-made sheet write them). When the table has no duration column, give
    the protocol's ``step_duration_ms`` instead (it then applies to every row).

    Returns :data:`STEP_COLUMNS` + ``source_line``, with ``firing_rate_hz = n_spikes /
    (step_duration_ms / 1000)``, sorted by mouse, cell and current. Errors (one line each, naming
    file, line and column): a missing column, a value that is not a number, a negative or
    fractional spike count, a step duration that is not positive, a cell listed under two mice,
    the same cell and current listed twice.
    """
    path = str(path)
    table = read_lab_table(path, expected=mapped_columns(columns))
    duration_column = columns.get("step_duration_ms")
    has_duration = bool(duration_column) and duration_column in table.columns
    needed = ["mouse", "cell", "current_pa", "n_spikes"]
    if step_duration_ms is None:
        needed.append("step_duration_ms")
    missing_fields = [field for field in needed if not columns.get(field)]
    if missing_fields:
        raise data_error(
            path,
            f"no column configured for {', '.join(missing_fields)}",
            "name the lab's column for each field in the config"
            + (" (or give the protocol's step duration)" if not has_duration else ""),
        )
    require_columns(table, {field: columns[field] for field in needed}, path)
    tidy = mouse_cell_ids(table, columns, path)
    tidy["current_pa"] = parse_numbers(table, columns["current_pa"], path)
    spikes = parse_numbers(table, columns["n_spikes"], path)
    negative = spikes < 0
    if negative.any():
        raise data_error(
            path,
            f"negative spike count {spikes[negative][0]:g}",
            "a spike count is 0 or more",
            line=first_bad_line(table, negative),
            column=columns["n_spikes"],
        )
    fractional = spikes != np.round(spikes)
    if fractional.any():
        raise data_error(
            path,
            f"spike count {spikes[fractional][0]:g} is not a whole number",
            "enter the number of spikes (not a rate) in this column",
            line=first_bad_line(table, fractional),
            column=columns["n_spikes"],
        )
    tidy["n_spikes"] = spikes.astype(int)
    if has_duration:
        duration = parse_numbers(table, duration_column, path)
    else:
        duration = np.full(len(table), float(step_duration_ms))
    not_positive = ~(duration > 0)
    if not_positive.any():
        raise data_error(
            path,
            f"step duration {duration[not_positive][0]:g} ms is not positive",
            "enter the duration of the current step in ms",
            line=first_bad_line(table, not_positive),
            column=duration_column if has_duration else None,
        )
    tidy["step_duration_ms"] = duration
    tidy["firing_rate_hz"] = tidy["n_spikes"] / (duration / 1000.0)
    tidy["source_line"] = table["_line"].to_numpy()
    check_cell_in_one_mouse(tidy, path, columns, cell_ids)
    reject_duplicate_rows(
        tidy,
        ["mouse", "cell", "current_pa"],
        path,
        "the same cell and current step is",
        "keep one row per cell and current step (average or drop the repeated sweep)",
    )
    return tidy.sort_values(["mouse", "cell", "current_pa"], kind="stable").reset_index(drop=True)


def fi_features(steps: pd.DataFrame, fit_steps: int | None = None) -> pd.DataFrame:
    """F–I features of every cell of a step table (:func:`read_step_table` or ``read_abf_steps``).

    Per cell (:data:`FI_COLUMNS`):

    * ``rheobase_pa``: the smallest depolarizing (> 0 pA) step with at least one spike. NaN when
      the cell never fires, with ``rheobase_note`` saying up to which current it was tested
      (report such cells rather than dropping them silently);
    * ``block_from_pa``: the smallest step in depolarization block (the table's
      ``depolarization_block`` column, from the ``.abf`` route; NaN without block). Steps from
      there up leave the F–I fit and the maximal rate: a cell in block fires one or two spikes,
      which is not its rate at that current;
    * ``max_rate_hz``: the highest firing rate over the steps before block;
    * ``fi_slope_hz_per_pa``: the least-squares slope of rate on current over the suprathreshold
      steps before block (current >= rheobase; the first ``fit_steps`` of them if given, to keep
      to the linear part of the curve). NaN with fewer than two such steps;
    * ``n_steps``, ``n_suprathreshold_steps`` (those fitted), ``max_current_pa``.

    Vectorized over cells (grouped sums; the slope is Sxy/Sxx of each cell's fitted steps).
    """
    data = steps[["mouse", "cell", "current_pa", "firing_rate_hz", "n_spikes"]].copy()
    blocked = (
        steps["depolarization_block"].astype("boolean").fillna(False).astype(bool)
        if "depolarization_block" in steps
        else pd.Series(False, index=steps.index)
    )
    data["blocked"] = blocked.to_numpy()
    data = data.sort_values(["mouse", "cell", "current_pa"], kind="stable")
    keys = ["mouse", "cell"]
    grouped = data.groupby(keys, sort=True)
    out = grouped.agg(n_steps=("current_pa", "size"), max_current_pa=("current_pa", "max"))
    out["block_from_pa"] = data[data["blocked"]].groupby(keys)["current_pa"].min()
    block_from = data.join(out["block_from_pa"], on=keys)["block_from_pa"]
    before = data[~(data["current_pa"] >= block_from)]
    out["max_rate_hz"] = before.groupby(keys)["firing_rate_hz"].max()
    firing = before[(before["current_pa"] > 0) & (before["n_spikes"] >= 1)]
    out["rheobase_pa"] = firing.groupby(keys)["current_pa"].min().reindex(out.index)
    rheobase = before.join(out["rheobase_pa"], on=keys)["rheobase_pa"]
    supra = before[before["current_pa"] >= rheobase].copy()
    if fit_steps is not None:
        supra = supra[supra.groupby(keys).cumcount() < int(fit_steps)]
    x, y = supra["current_pa"], supra["firing_rate_hz"]
    supra["x_centred"] = x - x.groupby([supra["mouse"], supra["cell"]]).transform("mean")
    supra["sxy"] = supra["x_centred"] * y
    supra["sxx"] = supra["x_centred"] ** 2
    sums = supra.groupby(keys)[["sxy", "sxx"]].sum().reindex(out.index)
    counts = supra.groupby(keys).size().reindex(out.index).fillna(0).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = sums["sxy"] / sums["sxx"]
    out["fi_slope_hz_per_pa"] = slope.where(counts >= 2)
    out["n_suprathreshold_steps"] = counts
    never = out["rheobase_pa"].isna()
    out["rheobase_note"] = ""
    out.loc[never, "rheobase_note"] = [
        f"no spike at any depolarizing step (tested up to {current:g} pA)"
        for current in out.loc[never, "max_current_pa"]
    ]
    return out.reset_index()[FI_COLUMNS]


def combine_steps(
    table_steps: pd.DataFrame, abf_steps: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The exported step table completed with the cells only ``.abf`` files have, and a QC table
    of the cells both sources have: every step whose spike count differs, or that one source
    lacks (columns ``mouse``, ``cell``, ``current_pa``, ``check``, ``detail``, ``action``).

    The exported table is kept for the cells it has (it is what the lab analysed); a
    disagreement usually means a different spike criterion or a mislabelled file.
    """
    keys = ["mouse", "cell"]
    columns = [*STEP_COLUMNS, "source_line"]
    if "depolarization_block" in abf_steps.columns:
        columns.append("depolarization_block")
    table_cells = table_steps[keys].drop_duplicates()
    in_table = abf_steps.merge(table_cells, on=keys, how="left", indicator=True)["_merge"]
    extra = abf_steps.loc[(in_table == "left_only").to_numpy()]
    steps = pd.concat(
        [table_steps.reindex(columns=columns), extra.reindex(columns=columns)], ignore_index=True
    ).sort_values([*keys, "current_pa"], kind="stable")
    shared = abf_steps.loc[(in_table == "both").to_numpy()]
    both = table_steps.merge(shared[keys].drop_duplicates(), on=keys).merge(
        shared[[*keys, "current_pa", "n_spikes"]],
        on=[*keys, "current_pa"],
        how="outer",
        suffixes=("_table", "_abf"),
    )
    differs = both["n_spikes_table"] != both["n_spikes_abf"]
    qc = both.loc[differs, [*keys, "current_pa", "n_spikes_table", "n_spikes_abf"]].copy()
    qc["check"] = "table vs abf spike count"
    qc["detail"] = [
        f"table {t:g} spikes, abf {a:g}"
        if pd.notna(t) and pd.notna(a)
        else ("step only in the abf file" if pd.isna(t) else "step only in the table")
        for t, a in zip(qc["n_spikes_table"], qc["n_spikes_abf"], strict=True)
    ]
    qc["action"] = "kept the exported table; check the spike criterion and the file's cell id"
    qc = qc[[*keys, "current_pa", "check", "detail", "action"]].reset_index(drop=True)
    return steps.reset_index(drop=True), qc
