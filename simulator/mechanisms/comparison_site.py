"""A price-comparison site: buyers who use it also consider the cheapest offers.

Each step a share `coverage` of buyers looks at the site, which lists the
`listed` lowest posted prices; those sellers join the ones the buyer samples.
Prices become easy to compare, quality does not: when quality is hidden, the
cheapest offers tend to be the worst, so the site can deepen adverse selection
under cost-based pricing, while with public quality it only lowers search cost.
"""

from __future__ import annotations

import numpy as np

from ._kernels import append_listed
from .base import Mechanism


class ComparisonSite(Mechanism):
    name = "comparison_site"

    def candidates(self, m, buyers, cands):
        s = m.sellers
        offering = np.flatnonzero(s.offering[: s.size])
        k = min(self.p.listed, len(offering))
        listed = offering[np.argsort(s.price[offering], kind="stable")[:k]]
        looks = m.rng.random(len(buyers)) < self.p.coverage
        return append_listed(cands, looks, listed)
