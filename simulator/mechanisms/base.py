"""The seam every mechanism plugs into: state it owns, and hooks into the phases of a step.

A mechanism is one class in one module. It names the `[market.<name>]` table
of its parameters, declares the seller and buyer columns it keeps, the
metrics it reports and the badge (if any) that lets buyers tell its sellers
apart, and overrides only the hooks it needs. The phases call the hooks of
the enabled mechanisms in `mechanisms.SCHEDULE` order, which is also the
order in which they draw random numbers, so results do not depend on how the
hooks are spread over modules.

Hooks, by phase (docs/model.md, "One step"):

- start of a step: `start_step` (what time does: fading scores, delayed news);
- population: `sellers_added`, `buyers_added`, `pool_prior`;
- decide: `decide` (a seller's choice this step and what it costs),
  `unit_cost`;
- publish: `publish` (what the mechanism makes public about quality);
- shop: `candidates`, `before_valuation`, `adjust_beliefs`, `adjust_prices`,
  `quality_floor`, `restrict`;
- settle: `made`, `deliver`, `deceptive`;
- learn: `after_trade`;
- account: `learn_from_profit`;
- collect: `collect`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..market import MarketState
    from ..phases.settle import Trades
    from ..phases.shop import Offers

#: Buyers hold one pooled belief per combination of badges they can see
#: (bit 1: certified, bit 2: warranty-backed).
N_POOLS = 4


def share(mask: np.ndarray) -> float:
    """Mean of a boolean or numeric array; NaN when it is empty (nothing to share over)."""
    return float(mask.mean()) if len(mask) else float("nan")


def reveal(m: MarketState, live: np.ndarray, exact: np.ndarray, mean: np.ndarray,
           var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Public belief where `exact` sellers' true quality is made public (variance 0)."""
    return np.where(exact, m.sellers.quality[live], mean), np.where(exact, 0.0, var)


#: Hooks through which a mechanism changes what buyers consider, believe, pay or choose.
SHOP_HOOKS = ("candidates", "before_valuation", "adjust_beliefs", "adjust_prices",
              "quality_floor", "restrict")


