"""Mesa, imported without inspecting every module and every frame on the stack.

`mesa.model` names its loggers by calling `inspect.stack()`,
`inspect.getouterframes()` and `inspect.getmodule()` at import: they read the
source of every frame on the import stack and resolve the file of every
loaded module, 0.2-0.5 s once pandas and matplotlib are loaded (up to a
tenth of a tiny `infogap run`). All Mesa reads is a frame's function name and
its module's name, so while Mesa is imported those three answer from the
frames alone; the loggers get the same names. And only the part of Mesa the
market uses is imported (see `_import_core`). Import Mesa from here:
`from .mesa_import import mesa`.
"""

from __future__ import annotations

import inspect
import sys

from .lazy_package import bare_package


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
        return _import_core()
    except ImportError:   # another Mesa than the one this was written for: all of it
        for name in [n for n in sys.modules if n == "mesa" or n.startswith("mesa.")]:
            del sys.modules[name]
        import mesa

        return mesa
    finally:
        inspect.stack, inspect.getouterframes, inspect.getmodule = saved


def _import_core():
    """`mesa` with Agent, Model and DataCollector, without running `mesa/__init__.py` and
    `mesa/experimental/__init__.py` until something asks them for another name: they import
    every Mesa feature, among them grids with networkx and spaces with scipy.spatial
    (0.4-0.5 s that the market never uses)."""
    mesa = bare_package("mesa")
    bare_package("mesa.experimental")
    from mesa.agent import Agent

    mesa.Agent = Agent   # before the modules that import it from `mesa`
    from mesa.model import Model

    mesa.Model = Model
    from mesa.datacollection import DataCollector

    mesa.DataCollector = DataCollector
    return mesa


mesa = _import_mesa()
