"""The market core written the plain Mesa way: one Python object and method call per agent.

`ReferenceMarket` follows the same rules and parameters as the engine's core
(simulator/model.py and simulator/phases/, docs/model.md "One step") but keeps every agent's state in its
own attributes and loops over agents in Python, as a Mesa user would write it
by hand. It exists for two reasons:

* speed: benchmarks/bench_reference.py times it against the engine;
* correctness: tests/test_reference_loop.py checks that its metrics and the
  engine's have the same distribution over replications. The two never match
  draw for draw (they consume random numbers in a different order), so the
  check is statistical.

It covers the core only (pricing, information regimes, identity, choice,
capacity, learning, trust, churn, entry and exit); it refuses parameters that
switch on anything else, so it never silently ignores a mechanism.
"""

from __future__ import annotations

import bisect
import math
import statistics
from typing import Any

import mesa
import pandas as pd

from simulator.params import MarketParams, flatten_dotted
from simulator.prospect import ProspectTheory, normal_nodes

#: Parameters the reference loop implements. Every other parameter must stay at its
#: default (checked generically, so mechanisms added later are refused, not ignored).
IMPLEMENTED_KEYS = frozenset({
    "buyers", "sellers", "information", "pricing", "identity", "capacity", "quality_noise",
    "quality.distribution", "quality.low", "quality.high", "quality.share_high", "quality.a",
    "quality.b", "cost.c0", "cost.c1", "cost.fixed", "taste.distribution", "taste.value",
    "taste.low", "taste.high", "taste.mean", "taste.sd", "prospect.alpha", "prospect.beta",
    "prospect.lam", "prospect.gamma_gain", "prospect.gamma_loss", "prospect.reference",
    "beliefs.prior_weight", "beliefs.forgetting", "beliefs.forgiveness",
    "beliefs.market_feedback", "beliefs.memory", "beliefs.nodes", "trust.initial", "trust.gain",
    "trust.loss", "trust.tolerance", "trust.leave_below", "trust.lapse", "trust.idle_loss",
    "choice.candidates", "choice.logit_noise",
    "choice.switching_cost", "price.markup", "price.adjustment", "price.adaptive_step",
    "signal.noise", "delay.steps", "arrivals.rate", "entry.enabled", "entry.cost",
    "entry.rate", "entry.max_sellers", "exit.enabled", "exit.patience",
})

#: Metrics the core computes (the engine's names); mechanism metrics are left out.
CORE_METRICS = (
    "price", "volume", "trust", "churn", "switch_rate", "exit_rate", "quality_traded",
    "mean_seller_quality", "consumer_surplus", "producer_surplus", "total_surplus",
    "efficiency", "active_buyers", "active_sellers", "entries", "exits", "satisfaction",
    "expectation_gap",
)

#: Market pricing: at most this many buyers' reservation prices set the going price
#: (the engine's CLEARING_SAMPLE).
CLEARING_SAMPLE = 2000

#: Adaptive pricing: longest a seller holds a selling price after a failed raise
#: (the engine's MAX_HOLD).
MAX_HOLD = 64


def check_core_only(params: MarketParams) -> None:
    """Refuse parameters that switch on something beyond the core (buyer segments too)."""
    found, default = flatten_dotted(params.to_dict()), flatten_dotted(MarketParams().to_dict())
    extra = sorted(key for key in found.keys() | default.keys()
                   if key not in IMPLEMENTED_KEYS and found.get(key) != default.get(key))
    if extra:
        raise ValueError(f"the reference loop implements the market core only; "
                         f"these are not at their defaults: {', '.join(extra)}")



