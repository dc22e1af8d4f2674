"""Relationships: who switched seller, who leaves the market, how many newcomers arrive."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..market import MarketState
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
    b.idle[start] += 1
    b.idle[t.buyer] = 0
    n = b.size
    lapse = m.trust_of("lapse", np.s_[:n])
    leaving = np.flatnonzero(b.active[:n] & (
        (b.trust[:n] < m.trust_of("leave_below", np.s_[:n]))
        | ((lapse > 0) & (b.idle[:n] >= lapse))))
    if len(leaving):
        switched = switched[~np.isin(switched, leaving)]
    arrivals = int(m.rng.poisson(m.params.arrivals.rate * m.params.buyers))
    return Churn(switched, leaving, arrivals)
