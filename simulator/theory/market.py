"""The static market a scenario arm describes: who sells what at which cost, who buys.

Theory works with the populations, not with draws: seller quality is a
distribution (closed forms for uniform and two types, a fine grid for beta),
buyers are taste quantiles weighted by their numbers, with each segment's own
prospect-theory preferences. Counts (buyers, sellers, capacity) are kept so
that volumes come out in units per step, as the simulation records them.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ..params import MarketParams, ProspectParams, QualityParams, TasteParams

#: Taste quantiles per buyer segment when tastes vary.
TASTE_POINTS = 41
#: Grid points for a beta quality distribution (and quality atoms of continuous ones).
QUALITY_POINTS = 2001


class QualityMix:
    """Seller quality q and unit cost c = c0 + c1 q: what is offered at a price.

    `offered(p)` gives, for sellers whose cost is at most p, their share of all
    sellers and the mean and variance of their quality (vectorised over p).
    """

    def __init__(self, quality: QualityParams, c0: float, c1: float):
        self.kind = quality.distribution
        self.low, self.high = quality.low, quality.high
        self.share_high = quality.share_high
        self.c0, self.c1 = c0, c1
        if self.kind == "beta" and self.high > self.low:
            u = (np.arange(QUALITY_POINTS) + 0.5) / QUALITY_POINTS
            dens = u ** (quality.a - 1) * (1 - u) ** (quality.b - 1)
            self._q = self.low + u * (self.high - self.low)
            self._w = dens / dens.sum()
            self._cw = np.cumsum(self._w)
            self._cwq = np.cumsum(self._w * self._q)
            self._cwq2 = np.cumsum(self._w * self._q**2)

    def cost(self, q):
        return self.c0 + self.c1 * np.asarray(q, dtype=float)

    def cost_range(self) -> tuple[float, float]:
        return float(self.cost(self.low)), float(self.cost(self.high))

    def atoms(self) -> tuple[np.ndarray, np.ndarray]:
        """Quality levels and their shares of sellers (for matchings)."""
        if self.high <= self.low:
            return np.array([self.low]), np.array([1.0])
        if self.kind == "two_type":
            return (np.array([self.low, self.high]),
                    np.array([1 - self.share_high, self.share_high]))
        if self.kind == "beta":
            return self._q, self._w
        u = (np.arange(QUALITY_POINTS) + 0.5) / QUALITY_POINTS
        return self.low + u * (self.high - self.low), np.full(QUALITY_POINTS, 1 / QUALITY_POINTS)

    def mean_var(self) -> tuple[float, float]:
        """Mean and variance of quality over all sellers."""
        _, mean, var = self.offered(np.inf)
        return float(mean), float(var)

    def cutoff(self, p) -> np.ndarray:
        """The highest quality whose cost is at most p (+-inf when c1 = 0)."""
        p = np.asarray(p, dtype=float)
        if self.c1 <= 0:
            return np.where(p >= self.c0, np.inf, -np.inf)
        return (p - self.c0) / self.c1

    def offered(self, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(share of sellers with cost <= p, their mean quality, its variance)."""
        x = self.cutoff(p)
        lo, hi = self.low, self.high
        if hi <= lo:
            share = (x >= lo - 1e-12).astype(float)
            return share, np.full_like(share, lo), np.zeros_like(share)
        if self.kind == "two_type":
            s = self.share_high
            has_low, has_high = x >= lo - 1e-12, x >= hi - 1e-12
            share = np.where(has_high, 1.0, np.where(has_low, 1 - s, 0.0))
            mean = np.where(has_high, lo + s * (hi - lo), lo)
            var = np.where(has_high, s * (1 - s) * (hi - lo) ** 2, 0.0)
            return share, mean, var
        if self.kind == "beta":  # cumulative sums interpolated: continuous in the price
            knots = np.concatenate([[lo], self._q, [hi]])
            w, wq, wq2 = (np.interp(x, knots, np.concatenate([[0.0], c, [c[-1]]]))
                          for c in (self._cw, self._cwq, self._cwq2))
            valid = w > 1e-15
            safe = np.where(valid, w, 1.0)
            mean = np.where(valid, wq / safe, lo)
            var = np.where(valid, np.maximum(wq2 / safe - mean**2, 0.0), 0.0)
            return w, mean, var
        top = np.clip(x, lo, hi)
        share = (top - lo) / (hi - lo)
        return share, (lo + top) / 2, (top - lo) ** 2 / 12

    def cost_quantile(self, y) -> np.ndarray:
        """The cost of the seller at share y from the cheapest (inf from 1 on): the next
        seller's cost when buyers are scarce (Bertrand). Vectorised over y."""
        y = np.asarray(y, dtype=float)
        if self.c1 <= 0 or self.high <= self.low:
            q = np.full(y.shape, self.low)
        elif self.kind == "two_type":
            q = np.where(y < 1 - self.share_high, self.low, self.high)
        elif self.kind == "beta":
            k = np.minimum(np.searchsorted(self._cw, y, side="right"), len(self._q) - 1)
            q = self._q[k]
        else:
            q = self.low + np.clip(y, 0.0, 1.0) * (self.high - self.low)
        return np.where(y >= 1, np.inf, self.cost(q))