class RefSeller(mesa.Agent):
    """A seller holding its own quality, cost, price and sales."""

    def __init__(self, model: ReferenceMarket):
        super().__init__(model)
        p, rnd = model.params, model.random
        q = p.quality
        if q.distribution == "two_type":
            self.quality = q.high if rnd.random() < q.share_high else q.low
        elif q.distribution == "beta":
            self.quality = q.low + (q.high - q.low) * rnd.betavariate(q.a, q.b)
        else:
            self.quality = rnd.uniform(q.low, q.high)
        self.cost = p.cost.c0 + p.cost.c1 * self.quality
        self.price = self.cost * (1 + p.price.markup)
        self.signal = self.quality + p.signal.noise * rnd.gauss(0.0, 1.0)
        # Adaptive pricing: this seller's own step, so sellers do not move in lockstep;
        # how long it holds a selling price after a failed raise, and that price.
        self.price_step = (p.price.adaptive_step * rnd.uniform(0.5, 1.5)
                           if p.pricing == "adaptive" else 0.0)
        self.patience = self.holding = 0
        self.sold_price = 0.0  # last price at which it sold (0: none known)
        self.entered = model.steps
        self.in_market = True
        self.offering = False
        self.sales = 0
        self.revenue = 0.0
        self.profit = 0.0
        self.loss_run = 0
        self.remaining = 0  # capacity left while the market settles
        self.publish()

    def publish(self) -> None:
        """What buyers can see about this seller's quality (pub_var = inf: nothing)."""
        m = self.model
        regime = m.params.information
        self.pub_mean, self.pub_var = 0.0, math.inf
        if regime == "transparent" or (regime == "delayed" and m.params.delay.steps == 0):
            self.pub_mean, self.pub_var = self.quality, 0.0
        elif regime == "noisy":
            noise = m.params.signal.noise ** 2
            k = m.quality_var / (m.quality_var + noise) if m.quality_var > 0 else 0.0
            self.pub_mean = m.quality_mean + k * (self.signal - m.quality_mean)
            self.pub_var = (1 - k) * m.quality_var

    def reveal_if_due(self) -> None:
        m = self.model
        if (m.params.information == "delayed" and math.isinf(self.pub_var)
                and m.steps - self.entered >= m.params.delay.steps):
            self.pub_mean, self.pub_var = self.quality, 0.0

    def set_price(self, mean_sales: float) -> None:
        p = self.model.params
        if p.pricing == "markup":
            self.price = self.cost * (1 + p.price.markup)
        elif p.pricing == "adaptive" and self.model.steps > 1:
            strong = self.sales >= p.capacity if p.capacity > 0 else self.sales > max(mean_sales,
                                                                                      0.0)
            unsold = self.sales == 0
            if unsold and 0 < self.sold_price < self.price:
                # A raise that lost every sale: back to the last price that sold, held
                # twice as long as after the previous failed raise.
                new = self.sold_price
                self.patience = min(max(2 * self.patience, 1), MAX_HOLD)
                self.holding = self.patience
            else:
                if strong and self.holding == 0:
                    new = self.price * (1 + self.price_step)
                elif unsold:
                    new = self.price * (1 - self.price_step)
                else:
                    new = self.price
                if strong:
                    self.holding = max(self.holding - 1, 0)
                self.sold_price = 0.0 if unsold else self.price
            self.price = max(new, self.cost)
        # market pricing: the model sets the going price before offers are decided

    def decide_to_offer(self) -> None:
        self.offering = self.price >= self.cost - 1e-12

    def account(self) -> None:
        """This step's profit and the run of loss-making steps."""
        p = self.model.params
        self.profit = self.revenue - self.sales * self.cost - p.cost.fixed
        self.loss_run = self.loss_run + 1 if self.profit <= 0 else 0


class Option:
    """One candidate purchase as a buyer sees it."""

    __slots__ = ("seller", "price", "extra", "mean", "var", "known", "value")

    @property
    def blind(self) -> bool:
        """Bought with nothing known about this seller but what the market is worth."""
        return math.isinf(self.seller.pub_var) and not self.known

    def __init__(self, seller, price, extra, mean, var, known, value):
        self.seller, self.price, self.extra = seller, price, extra
        self.mean, self.var, self.known, self.value = mean, var, known, value


