"""Struct-of-arrays tables for sellers and buyers, growing as agents arrive.

One numpy array per attribute and one row per agent lets a step update every
agent in a handful of array operations. These are the core columns; each
mechanism declares its own (`Mechanism.seller_columns`, `buyer_columns`).
"""

from __future__ import annotations

import numpy as np


class Table:
    """Named columns of equal length; rows are added in blocks, never moved."""

    def __init__(self, columns: dict[str, tuple[type, object]], capacity: int = 0):
        self._spec = columns
        self.size = 0  # rows in use
        for name, (dtype, fill) in columns.items():
            setattr(self, name, np.full(capacity, fill, dtype=dtype))

    @property
    def capacity(self) -> int:
        return len(getattr(self, next(iter(self._spec))))

    def add(self, n: int) -> np.ndarray:
        """Append n rows filled with the defaults; returns their indices."""
        start, end = self.size, self.size + n
        if end > self.capacity:
            new_cap = max(end, 2 * self.capacity, 16)
            for name, (dtype, fill) in self._spec.items():
                old = getattr(self, name)
                grown = np.full(new_cap, fill, dtype=dtype)
                grown[: len(old)] = old
                setattr(self, name, grown)
        self.size = end
        rows = np.arange(start, end)
        self.fill(rows)
        return rows

    def fill(self, rows: np.ndarray) -> None:
        """Reset rows to the column defaults (rows recycled for new agents)."""
        for name, (_, fill) in self._spec.items():
            getattr(self, name)[rows] = fill


SELLER_COLUMNS = {
    "in_market": (bool, False),  # has entered and not exited
    "offering": (bool, False),  # asks at least its cost this step
    "quality": (float, 0.0),  # capability q (private)
    "cost": (float, 0.0),  # unit cost c (private)
    "price": (float, 0.0),  # posted price
    "price_step": (float, 0.0),  # adaptive pricing: this seller's own relative step
    "patience": (np.int64, 0),  # ... steps to hold a selling price after a failed raise
    "holding": (np.int64, 0),  # ... steps left before it raises again
    "sold_price": (float, 0.0),  # ... the last price at which it sold (0: none known)
    "signal": (float, 0.0),  # public noisy signal (noisy regime)
    "pub_mean": (float, 0.0),  # public expected quality
    "pub_var": (float, np.inf),  # public uncertainty (inf: nothing public)
    "entered": (np.int64, 0),
    "sales": (np.int64, 0),
    "revenue": (float, 0.0),
    "profit": (float, 0.0),
    "loss_run": (np.int64, 0),
    "regime_mean": (float, 0.0),  # what the information regime alone makes public
    "regime_var": (float, np.inf),
    "unit_cost": (float, 0.0),  # cost of this step's units (lower when shirking)
    "extra_cost": (float, 0.0),  # this step's mechanism costs: certificates, repairs, fines...
    "fines": (float, 0.0),  # ... of which transfers out of the market (not resources used up)
    "pool": (np.int64, 0),  # which pooled belief buyers use (the badges they can see)
    "received": (float, 0.0),  # money received from buyers, all steps (the sellers' ledger)
}

BUYER_COLUMNS = {
    "active": (bool, False),
    "theta": (float, 0.0),  # taste: value of one unit of quality
    "trust": (float, 0.0),  # trust in the market
    "last_seller": (np.int64, -1),  # seller row of the last purchase
    "bought_from": (np.int64, -1),  # seller row bought from this step
    "spent": (float, 0.0),  # money paid this step
    "paid_total": (float, 0.0),  # money paid, all steps (the buyers' ledger)
    "joined": (np.int64, 0),
    "segment": (np.int64, 0),
    "uid": (np.int64, -1),  # the Buyer agent's unique_id (rows are recycled, ids are not)
    "last_gap": (float, 0.0),  # expected minus delivered quality of its last purchase
    "losses": (np.int64, 0),  # disappointing purchases so far
    "idle": (np.int64, 0),  # consecutive steps without a purchase
}
