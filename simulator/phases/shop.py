"""Shopping: each active buyer considers its current seller and K sampled ones, values
each purchase as a CPT lottery under its belief about quality, and buys the best one if
it beats the outside option; sellers with limited capacity serve proposers in random order.

`shop` goes step by step, so mechanisms can take part between the steps; a market no
mechanism shops in takes `shop_plain`, the same steps in one compiled pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import kernels, shop_kernels
from ..market import MarketState
from ..mechanisms.base import N_POOLS, Mechanism

#: A purchase is acceptable when its value is at least the outside option's less this.
ACCEPT_TOLERANCE = 1e-12


@dataclass
class Offers:
    """What each buyer considered this step: one row per buyer, one column per candidate
    (column 0: its current seller, -1 where it has none), and the column it bought. (A
    market shopped in one pass without capacity limits keeps only the chosen column:
    `shop_plain`.)"""

    buyers: np.ndarray
    cands: np.ndarray            # seller rows, -1: no candidate
    has_current: np.ndarray      # the buyer's current seller is offering
    mean: np.ndarray             # belief about delivered quality
    var: np.ndarray
    slot: np.ndarray             # memory slot of the buyer's own belief, -1: none
    price: np.ndarray            # price asked of this buyer
    extra: np.ndarray            # switching cost of buying there
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # per-cell mechanism marks
    pick: np.ndarray | None = None  # column bought, -1: none
    wanted: np.ndarray | None = None  # found something worth buying (even if turned away)

    @property
    def safe(self) -> np.ndarray:
        """Candidates with -1 replaced by a real row (masked by `valid` wherever it matters)."""
        return np.maximum(self.cands, 0)

    @property
    def valid(self) -> np.ndarray:
        return self.cands >= 0


def candidates(m: MarketState, buyers: np.ndarray, offering: np.ndarray, *,
               compiled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(candidates, has_current): the current seller (where buyers remember sellers and it
    still offers), K sellers sampled at random, then any mechanism's extra columns.
    Compiled, the first two in one pass (`shop_kernels.candidates`); the numpy below is
    its reference."""
    s, b = m.sellers, m.buyers
    draws = sample(m, len(buyers), offering)
    if compiled:
        cands, has_current = shop_kernels.candidates(buyers, draws, offering, b.last_seller,
                                                     s.offering, m.remembers)
    else:
        n = len(buyers)
        current = b.last_seller[buyers] if m.remembers else np.full(n, -1)
        has_current = current >= 0
        has_current[has_current] = s.offering[current[has_current]]
        current = np.where(has_current, current, -1)
        cands = np.concatenate([current[:, None], offering[draws]], axis=1)
    for mech in m.mechanisms:
        cands = mech.candidates(m, buyers, cands)
    return cands, has_current


def sample(m: MarketState, n: int, offering: np.ndarray) -> np.ndarray:
    """K draws per buyer of a position in `offering` (uniform, with replacement)."""
    return m.rng.integers(len(offering), size=(n, m.params.choice.candidates))


