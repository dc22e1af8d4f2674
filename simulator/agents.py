"""Sellers and buyers as Mesa agents: the readable face of the model's arrays.

The per-step work runs over numpy arrays owned by the model (one row per
agent), so these classes hold only their row and read their state from it.
Use them to inspect a market the Mesa way (`model.agents_by_type[Buyer]`).
"""

from __future__ import annotations

from .mesa_import import mesa


class Seller(mesa.Agent):
    """Knows its own quality and cost; posts a price; may withdraw, exit or enter."""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def quality(self) -> float:
        return float(self.model.sellers.quality[self.row])

    @property
    def cost(self) -> float:
        return float(self.model.sellers.cost[self.row])

    @property
    def price(self) -> float:
        return float(self.model.sellers.price[self.row])

    @property
    def offering(self) -> bool:
        """In the market and asking at least its cost this period."""
        return bool(self.model.sellers.offering[self.row])

    @property
    def sales(self) -> int:
        return int(self.model.sellers.sales[self.row])

    @property
    def profit(self) -> float:
        return float(self.model.sellers.profit[self.row])

    @property
    def in_market(self) -> bool:
        return bool(self.model.sellers.in_market[self.row])

    @property
    def public_quality(self) -> float | None:
        """What buyers can see about this seller's quality before buying (None: nothing)."""
        s = self.model.sellers
        return float(s.pub_mean[self.row]) if s.pub_var[self.row] < float("inf") else None

    def __repr__(self) -> str:
        return f"Seller(row={self.row}, q={self.quality:.2f}, price={self.price:.2f})"


class Buyer(mesa.Agent):
    """Holds beliefs and trust; values purchases with prospect theory; switches or leaves."""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def taste(self) -> float:
        return float(self.model.buyers.theta[self.row])

    @property
    def trust(self) -> float:
        return float(self.model.buyers.trust[self.row])

    @property
    def seller(self) -> Seller | None:
        """The seller it last bought from (its current relationship), if any."""
        row = int(self.model.buyers.last_seller[self.row])
        return self.model.seller_agents[row] if row >= 0 else None

    @property
    def active(self) -> bool:
        return bool(self.model.buyers.active[self.row])

    @property
    def belief_about_market(self) -> tuple[float, float]:
        """Mean and standard deviation of its belief about the average quality of sellers
        it knows nothing about (those without a badge)."""
        b = self.model.beliefs
        return float(b.pool_mean[self.row, 0]), float(b.pool_precision[self.row, 0] ** -0.5)

    def known_sellers(self) -> dict[int, float]:
        """Seller row -> believed quality, for the sellers it remembers individually."""
        b = self.model.beliefs
        ids = b.slot_seller[self.row]
        return {int(j): float(m) for j, m in zip(ids, b.slot_mean[self.row], strict=True)
                if j >= 0}

    def __repr__(self) -> str:
        return f"Buyer(row={self.row}, taste={self.taste:.2f}, trust={self.trust:.2f})"