@dataclass
class BuyerGroup:
    """Buyers sharing prospect-theory preferences: taste points and how many buyers each is."""

    tastes: np.ndarray
    counts: np.ndarray
    prospect: ProspectParams


def taste_points(taste: TasteParams) -> tuple[np.ndarray, np.ndarray]:
    """Taste quantiles and their shares."""
    if taste.distribution == "constant":
        return np.array([taste.value]), np.array([1.0])
    u = (np.arange(TASTE_POINTS) + 0.5) / TASTE_POINTS
    if taste.distribution == "uniform":
        return taste.low + u * (taste.high - taste.low), np.full(TASTE_POINTS, 1 / TASTE_POINTS)
    if taste.sd <= 0:
        return np.array([taste.mean]), np.array([1.0])
    normal = NormalDist(taste.mean, taste.sd)
    floor = normal.cdf(0.0)  # truncated at 0
    values = np.array([normal.inv_cdf(floor + x * (1 - floor)) for x in u])
    return np.maximum(values, 0.0), np.full(TASTE_POINTS, 1 / TASTE_POINTS)


@dataclass
class StaticMarket:
    """One arm's market as theory sees it."""

    params: MarketParams
    quality: QualityMix
    groups: list[BuyerGroup]
    buyers: int
    sellers: int
    #: Units a seller can sell per step (the number of buyers when capacity is unlimited).
    units_per_seller: float
    noise_var: float
    nodes: int

    @classmethod
    def of(cls, params: MarketParams) -> StaticMarket:
        quality = QualityMix(params.quality, params.cost.c0, params.cost.c1)
        groups = []
        parts = ([(seg.share, seg.taste, seg.prospect) for seg in params.segments.values()]
                 or [(1.0, params.taste, params.prospect)])
        for share, taste, prospect in parts:
            if share <= 0:
                continue
            t, w = taste_points(taste)
            groups.append(BuyerGroup(t, w * share * params.buyers, prospect))
        units = params.capacity if params.capacity > 0 else params.buyers
        return cls(params, quality, groups, params.buyers, params.sellers, float(units),
                   params.quality_noise**2, params.beliefs.nodes)

    @property
    def supply_units(self) -> float:
        """Units all sellers could sell in one step."""
        return self.sellers * self.units_per_seller

    def tastes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All buyers' taste points, counts and group index, highest taste first."""
        t = np.concatenate([g.tastes for g in self.groups])
        w = np.concatenate([g.counts for g in self.groups])
        k = np.concatenate([np.full(len(g.tastes), i) for i, g in enumerate(self.groups)])
        order = np.argsort(-t, kind="stable")
        return t[order], w[order], k[order]

    def reservations(self, mean, var) -> tuple[np.ndarray, np.ndarray]:
        """Every buyer point's reservation price for a belief N(mean, var + noise) about
        quality (beliefs on the leading axes, buyer points last) and the points' counts."""
        from .buyers import reservation

        mean = np.asarray(mean, dtype=float)[..., None]
        var = np.asarray(var, dtype=float)[..., None] + self.noise_var
        parts = [reservation(g.prospect, g.tastes, mean, var, self.nodes) for g in self.groups]
        return (np.concatenate(parts, axis=-1),
                np.concatenate([g.counts for g in self.groups]))
