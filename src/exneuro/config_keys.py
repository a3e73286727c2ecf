"""Which workflow step reads which config key: the schema's ``x-read-by`` lists, in one place.

Every top-level key of the config schema names the rules that read it (``x-read-by: [rule, ...]``)
or, for an analysis section, each of the section's keys does (a table declaration's keys for
``tables``). ``workflow`` stands for the Snakefile itself, which reads a key to plan the jobs (input
files, which analyses run). A section may also name rules that receive it whole
(``x-section-read-by``: the paper figures draw from any part of the sections their panels use).

A rule's ``params:`` are built from these lists alone (:func:`owned_part`), so a changed key
reruns exactly the rules that read it, and the settings a script receives are an
:class:`OwnedSettings` that stops with one line when the script reads a key its rule does not own:
a read missing from the schema's list is found by the first run that makes it, not by a result
that silently failed to update.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from exneuro.errors import ConfigError

READ_BY = "x-read-by"
SECTION_READ_BY = "x-section-read-by"
#: The Snakefile itself: reads a key to plan the jobs (their input files, which analyses run).
PLANNER = "workflow"
#: The owner path of a key of any one table declaration (``tables.<id>.<key>``).
ANY_TABLE = "*"
SCHEMA_FILE = "workflow/schemas/config.schema.yaml"


def _section_keys(schema: Mapping) -> Mapping | None:
    """The properties of a section owned key by key (a table declaration's for ``tables``)."""
    if schema.get("properties"):
        return schema["properties"]
    items = schema.get("additionalProperties")
    return items.get("properties") if isinstance(items, Mapping) else None


def key_owners(schema: Mapping) -> dict[str, tuple[str, ...]]:
    """Each owned config key -> the rules that read it.

    Keys are ``'groups'`` for a top-level key owned whole, ``'treadmill.sessions'`` for a key of
    a section, ``'tables.*.figure'`` for a key of every table declaration. A key with no list maps
    to ``()`` (the ownership test names it).
    """
    owners: dict[str, tuple[str, ...]] = {}
    for name, section in schema["properties"].items():
        keys = _section_keys(section)
        if READ_BY in section or keys is None:
            owners[name] = tuple(section.get(READ_BY, ()))
            continue
        whole = tuple(section.get(SECTION_READ_BY, ()))
        prefix = f"{name}.{ANY_TABLE}" if not section.get("properties") else name
        for key, subschema in keys.items():
            owners[f"{prefix}.{key}"] = tuple(subschema.get(READ_BY, ())) + whole
    return owners


def rules_owning(owners: Mapping[str, tuple[str, ...]]) -> set[str]:
    """Every step named in the ownership lists."""
    return {rule for rules in owners.values() for rule in rules}


class OwnedSettings(dict):
    """A config section as one rule receives it: the keys the rule owns, and a clear stop when
    the rule's code reads another one (``section.key`` is missing from the rule's ``x-read-by``).

    Compares, prints, copies and pickles as the plain dict it holds, so the rerun check (which
    compares ``repr`` of the params) sees the same settings as before.
    """

    def __init__(self, data: Mapping, *, section: str, rule: str, owned: tuple[str, ...]):
        super().__init__(data)
        self.section, self.rule, self.owned = section, rule, tuple(owned)

    def _check(self, key: Any) -> None:
        if key not in self.owned:
            raise ConfigError(
                f"{SCHEMA_FILE}: rule '{self.rule}' reads the config key "
                f"'{self.section}.{key}', whose x-read-by does not list it — add '{self.rule}' "
                "there, so that a change to the key reruns the rule"
            )

    def __getitem__(self, key: Any) -> Any:
        self._check(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._check(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._check(key)
        return super().__contains__(key)

    def __reduce__(self):
        return (
            _rebuild,
            (dict(self), self.section, self.rule, self.owned),
        )


def _rebuild(data: dict, section: str, rule: str, owned: tuple[str, ...]) -> OwnedSettings:
    return OwnedSettings(data, section=section, rule=rule, owned=owned)


yaml.SafeDumper.add_representer(OwnedSettings, yaml.SafeDumper.represent_dict)


def _owned_keys(
    owners: Mapping[str, tuple[str, ...]], rule: str, prefix: str, keys
) -> tuple[str, ...]:
    return tuple(key for key in keys if rule in owners.get(f"{prefix}.{key}", ()))


def owned_part(
    config: Mapping, owners: Mapping[str, tuple[str, ...]], rule: str, section: str
) -> Any:
    """The part of config key ``section`` that ``rule`` reads, for its ``params:``.

    A key owned whole comes back as it is; a section comes back as an :class:`OwnedSettings` of
    the keys the rule owns (``{}`` when the section is absent). Raises :class:`ConfigError` when
    the rule owns nothing of it (the rule's params would carry a key no list gives it).
    """
    if section in owners:
        if rule not in owners[section]:
            raise ConfigError(
                f"{SCHEMA_FILE}: rule '{rule}' takes the config key '{section}' in its params, "
                "but its x-read-by does not list the rule"
            )
        return config.get(section)
    schema_keys = [key.split(".")[-1] for key in owners if key.startswith(f"{section}.")]
    owned = _owned_keys(owners, rule, section, schema_keys)
    if not owned:
        raise ConfigError(
            f"{SCHEMA_FILE}: rule '{rule}' takes part of the config section '{section}' in its "
            "params, but no key of the section lists the rule under x-read-by"
        )
    part = config.get(section) or {}
    return OwnedSettings(
        {key: value for key, value in part.items() if key in owned},
        section=section,
        rule=rule,
        owned=owned,
    )


def owned_table(
    declaration: Mapping, owners: Mapping[str, tuple[str, ...]], rule: str, table: str
) -> OwnedSettings:
    """The keys of one table declaration that ``rule`` reads (plus the derived ``group_order``,
    which follows ``groups`` and ``cohorts``)."""
    prefix = f"tables.{ANY_TABLE}"
    schema_keys = [key.split(".")[-1] for key in owners if key.startswith(f"{prefix}.")]
    owned = (*_owned_keys(owners, rule, prefix, schema_keys), "group_order")
    return OwnedSettings(
        {key: value for key, value in declaration.items() if key in owned},
        section=f"tables.{table}",
        rule=rule,
        owned=owned,
    )


def figure_only(owners: Mapping[str, tuple[str, ...]], key: str) -> bool:
    """Whether only figure steps (``*_figure``) and the planner read ``key``.

    A key of an analysis section that only the paper figures read, as part of the whole section
    (``x-section-read-by``; e.g. ``treadmill.enabled``), is not counted as a figure key.
    """
    readers = [rule for rule in owners.get(key, ()) if rule != PLANNER]
    if "." in key and readers == ["paper_figure"]:
        return False
    return bool(readers) and all(rule.endswith("_figure") for rule in readers)


def analysis_part(config: Mapping, owners: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """The config without the keys only figure steps read (style, layout, a modality figure's
    panels): what the config snapshot records, so that editing a figure key reruns figures only.
    """
    part: dict[str, Any] = {}
    for name, value in config.items():
        if figure_only(owners, name):
            continue
        prefix = f"{name}.{ANY_TABLE}" if f"{name}.{ANY_TABLE}." in _prefixes(owners) else name
        if name in owners or not isinstance(value, Mapping):
            part[name] = value
        elif prefix == name:
            part[name] = {k: v for k, v in value.items() if not figure_only(owners, f"{name}.{k}")}
        else:  # one declaration per table
            part[name] = {
                key: {k: v for k, v in table.items() if not figure_only(owners, f"{prefix}.{k}")}
                for key, table in value.items()
            }
    return part


def _prefixes(owners: Mapping[str, tuple[str, ...]]) -> set[str]:
    return {key.rsplit(".", 1)[0] + "." for key in owners if "." in key}
