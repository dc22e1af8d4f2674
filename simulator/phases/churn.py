"""Relationships: who switched seller, who leaves the market, how many newcomers arrive."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..market import MarketState
from . import _kernels
from .settle import Trades


@dataclass
class Churn:
    switched: np.ndarray  # rows of buyers who bought from another seller than last time
    leaving: np.ndarray   # rows of buyers who leave the market now
    arrivals: int         # newcomers to add


def churn(m: MarketState, t: Trades, start: np.ndarray) -> Churn:
    """A buyer who switched and then left counts as a leaver only, so churn counts buyers,
    not events. Switching needs sellers buyers can tell apart."""
    b = m.buyers
    last = b.last_seller[t.buyer]
    switched = t.buyer[(last >= 0) & (last != t.seller)] if m.remembers else t.buyer[:0]
    b.last_seller[t.buyer] = t.seller
    n = b.size
    trust = m.segment_trust
    leaving = _kernels.idle_and_leaving(b.idle, b.active[:n], b.trust, b.segment, start,
                                        t.buyer, trust["leave_below"], trust["lapse"])
    if len(leaving):
        switched = switched[~np.isin(switched, leaving)]
    arrivals = int(m.rng.poisson(m.params.arrivals.rate * m.params.buyers))
    return Churn(switched, leaving, arrivals)
