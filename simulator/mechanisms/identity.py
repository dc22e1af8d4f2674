"""Seller identity: whether buyers can tell sellers apart across periods.

`anonymous`: every purchase is a draw from a pool (Akerlof's used-car lot), so
there is no relationship to keep or switch away from and no seller to
remember; `identifiable`: buyers remember sellers and return to good ones;
`partners`: a buyer whose current seller is still worth buying from meets
nobody else (a repeated-game partnership). The candidate set always starts
with the buyer's current seller where there is one (`phases.shop`).
"""

from __future__ import annotations

import numpy as np

from .base import Mechanism


class Identity(Mechanism):
    name = "identity"

    def __init__(self, market):
        self.p = market.params.identity

    @classmethod
    def enabled(cls, params):
        return params.identity == "partners"

    def restrict(self, m, offers, value, acceptable):
        loyal = offers.has_current & acceptable[:, 0]
        value[loyal, 1:] = -np.inf
        acceptable[loyal, 1:] = False
