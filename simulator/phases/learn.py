"""Learning from this step's trades: pooled and individual beliefs, trust, and whatever the
mechanisms make of a trade (claims judged, ratings posted, stories told)."""

from __future__ import annotations

import numpy as np

from ..beliefs import EMPTY
from ..market import MarketState
from . import _kernels
from .settle import Trades


def learn(m: MarketState, t: Trades) -> None:
    s, b, bel = m.sellers, m.buyers, m.beliefs
    who, seller, quality, expected = t.buyer, t.seller, t.quality, t.expected
    # Bought blind: evidence about what unknown sellers of that badge pool are worth.
    pooled = t.blind
    pool = s.pool[seller]
    # One trade per buyer a step, so no (buyer, pool) or (buyer, slot) pair repeats below.
    bel.update_pool(who[pooled], pool[pooled], quality[pooled], m.pool_obs_var, distinct=True)
    feedback = m.params.beliefs.market_feedback
    if pooled.any() and feedback > 0:
        # Everyone hears how blind purchases from each pool turned out on average.
        listeners = m.active_buyers()
        for k in np.unique(pool[pooled]):
            news = quality[pooled & (pool == k)]  # an average, and how much it varied
            bel.update_pool(listeners, k, np.full(len(listeners), news.mean()),
                            m.pool_obs_var / feedback,
                            np.full(len(listeners), (news**2).mean()), distinct=True)
    hidden = m.learnable(seller)  # nothing to learn about exact public quality
    if m.remembers and hidden.any():
        w, j = who[hidden], seller[hidden]
        prior_var = np.maximum(t.belief_var[hidden] - m.noise_var, 1e-9)
        opened = bel.remember(w, j, expected[hidden], 1 / prior_var, m.now, t.slot[hidden])
        bel.update_slots(w, opened, quality[hidden], m.seller_obs_var, distinct=True)

    # Trust rises after a good experience and falls (faster) after a bad one.
    # A buyer that found nothing worth buying trusts the market a little less (one that
    # wanted to buy but was turned away by capacity learns nothing about the market).
    # Refusals alone wear trust down, but not to where one disappointment would make the
    # buyer leave: leaving follows bad experiences, or `trust.lapse` idle steps.
    trust = m.segment_trust
    refused = t.refused if t.refused is not None else who[:0]
    _kernels.trust_after_step(b.trust, b.last_gap, b.losses, b.segment, who, expected,
                              t.delivered, trust["tolerance"], trust["gain"], trust["loss"],
                              refused, trust["leave_below"], trust["idle_loss"])
    for mech in m.mechanisms:
        mech.after_trade(m, t)


def hear(m: MarketState, buyers: np.ndarray, sellers: np.ndarray, observed: np.ndarray,
         weight: np.ndarray, *, compiled: bool = True) -> None:
    """Evidence about sellers that did not come from a purchase (a story, a sample):
    worth `weight` own observations about that seller (or, with anonymous sellers,
    about the pool it belongs to). Each buyer hears at most one piece a call (one story,
    one sample), so the updates need no sort (a repeat would be taken in turn: the same
    belief but for rounding). Compiled, where buyers remember sellers and only
    `shop.FUSED_SHIFTS` shift beliefs, in one pass (`_kernels.hear`); the numpy below
    is its reference."""
    from .shop import belief_terms, fused_shifts, predictive_beliefs

    s, bel = m.sellers, m.beliefs
    shifts = fused_shifts(m) if compiled and m.remembers else None
    if shifts is not None:
        _kernels.hear(np.ascontiguousarray(buyers, dtype=np.int64),
                      np.ascontiguousarray(sellers, dtype=np.int64),
                      np.ascontiguousarray(observed, dtype=float),
                      np.ascontiguousarray(weight, dtype=float), belief_terms(m), *shifts,
                      bel.slot_used, float(m.seller_obs_var), m.now)
        return
    keep = m.learnable(sellers) & (weight > 0)
    buyers, sellers, observed, weight = buyers[keep], sellers[keep], observed[keep], weight[keep]
    if len(buyers) == 0:
        return
    if not m.remembers:
        bel.update_pool(buyers, s.pool[sellers], observed, m.pool_obs_var / weight,
                        distinct=True)
        return
    known = bel.find(buyers, sellers)
    prior_mean, prior_precision = np.zeros(len(buyers)), np.ones(len(buyers))
    new = known == EMPTY
    if new.any():  # a first impression starts from what the buyer would have expected
        mean, var, _ = predictive_beliefs(m, buyers[new], sellers[new][:, None])
        prior_mean[new] = mean[:, 0]
        prior_precision[new] = 1 / np.maximum(var[:, 0] - m.noise_var, 1e-9)
    slot = bel.remember(buyers, sellers, prior_mean, prior_precision, m.now, known)
    bel.update_slots(buyers, slot, observed, m.seller_obs_var / weight, distinct=True)
