"""One line on stderr when numba starts compiling a kernel, once a process.

The first runs after installing compile the engine's kernels (12 s for the
first market, about 22 s for every shipped scenario; numba then keeps them in
its cache beside the sources), and without a word that looks like a progress
bar stuck at 0. Numba reports only real compiles (`numba:compile`), not a
kernel loaded from its cache, so a warm start says nothing. Like the progress
bar, the line is for a terminal: where stderr is a file or a pipe (a log, a
test) nothing listens.
"""

from __future__ import annotations

import sys

from numba.core import event

MESSAGE = ("infogap: compiling the engine's kernels for this kind of market (numba keeps "
           "them, so only the first runs after installing wait: about 12 s the first time)")


class _Notice(event.Listener):
    def __init__(self) -> None:
        self.said = False

    def on_start(self, ev: event.Event) -> None:
        if not self.said:
            self.said = True
            print(MESSAGE, file=sys.stderr, flush=True)

    def on_end(self, ev: event.Event) -> None:
        pass


_notice: _Notice | None = None


def announce_compiling() -> None:
    """From now on, if stderr is a terminal, say so (once) when numba starts compiling in
    this process."""
    global _notice
    if _notice is None and sys.stderr.isatty():
        _notice = _Notice()
        event.register("numba:compile", _notice)
