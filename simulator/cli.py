"""`infogap` command line. Each feature module registers its own subcommands.

A feature module exposes `register(subparsers)`, adding parsers whose
`func(args) -> int` does the work. User mistakes raise `UserError` (a
`ConfigError` for configuration), printed as one line with exit status 2. A
command module that fails to import is a broken installation: the error
propagates rather than the command silently vanishing from the help.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import signal
import sys
import threading

from . import __version__
from .errors import Terminated, UserError, one_line

#: Modules that contribute subcommands, in help order.
COMMAND_MODULES = (
    "simulator.commands.run",
    "simulator.commands.viz",
    "simulator.commands.sweep",
    "simulator.commands.churn",
    "simulator.commands.theory",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag ends in one line (the usage is one --help away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="infogap",
        description="Agent-based market simulator of information asymmetry and trust.",
    )
    parser.add_argument("--version", action="version", version=f"infogap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _exit_without_collecting() -> None:
    """At exit, after every other exit handler, freeze what is left (`gc.freeze`): the
    interpreter's last collections, which walk every object a run loaded (numba's types,
    pandas, 0.3-0.6 s), then have nothing to walk. What a command writes it closes itself,
    and the memory goes back with the process."""
    atexit.register(gc.freeze)   # registered first, so run last


def _terminate(signum, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Run the command in `argv` (default: this process's command line, which then ends
    without its last garbage collections: see `_exit_without_collecting`)."""
    if argv is None:
        _exit_without_collecting()
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, extra = parser.parse_known_args(argv)
    if extra:
        hint = " (--set takes one KEY=VALUE; repeat --set for each key)" if "--set" in argv else ""
        parser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"infogap: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print("infogap: interrupted; nothing was written", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
