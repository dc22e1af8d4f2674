"""The market's state: what every phase of a step reads and writes.

Sellers and buyers are rows of struct-of-arrays tables (`state.Table`), so a
phase updates every agent in a handful of array operations. Beliefs, the going
prices, the buyers' preferences per segment and the enabled mechanisms (in
schedule order) sit beside them. Phases (`simulator/phases/`) take a
`MarketState`, never the Mesa model, so each can be read and tested on its own.
"""

from __future__ import annotations

import numpy as np

from .beliefs import BeliefStore
from .mechanisms import N_POOLS, SCHEDULE, Mechanism
from .params import MarketParams, SegmentParams
from .state import BUYER_COLUMNS, SELLER_COLUMNS, Table
from .valuation import Valuation

#: Per-segment trust parameters, as arrays indexed by a buyer's segment.
TRUST_KEYS = ("initial", "gain", "loss", "tolerance", "leave_below", "lapse", "idle_loss")


class MarketState:
    """Tables, beliefs, prices and preferences of one market, and its mechanisms."""

    def __init__(self, params: MarketParams, rng: np.random.Generator):
        p = self.params = params
        self.rng = rng
        self.now = 0  # the step being simulated (Mesa's model.steps)

        # Buyer segments (one implicit segment when the scenario declares none).
        self.segment_names = list(p.segments)
        self.segments = list(p.segments.values()) or [
            SegmentParams(share=1.0, taste=p.taste, prospect=p.prospect, trust=p.trust)]
        self.valuations = [Valuation(seg.prospect, p.beliefs.nodes) for seg in self.segments]
        self.segment_trust = {name: np.array([getattr(seg.trust, name) for seg in self.segments])
                              for name in TRUST_KEYS}
        self.segment_reading = np.array([seg.review_weight for seg in self.segments])

        self.quality_mean, self.quality_var = p.quality.moments()
        self.noise_var = p.quality_noise**2
        #: Buyers can tell sellers apart across periods, so they remember them.
        self.remembers = p.identity != "anonymous"

        self.sellers = Table({**SELLER_COLUMNS, **_columns("seller_columns")}, p.sellers)
        self.buyers = Table({**BUYER_COLUMNS, **_columns("buyer_columns")}, p.buyers)
        self.mechanisms: list[Mechanism] = [cls(self) for cls in SCHEDULE if cls.enabled(p)]
        self.by_name = {mech.name: mech for mech in self.mechanisms}
        self.all_learnable = any(mech.hides_delivery for mech in self.mechanisms)
        #: Some mechanism may make a buyer whole below a quality floor (`quality_floor`).
        self.has_floor = any(type(mech).quality_floor is not Mechanism.quality_floor
                             for mech in self.mechanisms)
        # A float even with no mechanism (sum's start is the int 0): the kernels it reaches
        # are compiled for its type, so an int would compile them twice.
        self.action_var = sum((getattr(mech, "action_var", 0.0) for mech in self.mechanisms),
                              0.0)
        #: Shopping can go through one compiled pass (`kernels.shop_plain`): no mechanism
        #: touches candidates, beliefs, prices or choices, buyers share one set of
        #: preferences and choose without noise.
        self.plain_shop = (len(self.valuations) == 1 and p.choice.logit_noise == 0
                           and not any(type(mech).touches_shopping() for mech in self.mechanisms))
        # An unknown seller's delivered quality varies with the population, the noise and,
        # under hidden action, what the seller may withhold. Without the last term a market
        # whose sellers all have the same capability gets a prior about a seller worth
        # thousands of observations of it, and buyers never learn that their seller shirks.
        self.pool_obs_var = max(self.quality_var + self.noise_var + self.action_var, 1e-9)
        # A buyer's own experience of a known seller varies with the noise and, under hidden
        # action, with what the seller chooses to withhold from one step to the next (its
        # delivery is a mixture: shirk^2 p (1 - p) <= action_var). Without it one shirked
        # unit without noise is certain proof that the seller is worthless for ever.
        self.seller_obs_var = max(self.noise_var + self.action_var, 1e-6)
        prior_mean = [self.quality_mean] * N_POOLS
        for mech in self.mechanisms:
            prior_mean = [mech.pool_prior(self, pool, mean) for pool, mean in enumerate(prior_mean)]
        self.beliefs = BeliefStore(
            capacity=p.buyers, memory=p.beliefs.memory, prior_mean=prior_mean,
            prior_precision=p.beliefs.prior_weight / self.pool_obs_var,
            forgetting=p.beliefs.forgetting, pools=N_POOLS, prior_obs_var=self.pool_obs_var)

        # Going price of each pool of sellers buyers cannot tell apart (by visible badge).
        self.pool_price = np.full(N_POOLS, np.nan)
        self.grade_taste = float("nan")  # taste of the marginal buyer of public-quality goods
        self.max_sellers = p.entry.max_sellers or 4 * p.sellers
        self.departed_paid = 0.0  # what buyers who left had paid, all steps
        self._buffers: dict[str, list[np.ndarray]] = {}
        #: Bumped whenever buyers arrive or leave (`phases.population`, the only writer of
        #: `buyers.active` and `buyers.theta`): what is cached about the buyers is keyed on it.
        self.buyers_version = 0
        self._active: tuple[int, np.ndarray] = (-1, np.zeros(0, dtype=np.int64))
        self._tastes: tuple[int, np.ndarray] = (-1, np.zeros(0))

    def buffers(self, name: str, shape: tuple[int, int], dtypes: tuple) -> list[np.ndarray]:
        """Arrays of `shape` for a phase's per-step results, one per dtype, kept from step to
        step (views of arrays with room for more rows). Fresh arrays of tens of MB cost
        more to fault in than to fill: a quarter of a step at a million buyers. The
        previous step's views are overwritten, so nothing may keep them past the step."""
        n, k = shape
        held = self._buffers.get(name)
        if held is None or held[0].shape[0] < n or held[0].shape[1] != k:
            rows = max(n + n // 4, 1)
            held = self._buffers[name] = [np.empty((rows, k), dtype=d) for d in dtypes]
        return [a[:n] for a in held]

    # ------------------------------------------------------------------ rows
    def live_sellers(self) -> np.ndarray:
        """Rows of sellers in the market (entered and not exited)."""
        return np.flatnonzero(self.sellers.in_market[: self.sellers.size])

    def offering_sellers(self) -> np.ndarray:
        """Rows of sellers asking at least their cost this step."""
        return np.flatnonzero(self.sellers.offering[: self.sellers.size])

    def active_buyers(self) -> np.ndarray:
        """Rows of the buyers in the market, ascending; the same read-only array until
        buyers arrive or leave (a step asks three times, and the answer rarely changes)."""
        version, rows = self._active
        if version != self.buyers_version:
            rows = np.flatnonzero(self.buyers.active[: self.buyers.size])
            rows.flags.writeable = False
            self._active = (self.buyers_version, rows)
        return rows

    def active_tastes_descending(self) -> np.ndarray:
        """The active buyers' tastes, highest first (the first-best benchmark's order),
        kept like `active_buyers`: sorting them was most of that benchmark's cost."""
        version, theta = self._tastes
        if version != self.buyers_version:
            theta = np.sort(self.buyers.theta[self.active_buyers()])[::-1]
            theta.flags.writeable = False
            self._tastes = (self.buyers_version, theta)
        return theta

    # ---------------------------------------------------------------- quality
    def learnable(self, sellers: np.ndarray) -> np.ndarray:
        """Sellers whose delivered quality experience can teach something: those whose
        quality is not public exactly, and every seller when delivery is a hidden action."""
        if self.all_learnable:
            return np.ones(np.shape(sellers), dtype=bool)
        return self.sellers.pub_var[sellers] > 0

    def made(self, sellers: np.ndarray) -> np.ndarray:
        """Quality these sellers make this step (capability, less any hidden shortfall)."""
        quality = self.sellers.quality[sellers]
        for mech in self.mechanisms:
            quality = mech.made(self, sellers, quality)
        return quality

    def quality_floor(self, pools: np.ndarray) -> np.ndarray | None:
        """Quality below which a buyer of a seller of these badge pools is made whole
        (None: no such promise anywhere)."""
        floor = None
        for mech in self.mechanisms:
            f = mech.quality_floor(self, pools)
            if f is not None:
                floor = f if floor is None else np.maximum(floor, f)
        return floor

    def charge(self, sellers: np.ndarray, amount, *, transfer: bool = False) -> None:
        """Book a mechanism cost on sellers (repeated rows add up). A transfer (a fine)
        leaves the sellers' profit but uses up no resources, so efficiency ignores it."""
        amount = np.broadcast_to(amount, np.shape(sellers))
        np.add.at(self.sellers.extra_cost, sellers, amount)
        if transfer:
            np.add.at(self.sellers.fines, sellers, amount)

    # ------------------------------------------------------------ preferences
    def by_segment(self, buyers: np.ndarray, method: str, *args,
                   segments: np.ndarray | None = None, **options) -> np.ndarray:
        """Call a Valuation method with each buyer's own segment's preferences.

        `args` are arrays whose first axis runs over `buyers` (or None); `options` go to
        every call as they are. `segments` overrides the buyers' current segments (for
        buyers whose rows were reused).
        """
        if len(self.valuations) == 1:
            return getattr(self.valuations[0], method)(*args, **options)
        seg = self.buyers.segment[buyers] if segments is None else segments
        out = None
        for k, val in enumerate(self.valuations):
            mine = seg == k
            if not mine.any():
                continue
            part = getattr(val, method)(*(a if a is None else a[mine] for a in args),
                                        **options)
            if out is None:
                out = np.empty(seg.shape + part.shape[1:])
            out[mine] = part
        return out


def _columns(kind: str) -> dict[str, tuple[type, object]]:
    """State columns every mechanism declares (kept whether or not it is enabled, so the
    agents' views and the metrics read the same columns in every market)."""
    out: dict[str, tuple[type, object]] = {}
    for cls in SCHEDULE:
        out.update(getattr(cls, kind))
    return out
