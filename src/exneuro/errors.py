"""Errors a biologist can act on: each names the file, line and column, what was found, the fix."""

from __future__ import annotations


class ExneuroError(ValueError):
    """Base class: a problem with the user's config or data, never a bug of the pipeline."""


class ConfigError(ExneuroError):
    """The config file or the sample sheet breaks a rule of its schema or of the study design."""


class InputDataError(ExneuroError):
    """A raw data file cannot be analysed as it is."""


def where(
    file: str, line: int | None = None, column: str | None = None, mouse: str | None = None
) -> str:
    """'data/x.csv line 12 (mouse M03), column 'Distance (m)'' — the location part of a message."""
    text = str(file)
    if line is not None:
        text += f" line {line}"
    if mouse is not None:
        text += f" (mouse {mouse})"
    if column is not None:
        text += f", column '{column}'"
    return text


def data_error(
    file: str,
    problem: str,
    fix: str = "",
    *,
    line: int | None = None,
    column: str | None = None,
    mouse: str | None = None,
) -> InputDataError:
    """Build an :class:`InputDataError` with a one-line message: location, problem, fix."""
    message = f"{where(file, line, column, mouse)}: {problem}"
    if fix:
        message += f" — {fix}"
    return InputDataError(message)


def damaged_gzip_error(file: str, error: Exception) -> InputDataError:
    """The one-line error for a gzipped input that cannot be decompressed (truncated download,
    damaged copy): names the file and the decompressor's reason, and how to check it."""
    return data_error(
        file,
        f"the gzip file is truncated or damaged ({error})",
        "copy or download it again (gzip -t checks a file)",
    )
