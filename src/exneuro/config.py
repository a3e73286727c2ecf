"""Load and validate the study config and the sample sheet.

JSON schemas (``workflow/schemas``) define every key with its type, default and allowed values;
this module fills the defaults, turns each schema violation into one line that names the file and
key (or line and column) and suggests the fix, and then checks the rules a schema cannot express:
groups and cohorts that refer to each other, sessions in order, unique mice.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from jsonschema import Draft202012Validator, validators

from exneuro.errors import ConfigError, where
from exneuro.paper.catalogue import paper_problems
from exneuro.sample_sheet import read_sheet_cells
from exneuro.treadmill.plausibility import fill_plausible_ranges
from exneuro.yaml_files import read_yaml

#: Analysis sections that read mice from the sample sheet.
SHEET_SECTIONS = ("treadmill", "photometry", "ephys", "spines", "histology", "rnaseq")


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file (a schema) into a dict; a mistake is a :class:`ConfigError` naming the
    file, line and column (:func:`exneuro.yaml_files.read_yaml`)."""
    return read_yaml(path) or {}


def _with_defaults(validator_class):
    """A validator that fills each property's schema default into the instance, then validates."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(Draft202012Validator)


def _key_path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


#: Schema patterns in words.
PATTERN_WORDS = {
    "^$|^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "is not a date written YYYY-MM-DD (e.g. 2025-12-03)",
    "^[A-Za-z0-9_.-]+$": "may hold only letters, digits, '_', '.' and '-' (it names files)",
    "^[A-Za-z0-9_-]+$": "may hold only letters, digits, '_' and '-' (it names files)",
}


def _describe(error, label: str) -> str:
    """One line for one schema violation; ``label`` names the key or column being validated."""
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        extras = [
            key
            for key in error.instance
            if key not in allowed and not any(re.search(p, key) for p in patterns)
        ]
        lines = []
        for key in extras:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
            prefix = f"{label}." if label else ""
            lines.append(f"unknown key '{prefix}{key}' — {hint}")
        return "; ".join(lines)
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        owner = f"'{label}'" if label else "the top level"
        return f"{owner} is missing the required key '{missing[0] if missing else error.message}'"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"{label} = {error.instance!r} is not allowed; expected one of: {allowed}"
    if error.validator == "maxLength":
        return (
            f"{label} is {len(error.instance)} characters long, more than "
            f"{error.validator_value} — shorten it (it names result files)"
        )
    if error.validator == "pattern" and error.validator_value in PATTERN_WORDS:
        return f"{label} = {error.instance!r} {PATTERN_WORDS[error.validator_value]}"
    if error.validator == "pattern":
        return (
            f"{label} = {error.instance!r} does not match the expected form {error.validator_value}"
        )
    return f"{label}: {error.message}"


def _schema_errors(instance: Any, schema: Mapping, prefix: str = "") -> Iterator[str]:
    validator = _DefaultingValidator(schema)
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
        label = _key_path([*([prefix] if prefix else []), *error.absolute_path])
        yield _describe(error, label)


def validate_config(config: Mapping, schema: Mapping, source: str) -> dict[str, Any]:
    """Return a copy of ``config`` with schema defaults filled in, or raise :class:`ConfigError`.

    ``source`` names the config file in messages. Beyond the schema, checks that cohorts use
    declared groups, each cohort's control group is one of its groups, session ids are unique and
    in time order and the baseline session exists. Each cohort's groups come back with the control
    group first (then in the order listed), the order every analysis and figure uses.
    """
    filled = copy.deepcopy(dict(config))
    problems = list(_schema_errors(filled, schema))
    if problems:
        raise ConfigError("\n".join(f"{source}: {problem}" for problem in problems))
    if filled.get("treadmill"):  # each range left null takes the species' default
        problems += fill_plausible_ranges(filled["treadmill"], filled["study"]["species"])
    problems += list(_design_problems(filled)) + list(paper_problems(filled))
    if problems:
        raise ConfigError("\n".join(f"{source}: {problem}" for problem in problems))
    for cohort in filled["cohorts"]:  # the control first: drawn first, every contrast's reference
        control = cohort["control_group"]
        cohort["groups"] = [control, *(g for g in cohort["groups"] if g != control)]
    return filled


def _duplicates(values) -> list:
    seen, repeated = set(), []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


def _design_problems(config: Mapping) -> Iterator[str]:
    group_ids = [group["id"] for group in config["groups"]]
    for group in _duplicates(group_ids):
        yield f"groups: the id '{group}' is declared twice — give each group one entry"
    for index, cohort in enumerate(config["cohorts"]):
        for group in cohort["groups"]:
            if group not in group_ids:
                yield (
                    f"cohorts[{index}].groups: unknown group '{group}' — declare it under 'groups' "
                    f"(declared: {', '.join(group_ids)})"
                )
        if cohort["control_group"] not in cohort["groups"]:
            yield (
                f"cohorts[{index}].control_group: '{cohort['control_group']}' is not one of the "
                f"cohort's groups ({', '.join(cohort['groups'])})"
            )
    for cohort in _duplicates(c["id"] for c in config["cohorts"]):
        yield f"cohorts: the id '{cohort}' is declared twice"
    treadmill = config.get("treadmill")
    if treadmill:
        yield from _treadmill_problems(treadmill)
        cohort_ids = [c["id"] for c in config["cohorts"]]
        for cohort in treadmill["cohorts"]:
            if cohort not in cohort_ids:
                yield (
                    f"treadmill.cohorts: unknown cohort '{cohort}' — declared: "
                    f"{', '.join(cohort_ids)}"
                )
    for key, table in config.get("tables", {}).items():
        yield from _table_problems(key, table)
        if table["join_sample_sheet"] and not config.get("samples"):
            yield (
                f"tables.{key}.join_sample_sheet: there is no sample sheet ('samples') to join; "
                "set join_sample_sheet: false or name the sheet under 'samples'"
            )
    if not config.get("samples"):
        needing = [s for s in SHEET_SECTIONS if config.get(s) and config[s].get("enabled", True)]
        if needing:
            yield (
                f"samples: {', '.join(needing)} need(s) the sample sheet — name it under "
                "'samples' (TSV, one row per mouse)"
            )
    if config.get("photometry"):
        yield from _photometry_event_problems(config["photometry"])
    rnaseq = config.get("rnaseq")
    if rnaseq and rnaseq["counts"] and not (rnaseq["design"] and rnaseq["contrasts"]):
        yield "rnaseq: a count table needs a 'design' and at least one contrast under 'contrasts'"
    if rnaseq and not rnaseq["counts"] and not rnaseq["precomputed_de"]:
        yield "rnaseq: give a count table ('counts') or a facility's DE tables ('precomputed_de')"


def _table_problems(key: str, table: Mapping) -> Iterator[str]:
    factors = [*table["between"], *table["within"]]
    if table["wide"] and table["wide"]["factor"] not in table["within"]:
        yield (
            f"tables.{key}.wide.factor: '{table['wide']['factor']}' must also be listed under "
            "'within'"
        )
    if table["figure"] == "bars" and not table["between"]:
        yield f"tables.{key}.figure: 'bars' draws groups; declare a between factor or use 'line'"
    for column in sorted(set(table["covariates"]) & set(factors)):
        yield (
            f"tables.{key}: '{column}' is declared both as a factor and as a covariate — a "
            "column is one or the other (a factor: levels compared; a covariate: a slope)"
        )
    if table["subject"] == "@row" and table["join_sample_sheet"]:
        yield f"tables.{key}: subject '@row' has no mouse ids; set join_sample_sheet: false"
    if table["posthoc"].get("factor") and table["posthoc"]["factor"] not in factors:
        yield (
            f"tables.{key}.posthoc.factor: '{table['posthoc']['factor']}' is not one of the "
            f"table's factors ({', '.join(factors) or 'none declared'})"
        )
    by = table["posthoc"].get("by")
    if by and by not in factors:
        yield f"tables.{key}.posthoc.by: '{by}' is not one of the table's factors"
    if "posthoc" in table["tests"] and not factors:
        yield f"tables.{key}.tests: posthoc needs a between or within factor"
    if table["random_group"] and table["random_slopes"]:
        yield (
            f"tables.{key}.random_group: random slopes are fitted per subject only; drop "
            "random_slopes or the random_group"
        )
    if table["random_group"] in [*factors, *table["covariates"], table["subject"]]:
        yield (
            f"tables.{key}.random_group: '{table['random_group']}' is already a factor, covariate "
            "or the subject — a column is one or the other"
        )
    for slope in table["random_slopes"]:
        if slope not in [*table["covariates"], *table["within"]]:
            yield (
                f"tables.{key}.random_slopes: '{slope}' is neither a covariate nor a within "
                "factor of the table"
            )
    if {"two_group", "cluster", "bootstrap"} & set(table["tests"]) and not table["between"]:
        yield f"tables.{key}.tests: two-group tests need a between factor"
    if {"cluster", "bootstrap"} & set(table["tests"]) and not table["nested"]:
        yield f"tables.{key}.tests: cluster and bootstrap need nested units ('nested')"
    if (
        table["correction"] == "dunnett"
        and table["within"]
        and {"two_group", "cluster", "bootstrap"} & set(table["tests"])
    ):
        yield (
            f"tables.{key}.correction: 'dunnett' corrects post-hoc contrasts only; choose "
            "another correction for the two-group tests at each level"
        )
    if "rm_anova" in table["tests"] and table["covariates"]:
        yield f"tables.{key}.tests: rm_anova takes factors only; drop the covariates or the test"


def _photometry_event_problems(photometry: Mapping) -> Iterator[str]:
    """Typed events do not take the run's words; without a run (run_event null) nothing may be
    placed relative to one."""
    for name in photometry["typed_events"]:
        if name in ("onset", "offset", "session", "run_onset", photometry["run_event"]):
            yield (
                f"photometry.typed_events: '{name}' names the run or the session — type run times "
                "in run_onset_s/run_offset_s, and give other events a name of their own (cue, lick)"
            )
    events = [*photometry["peri_event"]["events"], *photometry["typed_events"]]
    refs = tuple(dict.fromkeys(("onset", "offset", "session", *events)))
    for index, window in enumerate(photometry["windows"]):
        if window["ref"] not in refs:
            yield (
                f"photometry.windows[{index}] ('{window['name']}'): ref '{window['ref']}' is "
                f"neither the run's onset/offset, the session, nor a named event — choose one "
                f"of {', '.join(refs)} (events are named under peri_event.events or typed_events)"
            )
    if photometry["run_event"] is not None:
        return
    fix = "sessions have no run (run_event is null): use ref: session or an event"
    if photometry["baseline_window"]["ref"] != "session":
        yield f"photometry.baseline_window is relative to the run — {fix}"
    for index, window in enumerate(photometry["windows"]):
        words = {window["start_s"], window["end_s"]} & {"onset", "offset"}
        if window["ref"] in ("onset", "offset") or words:
            yield f"photometry.windows[{index}] ('{window['name']}') is relative to the run — {fix}"
    for event in {"onset", "offset"} & set(photometry["peri_event"]["events"]):
        yield (
            f"photometry.peri_event.events: '{event}' is the run's {event}, but sessions have no "
            "run — name the recording's own events (e.g. cue)"
        )


def _treadmill_problems(treadmill: Mapping) -> Iterator[str]:
    sessions = treadmill["sessions"]
    ids = [session["id"] for session in sessions]
    for session in _duplicates(ids):
        yield f"treadmill.sessions: the session '{session}' is listed twice"
    days = [session["day"] for session in sessions]
    if any(later <= earlier for earlier, later in zip(days, days[1:], strict=False)):
        yield f"treadmill.sessions: days must increase in the order listed, got {days}"
    if treadmill["baseline_session"] not in ids:
        yield (
            f"treadmill.baseline_session: '{treadmill['baseline_session']}' is not one of the "
            f"sessions ({', '.join(ids)})"
        )
    responder_session = treadmill["responders"]["session"]
    if responder_session != "last" and responder_session not in ids:
        yield (
            f"treadmill.responders.session: '{responder_session}' is neither 'last' nor one of "
            f"the sessions ({', '.join(ids)})"
        )
    pattern = treadmill.get("stage_logs")
    if pattern and not {"{mouse}", "{session}"} <= set(re.findall(r"\{[a-z]+\}", pattern)):
        yield f"treadmill.stage_logs: '{pattern}' must contain both {{mouse}} and {{session}}"
    if treadmill["metrics_source"] == "stage_logs" and not pattern:
        yield "treadmill.metrics_source is 'stage_logs' but treadmill.stage_logs is not set"
    for exclusion in treadmill["exclude_tests"]:
        if exclusion["session"] not in ids:
            yield f"treadmill.exclude_tests: unknown session '{exclusion['session']}'"


def read_sample_sheet(path: str | Path | None, schema: Mapping, config: Mapping) -> pd.DataFrame:
    """Read and validate the sample sheet (one row per mouse) against schema and config.

    The sheet is tab-separated text, a CSV or an Excel sheet (:func:`read_sheet_cells`). Returns
    it with defaults filled, one row per mouse, every column as text. Errors name the sheet's
    line (as the user's editor numbers it) and column. Without a sheet (``path`` None, a
    tables-only study) the sheet has the schema's columns and no row; a sheet without a mouse is
    an error when an analysis reads mice from it.
    """
    columns = list(schema["properties"])
    if path is None:
        return pd.DataFrame(columns=columns).astype("string")
    sheet, lines = read_sheet_cells(path)
    problems = list(_sheet_header_problems(list(sheet.columns), schema, path, sheet.attrs))
    if problems:
        raise ConfigError(problems[0])
    records = []
    for line, row in zip(lines, sheet.to_dict("records"), strict=True):
        record = {key: value.strip() for key, value in row.items()}
        mouse = record.get("mouse_id")
        shown = mouse if mouse is None or len(mouse) <= 64 else f"{mouse[:24]}…"
        for problem in _schema_errors(record, schema):
            problems.append(f"{where(str(path), line, mouse=shown)}: {problem}")
        records.append(record)
    if problems:
        raise ConfigError(_one_line(problems))
    if not records:
        needing = [s for s in SHEET_SECTIONS if config.get(s) and config[s].get("enabled", True)]
        if needing:
            raise ConfigError(
                f"{path}: the sample sheet has a header but no mouse — {', '.join(needing)} "
                "read(s) mice from it: add one row per mouse below the header"
            )
        return pd.DataFrame(columns=list(dict.fromkeys([*sheet.columns, *columns]))).astype(
            "string"
        )
    filled = pd.DataFrame.from_records(records).astype("string")
    problems = [
        *_sheet_design_problems(filled, lines, str(path), config),
        *_model_factor_problems(filled, str(path), config),
    ]
    if problems:
        raise ConfigError(_one_line(problems))
    return filled


def _one_line(problems: list[str]) -> str:
    """The sheet's first problem, saying how many rows share it and how many others follow:
    one line however many rows repeat a mistake (a capitalised sex, a renamed cohort)."""
    place, problem = problems[0].split(": ", 1)
    same = sum(p.split(": ", 1)[1] == problem for p in problems[1:])
    other = len(problems) - 1 - same
    notes = [f"the same on {same} more row{'s' * (same > 1)}"] if same else []
    notes += [f"{other} other problem{'s' * (other > 1)} in the sheet"] if other else []
    return f"{place}: {problem}" + (f" ({'; '.join(notes)})" if notes else "")


def _sheet_header_problems(
    header: list[str], schema: Mapping, path: str | Path, attrs: Mapping
) -> Iterator[str]:
    """A header's unknown or missing columns, once for the sheet (not once per row)."""
    place = f"{path} line {attrs.get('header_line', 1)}"
    known = list(schema["properties"])
    patterns = list(schema.get("patternProperties", {}))
    for column in header:
        if column in known or any(re.search(pattern, column) for pattern in patterns):
            continue
        close = difflib.get_close_matches(column, known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "prefix a lab's own column with 'x_'"
        yield f"{place}, column '{column}': unknown column — {hint} (columns: config/README.md)"
    for column in schema.get("required", []):
        if column not in header:
            yield (
                f"{place}: no column '{column}' — the header needs {', '.join(schema['required'])}"
            )


def modality_cohorts(config: Mapping, section: str) -> list[str]:
    """The cohorts a modality analyses: its 'cohorts' key, or every cohort when that is empty."""
    return list(config[section].get("cohorts") or [c["id"] for c in config["cohorts"]])


def group_order(config: Mapping) -> list[str]:
    """The study's group ids in display and reference order: every cohort's control group first,
    then the others, each in the order the config lists them under 'groups'."""
    controls = {cohort["control_group"] for cohort in config["cohorts"]}
    ids = [group["id"] for group in config["groups"]]
    return [g for g in ids if g in controls] + [g for g in ids if g not in controls]


def groups_in_cohort_order(config: Mapping, cohort_id: str | None) -> list[dict]:
    """The config's groups with the cohort's own first, its control group leading (the order
    a modality's figures draw them in); the other groups follow in the config's order."""
    cohort = next((c for c in config["cohorts"] if c["id"] == cohort_id), None)
    first = [cohort["control_group"], *cohort["groups"]] if cohort else []
    rank = {group: index for index, group in enumerate(dict.fromkeys(first))}
    return sorted(config["groups"], key=lambda group: rank.get(group["id"], len(rank)))


def table_design(config: Mapping, key: str) -> dict[str, Any]:
    """The declaration of table ``key`` with the study's group order (``group_order``) that
    orders a factor whose levels are the study's groups when the table declares no order."""
    return {**copy.deepcopy(config["tables"][key]), "group_order": group_order(config)}


def read_validated_sheet(path: str | Path) -> pd.DataFrame:
    """Read a sheet written after :func:`read_sample_sheet`: every column text, blanks as ''."""
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False).astype("string")