class Mechanism:
    """Base class: every hook does nothing, so a mechanism overrides only what it changes."""

    #: The `[market.<name>]` parameter table (also the mechanism's name).
    name: ClassVar[str] = ""
    #: Seller / buyer state columns it owns: name -> (dtype, value of a fresh row).
    seller_columns: ClassVar[dict[str, tuple[type, object]]] = {}
    buyer_columns: ClassVar[dict[str, tuple[type, object]]] = {}
    #: Metrics (simulator.metrics.METRICS names) it reports in `collect`.
    metrics: ClassVar[tuple[str, ...]] = ()
    #: Badge bit buyers see on its sellers (0: none).
    badge: ClassVar[int] = 0
    #: Buyers know sellers may deliver less than public quality says (hidden action):
    #: every seller's delivery can then be learnt from experience.
    hides_delivery: ClassVar[bool] = False

    def __init__(self, market: MarketState):
        self.p: Any = getattr(market.params, self.name, None)

    @classmethod
    def enabled(cls, params) -> bool:
        return bool(getattr(params, cls.name).enabled)

    @classmethod
    def touches_shopping(cls) -> bool:
        """It overrides a shopping hook, so markets with it shop step by step
        (`phases.shop`), not in the one compiled pass of `kernels.shop_plain`."""
        return any(getattr(cls, hook) is not getattr(Mechanism, hook) for hook in SHOP_HOOKS)

    def start_step(self, m: MarketState) -> None:
        """What happens before sellers decide (scores fade, delayed ratings appear)."""

    # ---- population
    def sellers_added(self, m: MarketState, rows: np.ndarray) -> None:
        """New sellers' own state (drawn after their quality, cost and signal)."""

    def buyers_added(self, m: MarketState, rows: np.ndarray) -> None:
        """New buyers' own state."""

    def pool_prior(self, m: MarketState, pool: int, mean: float) -> float:
        """What buyers first believe about the sellers of a badge pool."""
        return mean

    # ---- decide
    def decide(self, m: MarketState, live: np.ndarray, age: np.ndarray) -> None:
        """Sellers' choice this step; its cost goes to `extra_cost`."""

    def shows_badge(self, m: MarketState, live: np.ndarray) -> np.ndarray | bool:
        """Which of these sellers carry the mechanism's badge this step."""
        return False

    def unit_cost(self, m: MarketState, live: np.ndarray, cost: np.ndarray) -> np.ndarray:
        return cost

    # ---- publish
    def publish(self, m: MarketState, live: np.ndarray, mean: np.ndarray, var: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """Public belief (mean, variance; inf: nothing) about the quality of `live`."""
        return mean, var

    # ---- shop
    def candidates(self, m: MarketState, buyers: np.ndarray, cands: np.ndarray) -> np.ndarray:
        """Extra columns of sellers each buyer considers (-1: none)."""
        return cands

    def before_valuation(self, m: MarketState, buyers: np.ndarray, cands: np.ndarray) -> None:
        """Evidence buyers get before they value their candidates (e.g. a free sample)."""

    def adjust_beliefs(self, m: MarketState, rules, buyers: np.ndarray, cands: np.ndarray,
                       mean: np.ndarray, var: np.ndarray, open_: np.ndarray) -> None:
        """Shift beliefs about quality (before delivery noise), in place. `open_`: cells
        the buyer has no own memory of and whose delivery is not known exactly. `rules`
        is `kernels` (compiled) or `reference.beliefs` (the same rules in numpy)."""

    def adjust_prices(self, m: MarketState, offers: Offers) -> None:
        """Change the price each buyer is asked (in place on `offers.price`)."""

    def quality_floor(self, m: MarketState, pools: np.ndarray) -> np.ndarray | None:
        """Delivered quality below which a buyer is made whole, per seller badge pool."""
        return None

    def restrict(self, m: MarketState, offers: Offers, value: np.ndarray,
                 acceptable: np.ndarray) -> None:
        """Rule out candidates (in place) after valuation."""

    # ---- settle
    def made(self, m: MarketState, sellers: np.ndarray, quality: np.ndarray) -> np.ndarray:
        """Quality the sellers actually make this step."""
        return quality

    def deliver(self, m: MarketState, sellers: np.ndarray, quality: np.ndarray) -> np.ndarray:
        """What the buyer ends up with (e.g. after a repair), booking its cost."""
        return quality

    def attainable(self, m: MarketState, quality: np.ndarray) -> np.ndarray:
        """The best quality a seller of this capability could deliver at the usual cost of
        quality (e.g. by repair): the first best counts it."""
        return quality

    def alternatives(self, m: MarketState, quality: np.ndarray, cost: np.ndarray
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Deals a seller of this capability and unit cost could make instead of delivering
        it (e.g. shirking): (quality delivered, unit cost) per seller. The first best takes
        each buyer's best deal, so one that pays for some buyers raises the yardstick."""
        return []

    def deceptive(self, m: MarketState, sellers: np.ndarray, made: np.ndarray
                  ) -> np.ndarray | None:
        """Trades that deliver less than was claimed or implied."""
        return None

    # ---- learn and account
    def after_trade(self, m: MarketState, trades: Trades) -> None:
        """What buyers and sellers do with this step's trades (reviews, stories, fines)."""

    def learn_from_profit(self, m: MarketState, live: np.ndarray, profit: np.ndarray) -> None:
        """Sellers update their choice from this step's profit."""

    # ---- collect
    def collect(self, m: MarketState, trades: Trades, offering: np.ndarray,
                metrics: dict[str, float]) -> None:
        """Add this mechanism's metrics."""


class SellerChoice(Mechanism):
    """A mechanism whose sellers choose among `n_actions` each step, learned from profit
    (epsilon-greedy action values, `learning.ActionLearner`), unless the scenario fixes it."""

    n_actions: ClassVar[int] = 2

    def __init__(self, market: MarketState):
        super().__init__(market)
        from .learning import ActionLearner

        lp = market.params.learning
        self.learner = ActionLearner(self.n_actions, lp.rate, lp.exploration, lp.halving)

    def fixed(self) -> int | None:
        """The action every seller must take (None: learned)."""
        return None

    def choose(self, m: MarketState, live: np.ndarray, age: np.ndarray) -> np.ndarray:
        fixed = self.fixed()
        if fixed is not None:
            self.learner.force(live, fixed)
            return np.full(len(live), fixed)
        return self.learner.choose(live, m.rng, age)

    def learn_from_profit(self, m: MarketState, live: np.ndarray, profit: np.ndarray) -> None:
        if self.fixed() is None:
            self.learner.update(live, profit)
