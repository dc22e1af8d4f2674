"""`infogap viz`: the live market in Mesa's visualisation server (SolaraViz)."""

from __future__ import annotations

import argparse
from typing import NoReturn

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def register(subparsers) -> None:
    viz = subparsers.add_parser(
        "viz", help="watch a scenario's market live in the browser (Mesa SolaraViz)",
        description="Serve a live, steppable view of one arm of a scenario (or, with --twin, "
        "two arms in lockstep from the same seed) and print its address. Controls change the "
        "market on Reset. Works offline. Stop with Ctrl+C.")
    viz.add_argument("scenario", metavar="SCENARIO", nargs="?",
                     help="scenario file (.toml; default: scenarios/lemons.toml)")
    viz.add_argument("--arm", metavar="NAME", dest="arms", action="append", default=[],
                     help="arm to show (default: the baseline); with --twin, the arm shown "
                     "beside the baseline, or give --arm twice for the left and right arms")
    viz.add_argument("--twin", action="store_true",
                     help="two arms side by side, stepping in lockstep with the same seed "
                     "(default: the baseline and the first other arm)")
    viz.add_argument("--host", default=DEFAULT_HOST,
                     help=f"address to listen on (default: {DEFAULT_HOST}, this machine only)")
    viz.add_argument("--port", type=_port, default=DEFAULT_PORT,
                     help=f"port to listen on (default: {DEFAULT_PORT}; 0: any free port)")
    viz.set_defaults(func=viz_command)


def _port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, found {text!r}") from None


def viz_command(args) -> NoReturn:
    from ..viz.server import bind, serve
    from ..viz.setup import make_setup

    setup = make_setup(args.scenario, args.arms, twin=args.twin)
    sock = bind(args.host, args.port)
    serve(setup, sock)