class RefBuyer(mesa.Agent):
    """A buyer with its own taste, trust, beliefs and current seller."""

    def __init__(self, model: ReferenceMarket):
        super().__init__(model)
        t, rnd = model.params.taste, model.random
        if t.distribution == "uniform":
            self.theta = rnd.uniform(t.low, t.high)
        elif t.distribution == "normal":
            self.theta = max(rnd.gauss(t.mean, t.sd), 0.0)
        else:
            self.theta = t.value
        self.trust = model.params.trust.initial
        self.pool_mean = model.quality_mean  # belief about an unknown seller's quality
        self.pool_precision = model.prior_precision
        # ... and about the second moment of what it observes (quality plus noise).
        self.pool_sq = model.quality_mean ** 2 + model.pool_obs_var
        self.known: dict[RefSeller, list] = {}  # seller -> [mean, precision, last step used]
        self.last_seller: RefSeller | None = None
        self.idle = 0  # steps in a row without finding anything worth buying
        self.choices: list[Option] = []  # acceptable options, best first
        self.partner = None  # the partner it stays with this step (identity = "partners")
        self.bought: Option | None = None
        self.delivered = 0.0

    # ------------------------------------------------------------- beliefs
    def forget(self) -> None:
        """Lose a share of belief precision, never below the prior's; then remembered
        sellers not bought from last step drift back toward what the buyer would expect of
        them as strangers."""
        m = self.model
        keep = 1.0 - m.params.beliefs.forgetting
        if keep < 1.0:
            self.pool_precision = max(self.pool_precision * keep, m.prior_precision)
            for slot in self.known.values():
                slot[1] = max(slot[1] * keep, m.prior_precision)
        forgiveness = m.params.beliefs.forgiveness
        for seller, slot in self.known.items():
            if slot[2] >= m.steps - 1:  # bought from last step: the memory is fresh
                continue
            # toward what it would expect of this seller as a stranger
            target = seller.pub_mean if math.isfinite(seller.pub_var) else self.pool_mean
            slot[0] += forgiveness * (target - slot[0])

    def pool_spread(self) -> float:
        """Variance of quality among unknown sellers, as learnt from noisy observations."""
        return max(self.pool_sq - self.pool_mean ** 2 - self.model.noise_var, 0.0)

    def predict(self, seller: RefSeller) -> tuple[float, float, bool]:
        """Mean and variance of the quality this buyer expects to receive from the seller,
        and whether that comes from its own memory of the seller."""
        m = self.model
        if m.params.identity != "anonymous" and seller.pub_var > 0 and seller in self.known:
            mean, precision, _ = self.known[seller]
            return mean, 1.0 / precision + m.noise_var, True
        if math.isfinite(seller.pub_var):
            return seller.pub_mean, seller.pub_var + m.noise_var, False
        return (self.pool_mean, 1.0 / self.pool_precision + self.pool_spread() + m.noise_var,
                False)

    # -------------------------------------------------------------- choose
    def choose(self) -> None:
        """Value the current seller and K sampled ones; keep the acceptable ones, best first."""
        m, p = self.model, self.model.params
        rnd, offering = m.random, m.offering
        self.bought = None
        current = self.last_seller
        if p.identity == "anonymous" or current is None or not current.offering:
            current = None
        sampled = [offering[rnd.randrange(len(offering))] for _ in range(p.choice.candidates)]
        extra = p.choice.switching_cost if current is not None else 0.0
        candidates = [] if current is None else [(current, 0.0)]
        candidates += [(seller, extra) for seller in sampled]

        noise = p.choice.logit_noise
        options = []
        for seller, extra in candidates:
            mean, var, known = self.predict(seller)
            value = m.cpt_value(self.theta, mean, math.sqrt(var), seller.price + extra)
            if noise > 0:
                value += noise * m.gumbel()
            options.append(Option(seller, seller.price, extra, mean, var, known, value))
        outside = noise * m.gumbel() if noise > 0 else 0.0
        acceptable = [o for o in options if o.value >= outside - 1e-12]
        self.partner = None
        acceptable.sort(key=lambda o: -o.value)  # stable: the current seller wins ties
        if p.identity == "partners" and current is not None and options[0] in acceptable:
            # A partner still worth buying from: nobody else, or (with capacity) others
            # only if the partner turns the buyer away.
            self.partner = current
            others = [o for o in acceptable if o is not options[0]] if p.capacity > 0 else []
            acceptable = [options[0]] + others
        self.choices = acceptable

    def buy(self, option: Option) -> None:
        m = self.model
        self.bought = option
        seller = option.seller
        seller.sales += 1
        seller.revenue += option.price
        self.delivered = seller.quality + m.params.quality_noise * m.random.gauss(0.0, 1.0)

    # --------------------------------------------------------------- learn
    def learn(self, market_news: tuple[float, float] | None) -> None:
        """Update beliefs from own purchase and the market's news, then trust."""
        m, p = self.model, self.model.params
        o = self.bought
        if o is not None and o.blind:  # evidence about what unknown sellers are worth
            self._update_pool(self.delivered, m.pool_obs_var)
        if market_news is not None:
            mean, mean_sq = market_news  # the average blind purchase, and its square's
            self._update_pool(mean, m.pool_obs_var / p.beliefs.market_feedback, mean_sq)
        if o is None:
            if not self.choices:
                self.find_nothing()
            return  # turned away by capacity: nothing learnt about the market
        if p.identity != "anonymous" and o.seller.pub_var > 0:
            slot = self.known.get(o.seller)
            if slot is None:
                if len(self.known) >= p.beliefs.memory:  # forget the least recently used
                    del self.known[min(self.known, key=lambda s: self.known[s][2])]
                prior_var = max(o.var - m.noise_var, 1e-9)
                slot = self.known[o.seller] = [o.mean, 1.0 / prior_var, 0]
            slot[2] = m.steps
            precision = slot[1] + 1.0 / m.seller_obs_var
            slot[0] += (self.delivered - slot[0]) / (m.seller_obs_var * precision)
            slot[1] = precision
        t = p.trust
        if self.delivered >= o.mean - t.tolerance:
            self.trust += t.gain * (1 - self.trust)
        else:
            self.trust *= 1 - t.loss

    def find_nothing(self) -> None:
        """Nothing worth buying this step: the buyer trusts the market a little less, but
        not to where one disappointment would make it leave."""
        t = self.model.params.trust
        floor = t.leave_below / max(1 - t.loss, 1e-12)
        self.trust = max(self.trust * (1 - t.idle_loss), min(self.trust, floor))

    def _update_pool(self, observed: float, obs_var: float,
                     observed_sq: float | None = None) -> None:
        precision = self.pool_precision + 1.0 / obs_var
        weight = 1.0 / (obs_var * precision)
        self.pool_mean += weight * (observed - self.pool_mean)
        sq = observed ** 2 if observed_sq is None else observed_sq
        self.pool_sq += weight * (sq - self.pool_sq)
        self.pool_precision = precision

    # --------------------------------------------------------------- churn
    def churn(self) -> str | None:
        """'left', 'switched' or None; a buyer who switched and then left has left."""
        switched = False
        self.idle = 0 if self.bought is not None else self.idle + 1
        if self.bought is not None:
            seller = self.bought.seller
            # Anonymous sellers: no relationship to switch away from (as in the engine).
            switched = (self.model.params.identity != "anonymous"
                        and self.last_seller is not None and self.last_seller is not seller)
            self.last_seller = seller
        t = self.model.params.trust
        if self.trust < t.leave_below or (t.lapse > 0 and self.idle >= t.lapse):
            self.remove()
            return "left"
        return "switched" if switched else None


