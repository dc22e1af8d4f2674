"""Seller turnover: sellers leave after a run of losses; entrants come while incumbents'
average profit covers the entry cost (free entry), up to a ceiling."""

from __future__ import annotations

import numpy as np

from ..market import MarketState


def exits(m: MarketState) -> np.ndarray:
    """Rows of sellers that leave now."""
    if not m.params.exit.enabled:
        return np.zeros(0, dtype=np.int64)
    live = m.live_sellers()
    return live[m.sellers.loss_run[live] >= m.params.exit.patience]


def entrants(m: MarketState) -> int:
    """How many sellers enter now (after this step's exits)."""
    e, live = m.params.entry, m.live_sellers()
    if not e.enabled or len(live) == 0 or m.sellers.profit[live].mean() <= e.cost:
        return 0
    room = m.max_sellers - len(live)
    return min(int(m.rng.poisson(e.rate * len(live))), max(room, 0))
