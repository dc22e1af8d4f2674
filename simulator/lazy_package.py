"""A package registered without running its `__init__` until a name is asked of it.

Some packages' `__init__` imports far more than the one submodule a run uses
(Mesa's imports every Mesa feature; scipy.linalg's the array-API layer,
numpy.testing and unittest). Registered bare, the package's submodules import
as usual, and the first name asked of the package itself that it lacks runs
its `__init__`, so nothing else notices.
"""

from __future__ import annotations

import importlib.util
import sys


def bare_package(name: str):
    """Package `name`, registered without running its `__init__`; the first name asked of
    it that it lacks runs the `__init__` (so e.g. `mesa.__version__`, `from mesa import
    batch_run` or `scipy.linalg.solve` work as after a plain import)."""
    spec = importlib.util.find_spec(name)
    package = importlib.util.module_from_spec(spec)

    def complete(attribute: str):
        del package.__getattr__
        spec.loader.exec_module(package)
        return getattr(package, attribute)

    package.__getattr__ = complete
    sys.modules[name] = package
    return package
