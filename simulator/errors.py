"""Errors that are the user's to fix: the CLI prints them in one line and exits 2, no traceback."""

from __future__ import annotations

from typing import Any

#: How much of a found string is quoted back (a 300-character name need not be shown whole).
_SHOWN_CHARS = 60


class UserError(Exception):
    """A problem with the user's input (file, key, value, option), with a message that says how to fix it."""


class ConfigError(UserError, ValueError):
    """A configuration value that does not fit its schema: file, key path, expected, found.

    Raised by the configuration engine (simulator.config) for scenario files, experiment
    files, `--set` overrides and factors alike; `located(file)` adds the file once it is
    known, so the message always reads `FILE: KEY: expected X, found Y`.
    """

    def __init__(self, path: str, expected: str, found: Any = None, *,
                 message: str | None = None, file: str | None = None):
        self.path, self.expected, self.found, self.file = path, expected, found, file
        self.detail = message or f"{path}: expected {expected}, found {show(found)}"
        super().__init__(self.detail)

    def located(self, file: Any) -> ConfigError:
        """This error, naming `file` (unless it already names one)."""
        if self.file is None and file is not None:
            self.file = str(file)
        return self

    def __str__(self) -> str:
        return one_line(f"{self.file}: {self.detail}" if self.file else self.detail)


def show(value: Any) -> str:
    """A found value as the user wrote it: tables and lists by kind, strings quoted and cut."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        if len(value) > _SHOWN_CHARS:
            return f"{value[:_SHOWN_CHARS]!r}... ({len(value)} characters)"
        return repr(value)
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    return f"{value!r} ({type(value).__name__})"


def one_line(text: str) -> str:
    """`text` with control characters (newlines, NUL, ...) escaped, so it prints as one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: runs stop and partial output is removed (exit 143)."""
