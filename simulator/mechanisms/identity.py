"""Seller identity: whether buyers can tell sellers apart across periods.

`anonymous`: every purchase is a draw from a pool (Akerlof's used-car lot), so
there is no relationship to keep or switch away from and no seller to
remember; `identifiable`: buyers remember sellers and return to good ones;
`partners`: a buyer whose current seller is still worth buying from meets
nobody else (a repeated-game partnership). The candidate set always starts
with the buyer's current seller where there is one (`phases.shop`).

With limited capacity a partnership holds its share of the seller's units: a
seller whose partners fill its capacity is not on offer to other buyers, and a
partner turned away all the same (two buyers claim the same seller) looks
elsewhere instead of waiting for ever.
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
        capacity = m.params.capacity
        if capacity <= 0:  # nobody is ever turned away: the partner is the only candidate
            value[loyal, 1:] = -np.inf
            acceptable[loyal, 1:] = False
            return
        value[loyal, 0] = np.inf  # the partner first; others only if it is full
        partners = np.bincount(offers.cands[loyal, 0], minlength=m.sellers.size)
        held = (partners >= capacity)[offers.safe] & offers.valid
        held[:, 0] = False  # a buyer's own current seller
        value[held] = -np.inf
        acceptable[held] = False
