"""Free trials: a buyer may see an unknown candidate's delivered quality once before paying.

The sample is worth one own purchase to the buyer's belief about that seller
(or, with anonymous sellers, about its pool); the seller bears the unit's cost.
"""

from __future__ import annotations

import numpy as np

from ..beliefs import EMPTY
from .base import Mechanism


class Trials(Mechanism):
    name = "trials"

    def before_valuation(self, m, buyers, cands):
        from ..phases.learn import hear

        first = cands[:, 1]  # the first sampled seller (column 0 is the current one)
        lucky = (m.rng.random(len(buyers)) < self.p.probability) & m.learnable(first)
        who, seller = buyers[lucky], first[lucky]
        if m.remembers:
            unknown = m.beliefs.find(who, seller) == EMPTY
            who, seller = who[unknown], seller[unknown]
        if len(who) == 0:
            return
        s = m.sellers
        sample = m.made(seller) + m.params.quality_noise * m.rng.standard_normal(len(who))
        m.charge(seller, s.unit_cost[seller])
        hear(m, who, seller, sample, np.ones(len(who)))
