"""Mesa, imported without inspecting every module and every frame on the stack.

`mesa.model` names its loggers by calling `inspect.stack()`,
`inspect.getouterframes()` and `inspect.getmodule()` at import: they read the
source of every frame on the import stack and resolve the file of every
loaded module, 0.2-0.5 s once pandas and matplotlib are loaded (up to a
tenth of a tiny `infogap run`). All Mesa reads is a frame's function name and
its module's name, so while Mesa is imported those three answer from the
frames alone; the loggers get the same names. Import Mesa from here:
`from .mesa_import import mesa`.
"""

from __future__ import annotations

import inspect
import sys


def _frames(frame, context: int = 1) -> list[inspect.FrameInfo]:
    """`inspect.getouterframes` without the source lines (code_context and index None)."""
    frames = []
    while frame is not None:
        frames.append(inspect.FrameInfo(frame, frame.f_code.co_filename, frame.f_lineno,
                                        frame.f_code.co_name, None, None))
        frame = frame.f_back
    return frames


def _stack(context: int = 1) -> list[inspect.FrameInfo]:
    return _frames(sys._getframe(1), context)


def _module(obj, _filename=None):
    """`inspect.getmodule`, answered for a frame by its globals' `__name__`."""
    if inspect.isframe(obj) and obj.f_globals.get("__name__") in sys.modules:
        return sys.modules[obj.f_globals["__name__"]]
    return _getmodule(obj, _filename)


_getmodule = inspect.getmodule


def _import_mesa():
    if "mesa" in sys.modules:
        return sys.modules["mesa"]
    saved = inspect.stack, inspect.getouterframes, inspect.getmodule
    inspect.stack, inspect.getouterframes, inspect.getmodule = _stack, _frames, _module
    try:
        import mesa
    finally:
        inspect.stack, inspect.getouterframes, inspect.getmodule = saved
    return mesa


mesa = _import_mesa()