def _model_factor_problems(sheet: pd.DataFrame, path: str, config: Mapping) -> Iterator[str]:
    """A cohort's model_factors name sample-sheet columns: each must exist."""
    for index, cohort in enumerate(config["cohorts"]):
        declared = cohort.get("model_factors") or {}
        for column in [*declared.get("fixed", []), *filter(None, [declared.get("random")])]:
            if column not in sheet.columns:
                yield (
                    f"{path}: cohorts[{index}].model_factors names column '{column}', which the "
                    "sample sheet does not have — add the column or remove it from model_factors"
                )


def _sheet_design_problems(
    sheet: pd.DataFrame, lines: list[int], path: str, config: Mapping
) -> Iterator[str]:
    cohorts = {cohort["id"]: cohort for cohort in config["cohorts"]}
    sessions = [s["id"] for s in config.get("treadmill", {}).get("sessions", [])]
    first_line = {}
    for line, (_, row) in zip(lines, sheet.iterrows(), strict=True):
        mouse = row["mouse_id"]
        if mouse in first_line:
            yield (
                f"{where(path, line, 'mouse_id')}: mouse '{mouse}' is listed again (first on line "
                f"{first_line[mouse]}) — each mouse needs exactly one row"
            )
            continue
        first_line[mouse] = line
        cohort = cohorts.get(row["cohort"])
        if cohort is None:
            yield (
                f"{where(path, line, 'cohort', mouse)}: unknown cohort '{row['cohort']}' — declare "
                f"it under 'cohorts' in the config (declared: {', '.join(cohorts)})"
            )
        elif row["group"] not in cohort["groups"]:
            yield (
                f"{where(path, line, 'group', mouse)}: unknown group '{row['group']}' for cohort "
                f"'{cohort['id']}' — expected one of: {', '.join(cohort['groups'])}"
            )
        removed = row["removed_after_session"]
        if removed and sessions and removed not in sessions:
            yield (
                f"{where(path, line, 'removed_after_session', mouse)}: unknown session "
                f"'{removed}' — expected one of: {', '.join(sessions)}"
            )
    yield from _treadmill_groups_without_mice(sheet, path, config)


