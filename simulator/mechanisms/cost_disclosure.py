"""Cost disclosure: sellers publish unit cost, from which buyers infer quality.

With c = c0 + c1 q the published cost reveals q exactly when costs carry no
idiosyncratic noise; with noise it is a signal, combined with whatever else
is public by precision weighting.
"""

from __future__ import annotations

import numpy as np

from .base import Mechanism


class CostDisclosure(Mechanism):
    name = "cost_disclosure"

    @classmethod
    def enabled(cls, params):
        return params.cost_disclosure.enabled and params.cost.c1 > 0

    def publish(self, m, live, mean, var):
        c = m.params.cost
        implied = (m.sellers.cost[live] - c.c0) / c.c1
        cvar = (c.noise / c.c1) ** 2
        if cvar == 0:
            return implied, np.zeros_like(var)
        prec = np.where(np.isinf(var), 0.0, 1 / np.maximum(var, 1e-300)) + 1 / cvar
        combined = np.where(np.isinf(var), implied,
                            (mean / np.maximum(var, 1e-300) + implied / cvar) / prec)
        combined = np.where(var == 0, mean, combined)
        return combined, np.where(var == 0, 0.0, 1 / prec)
