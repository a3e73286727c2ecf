"""The library code a workflow step runs, found by reading the source, and its digest.

Snakemake's ``code`` rerun trigger hashes a rule's own script, not the modules the script
imports. Every rule therefore passes :func:`script_digest` of its script as a ``params:`` entry:
the SHA-256 of the script, of every :mod:`exneuro` module it can run — the transitive closure of
its imports, imports inside functions included (they run when the function does) — and of the
package data files those modules read (the bundled fonts, the DESeq2 prior table). Editing a
module then reruns exactly the jobs whose scripts reach it, and no list of modules is kept by
hand.

The closure is found statically, never by importing: the workflow computes it while it builds
the DAG, which must stay quick (importing the figure code alone takes seconds). Import statements
are found line by line (a line that starts, after indentation, with ``import`` or ``from ...
import``, parenthesized continuation lines included) and each is parsed with :mod:`ast`; a file
holding a match that does not parse alone (a backslash continuation, prose in a docstring) is
parsed whole. This reads the package's 150 modules in about 15 ms where parsing every file whole
takes 250 ms. A match inside a string only adds a module: the closure may be larger than what
runs, never smaller (``tests/test_code_digests.py`` checks it contains every module an import
of each script loads). Parsed imports and file digests are cached for the life of the process.

A module's data files are the non-Python files and folders beside it whose name appears in it as
a string literal (``Path(__file__).with_name("fonts")``). The config schemas are not part of a
digest: jobs receive the config through their params, defaults filled in (a changed default
changes the params), and the sample sheet's schema is an input of the one job that reads it.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "exneuro"
PACKAGE_ROOT = Path(__file__).resolve().parent

#: An import statement at the start of a line (any indentation): ``import a.b``, ``from .x import
#: y``, ``from a import (\n y,\n z)``.
IMPORT_LINE = re.compile(
    r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]*)|import[ \t]+[^\n]*)",
    re.MULTILINE,
)
STRING_LITERAL = re.compile(r"""["']([^"'\n]+)["']""")


def import_statements(source: str) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of ``source``: at module level, in functions, in branches.

    Source that does not compile gives the statements found line by line (its job fails on it
    anyway, with Python's own message): planning the workflow does not stop on it.
    """
    statements: list[ast.AST] = []
    whole_file = False
    for match in IMPORT_LINE.finditer(source):
        try:
            statements += ast.parse(match.group(0).strip()).body
        except SyntaxError:
            whole_file = True
    if whole_file:
        with contextlib.suppress(SyntaxError):
            statements = list(ast.walk(ast.parse(source)))
    return [node for node in statements if isinstance(node, (ast.Import, ast.ImportFrom))]


@functools.cache
def module_file(module: str) -> Path | None:
    """The source file of library module ``module`` (``exneuro.stats.mixed``), None if it is
    not one (another package, or a name imported from a module)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_ROOT.joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(source: str, importer: str | None = None) -> set[str]:
    """The library modules the import statements of ``source`` load.

    ``importer`` is the module the source belongs to (for relative imports; None for a script).
    ``from a.b import c`` loads ``a.b`` and, when ``c`` is a submodule, ``a.b.c``; the packages
    holding a module are loaded before it (their ``__init__`` runs).
    """
    package = importer
    if importer is not None and module_file(importer).name != "__init__.py":
        package = importer.rpartition(".")[0]
    found: set[str] = set()
    for node in import_statements(source):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
            continue
        base = node.module or ""
        if node.level:
            if package is None:
                continue  # a script's relative import cannot reach the library
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([base] if base else [])])
        found.add(base)
        found |= {f"{base}.{alias.name}" for alias in node.names if alias.name != "*"}
    loaded = {module for module in found if module_file(module) is not None}
    return loaded | {parent for module in loaded for parent in _parents(module)}


def _parents(module: str) -> list[str]:
    """The packages holding ``module`` (``a.b.c`` -> ``a``, ``a.b``)."""
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


@functools.cache
def _module_imports(module: str) -> frozenset[str]:
    """The library modules ``module``'s own import statements load (cached per process)."""
    return frozenset(imported_modules(_source(module_file(module)), module))


@functools.cache
def _content(path: Path) -> bytes:
    """A file's bytes, read once per process (parsed for imports, then hashed)."""
    return path.read_bytes()


def _source(path: Path) -> str:
    return _content(path).decode("utf-8")


def module_closure(modules: Iterable[str]) -> set[str]:
    """``modules`` and every library module they load, directly or through others."""
    closure: set[str] = set()
    pending = list(modules)
    while pending:
        module = pending.pop()
        if module not in closure:
            closure.add(module)
            pending += _module_imports(module) - closure
    return closure


@functools.cache
def data_files(module: str) -> frozenset[Path]:
    """The package data a module reads: files and folders beside it that it names in a string."""
    path = module_file(module)
    named = set(STRING_LITERAL.findall(_source(path))) & _data_entries(path.parent)
    entries = [path.parent / name for name in named]
    inside = [item for entry in entries if entry.is_dir() for item in entry.rglob("*")]
    return frozenset(item for item in entries + inside if item.is_file())


@functools.cache
def _data_entries(folder: Path) -> frozenset[str]:
    """The names of a package folder's data: files other than modules, folders not packages."""
    return frozenset(
        entry.name
        for entry in folder.iterdir()
        if entry.name != "__pycache__"
        and entry.suffix != ".py"
        and not (entry / "__init__.py").is_file()
    )


def script_files(script: str | Path) -> list[Path]:
    """The files a script's digest covers: the script, the source of every library module it
    can run and the package data those modules read, sorted."""
    script = Path(script).resolve()
    modules = module_closure(imported_modules(_source(script)))
    files = {module_file(module) for module in modules}
    for module in modules:
        files |= data_files(module)
    return [script, *sorted(files)]


def library_files() -> list[Path]:
    """Every file of the library: its modules and its package data (not Python's caches)."""
    return sorted(
        path
        for path in PACKAGE_ROOT.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


@functools.cache
def _file_digest(path: Path) -> bytes:
    return hashlib.sha256(_content(path)).digest()


def files_digest(files: Iterable[Path]) -> str:
    """SHA-256 (first 16 hex digits) over each file's name and content digest, in order.

    Library files are named relative to the package, a script by its file name: the digest does
    not depend on where the project is checked out.
    """
    digest = hashlib.sha256()
    for path in files:
        name = path.relative_to(PACKAGE_ROOT) if path.is_relative_to(PACKAGE_ROOT) else path.name
        digest.update(Path(name).as_posix().encode() + b"\0" + _file_digest(path))
    return digest.hexdigest()[:16]


@functools.cache
def script_digest(script: str | Path) -> str:
    """The digest of the code a script runs (:func:`script_files`), cached per process."""
    return files_digest(script_files(script))


def library_digest() -> str:
    """The digest of the whole library (modules and package data), as provenance records it."""
    return files_digest(library_files())
