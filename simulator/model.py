"""The market: sellers who know their quality meet buyers who only hold beliefs about it.

`MarketModel` is a Mesa model. Its state lives in numpy arrays (one row per
agent: `model.sellers`, `model.buyers`, `model.beliefs`) so that one step is a
few dozen array operations whatever the number of agents; `Seller` and
`Buyer` Mesa agents are the readable face of those rows. One step follows
MODEL.md section 2: prices, public information, choice, settlement, learning,
churn, entry and exit, data collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np
import pandas as pd

from . import information, kernels
from . import metrics as metric_calc
from .agents import Buyer, Seller
from .beliefs import EMPTY, BeliefStore
from .mechanisms.reviews import ReviewBoard
from .mechanisms.seller_choices import CERTIFIED, N_POOLS, SellerChoices
from .mechanisms.word_of_mouth import SocialNetwork
from .metrics import METRICS
from .panel import BuyerPanel
from .params import MarketParams, SegmentParams
from .pricing import adaptive_prices, market_prices
from .state import BUYER_COLUMNS, SELLER_COLUMNS, Table
from .valuation import Valuation


class MarketModel(mesa.Model):
    """A market with hidden quality, prospect-theory buyers, trust and churn.

    Args:
        params: a MarketParams, a (partial) nested dict of market keys, or None
            for the defaults.
        rng: seed (int or numpy SeedSequence) for the model's own generators.
        **overrides: dotted-key overrides, e.g. ``**{"prospect.lam": 1.0}``.
    """

    def __init__(self, params: MarketParams | dict | None = None, *, rng=None,
                 record_panel: bool = False, **overrides):
        super().__init__(rng=rng)
        if not isinstance(params, MarketParams):
            params = MarketParams.from_dict(params)
        if overrides:
            params = params.replace(**overrides)
        self.params = p = params
        # Buyer segments (one implicit segment when the scenario declares none).
        self.segment_names = list(p.segments)
        self.segments = list(p.segments.values()) or [
            SegmentParams(share=1.0, taste=p.taste, prospect=p.prospect, trust=p.trust)]
        self.valuations = [Valuation(seg.prospect, p.beliefs.nodes) for seg in self.segments]
        self.valuation = self.valuations[0]
        self.segment_trust = {name: np.array([getattr(seg.trust, name) for seg in self.segments])
                              for name in ("initial", "gain", "loss", "tolerance", "leave_below",
                                           "lapse")}
        self.segment_reading = np.array([seg.review_weight for seg in self.segments])
        self.panel = BuyerPanel() if record_panel else None

        self.quality_mean, self.quality_var = p.quality.moments()
        self.noise_var = p.quality_noise**2
        # An unknown seller's delivered quality varies with the population and the noise.
        self.pool_obs_var = max(self.quality_var + self.noise_var, 1e-9)
        # A buyer's own experience of a known seller varies with the noise only.
        self.seller_obs_var = max(self.noise_var, 1e-6)
        # Under hidden action buyers know a seller may deliver less than its capability.
        self.action_var = (p.moral_hazard.shirk / 2) ** 2 if p.moral_hazard.enabled else 0.0

        self.sellers = Table(SELLER_COLUMNS, p.sellers)
        self.buyers = Table(BUYER_COLUMNS, p.buyers)
        self.beliefs = BeliefStore(
            capacity=p.buyers,
            memory=p.beliefs.memory,
            prior_mean=[self.quality_mean if not (pool & CERTIFIED and p.certification.face_value)
                        else p.quality.high for pool in range(N_POOLS)],
            prior_precision=p.beliefs.prior_weight / self.pool_obs_var,
            forgetting=p.beliefs.forgetting,
            pools=N_POOLS,
        )
        self.choices = SellerChoices(p)
        self.reviews = ReviewBoard(p) if p.reviews.enabled else None
        self.network = (SocialNetwork(p, p.buyers, seed=int(self.rng.integers(2**31)))
                        if p.word_of_mouth.enabled else None)
        self.seller_agents: list[Seller] = []
        self.buyer_agents: dict[int, Buyer] = {}
        self._free_buyer_rows: list[int] = []
        self.max_sellers = p.entry.max_sellers or 4 * p.sellers

        # Going price of each pool of sellers buyers cannot tell apart (by visible badge).
        self.pool_price = np.full(N_POOLS, np.nan)
        self.grade_taste = float("nan")  # taste of the marginal buyer of public-quality goods
        self.trades: dict[str, np.ndarray] = _no_trades()
        self.ledger = {"paid": 0.0, "received": 0.0}  # money moved at this step's settlement
        self.step_entries = 0
        self.step_exits = 0

        self._add_sellers(p.sellers)
        self._add_buyers(p.buyers)
        self.metrics: dict[str, float] = dict.fromkeys(METRICS, 0.0)
        self.segment_metrics: dict[str, dict[str, float]] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _reporter(name) for name in METRICS},
            tables={"segments": ["step", "segment", *metric_calc.SEGMENT_METRICS]})
        self.running = True

    # ----------------------------------------------------------------- agents
    def _draw_quality(self, n: int) -> np.ndarray:
        q = self.params.quality
        if q.distribution == "two_type":
            return np.where(self.rng.random(n) < q.share_high, q.high, q.low)
        if q.distribution == "beta":
            return q.low + (q.high - q.low) * self.rng.beta(q.a, q.b, n)
        return self.rng.uniform(q.low, q.high, n)

    def _draw_segments(self, n: int) -> np.ndarray:
        """Initial buyers: exact shares (largest remainder); newcomers: drawn by share."""
        shares = np.array([seg.share for seg in self.segments])
        if len(shares) == 1:
            return np.zeros(n, dtype=np.int64)
        if self.steps > 0:
            return self.rng.choice(len(shares), size=n, p=shares / shares.sum())
        counts = np.floor(shares * n).astype(np.int64)
        order = np.argsort(-(shares * n - counts), kind="stable")
        counts[order[: n - counts.sum()]] += 1
        return self.rng.permutation(np.repeat(np.arange(len(shares)), counts))

    def _draw_taste(self, n: int, t=None) -> np.ndarray:
        t = t or self.params.taste
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
        if p.cost.noise > 0:
            s.cost[rows] = np.maximum(s.cost[rows] + p.cost.noise * self.rng.standard_normal(n),
                                      0.0)
        s.unit_cost[rows] = s.cost[rows]
        s.price[rows] = s.cost[rows] * (1 + p.price.markup)
        s.signal[rows] = s.quality[rows] + p.signal.noise * self.rng.standard_normal(n)
        s.entered[rows] = self.steps
        if p.personalized_pricing.enabled:
            s.has_data[rows] = self.rng.random(n) < p.personalized_pricing.share
        information.publish(self, rows)
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
        b.segment[rows] = self._draw_segments(n)
        for k, seg in enumerate(self.segments):
            mine = rows[b.segment[rows] == k]
            b.theta[mine] = self._draw_taste(len(mine), seg.taste)
        b.trust[rows] = self.segment_trust["initial"][b.segment[rows]]
        b.credibility[rows] = self.params.claims.credibility
        b.joined[rows] = self.steps
        self.beliefs.reset(rows)
        for r in rows:
            agent = Buyer(self, int(r))
            self.buyer_agents[int(r)] = agent
            b.uid[r] = agent.unique_id
        return rows

    def by_segment(self, buyers: np.ndarray, method: str, *args) -> np.ndarray:
        """Call a Valuation method with each buyer's own segment's preferences.

        `args` are arrays whose first axis runs over `buyers` (or None).
        """
        if len(self.valuations) == 1:
            return getattr(self.valuation, method)(*args)
        seg = self.buyers.segment[buyers]
        out = None
        for k, val in enumerate(self.valuations):
            mine = seg == k
            if not mine.any():
                continue
            part = getattr(val, method)(*(a if a is None else a[mine] for a in args))
            if out is None:
                out = np.empty(seg.shape + part.shape[1:])
            out[mine] = part
        return out

    # ------------------------------------------------------------ information
    # ---------------------------------------------------------------- pricing
    def _set_prices(self) -> None:
        p, s = self.params, self.sellers
        live = np.flatnonzero(s.in_market[: s.size])
        if p.pricing == "markup":  # on the cost of the quality it claims to deliver
            s.price[live] = s.cost[live] * (1 + p.price.markup)
        elif p.pricing == "adaptive" and self.steps > 1:
            sales = s.sales[live]
            if p.capacity > 0:
                strong = sales >= p.capacity
            else:
                strong = sales > max(sales.mean(), 0.0) if len(sales) else sales > 0
            s.price[live] = adaptive_prices(s.price[live], s.unit_cost[live], sales, strong,
                                            p.price.adaptive_step)
        elif p.pricing == "market":
            market_prices(self, live)
        s.offering[:] = False
        s.offering[live] = s.price[live] >= s.unit_cost[live] - 1e-12

    def _learnable(self, sellers: np.ndarray) -> np.ndarray:
        """Sellers whose delivered quality experience can teach something: those whose quality
        is not public exactly, and every seller under hidden action (what is public is its
        capability, not what it will deliver)."""
        if self.params.moral_hazard.enabled:
            return np.ones(np.shape(sellers), dtype=bool)
        return self.sellers.pub_var[sellers] > 0

    def warranty_floor(self, has_warranty, shape) -> np.ndarray | None:
        """Quality below which a unit is repaired (-inf where there is no warranty)."""
        if not self.params.warranty.enabled:
            return None
        return np.where(has_warranty, self.params.warranty.threshold, -np.inf) * np.ones(shape)

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
        safe = np.maximum(cands, 0)
        if p.trials.enabled:
            self._give_samples(buyers, safe[:, 1])

        mean, var, known_slot = self._predictive(buyers, safe)
        price = s.price[safe]
        personal = np.zeros(price.shape, dtype=bool)
        if p.personalized_pricing.enabled:
            price, personal = self._personal_prices(buyers, safe, price)
        extra = np.zeros_like(price)  # the switching cost of a candidate, where it applies
        if p.choice.switching_cost > 0:
            extra[:, 1:] = np.where(has_current[:, None], p.choice.switching_cost, 0.0)
        floor = self.warranty_floor(s.warranty[safe], safe.shape)
        theta = np.broadcast_to(b.theta[buyers][:, None], mean.shape)
        value = self.by_segment(buyers, "value", theta, mean, np.sqrt(var), price + extra, floor)
        outside = np.zeros(n)
        if p.choice.logit_noise > 0:
            value = value + p.choice.logit_noise * self.rng.gumbel(size=value.shape)
            outside = p.choice.logit_noise * self.rng.gumbel(size=n)
        value[~valid] = -np.inf
        acceptable = value >= outside[:, None] - 1e-12
        if p.identity == "partners":
            # A buyer whose partner is still worth buying from meets nobody else.
            loyal = has_current & acceptable[:, 0]
            value[loyal, 1:] = -np.inf
            acceptable[loyal, 1:] = False

        pick = self._allocate(cands, value, acceptable, p.capacity)
        bought = pick >= 0
        who = buyers[bought]
        col = pick[bought]
        seller = cands[bought, col]
        paid = price[bought, col]
        made = s.quality[seller] - p.moral_hazard.shirk * s.shirking[seller]
        raw = made + p.quality_noise * self.rng.standard_normal(len(seller))
        delivered = raw
        if p.warranty.enabled:  # repaired up to the threshold, at the seller's cost
            covered = s.warranty[seller]
            repair = np.where(covered, np.maximum(p.warranty.threshold - raw, 0.0), 0.0)
            np.add.at(s.extra_cost, seller, p.cost.c1 * repair)
            delivered = raw + repair
        self.trades = {
            "buyer": who, "seller": seller, "price": paid, "delivered": delivered,
            "expected": mean[bought, col], "switching_cost": extra[bought, col],
            "theta": b.theta[who], "quality": raw, "made": made,
            "personal": personal[bought, col],
            "deceptive": self._deceptive(seller, made),
        }
        # A purchase from a seller the buyer already knew says nothing about unknown sellers.
        slot = known_slot[bought, col]
        self.trades["blind"] = np.isinf(s.pub_var[seller]) & (slot == EMPTY)
        b.bought_from[who] = seller
        b.spent[who] = paid
        s.sales[: s.size] = np.bincount(seller, minlength=s.size)
        s.revenue[: s.size] = np.bincount(seller, weights=paid, minlength=s.size)
        self.ledger = {"paid": float(b.spent[: b.size].sum()),
                       "received": float(s.revenue[: s.size].sum())}
        self._learn(var[bought, col], slot)

    def _deceptive(self, seller: np.ndarray, made: np.ndarray) -> np.ndarray:
        """Delivered below what was claimed or implied: a shirked unit, or a claim above
        what the seller makes by more than the tolerance."""
        s, p = self.sellers, self.params
        out = s.shirking[seller].copy()
        if p.claims.enabled:
            out |= s.claim[seller] > made + p.claims.tolerance
        return out

    def _personal_prices(self, buyers, cands, price):
        """Sellers holding buyer data see each buyer's taste and scale the posted price by
        it: more from buyers who value quality more, less from those who value it less."""
        s, b, pp = self.sellers, self.buyers, self.params.personalized_pricing
        personal = s.has_data[cands]
        theta = b.theta[buyers]
        relative = theta / max(float(b.theta[: b.size][b.active[: b.size]].mean()), 1e-12)
        custom = np.maximum(price * (1 + pp.capture * (relative[:, None] - 1)),
                            s.unit_cost[cands])
        return np.where(personal, custom, price), personal

    def _give_samples(self, buyers: np.ndarray, cands: np.ndarray) -> None:
        """Free trials: some buyers see one unknown candidate's delivered quality before
        choosing; the seller bears the unit's cost."""
        p, s, bel = self.params, self.sellers, self.beliefs
        lucky = (self.rng.random(len(buyers)) < p.trials.probability) & self._learnable(cands)
        if p.identity != "anonymous":
            lucky &= bel.find(buyers, cands) == EMPTY
        who, seller = buyers[lucky], cands[lucky]
        if len(who) == 0:
            return
        made = s.quality[seller] - p.moral_hazard.shirk * s.shirking[seller]
        sample = made + p.quality_noise * self.rng.standard_normal(len(who))
        np.add.at(s.extra_cost, seller, s.unit_cost[seller])
        self.hear(who, seller, sample, np.ones(len(who)))

    def hear(self, buyers: np.ndarray, sellers: np.ndarray, observed: np.ndarray,
             weight: np.ndarray) -> None:
        """Evidence about sellers that did not come from a purchase (a story, a sample):
        worth `weight` own observations about that seller (or, with anonymous sellers,
        about the pool it belongs to)."""
        s, bel = self.sellers, self.beliefs
        keep = self._learnable(sellers) & (weight > 0)
        buyers, sellers, observed, weight = buyers[keep], sellers[keep], observed[keep], weight[keep]
        if len(buyers) == 0:
            return
        if self.params.identity == "anonymous":
            bel.update_pool(buyers, s.pool[sellers], observed, self.pool_obs_var / weight)
            return
        known = bel.find(buyers, sellers)
        prior_mean, prior_precision = np.zeros(len(buyers)), np.ones(len(buyers))
        new = known == EMPTY
        if new.any():  # a first impression starts from what the buyer would have expected
            mean, var, _ = self._predictive(buyers[new], sellers[new][:, None])
            prior_mean[new] = mean[:, 0]
            prior_precision[new] = 1 / np.maximum(var[:, 0] - self.noise_var, 1e-9)
        slot = bel.remember(buyers, sellers, prior_mean, prior_precision, self.steps, known)
        bel.update_slots(buyers, slot, observed, self.seller_obs_var / weight)

    def _predictive(self, buyers: np.ndarray, cands: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each buyer's belief about the quality it would get from each candidate, and the
        slot holding its own belief about that seller (-1: it does not know it).

        One compiled pass (kernels.predictive_beliefs); `_predictive_reference` is the
        same rule in numpy, the readable version the tests hold it equal to.
        """
        p, s, b, bel = self.params, self.sellers, self.buyers, self.beliefs
        reviews = self.reviews is not None and p.identity != "anonymous"
        reading = (b.trust[buyers] * self.segment_reading[b.segment[buyers]] if reviews
                   else np.zeros(len(buyers)))
        return kernels.predictive_beliefs(
            np.ascontiguousarray(buyers, dtype=np.int64), np.ascontiguousarray(cands),
            s.pub_mean, s.pub_var, s.pool, bel.pool_mean, bel.pool_precision,
            self.quality_var, self.action_var, self.noise_var, p.moral_hazard.enabled,
            p.claims.enabled, b.credibility, s.claim, reviews, reading, s.rev_n, s.rev_sum,
            p.reviews.weight, p.reviews.noise**2 + self.noise_var,
            p.identity != "anonymous", bel.slot_seller, bel.slot_mean, bel.slot_precision)

    def _predictive_reference(self, buyers: np.ndarray, cands: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`_predictive` in numpy, step by step."""
        p, s, bel = self.params, self.sellers, self.beliefs
        pub_var = s.pub_var[cands]
        hidden = self._learnable(cands)
        pool = s.pool[cands]
        if self.choices.learners.keys() & {"certify", "warranty"}:
            rows = np.broadcast_to(buyers[:, None], cands.shape)
            mean, var = bel.pool_mean[rows, pool], 1 / bel.pool_precision[rows, pool]
        else:  # one pool: no fancy indexing needed
            mean = np.broadcast_to(bel.pool_mean[buyers, 0][:, None], cands.shape)
            var = np.broadcast_to(1 / bel.pool_precision[buyers, 0][:, None], cands.shape)
        var = var + self.quality_var
        public = np.isfinite(pub_var)
        if public.any():
            mean = np.where(public, s.pub_mean[cands], mean)
            var = np.where(public, pub_var + self.action_var, var)
        trust = self.buyers.trust[buyers]
        if p.claims.enabled:  # a claim counts as far as the buyer has found claims true
            w = np.where(hidden, self.buyers.credibility[buyers][:, None], 0.0)
            mean = (1 - w) * mean + w * s.claim[cands]
            var = (1 - w) * var
        if self.reviews is not None and p.identity != "anonymous":
            reading = trust * self.segment_reading[self.buyers.segment[buyers]]
            mean, var = self.reviews.combine(self, reading, cands, mean, var, hidden)
        slot = np.full(cands.shape, EMPTY, dtype=np.int64)
        if p.identity != "anonymous":
            slot = bel.find(buyers, cands)
            known = (slot != EMPTY) & hidden
            if known.any():
                mean, var = mean.copy(), var.copy()
                rows = np.broadcast_to(buyers[:, None], cands.shape)[known]
                mean[known] = bel.slot_mean[rows, slot[known]]
                var[known] = 1 / bel.slot_precision[rows, slot[known]]
            slot = np.where(hidden, slot, EMPTY)
        return mean, var + self.noise_var, slot

    def _allocate(self, cands, value, acceptable, capacity) -> np.ndarray:
        """Column of the candidate each buyer gets, -1 for none; capacity is respected.

        Buyers propose to their best acceptable candidate; a seller short of
        capacity serves proposers in random order and the rest try their next
        choice, for as many rounds as there are candidates.
        """
        n, width = cands.shape
        if capacity <= 0:  # everyone gets its first choice
            best = value.argmax(axis=1)
            return np.where(acceptable[np.arange(n), best], best, -1)
        order = np.argsort(-value, axis=1, kind="stable")
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
    def _learn(self, predictive_var: np.ndarray, slot: np.ndarray) -> None:
        """Beliefs, trust, credibility, reviews and word of mouth from this step's trades."""
        p, s, b, bel, t = self.params, self.sellers, self.buyers, self.beliefs, self.trades
        who, seller, quality, expected = t["buyer"], t["seller"], t["quality"], t["expected"]
        pooled = t["blind"]  # bought blind: evidence about what unknown sellers are worth
        pool = s.pool[seller]
        bel.update_pool(who[pooled], pool[pooled], quality[pooled], self.pool_obs_var)
        if pooled.any() and p.beliefs.market_feedback > 0:
            # Everyone hears how blind purchases from each pool turned out on average.
            listeners = np.flatnonzero(b.active[: b.size])
            for k in np.unique(pool[pooled]):
                heard = quality[pooled & (pool == k)].mean()
                bel.update_pool(listeners, k, np.full(len(listeners), heard),
                                self.pool_obs_var / p.beliefs.market_feedback)
        hidden = self._learnable(seller)  # nothing to learn about exact public quality
        if p.identity != "anonymous" and hidden.any():
            w, j = who[hidden], seller[hidden]
            prior_var = np.maximum(predictive_var[hidden] - self.noise_var, 1e-9)
            opened = bel.remember(w, j, expected[hidden], 1 / prior_var, self.steps,
                                  slot[hidden])
            bel.update_slots(w, opened, quality[hidden], self.seller_obs_var)

        seg, tp = b.segment[who], self.segment_trust
        trust = b.trust[who]
        good = t["delivered"] >= expected - tp["tolerance"][seg]
        trust = np.where(good, trust + tp["gain"][seg] * (1 - trust),
                         trust * (1 - tp["loss"][seg]))
        b.last_gap[who] = expected - t["delivered"]
        b.losses[who] += ~good
        if p.personalized_pricing.enabled:  # finding out about personal prices hurts
            found = t["personal"] & (self.rng.random(len(who)) < p.personalized_pricing.discovery)
            trust = np.where(found, trust * (1 - p.personalized_pricing.backlash), trust)
        b.trust[who] = trust
        if p.claims.enabled:
            self._judge_claims(who, seller, quality, hidden)
        if self.reviews is not None:
            self.reviews.post(self, seller, t["delivered"])
        if self.network is not None:
            self.network.tell(self, who, seller, quality)

    def _judge_claims(self, who, seller, quality, hidden) -> None:
        """Buyers learn how far to believe claims; a caught false claim is fined."""
        p, s, b = self.params, self.sellers, self.buyers
        c = p.claims
        false = quality < s.claim[seller] - c.tolerance
        cred, seg = b.credibility[who], b.segment[who]
        gain, loss = self.segment_trust["gain"][seg], self.segment_trust["loss"][seg]
        cred = np.where(false, cred * (1 - loss), cred + gain * (1 - cred))
        b.credibility[who] = np.where(hidden, cred, b.credibility[who])
        if c.audit > 0 and c.penalty > 0:
            caught = false & (self.rng.random(len(who)) < c.audit)
            np.add.at(s.extra_cost, seller[caught], c.penalty)

    # ------------------------------------------------------------------ churn
    def _churn(self, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segments of this step's switchers and of its leavers; a buyer who switched and
        then left counts as a leaver only, so churn counts buyers, not events.

        Segments, not rows: arrivals may reuse a leaver's row before the step ends."""
        b, t = self.buyers, self.trades
        last = b.last_seller[t["buyer"]]
        switched = t["buyer"][(last >= 0) & (last != t["seller"])]
        if self.params.identity == "anonymous":  # no relationship to switch away from
            switched = switched[:0]
        b.last_seller[t["buyer"]] = t["seller"]
        n = b.size
        b.idle[start] += 1
        b.idle[t["buyer"]] = 0
        seg = b.segment[:n]
        lapse = self.segment_trust["lapse"][seg]
        leaving = np.flatnonzero(b.active[:n] & (
            (b.trust[:n] < self.segment_trust["leave_below"][seg])
            | ((lapse > 0) & (b.idle[:n] >= lapse))))
        switched = switched[~np.isin(switched, leaving)]
        if self.panel is not None:
            self.panel.record(self, start, switched, leaving)
        segments = b.segment[switched].copy(), b.segment[leaving].copy()
        self._remove_buyers(leaving)
        arrivals = self.rng.poisson(self.params.arrivals.rate * self.params.buyers)
        if arrivals:
            self._add_buyers(int(arrivals))
        return segments

    def panel_frame(self) -> pd.DataFrame:
        """The buyer-period panel (needs record_panel=True); see simulator/panel.py."""
        return (self.panel or BuyerPanel()).frame(self.steps, self.segment_names)

    def _remove_buyers(self, rows: np.ndarray) -> None:
        self.buyers.active[rows] = False
        for r in rows:
            self.buyer_agents.pop(int(r)).remove()
        self._free_buyer_rows.extend(int(r) for r in rows)

    def _account(self) -> None:
        """Profit of every seller this step; sellers learn their strategies from it."""
        p, s = self.params, self.sellers
        live = np.flatnonzero(s.in_market[: s.size])
        s.profit[live] = (s.revenue[live] - s.sales[live] * s.unit_cost[live] - p.cost.fixed
                          - s.extra_cost[live])
        s.loss_run[live] = np.where(s.profit[live] <= 0, s.loss_run[live] + 1, 0)
        self.choices.learn(live, s.profit[live])

    def _sellers_exit_and_enter(self) -> None:
        p, s = self.params, self.sellers
        live = np.flatnonzero(s.in_market[: s.size])
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
    def _decide(self) -> None:
        """Sellers' strategic choices (learned), this step's unit costs and public info."""
        p, s = self.params, self.sellers
        live = np.flatnonzero(s.in_market[: s.size])
        self.choices.decide(self, live)
        s.unit_cost[live] = np.maximum(s.cost[live] - p.moral_hazard.saving * s.shirking[live],
                                       0.0)
        information.public_information(self, live)

    def step(self) -> None:
        start = np.flatnonzero(self.buyers.active[: self.buyers.size])
        start_segments = self.buyers.segment[start].copy()
        self.beliefs.forget()
        information.reveal_due(self)
        if self.reviews is not None:
            self.reviews.publish_due(self)
        self._decide()
        self._set_prices()
        self._shop()
        buyers_now = np.flatnonzero(self.buyers.active[: self.buyers.size])
        offered = np.flatnonzero(self.sellers.offering[: self.sellers.size])
        first_best = metric_calc.first_best(self, buyers_now)
        self._account()
        churned_segments = self._churn(start)
        self._sellers_exit_and_enter()
        self.metrics = metric_calc.step_metrics(self, offered, len(start),
                                                len(churned_segments[0]),
                                                len(churned_segments[1]), first_best)
        if self.segment_names:
            self.segment_metrics = metric_calc.segment_metrics(self, start_segments,
                                                               *churned_segments)
            for name, values in self.segment_metrics.items():
                self.datacollector.add_table_row("segments", {"step": self.steps,
                                                              "segment": name, **values})
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


def _no_trades() -> dict[str, np.ndarray]:
    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    return {"buyer": empty_i, "seller": empty_i, "price": empty_f, "delivered": empty_f,
            "expected": empty_f, "switching_cost": empty_f, "theta": empty_f,
            "quality": empty_f, "made": empty_f, "personal": np.zeros(0, dtype=bool),
            "blind": np.zeros(0, dtype=bool),
            "deceptive": np.zeros(0, dtype=bool)}


def run_market(params: MarketParams | dict | None, steps: int, seed: Any = None) -> pd.DataFrame:
    """Run one market for `steps` steps; one row per step, one column per metric."""
    return simulate(params, steps, seed).timeseries


@dataclass
class Simulation:
    """What one run produces: metrics per step, per segment (if any), and the buyer panel."""

    timeseries: pd.DataFrame
    segments: pd.DataFrame | None
    panel: pd.DataFrame | None


def simulate(params: MarketParams | dict | None, steps: int, seed: Any = None, *,
             panel: bool = False) -> Simulation:
    model = MarketModel(params, rng=seed, record_panel=panel)
    for _ in range(steps):
        model.step()
    segments = None
    if model.segment_names:
        segments = model.datacollector.get_table_dataframe("segments")
    return Simulation(model.metrics_frame(), segments, model.panel_frame() if panel else None)
