"""Render the JSON schemas as the key and column reference of config/README.md.

The schemas are the single source of every key's meaning, type, default and allowed values; the
README's reference section is generated from them (``python -m exneuro.schema_doc``) and a test
fails when it is out of date. The panel types are the panel registry's
(:mod:`exneuro.figures.registry`): the same command writes their list into the schema (the
allowed values of a paper panel's ``plot``) and their catalogue into the README.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from exneuro.config import load_yaml
from exneuro.config_keys import READ_BY
from exneuro.figures.registry import PANEL_TYPES, catalogue_markdown
from exneuro.paper import catalogue  # noqa: F401  (declares every panel type)

BEGIN = "<!-- reference: generated from workflow/schemas by `make docs`; do not edit by hand -->"
END = "<!-- end of generated reference -->"
#: The allowed values of a paper panel's ``plot`` in the config schema (one line, generated).
PLOT_ENUM = re.compile(
    r"(\n(?P<indent> *)plot:\n(?:(?P=indent) +[^\n]*\n)*?(?P=indent) +enum: )\[[^\]\n]*\]"
)


def _type(schema: Mapping) -> str:
    kind = schema.get("type", "")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if "enum" in schema:
        kind += ": " + ", ".join(f"`{v}`" for v in schema["enum"])
    if kind.startswith("array") and "enum" in schema.get("items", {}):
        kind += " of " + ", ".join(f"`{v}`" for v in schema["items"]["enum"])
    return kind


def _cell(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).replace("|", "\\|").strip()


def _readers(schema: Mapping) -> str:
    """The steps that read a key (a change reruns them), from its ``x-read-by`` list."""
    rules = schema.get(READ_BY)
    return f" *Read by:* {', '.join(f'`{rule}`' for rule in rules)}." if rules else ""


def _rows(schema: Mapping, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        default = (
            "required"
            if name in required
            else (f"`{json.dumps(sub['default'])}`" if "default" in sub else "")
        )
        yield key, _type(sub), default, sub.get("description", "") + _readers(sub)
        if "properties" in sub:
            yield from _rows(sub, f"{key}.")
        items = sub.get("items", {})
        if "properties" in items:
            yield from _rows(items, f"{key}[].")
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            yield from _rows(extra, f"{key}.<id>.")


def _section(title: str, first_column: str, schema: Mapping) -> list[str]:
    rows = [f"| `{k}` | {_cell(t)} | {_cell(d)} | {_cell(m)} |" for k, t, d, m in _rows(schema)]
    header = [
        f"### {title}",
        "",
        f"| {first_column} | type | default | meaning |",
        "|---|---|---|---|",
    ]
    return [*header, *rows, ""]


def render(config_schema: Mapping, sheet_schema: Mapping) -> str:
    """Markdown tables of every config key and every sample-sheet column."""
    lines = [
        BEGIN,
        "",
        *_section("Config keys", "key", config_schema),
        *_section("Sample-sheet columns", "column", sheet_schema),
        "### Panel types",
        "",
        "The values of `paper.figures[].panels[].plot`: what each draws, the config section it",
        "needs (enabled) and its options besides `letter`, `at` and `span`.",
        "",
        catalogue_markdown(),
        "",
        END,
    ]
    return "\n".join(lines)


def update_readme(readme: Path, schemas: Path) -> bool:
    """Rewrite the generated section of ``readme``; return whether it changed."""
    text = readme.read_text(encoding="utf-8")
    generated = render(
        load_yaml(schemas / "config.schema.yaml"), load_yaml(schemas / "samples.schema.yaml")
    )
    start, end = text.index(BEGIN), text.index(END) + len(END)
    updated = text[:start] + generated + text[end:]
    readme.write_text(updated, encoding="utf-8")
    return updated != text


def with_panel_types(schema_text: str) -> str:
    """The config schema's text with the registry's panel types as the values of ``plot``."""
    listed = ", ".join(PANEL_TYPES)
    updated, count = PLOT_ENUM.subn(lambda m: f"{m.group(1)}[{listed}]", schema_text)
    if count != 1:
        raise ValueError("the config schema has no single 'plot' key with an enum line")
    return updated


def update_schema(schema: Path) -> bool:
    """Write the registry's panel types into the config schema; return whether it changed."""
    text = schema.read_text(encoding="utf-8")
    updated = with_panel_types(text)
    schema.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    schemas = Path("workflow/schemas")
    for path, changed in (
        (schemas / "config.schema.yaml", update_schema(schemas / "config.schema.yaml")),
        (Path("config/README.md"), update_readme(Path("config/README.md"), schemas)),
    ):
        sys.stdout.write(f"{path} {'updated' if changed else 'up to date'}\n")
