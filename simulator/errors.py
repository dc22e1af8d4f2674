"""Errors that are the user's to fix: the CLI prints them in one line and exits 2, no traceback."""


class UserError(Exception):
    """A problem with the user's input (file, key, value, option), with a message that says how to fix it."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: runs stop and partial output is removed (exit 143)."""