class ReferenceMarket(mesa.Model):
    """The engine's core rules, one agent at a time (see the module docstring)."""

    def __init__(self, params: MarketParams | dict | None = None, *, rng=None):
        super().__init__(rng=rng)
        if not isinstance(params, MarketParams):
            params = MarketParams.from_dict(params)
        check_core_only(params)
        self.params = p = params

        prefs = ProspectTheory(p.prospect.alpha, p.prospect.beta, p.prospect.lam,
                               p.prospect.gamma_gain, p.prospect.gamma_loss)
        z, probs = normal_nodes(p.beliefs.nodes)
        gain_w, loss_w = prefs.decision_weights(probs)
        self.nodes = [(float(a), float(b), float(c), float(d))
                      for a, b, c, d in zip(z, probs, gain_w, loss_w, strict=True)]

        self.quality_mean, self.quality_var = p.quality.moments()
        self.noise_var = p.quality_noise ** 2
        self.pool_obs_var = max(self.quality_var + self.noise_var, 1e-9)
        self.seller_obs_var = max(self.noise_var, 1e-6)
        self.prior_precision = p.beliefs.prior_weight / self.pool_obs_var

        self.pool_price = math.nan
        self.grade_taste = math.nan
        self.offering: list[RefSeller] = []
        self.trades: list[RefBuyer] = []
        self.entries = self.exits = 0
        self.metrics: dict[str, float] = dict.fromkeys(CORE_METRICS, 0.0)
        for _ in range(p.sellers):
            RefSeller(self)
        for _ in range(p.buyers):
            RefBuyer(self)
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _reporter(name) for name in CORE_METRICS})
        self.running = True

    # ------------------------------------------------------------- valuation
    def cpt_value(self, theta: float, mean: float, sd: float, price: float) -> float:
        """CPT value of buying: payoff theta*q - price at the belief's Gauss-Hermite nodes."""
        outcomes = [theta * (mean + sd * z) - price for z, _, _, _ in self.nodes]
        if self.params.prospect.reference == "expectation":
            expected = sum(x * node[1] for x, node in zip(outcomes, self.nodes, strict=True))
            return expected + self._cpt([x - expected for x in outcomes])
        return self._cpt(outcomes)

    def _cpt(self, outcomes: list[float]) -> float:
        pt = self.params.prospect
        total = 0.0
        for x, (_, _, gain_w, loss_w) in zip(outcomes, self.nodes, strict=True):
            if x >= 0:
                total += gain_w * x ** pt.alpha
            else:
                total -= pt.lam * loss_w * (-x) ** pt.beta
        return total

    def reservation(self, theta: float, mean: float, sd: float) -> float:
        """The price at which buying is worth exactly the outside option (bisection)."""
        lo = theta * (mean + sd * self.nodes[0][0]) - 1.0
        hi = theta * (mean + sd * self.nodes[-1][0]) + 1.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if self.cpt_value(theta, mean, sd, mid) >= 0:
                lo = mid
            else:
                hi = mid
        return lo

    def gumbel(self) -> float:
        return -math.log(max(self.random.expovariate(1.0), 1e-300))

    # ------------------------------------------------------------------ step
    @property
    def buyers(self):
        return self.agents_by_type.get(RefBuyer, [])

    @property
    def sellers(self):
        return self.agents_by_type.get(RefSeller, [])

    def step(self) -> None:
        p = self.params
        active_at_start = len(self.buyers)
        self.buyers.do("forget")
        self.sellers.do("reveal_if_due")

        sellers = list(self.sellers)
        mean_sales = sum(s.sales for s in sellers) / len(sellers) if sellers else 0.0
        for seller in sellers:
            seller.set_price(mean_sales)
        if p.pricing == "market":
            self._market_prices(sellers)
        for seller in sellers:
            seller.decide_to_offer()
            seller.sales, seller.revenue = 0, 0.0
        self.offering = [s for s in sellers if s.offering]

        self.trades = []
        if self.offering and len(self.buyers):
            self.buyers.shuffle_do("choose")
            self._settle()
            blind = [b.delivered for b in self.trades if b.bought.blind]
            news = ((sum(blind) / len(blind), sum(x * x for x in blind) / len(blind))
                    if blind and p.beliefs.market_feedback > 0 else None)
            self.buyers.do("learn", news)
        else:
            for buyer in self.buyers:  # nobody offers anything
                buyer.bought, buyer.choices = None, []
                buyer.find_nothing()

        first_best = self._first_best(list(self.buyers), sellers)
        offered = list(self.offering)
        outcomes = self.buyers.map("churn")
        switchers, leavers = outcomes.count("switched"), outcomes.count("left")
        for _ in range(int(self.rng.poisson(p.arrivals.rate * p.buyers))):
            RefBuyer(self)
        producer_surplus = self._sellers_exit_and_enter()
        self._record(offered, active_at_start, switchers, leavers, first_best, producer_surplus)
        self.datacollector.collect(self)

    def _settle(self) -> None:
        """Buyers get their best acceptable option; a full seller serves in random order."""
        capacity = self.params.capacity
        buyers = [b for b in self.buyers if b.choices]
        if capacity <= 0:
            for buyer in buyers:
                buyer.buy(buyer.choices[0])
            self.trades = buyers
            return
        for seller in self.sellers:
            seller.remaining = capacity
        if self.params.identity == "partners":  # partners hold their seller's units
            partners = [b.partner for b in buyers if b.partner is not None]
            held = {id(s) for s in partners if partners.count(s) >= capacity}
            for buyer in buyers:
                buyer.choices = [o for o in buyer.choices
                                 if o.seller is buyer.partner or id(o.seller) not in held]
            buyers = [b for b in buyers if b.choices]
        self.random.shuffle(buyers)  # priority when a seller is short of capacity
        pointer = dict.fromkeys(buyers, 0)
        waiting = buyers
        # Each round every waiting buyer proposes to its next choice; a seller accepts
        # proposers in priority order while it has units; the others try their next choice.
        while waiting:
            rejected = []
            for buyer in waiting:
                option = buyer.choices[pointer[buyer]]
                if option.seller.remaining > 0:
                    option.seller.remaining -= 1
                    buyer.buy(option)
                    self.trades.append(buyer)
                else:
                    pointer[buyer] += 1
                    if pointer[buyer] < len(buyer.choices):
                        rejected.append(buyer)
            waiting = rejected

    # --------------------------------------------------------- market prices
    def _market_prices(self, sellers: list[RefSeller]) -> None:
        """Price-takers: each segment's going price moves toward its clearing price."""
        p = self.params
        buyers = list(self.buyers)
        live = [s for s in sellers if s.in_market]
        sample = (self.random.sample(buyers, CLEARING_SAMPLE) if len(buyers) > CLEARING_SAMPLE
                  else buyers)
        weight = len(buyers) / max(len(sample), 1)
        units = p.capacity if p.capacity > 0 else max(len(buyers), 1)
        eta = p.price.adjustment

        pooled = [s for s in live if math.isinf(s.pub_var)]
        if pooled and sample:
            reservations = [self.reservation(b.theta, b.pool_mean,
                                             math.sqrt(1 / b.pool_precision + self.noise_var
                                                       + b.pool_spread()))
                            for b in sample]
            # Sellers meet buyers at random, not in an auction: a going price above what
            # the median buyer would pay leaves units unsold, so it is capped there.
            target = min(clearing_price(reservations, [s.cost for s in pooled], units, weight),
                         statistics.median(reservations))
            # A going price above the target that sold nothing drops to it at once (by
            # partial adjustment it would stall just over a common reservation price).
            stalled = not any(s.sales for s in pooled) and self.pool_price > target
            self.pool_price = _move(self.pool_price, target, 1.0 if stalled else eta)
            for s in pooled:
                s.price = self.pool_price

        graded = [s for s in live if math.isfinite(s.pub_var)]
        if graded and sample:
            target = self._graded_taste([b.theta for b in sample], graded, units, weight)
            stalled = not any(s.sales for s in graded) and self.grade_taste > target
            self.grade_taste = _move(self.grade_taste, target, 1.0 if stalled else eta)
            for s in graded:
                s.price = self.reservation(self.grade_taste, s.pub_mean,
                                           math.sqrt(s.pub_var + self.noise_var))

    def _graded_taste(self, tastes, graded, units, weight) -> float:
        """The highest taste at which buyers at least that keen cover the units offered
        when every public-quality seller asks that taste's reservation price."""
        levels = sorted(set(tastes), reverse=True)

        def covered(taste: float) -> bool:
            demand = weight * sum(1 for t in tastes if t >= taste)
            asks = [self.reservation(taste, s.pub_mean, math.sqrt(s.pub_var + self.noise_var))
                    for s in graded]
            supply = units * sum(1 for a, s in zip(asks, graded, strict=True) if a >= s.cost)
            return demand >= supply

        lo, hi = 0, len(levels) - 1  # covered() turns true once, going down the levels
        while lo < hi:
            mid = (lo + hi) // 2
            if covered(levels[mid]):
                hi = mid
            else:
                lo = mid + 1
        return min(levels[lo], statistics.median(tastes))  # random matching, as above

    # ------------------------------------------------------- sellers come, go
    def _sellers_exit_and_enter(self) -> float:
        """Sellers book this step's profit, losers leave, entrants come; returns the
        profit booked (the producer surplus, exits included, entrants not)."""
        p = self.params
        live = list(self.sellers)
        for seller in live:
            seller.account()
        booked = sum(s.profit for s in live)
        self.entries = self.exits = 0
        if p.exit.enabled:
            gone = [s for s in live if s.loss_run >= p.exit.patience]
            for seller in gone:
                seller.in_market = seller.offering = False
                for buyer in self.buyers:
                    buyer.known.pop(seller, None)
                seller.remove()
            self.exits = len(gone)
            live = list(self.sellers)
        if p.entry.enabled and live:
            if sum(s.profit for s in live) / len(live) > p.entry.cost:
                room = (p.entry.max_sellers or 4 * p.sellers) - len(live)
                n = min(int(self.rng.poisson(p.entry.rate * len(live))), max(room, 0))
                for _ in range(n):
                    RefSeller(self)
                self.entries = n
        return booked

    # --------------------------------------------------------------- metrics
    def _first_best(self, buyers: list[RefBuyer], sellers: list[RefSeller]) -> float:
        """Surplus if every buyer got the seller maximising theta*q - c (capacity respected)."""
        p = self.params
        if not buyers or not sellers:
            return 0.0
        qualities = sorted((s.quality for s in sellers), reverse=True)
        tastes = sorted((b.theta for b in buyers), reverse=True)
        c0, c1 = p.cost.c0, p.cost.c1
        if p.capacity <= 0:
            return sum(max(max((t - c1) * qualities[0], (t - c1) * qualities[-1]) - c0, 0.0)
                       for t in tastes)
        units = [q for q in qualities for _ in range(min(p.capacity, len(buyers)))]
        return sum(max((t - c1) * q - c0, 0.0) for t, q in zip(tastes, units, strict=False))

    def _record(self, offered, active_at_start, switchers, leavers, first_best,
                producer_surplus) -> None:
        """This step's metrics; NaN where a mean or ratio has nothing to be taken over."""
        p, trades = self.params, self.trades
        pt = p.prospect
        buyers = list(self.buyers)
        n = len(trades)
        nan = math.nan
        cs = sum(b.theta * b.delivered - b.bought.price - b.bought.extra for b in trades)
        # Value delivered less the resources used up (units made, switching).
        realised = sum(b.theta * b.delivered - b.bought.seller.cost - b.bought.extra
                       for b in trades)

        def satisfaction(b: RefBuyer) -> float:
            x = b.theta * (b.delivered - b.bought.mean)
            return x ** pt.alpha if x >= 0 else -pt.lam * (-x) ** pt.beta

        start = active_at_start
        m = {
            "price": sum(b.bought.price for b in trades) / n if n else nan,
            "volume": float(n),
            "trust": sum(b.trust for b in buyers) / len(buyers) if buyers else nan,
            "switch_rate": switchers / start if start else nan,
            "exit_rate": leavers / start if start else nan,
            "quality_traded": sum(b.delivered for b in trades) / n if n else nan,
            "mean_seller_quality": (sum(s.quality for s in offered) / len(offered)
                                    if offered else nan),
            "consumer_surplus": cs,
            "producer_surplus": producer_surplus,
            "total_surplus": cs + producer_surplus,
            "efficiency": realised / first_best if first_best > 1e-12 else nan,
            "active_buyers": float(len(buyers)),
            "active_sellers": float(len(offered)),
            "entries": float(self.entries),
            "exits": float(self.exits),
            "satisfaction": sum(satisfaction(b) for b in trades) / n if n else nan,
            "expectation_gap": sum(b.bought.mean - b.delivered for b in trades) / n if n else nan,
        }
        m["churn"] = m["switch_rate"] + m["exit_rate"]
        self.metrics = m

    def metrics_frame(self) -> pd.DataFrame:
        df = self.datacollector.get_model_vars_dataframe().astype(float)
        df.index = pd.RangeIndex(1, len(df) + 1, name="step")
        return df