def predictive_beliefs(m: MarketState, buyers: np.ndarray, cands: np.ndarray, *,
                       compiled: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each buyer's normal belief (mean, variance) about the quality it would get from each
    candidate, and the slot of its own belief about that seller (-1: none).

    The base belief is public information, else the pooled belief of the seller's badge
    pool, replaced by the buyer's own belief where it remembers the seller
    (`kernels.candidate_beliefs`; its numpy reference is `reference.beliefs`).
    Mechanisms then shift what the buyer does not know first-hand (claims, reviews),
    and delivery noise is added last; compiled, all of it in one pass where only
    `FUSED_SHIFTS` shift beliefs (`shop_kernels.predictive_beliefs`).
    """
    buyers = np.ascontiguousarray(buyers, dtype=np.int64)
    if not buyers.flags.writeable:   # as the learning kernel's (a read-only array is another
        buyers = buyers.copy()       # type to numba: the kernels would compile twice)
    beliefs = belief_terms(m)
    shifts = fused_shifts(m) if compiled else None
    if shifts is not None:  # the look-up, the shifts and the noise in one pass
        return kernels.threaded(shop_kernels.predictive_beliefs,
                                shop_kernels.predictive_beliefs_threaded, buyers,
                                np.ascontiguousarray(cands), beliefs, *shifts,
                                float(m.noise_var))
    if compiled:
        rules = kernels
    else:
        from ..reference import beliefs as rules
    mean, var, slot, open_ = rules.candidate_beliefs(buyers, np.ascontiguousarray(cands),
                                                     *beliefs)
    for mech in m.mechanisms:
        mech.adjust_beliefs(m, rules, buyers, cands, mean, var, open_)
    var += m.noise_var
    return mean, var, slot


def belief_terms(m: MarketState) -> tuple:
    """What a buyer's belief about a seller is made of, as the kernels take it
    (`kernels.candidate_beliefs`' arguments after the cells)."""
    s, bel = m.sellers, m.beliefs
    return (s.pub_mean, s.pub_var, s.pool, bel.pool_mean, bel.pool_precision, bel.pool_sq,
            m.noise_var, m.action_var, m.all_learnable, m.remembers, bel.slot_seller,
            bel.slot_mean, bel.slot_precision)


#: Mechanisms whose `adjust_beliefs` `shop_kernels.predictive_beliefs` applies in its pass
#: (from their `belief_terms`), in this order, which is `mechanisms.SCHEDULE`'s.
FUSED_SHIFTS = ("claims", "reviews")


def fused_shifts(m: MarketState) -> tuple[tuple, tuple] | None:
    """The claims' and reviews' terms for `shop_kernels.predictive_beliefs`; None where
    another mechanism shifts beliefs (then each goes through its `adjust_beliefs`)."""
    terms = {}
    for mech in m.mechanisms:
        if type(mech).adjust_beliefs is not Mechanism.adjust_beliefs:
            if mech.name not in FUSED_SHIFTS:
                return None
            terms[mech.name] = mech.belief_terms(m)
    return (terms.get("claims", shop_kernels.NO_CLAIMS),
            terms.get("reviews", shop_kernels.NO_REVIEWS))


def shop(m: MarketState) -> Offers | None:
    """Every active buyer's candidates, their values, and the column each one buys
    (None when no buyer or no seller is in the market this step)."""
    p, s = m.params, m.sellers
    buyers, offering = m.active_buyers(), m.offering_sellers()
    if len(buyers) == 0 or len(offering) == 0:
        return None
    if m.plain_shop:
        return shop_plain(m, buyers, offering)
    cands, has_current = candidates(m, buyers, offering)
    safe = np.maximum(cands, 0)
    for mech in m.mechanisms:
        mech.before_valuation(m, buyers, safe)
    mean, var, slot = predictive_beliefs(m, buyers, safe)
    extra = np.zeros(cands.shape)
    if p.choice.switching_cost > 0:
        extra[:, 1:] = np.where(has_current[:, None], p.choice.switching_cost, 0.0)
    offers = Offers(buyers, cands, has_current, mean, var, slot, s.price[safe], extra)
    for mech in m.mechanisms:
        mech.adjust_prices(m, offers)

    n = len(buyers)
    cost = offers.price + extra if p.choice.switching_cost > 0 else offers.price
    # Without choice noise the outside option is worth 0, and only which purchases
    # reach it matters for those that do not (kernels.lottery_values).
    noisy = p.choice.logit_noise > 0
    # Where nobody is turned away and no mechanism rules cells out after valuation, only
    # each buyer's best cell, and whether it reaches the outside option, matter.
    restricted = any(type(mech).restrict is not Mechanism.restrict for mech in m.mechanisms)
    best_only = p.capacity <= 0 and not noisy and not restricted
    value = value_cells(m, offers, cost, -np.inf if noisy else -ACCEPT_TOLERANCE,
                        best_only=best_only)
    outside = np.zeros(n)
    if noisy:
        value = value + p.choice.logit_noise * m.rng.gumbel(size=value.shape)
        outside = p.choice.logit_noise * m.rng.gumbel(size=n)
    if p.capacity <= 0 and not restricted:  # the first choice, and which cells pass
        offers.pick, offers.wanted = shop_kernels.first_choices(value, None,
                                                                outside - ACCEPT_TOLERANCE)
        return offers
    acceptable = value >= outside[:, None] - ACCEPT_TOLERANCE
    for mech in m.mechanisms:
        mech.restrict(m, offers, value, acceptable)
    if p.capacity <= 0:  # everyone gets its first choice (`allocate`'s rule, compiled)
        offers.pick, offers.wanted = shop_kernels.first_choices(value, acceptable)
    else:
        offers.wanted = acceptable.any(axis=1)
        offers.pick = allocate(m, cands, value, acceptable, p.capacity)
    return offers


def value_cells(m: MarketState, offers: Offers, cost: np.ndarray, cutoff: float, *,
                best_only: bool = False, compiled: bool = True) -> np.ndarray:
    """The CPT value of buying each cell at `cost`, under the cell's belief, each buyer's
    segment's preferences and any quality floor; -inf where a buyer has no candidate.
    Values below `cutoff` may be -inf (the others, and which are below it, are exact);
    with `best_only`, compiled, so may values below their row's best for certain (each
    row's best, its first column and which cells reach `cutoff` are exact).

    Compiled, each segment's cells go through `Valuation.cells` in one pass (with threads,
    its rows shared out); the numpy reference below (`compiled=False`) gathers every
    cell's taste, spread and floor first.
    """
    s, b = m.sellers, m.buyers
    buyers, cands = offers.buyers, offers.cands
    if compiled:
        value = np.empty(cands.shape)
        floors = m.quality_floor(np.arange(N_POOLS)) if m.has_floor else None
        segment = b.segment[buyers] if len(m.valuations) > 1 else None
        for k, valuation in enumerate(m.valuations):
            rows = np.arange(len(buyers)) if segment is None else np.flatnonzero(segment == k)
            valuation.cells(rows, buyers, cands, b.theta, offers.mean, offers.var, cost,
                            s.pool, floors, value, cutoff, best_only)
        return value
    safe = offers.safe
    floor = m.quality_floor(s.pool[safe]) if m.has_floor else None
    theta = np.broadcast_to(b.theta[buyers][:, None], cands.shape)
    value = m.by_segment(buyers, "value", theta, offers.mean, np.sqrt(offers.var), cost,
                         floor, cutoff=cutoff)
    value[~offers.valid] = -np.inf
    return value


def shop_plain(m: MarketState, buyers: np.ndarray, offering: np.ndarray) -> Offers:
    """`shop` where no mechanism takes part (`MarketState.plain_shop`): candidates,
    beliefs, prices, values and choices in one compiled pass, with the same numbers.
    Without capacity limits its Offers keep only the column each buyer chose (`pick`
    is 0 or -1, and the belief, price and switching cost are set only where it is 0):
    settlement reads nothing else, and writing every cell out cost a tenth of a step."""
    p, s = m.params, m.sellers
    buyers = np.ascontiguousarray(buyers, dtype=np.int64)
    sampling = (sample(m, len(buyers), offering), offering, m.buyers.last_seller, s.offering)
    beliefs = belief_terms(m)
    whole = p.capacity > 0  # allocation walks down each buyer's list
    width = p.choice.candidates + 1 if whole else 1
    out = kernels.shop_buffers(len(buyers), width, m.buffers)
    (mean, var, slot, price, extra, value, acceptable, first, wanted, cands,
     has_current) = kernels.shop_plain(buyers, sampling, m.buyers.theta, s.price,
                                       p.choice.switching_cost, beliefs, m.noise_var,
                                       *m.valuations[0].kernel_args(), ACCEPT_TOLERANCE,
                                       whole, out)
    offers = Offers(buyers, cands, has_current, mean, var, slot, price, extra)
    offers.wanted = wanted
    offers.pick = allocate(m, cands, value, acceptable, p.capacity) if whole else first
    return offers


def allocate(m: MarketState, cands: np.ndarray, value: np.ndarray, acceptable: np.ndarray,
             capacity: int, *, compiled: bool = True) -> np.ndarray:
    """Column of the candidate each buyer gets, -1 for none; capacity is respected.

    Buyers propose to their best acceptable candidate; a seller short of
    capacity serves proposers in random order and the rest try their next
    choice, for as many rounds as there are candidates. Compiled, the rounds are
    `shop_kernels.allocate`; the numpy below is its reference.
    """
    n, width = cands.shape
    if capacity <= 0:  # everyone gets its first choice
        best = value.argmax(axis=1)
        return np.where(acceptable[np.arange(n), best], best, -1)
    priority = m.rng.permutation(n)
    if compiled:
        return shop_kernels.allocate(np.ascontiguousarray(cands, dtype=np.int64),
                                     np.ascontiguousarray(value, dtype=float),
                                     np.ascontiguousarray(acceptable, dtype=bool),
                                     int(capacity), priority, m.sellers.size)
    order = np.argsort(-value, axis=1, kind="stable")
    remaining = np.full(m.sellers.size, capacity, dtype=np.int64)
    pick = np.full(n, -1)
    pointer = np.zeros(n, dtype=np.int64)
    open_ = np.ones(n, dtype=bool)
    for _ in range(width):
        idx = np.flatnonzero(open_)
        if len(idx) == 0:
            break
        col = order[idx, pointer[idx]]
        ok = acceptable[idx, col]
        open_[idx[~ok]] = False
        idx, col = idx[ok], col[ok]
        seller = cands[idx, col]
        srt = np.lexsort((priority[idx], seller))
        idx, col, seller = idx[srt], col[srt], seller[srt]
        first = np.searchsorted(seller, seller, side="left")
        rank = np.arange(len(seller)) - first
        win = rank < remaining[seller]
        pick[idx[win]] = col[win]
        open_[idx[win]] = False
        remaining -= np.bincount(seller[win], minlength=len(remaining))
        lose = idx[~win]
        pointer[lose] += 1
        open_[lose[pointer[lose] >= width]] = False
    return pick
