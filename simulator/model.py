"""The market: sellers who know their quality meet buyers who only hold beliefs about it.

`MarketModel` is a Mesa model. Its state lives in numpy arrays (one row per
agent: `model.sellers`, `model.buyers`, `model.beliefs`) so that one step is a
few dozen array operations whatever the number of agents; `Seller` and
`Buyer` Mesa agents are the readable face of those rows. One step follows
MODEL.md section 2: prices, public information, choice, settlement, learning,
churn, entry and exit, data collection.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pandas as pd

from . import metrics as metric_calc
from .agents import Buyer, Seller
from .beliefs import EMPTY, BeliefStore
from .metrics import METRICS
from .params import MarketParams
from .pricing import adaptive_prices, clearing_price
from .state import BUYER_COLUMNS, SELLER_COLUMNS, Table
from .valuation import Valuation

#: Buyers whose reservation prices set the going `market` price; beyond this a
#: random sample stands in for everyone (clearing is an aggregate, so a sample
#: of this size moves it by well under a cent).
CLEARING_SAMPLE = 2000


class MarketModel(mesa.Model):
    """A market with hidden quality, prospect-theory buyers, trust and churn.

    Args:
        params: a MarketParams, a (partial) nested dict of market keys, or None
            for the defaults.
        rng: seed (int or numpy SeedSequence) for the model's own generators.
        **overrides: dotted-key overrides, e.g. ``**{"prospect.lam": 1.0}``.
    """

    def __init__(self, params: MarketParams | dict | None = None, *, rng=None, **overrides):
        super().__init__(rng=rng)
        if not isinstance(params, MarketParams):
            params = MarketParams.from_dict(params)
        if overrides:
            params = params.replace(**overrides)
        self.params = p = params
        self.valuation = Valuation(p.prospect, p.beliefs.nodes)

        q = p.quality
        if q.distribution == "two_type":
            self.quality_mean = q.low + q.share_high * (q.high - q.low)
            self.quality_var = q.share_high * (1 - q.share_high) * (q.high - q.low) ** 2
        elif q.distribution == "beta":
            m = q.a / (q.a + q.b)
            v = q.a * q.b / ((q.a + q.b) ** 2 * (q.a + q.b + 1))
            self.quality_mean = q.low + m * (q.high - q.low)
            self.quality_var = v * (q.high - q.low) ** 2
        else:
            self.quality_mean = 0.5 * (q.low + q.high)
            self.quality_var = (q.high - q.low) ** 2 / 12
        self.noise_var = p.quality_noise**2
        # An unknown seller's delivered quality varies with the population and the noise.
        self.pool_obs_var = max(self.quality_var + self.noise_var, 1e-9)
        # A buyer's own experience of a known seller varies with the noise only.
        self.seller_obs_var = max(self.noise_var, 1e-6)

        self.sellers = Table(SELLER_COLUMNS, p.sellers)
        self.buyers = Table(BUYER_COLUMNS, p.buyers)
        self.beliefs = BeliefStore(
            capacity=p.buyers,
            memory=p.beliefs.memory,
            prior_mean=self.quality_mean,
            prior_precision=p.beliefs.prior_weight / self.pool_obs_var,
            forgetting=p.beliefs.forgetting,
        )
        self.seller_agents: list[Seller] = []
        self.buyer_agents: dict[int, Buyer] = {}
        self._free_buyer_rows: list[int] = []
        self.max_sellers = p.entry.max_sellers or 4 * p.sellers

        self.pool_price = float("nan")  # going price of sellers buyers cannot tell apart
        self.grade_taste = float("nan")  # taste of the marginal buyer of public-quality goods
        self.trades: dict[str, np.ndarray] = _no_trades()
        self.ledger = {"paid": 0.0, "received": 0.0}  # money moved at this step's settlement
        self.step_entries = 0
        self.step_exits = 0

        self._add_sellers(p.sellers)
        self._add_buyers(p.buyers)
        self.metrics: dict[str, float] = dict.fromkeys(METRICS, 0.0)
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _reporter(name) for name in METRICS})
        self.running = True

    # ----------------------------------------------------------------- agents
    def _draw_quality(self, n: int) -> np.ndarray:
        q = self.params.quality
        if q.distribution == "two_type":
            return np.where(self.rng.random(n) < q.share_high, q.high, q.low)
        if q.distribution == "beta":
            return q.low + (q.high - q.low) * self.rng.beta(q.a, q.b, n)
        return self.rng.uniform(q.low, q.high, n)

    def _draw_taste(self, n: int) -> np.ndarray:
        t = self.params.taste
        if t.distribution == "uniform":
            return self.rng.uniform(t.low, t.high, n)
        if t.distribution == "normal":
            return np.maximum(self.rng.normal(t.mean, t.sd, n), 0.0)
        return np.full(n, t.value)

    def _add_sellers(self, n: int) -> np.ndarray:
        p, s = self.params, self.sellers
        rows = s.add(n)
        s.in_market[rows] = True
        s.quality[rows] = self._draw_quality(n)
        s.cost[rows] = p.cost.c0 + p.cost.c1 * s.quality[rows]
        s.price[rows] = s.cost[rows] * (1 + p.price.markup)
        s.signal[rows] = s.quality[rows] + p.signal.noise * self.rng.standard_normal(n)
        s.entered[rows] = self.steps
        self._publish(rows)
        self.seller_agents.extend(Seller(self, int(r)) for r in rows)
        return rows

    def _add_buyers(self, n: int) -> np.ndarray:
        reuse = np.array(self._free_buyer_rows[:n], dtype=np.int64)
        del self._free_buyer_rows[:n]
        fresh = self.buyers.add(n - len(reuse))
        self.beliefs.grow(self.buyers.capacity)
        rows = np.concatenate([reuse, fresh])
        b = self.buyers
        b.fill(rows)
        b.active[rows] = True
        b.theta[rows] = self._draw_taste(n)
        b.trust[rows] = self.params.trust.initial
        b.joined[rows] = self.steps
        self.beliefs.reset(rows)
        for r in rows:
            self.buyer_agents[int(r)] = Buyer(self, int(r))
        return rows

    # ------------------------------------------------------------ information
    def _publish(self, rows: np.ndarray) -> None:
        """What buyers can see about these sellers' quality before buying."""
        s, regime = self.sellers, self.params.information
        if regime == "transparent" or (regime == "delayed" and self.params.delay.steps == 0):
            s.pub_mean[rows], s.pub_var[rows] = s.quality[rows], 0.0
        elif regime == "noisy":
            # Linear Bayes: shrink the signal toward the population mean by its reliability.
            noise = self.params.signal.noise**2
            k = self.quality_var / (self.quality_var + noise) if self.quality_var > 0 else 0.0
            s.pub_mean[rows] = self.quality_mean + k * (s.signal[rows] - self.quality_mean)
            s.pub_var[rows] = (1 - k) * self.quality_var
        else:
            s.pub_var[rows] = np.inf

    def _reveal_due(self) -> None:
        if self.params.information != "delayed":
            return
        s = self.sellers
        due = np.flatnonzero(s.in_market[: s.size] & np.isinf(s.pub_var[: s.size])
                             & (self.steps - s.entered[: s.size] >= self.params.delay.steps))
        s.pub_mean[due], s.pub_var[due] = s.quality[due], 0.0

    # ---------------------------------------------------------------- pricing
    def _set_prices(self) -> None:
        p, s = self.params, self.sellers
        live = np.flatnonzero(s.in_market[: s.size])
        if p.pricing == "markup":
            s.price[live] = s.cost[live] * (1 + p.price.markup)
        elif p.pricing == "adaptive" and self.steps > 1:
            sales = s.sales[live]
            if p.capacity > 0:
                strong = sales >= p.capacity
            else:
                strong = sales > max(sales.mean(), 0.0) if len(sales) else sales > 0
            s.price[live] = adaptive_prices(s.price[live], s.cost[live], sales, strong,
                                            p.price.adaptive_step)
        elif p.pricing == "market":
            self._market_prices(live)
        s.offering[:] = False
        s.offering[live] = s.price[live] >= s.cost[live] - 1e-12

    def _market_prices(self, live: np.ndarray) -> None:
        """Price-takers: each segment's going price moves toward its clearing price."""
        p, s, b = self.params, self.sellers, self.buyers
        buyers = np.flatnonzero(b.active[: b.size])
        if len(buyers) > CLEARING_SAMPLE:
            sample = np.sort(self.rng.choice(buyers, CLEARING_SAMPLE, replace=False))
        else:
            sample = buyers
        weight = len(buyers) / max(len(sample), 1)
        units = p.capacity if p.capacity > 0 else max(len(buyers), 1)
        eta = p.price.adjustment
        graded = np.isfinite(s.pub_var[live])

        pooled = live[~graded]
        if len(pooled) and len(sample):
            sd = np.sqrt(1 / self.beliefs.pool_precision[sample] + self.pool_obs_var)
            r = self.valuation.reservation(b.theta[sample], self.beliefs.pool_mean[sample], sd)
            target = clearing_price(r, s.cost[pooled], units, weight)
            self.pool_price = _move(self.pool_price, target, eta)
            s.price[pooled] = self.pool_price

        graded = live[graded]
        if len(graded) and len(sample):
            target = self._graded_taste(b.theta[sample], graded, units, weight)
            self.grade_taste = _move(self.grade_taste, target, eta)
            g, sd = s.pub_mean[graded], np.sqrt(s.pub_var[graded] + self.noise_var)
            s.price[graded] = self.valuation.reservation(
                np.full(len(graded), self.grade_taste), g, sd)

    def _graded_taste(self, tastes, graded, units, weight) -> float:
        """Taste of the marginal buyer when every public-quality seller asks that buyer's
        reservation price: the highest taste at which demand covers supply."""
        s = self.sellers
        g, sd = s.pub_mean[graded], np.sqrt(s.pub_var[graded] + self.noise_var)
        levels = np.unique(tastes)[::-1]  # highest first
        demand = weight * np.searchsorted(np.sort(-tastes), -levels, side="right")

        def supply(taste: float) -> float:
            asks = self.valuation.reservation(np.full(len(graded), taste), g, sd)
            return units * np.count_nonzero(asks >= s.cost[graded])

        lo, hi = 0, len(levels) - 1  # smallest index with demand >= supply
        while lo < hi:
            mid = (lo + hi) // 2
            if demand[mid] >= supply(levels[mid]):
                hi = mid
            else:
                lo = mid + 1
        return float(levels[lo])

    # --------------------------------------------------------------- shopping
    def _shop(self) -> None:
        """Each active buyer values its candidates as CPT lotteries and buys the best one."""
        p, s, b = self.params, self.sellers, self.buyers
        buyers = np.flatnonzero(b.active[: b.size])
        offering = np.flatnonzero(s.offering[: s.size])
        b.bought_from[: b.size] = -1
        b.spent[: b.size] = 0.0
        s.sales[: s.size] = 0
        s.revenue[: s.size] = 0.0
        if len(buyers) == 0 or len(offering) == 0:
            self.trades = _no_trades()
            self.ledger = {"paid": 0.0, "received": 0.0}
            return
        n, k = len(buyers), p.choice.candidates
        sampled = offering[self.rng.integers(len(offering), size=(n, k))]
        current = b.last_seller[buyers] if p.identity != "anonymous" else np.full(n, -1)
        has_current = current >= 0
        has_current[has_current] = s.offering[current[has_current]]
        current = np.where(has_current, current, -1)
        cands = np.concatenate([current[:, None], sampled], axis=1)  # (n, k+1)
        valid = cands >= 0
        if p.identity == "partners":  # a buyer with a partner only meets its partner
            valid[has_current, 1:] = False

        mean, var = self._predictive(buyers, np.maximum(cands, 0))
        price = s.price[np.maximum(cands, 0)]
        extra = np.zeros_like(price)
        extra[:, 1:] = np.where(has_current[:, None], p.choice.switching_cost, 0.0)
        value = self.valuation.value(b.theta[buyers][:, None], mean, np.sqrt(var),
                                     price + extra)
        outside = np.zeros(n)
        if p.choice.logit_noise > 0:
            value = value + p.choice.logit_noise * self.rng.gumbel(size=value.shape)
            outside = p.choice.logit_noise * self.rng.gumbel(size=n)
        value = np.where(valid, value, -np.inf)
        acceptable = value >= outside[:, None] - 1e-12

        pick = self._allocate(cands, value, acceptable, p.capacity)
        bought = pick >= 0
        who = buyers[bought]
        col = pick[bought]
        seller = cands[bought, col]
        paid = price[bought, col]
        delivered = s.quality[seller] + p.quality_noise * self.rng.standard_normal(len(seller))
        expected = mean[bought, col]
        self.trades = {
            "buyer": who, "seller": seller, "price": paid, "delivered": delivered,
            "expected": expected, "switching_cost": extra[bought, col],
            "theta": b.theta[who],
        }
        b.bought_from[who] = seller
        b.spent[who] = paid
        s.sales[: s.size] = np.bincount(seller, minlength=s.size)
        s.revenue[: s.size] = np.bincount(seller, weights=paid, minlength=s.size)
        self.ledger = {"paid": float(b.spent[: b.size].sum()),
                       "received": float(s.revenue[: s.size].sum())}

        self._learn(who, seller, delivered, expected, var[bought, col])

    def _predictive(self, buyers: np.ndarray, cands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each buyer's belief about the quality it would get from each candidate."""
        s, bel = self.sellers, self.beliefs
        pub_var = s.pub_var[cands]
        public = np.isfinite(pub_var)
        mean = np.where(public, s.pub_mean[cands], bel.pool_mean[buyers][:, None])
        var = np.where(public, pub_var,
                       (1 / bel.pool_precision[buyers] + self.quality_var)[:, None])
        if self.params.identity != "anonymous":
            slot = bel.find(buyers, cands)
            known = (slot != EMPTY) & (pub_var > 0)
            if known.any():
                rows = np.broadcast_to(buyers[:, None], cands.shape)[known]
                mean[known] = bel.slot_mean[rows, slot[known]]
                var[known] = 1 / bel.slot_precision[rows, slot[known]]
        return mean, var + self.noise_var

    def _allocate(self, cands, value, acceptable, capacity) -> np.ndarray:
        """Column of the candidate each buyer gets, -1 for none; capacity is respected.

        Buyers propose to their best acceptable candidate; a seller short of
        capacity serves proposers in random order and the rest try their next
        choice, for as many rounds as there are candidates.
        """
        n, width = cands.shape
        order = np.argsort(-value, axis=1, kind="stable")
        if capacity <= 0:
            best = order[:, 0]
            return np.where(acceptable[np.arange(n), best], best, -1)
        remaining = np.full(self.sellers.size, capacity, dtype=np.int64)
        priority = self.rng.permutation(n)
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

    # --------------------------------------------------------------- learning
    def _learn(self, who, seller, delivered, expected, predictive_var) -> None:
        """Beliefs, trust and satisfaction update from what buyers experienced."""
        p, s, b, bel = self.params, self.sellers, self.buyers, self.beliefs
        pooled = np.isinf(s.pub_var[seller])  # bought blind: evidence about the market
        bel.update_pool(who[pooled], delivered[pooled], self.pool_obs_var)
        if pooled.any() and p.beliefs.market_feedback > 0:
            # Everyone hears how blind purchases turned out on average this period.
            listeners = np.flatnonzero(b.active[: b.size])
            bel.update_pool(listeners, np.full(len(listeners), delivered[pooled].mean()),
                            self.pool_obs_var / p.beliefs.market_feedback)
        hidden = s.pub_var[seller] > 0  # experiences teach nothing about public exact quality
        if p.identity != "anonymous" and hidden.any():
            w, j = who[hidden], seller[hidden]
            prior_var = np.maximum(predictive_var[hidden] - self.noise_var, 1e-9)
            slot = bel.remember(w, j, expected[hidden], 1 / prior_var, self.steps)
            bel.update_slots(w, slot, delivered[hidden], self.seller_obs_var)
        t = p.trust
        good = delivered >= expected - t.tolerance
        trust = b.trust[who]
        b.trust[who] = np.where(good, trust + t.gain * (1 - trust), trust * (1 - t.loss))

    # ------------------------------------------------------------------ churn
    def _churn(self) -> tuple[int, int]:
        """Switchers and leavers this step; a buyer who switched and then left counts as a
        leaver only, so churn counts buyers, not events."""
        b, t = self.buyers, self.trades
        last = b.last_seller[t["buyer"]]
        switched = (last >= 0) & (last != t["seller"])
        b.last_seller[t["buyer"]] = t["seller"]
        leaving = np.flatnonzero(b.active[: b.size]
                                 & (b.trust[: b.size] < self.params.trust.leave_below))
        switchers = int(np.count_nonzero(switched & ~np.isin(t["buyer"], leaving)))
        self._remove_buyers(leaving)
        arrivals = self.rng.poisson(self.params.arrivals.rate * self.params.buyers)
        if arrivals:
            self._add_buyers(int(arrivals))
        return switchers, len(leaving)

    def _remove_buyers(self, rows: np.ndarray) -> None:
        self.buyers.active[rows] = False
        for r in rows:
            self.buyer_agents.pop(int(r)).remove()
        self._free_buyer_rows.extend(int(r) for r in rows)

    def _sellers_exit_and_enter(self) -> None:
        p, s = self.params, self.sellers
        live = np.flatnonzero(s.in_market[: s.size])
        s.profit[live] = s.revenue[live] - s.sales[live] * s.cost[live] - p.cost.fixed
        s.loss_run[live] = np.where(s.profit[live] <= 0, s.loss_run[live] + 1, 0)
        self.step_exits = self.step_entries = 0
        if p.exit.enabled:
            gone = live[s.loss_run[live] >= p.exit.patience]
            if len(gone):
                s.in_market[gone] = False
                s.offering[gone] = False
                self.beliefs.forget_seller(gone)
                for r in gone:
                    self.seller_agents[r].remove()
                self.step_exits = len(gone)
                live = np.flatnonzero(s.in_market[: s.size])
        if p.entry.enabled and len(live):
            if s.profit[live].mean() > p.entry.cost:
                room = self.max_sellers - len(live)
                n = min(int(self.rng.poisson(p.entry.rate * len(live))), max(room, 0))
                if n:
                    self._add_sellers(n)
                    self.step_entries = n

    # ------------------------------------------------------------------- step
    def step(self) -> None:
        active_at_start = int(self.buyers.active[: self.buyers.size].sum())
        self.beliefs.forget()
        self._reveal_due()
        self._set_prices()
        self._shop()
        buyers_now = np.flatnonzero(self.buyers.active[: self.buyers.size])
        offered = np.flatnonzero(self.sellers.offering[: self.sellers.size])
        first_best = metric_calc.first_best(self, buyers_now)
        switchers, leavers = self._churn()
        self._sellers_exit_and_enter()
        self.metrics = metric_calc.step_metrics(self, offered, active_at_start, switchers,
                                                leavers, first_best)
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ views
    def snapshot(self) -> dict[str, np.ndarray]:
        """Arrays for views: per seller row and per buyer row (copies)."""
        s, b = self.sellers, self.buyers
        return {
            "seller_quality": s.quality[: s.size].copy(),
            "seller_price": s.price[: s.size].copy(),
            "seller_sales": s.sales[: s.size].copy(),
            "seller_active": s.offering[: s.size].copy(),
            "seller_in_market": s.in_market[: s.size].copy(),
            "buyer_trust": b.trust[: b.size].copy(),
            "buyer_seller": b.bought_from[: b.size].copy(),
            "buyer_active": b.active[: b.size].copy(),
        }

    def metrics_frame(self) -> pd.DataFrame:
        df = self.datacollector.get_model_vars_dataframe().astype(float)
        df.index = pd.RangeIndex(1, len(df) + 1, name="step")
        return df


def _reporter(name: str):
    def report(model: MarketModel) -> float:
        return model.metrics[name]
    report.__name__ = f"report_{name}"
    return report


def _move(current: float, target: float, eta: float) -> float:
    if np.isnan(current):
        return target
    return current + eta * (target - current)


def _no_trades() -> dict[str, np.ndarray]:
    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    return {"buyer": empty_i, "seller": empty_i, "price": empty_f, "delivered": empty_f,
            "expected": empty_f, "switching_cost": empty_f, "theta": empty_f}


def run_market(params: MarketParams | dict | None, steps: int, seed: Any = None) -> pd.DataFrame:
    """Run one market for `steps` steps; one row per step, one column per metric."""
    model = MarketModel(params, rng=seed)
    for _ in range(steps):
        model.step()
    return model.metrics_frame()
