"""The one registry of panel types: what each reads and which function draws it.

A panel type is declared once, with :func:`panel_type`, on the function that lists the result
files a panel of that type reads (relative to the output folder); the declaration names its
config section (which must be enabled), its required and optional options, and its docstring
says what it draws. Its drawing function registers with :func:`draws` and cannot
register a type nobody declared. Everything else is derived from this registry: the workflow's
inputs and config slices of each figure job, the config check's messages, the schema's list of
panel types (``plot``) and the panel catalogue of ``config/README.md``
(``python -m exneuro.schema_doc`` writes both).

Plotting-free on purpose: the workflow imports it while it builds the job graph (Snakemake's
start-up), where matplotlib would cost a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PanelType:
    """A declared panel type: config section, options, the files it reads, what it draws."""

    name: str
    section: str
    files: Callable[[Mapping], Sequence[str]]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    draws: str = ""

    def inputs(self, panel: Mapping) -> list[str]:
        """Result files (relative to the output folder) a panel of this type reads."""
        return list(self.files(panel))

    @property
    def options(self) -> tuple[str, ...]:
        return self.required + self.optional


#: Every declared panel type by name, in declaration order (the order of the schema and README).
PANEL_TYPES: dict[str, PanelType] = {}
#: The drawing function of each panel type, filled as the drawing modules are imported.
DRAW: dict[str, Callable] = {}


def panel_type(
    name: str, *, section: str, required: Sequence[str] = (), optional: Sequence[str] = ()
):
    """Declare panel type ``name`` on the function returning the files a panel of it reads
    (given the panel's declaration); the first paragraph of the function's docstring says
    what it draws."""

    def declare(files: Callable[[Mapping], Sequence[str]]):
        if name in PANEL_TYPES:
            raise ValueError(f"panel type '{name}' is declared twice")
        summary = " ".join((files.__doc__ or "").strip().split("\n\n")[0].split())
        PANEL_TYPES[name] = PanelType(
            name, section, files, tuple(required), tuple(optional), summary
        )
        return files

    return declare


def draws(name: str):
    """Register the decorated function as the drawing of the declared panel type ``name``."""
    if name not in PANEL_TYPES:
        raise KeyError(f"panel type '{name}' is drawn but not declared (exneuro.paper.catalogue)")

    def register(draw: Callable) -> Callable:
        DRAW[name] = draw
        return draw

    return register


def catalogue_markdown() -> str:
    """The panel catalogue as a Markdown table: type, what it draws, section, options."""
    rows = [
        "| `plot` | draws | section | required options | optional options |",
        "|---|---|---|---|---|",
    ]
    for kind in PANEL_TYPES.values():
        required = ", ".join(f"`{o}`" for o in kind.required) or "—"
        optional = ", ".join(f"`{o}`" for o in kind.optional) or "—"
        drawn = kind.draws.replace("|", "\\|")
        rows.append(f"| `{kind.name}` | {drawn} | `{kind.section}` | {required} | {optional} |")
    return "\n".join(rows)