def clearing_price(reservations: list[float], costs: list[float], units: int,
                   demand_weight: float = 1.0) -> float:
    """The highest price at which the buyers willing to pay it cover the units offered at it.

    Candidates are the reservation prices (supply: sellers with cost <= price) and
    the costs (supply: sellers with cost < price); the lowest cost always qualifies.
    """
    r, c = sorted(reservations), sorted(costs)

    def demand(price: float) -> float:
        return demand_weight * (len(r) - bisect.bisect_left(r, price))

    best = max(x for x in c if demand(x) >= units * bisect.bisect_left(c, x))
    for x in r:
        if demand(x) >= units * bisect.bisect_right(c, x):
            best = max(best, x)
    return best


def _move(current: float, target: float, eta: float) -> float:
    return target if math.isnan(current) else current + eta * (target - current)


def _reporter(name: str):
    def report(model: ReferenceMarket) -> float:
        return model.metrics[name]
    report.__name__ = f"report_{name}"
    return report


def run_reference(params: MarketParams | dict | None, steps: int, seed: Any = None
                  ) -> pd.DataFrame:
    """Run the reference loop like `simulator.model.run_market`: one row per step."""
    model = ReferenceMarket(params, rng=seed)
    for _ in range(steps):
        model.step()
    return model.metrics_frame()