def _treadmill_groups_without_mice(
    sheet: pd.DataFrame, path: str, config: Mapping
) -> Iterator[str]:
    """A declared group of a treadmill cohort without an included mouse: the cohort's models
    compare its groups at every session, and with a group missing their design is rank
    deficient (one group left is no comparison at all)."""
    treadmill = config.get("treadmill") or {}
    if not treadmill or not treadmill.get("enabled", True):
        return
    cohorts = {cohort["id"]: cohort for cohort in config["cohorts"]}
    included = sheet[sheet["excluded_reason"] == ""]
    for cohort_id in treadmill.get("cohorts") or list(cohorts):
        mice = sheet[sheet["cohort"] == cohort_id]
        groups = cohorts[cohort_id]["groups"] if cohort_id in cohorts else []
        if mice.empty or len(groups) < 2:
            continue
        present = set(included.loc[included["cohort"] == cohort_id, "group"])
        for group in groups:
            if group in present:
                continue
            listed = int((mice["group"] == group).sum())
            state = f"has only excluded mice ({listed})" if listed else "has no mouse"
            yield (
                f"{path}: group '{group}' of treadmill cohort '{cohort_id}' {state} — its models "
                f"compare the groups {', '.join(groups)}; add the group's mice, or remove "
                f"'{group}' from the cohort's groups in the config"
            )
