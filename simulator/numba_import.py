"""numba, set up so that loading infogap's compiled kernels imports only what they use.

The first kernel numba loads in a process (from its cache or compiled) makes
numba import its numpy support, whose BLAS check (`numba.np.arraymath`)
imports `scipy.linalg.cython_blas`, and with it scipy.linalg's `__init__`:
the array-API layer, numpy.testing, unittest and numpy.f2py, 0.2-0.3 s of a
run's start for a package no kernel calls. The check needs only that compiled
module, so scipy.linalg is registered bare (`lazy_package`): its `__init__`
runs the first time anything asks it for a name (`scipy.linalg.solve`, or an
import of scipy.stats). Every module with kernels imports this one.
"""

from __future__ import annotations

import sys

from .lazy_package import bare_package

if "scipy.linalg" not in sys.modules:
    bare_package("scipy.linalg")
