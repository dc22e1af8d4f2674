"""Settlement: the buyer pays the price it was asked and gets the quality the seller makes,
with noise (and whatever a mechanism adds, such as a repair). Money moves from buyers to
sellers and is booked on both sides."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ..market import MarketState
from . import _kernels
from .shop import Offers


@dataclass
class Trades:
    """This step's trades, one entry per purchase."""

    buyer: np.ndarray
    segment: np.ndarray         # the buyer's segment (its row may be reused after churn)
    seller: np.ndarray
    price: np.ndarray           # paid
    theta: np.ndarray           # the buyer's taste
    expected: np.ndarray        # the buyer's expected quality
    belief_var: np.ndarray      # variance of that expectation (with delivery noise)
    slot: np.ndarray            # memory slot of the buyer's own belief, -1: none
    switching_cost: np.ndarray
    made: np.ndarray            # quality the seller made
    quality: np.ndarray         # made plus delivery noise: what the buyer experiences
    delivered: np.ndarray       # what the buyer ends up with (after any repair)
    blind: np.ndarray           # bought from a seller it knew nothing about
    deceptive: np.ndarray       # delivered less than was claimed or implied
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    #: Active buyers who found nothing worth buying this step (not those turned away).
    refused: np.ndarray | None = None

    @classmethod
    def none(cls, m: MarketState) -> Trades:
        empty = {f.name: np.zeros(0) for f in fields(cls) if f.name != "flags"}
        for name in ("buyer", "segment", "seller", "slot"):
            empty[name] = np.zeros(0, dtype=np.int64)
        for name in ("blind", "deceptive"):
            empty[name] = np.zeros(0, dtype=bool)
        return cls(**empty)

    def __len__(self) -> int:
        return len(self.buyer)


def settle(m: MarketState, offers: Offers | None) -> Trades:
    s, b = m.sellers, m.buyers
    b.bought_from[: b.size] = -1
    b.spent[: b.size] = 0.0
    s.sales[: s.size] = 0
    s.revenue[: s.size] = 0.0
    if offers is None:
        trades = Trades.none(m)
        trades.refused = m.active_buyers()  # nobody offers anything
        return trades
    (bought, who, segment, theta, seller, paid, expected, belief_var, slot, switching, blind,
     refused) = _kernels.purchases(offers.pick, offers.wanted, offers.buyers, offers.cands,
                                offers.price, offers.mean, offers.var, offers.slot,
                                offers.extra, s.pub_var, b.segment, b.theta)
    made = m.made(seller)
    quality = made + m.params.quality_noise * m.rng.standard_normal(len(seller))
    delivered = quality
    for mech in m.mechanisms:
        delivered = mech.deliver(m, seller, delivered)
    deceptive = np.zeros(len(seller), dtype=bool)
    for mech in m.mechanisms:
        flagged = mech.deceptive(m, seller, made)
        if flagged is not None:
            deceptive |= flagged
    flags = {}
    if offers.flags:  # mechanisms' marks on the cells bought, (row, column) in flat arrays
        cell = bought * offers.cands.shape[1] + offers.pick[bought]
        flags = {name: flag.reshape(-1)[cell] for name, flag in offers.flags.items()}
    trades = Trades(
        buyer=who, segment=segment, seller=seller, price=paid, theta=theta,
        expected=expected, belief_var=belief_var, slot=slot, switching_cost=switching,
        made=made, quality=quality, delivered=delivered,
        # A purchase from a seller the buyer already knew says nothing about unknown sellers.
        blind=blind, deceptive=deceptive,
        flags=flags,
        refused=refused)
    b.bought_from[who] = seller
    b.spent[who] = paid
    b.paid_total[who] += paid
    s.sales[: s.size] = np.bincount(seller, minlength=s.size)
    s.revenue[: s.size] = np.bincount(seller, weights=paid, minlength=s.size)
    s.received[: s.size] += s.revenue[: s.size]
    return trades
