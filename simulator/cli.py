"""`infogap` command line. Each feature module registers its own subcommands.

A feature module exposes `register(subparsers)`, adding parsers whose
`func(args) -> int` does the work. User mistakes raise `UserError` (or
`ParamError`), printed as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from .errors import Terminated, UserError
from .params import ParamError

#: Modules that contribute subcommands, in help order.
COMMAND_MODULES = (
    "simulator.commands.run",
    "simulator.commands.viz",
    "simulator.commands.sweep",
    "simulator.commands.churn",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infogap",
        description="Agent-based market simulator of information asymmetry and trust.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # feature not built yet
                continue
            raise
        module.register(sub)
    return parser


def _terminate(signum, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args) or 0)
    except (UserError, ParamError) as exc:
        print(f"infogap: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print("infogap: interrupted; nothing was written", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
