"""The market: sellers who know their quality meet buyers who only hold beliefs about it.

`MarketModel` is a Mesa model whose `step()` is the schedule of phases in
docs/model.md ("One step"). The state the phases work on lives in numpy
arrays (`market.MarketState`: one row per agent), so a step is a few dozen
array operations whatever the number of agents; `Seller` and `Buyer` Mesa
agents are the readable face of those rows, and a Mesa `DataCollector`
records the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import kernels, memory
from . import metrics as metric_calc
from .agents import Buyer, Seller
from .market import MarketState
from .mesa_import import mesa
from .metrics import METRICS
from .panel import BuyerPanel
from .params import MarketParams
from .phases import (
    account,
    churn,
    decide,
    learn,
    population,
    price,
    publish,
    settle,
    shop,
    turnover,
)
from .phases.settle import Trades

#: Above this many initial buyers, a buyer's Mesa agent is made only when it is asked for
#: (`model.buyer_agents[row]`): one Python object per buyer would otherwise dominate
#: start-up (about 40 us each, most of a 100,000-buyer market's construction).
EAGER_BUYERS = 50_000
#: From this many initial buyers numpy is told not to use huge pages (`kernels.avoid_huge_pages`).
BIG_MARKET = 500_000


class LazyBuyers(dict):
    """Row -> Buyer agent, made on first access and kept while the buyer is active.
    `model.agents_by_type[Buyer]` then lists only the buyers asked for so far."""

    def __init__(self, model: MarketModel):
        super().__init__()
        self.model = model

    def __missing__(self, row: int) -> Buyer:
        if not self.model.buyers.active[row]:
            raise KeyError(row)
        agent = Buyer(self.model, int(row))
        agent.unique_id = int(self.model.buyers.uid[row])
        self[row] = agent
        return agent


class MarketModel(mesa.Model):
    """A market with hidden quality, prospect-theory buyers, trust and churn.

    Args:
        params: a MarketParams, a (partial) nested dict of market keys, or None
            for the defaults.
        rng: seed (int or numpy SeedSequence) for the model's own generators.
        record_panel: keep the buyer-period panel (`panel_frame()`).
        **overrides: dotted-key overrides, e.g. ``**{"prospect.lam": 1.0}``.
    """

    def __init__(self, params: MarketParams | dict | None = None, *, rng=None,
                 record_panel: bool = False, **overrides):
        super().__init__(rng=rng)
        if not isinstance(params, MarketParams):
            params = MarketParams.from_dict(params)
        if overrides:
            params = params.replace(**overrides)
        self.params = params
        memory.keep_freed_memory()
        if params.buyers >= BIG_MARKET:
            kernels.avoid_huge_pages()
        self.market = MarketState(params, self.rng)
        self.panel = BuyerPanel() if record_panel else None
        self.seller_agents: list[Seller] = []
        self.lazy_buyers = params.buyers > EAGER_BUYERS
        self.buyer_agents: dict[int, Buyer] = LazyBuyers(self) if self.lazy_buyers else {}
        self._buyer_number = 0  # buyer ids when agents are lazy
        self._free_buyer_rows: list[int] = []
        self.trades: Trades = Trades.none(self.market)
        self.accounted = np.zeros(0, dtype=np.int64)
        self._add_sellers(params.sellers)
        self._add_buyers(params.buyers)
        self.metrics: dict[str, float] = dict.fromkeys(METRICS, 0.0)
        self.segment_metrics: dict[str, dict[str, float]] = {}
        self.datacollector = MetricsCollector(
            model_reporters={name: _reporter(name) for name in METRICS},
            tables={"segments": ["step", "segment", *metric_calc.SEGMENT_METRICS]})
        self.running = True

    # ---------------------------------------------------------------- the step
    def step(self) -> None:
        m = self.market
        m.now = self.steps
        start = m.active_buyers()
        start_segments = m.buyers.segment[start].copy()
        publish.start_step(m)            # beliefs fade; delayed news and ratings come out
        decide.decide(m)                 # sellers' signals, disclosure, shirking; unit costs
        publish.publish(m)               # what buyers can see about quality
        price.set_prices(m)              # posted prices; who offers
        offers = shop.shop(m)            # candidates, beliefs, CPT values, allocation
        self.trades = t = settle.settle(m, offers)  # delivery and payment
        learn.learn(m, t)                # beliefs, trust, reviews, stories
        offering = m.offering_sellers()
        first_best = metric_calc.first_best(m, m.active_buyers())
        account.account(m)               # profit, and what sellers learn from it
        self.accounted = m.live_sellers()  # sellers whose profit this step is booked
        moved = churn.churn(m, t, start)  # switching, leaving, arriving
        if self.panel is not None:
            self.panel.record(m, start, moved.switched, moved.leaving)
        switched_segments = m.buyers.segment[moved.switched].copy()
        leaving_segments = m.buyers.segment[moved.leaving].copy()
        self._remove_buyers(moved.leaving)
        if moved.arrivals:
            self._add_buyers(moved.arrivals)
        gone = turnover.exits(m)         # sellers exit and enter
        self._remove_sellers(gone)
        entering = turnover.entrants(m)
        if entering:
            self._add_sellers(entering)
        self.metrics = metric_calc.step_metrics(  # collect
            m, t, offering, self.accounted, len(start), len(moved.switched),
            len(moved.leaving), first_best, entering, len(gone))
        if m.segment_names:
            self.segment_metrics = metric_calc.segment_metrics(
                m, t, start_segments, switched_segments, leaving_segments)
            for name, values in self.segment_metrics.items():
                self.datacollector.add_table_row("segments", {"step": self.steps,
                                                              "segment": name, **values})
        self.datacollector.collect(self)

    # ------------------------------------------------- agents: rows and faces
    def _add_sellers(self, n: int) -> None:
        rows = population.add_sellers(self.market, n)
        self.seller_agents.extend(Seller(self, int(r)) for r in rows)

    def _remove_sellers(self, rows: np.ndarray) -> None:
        population.remove_sellers(self.market, rows)
        for r in rows:
            self.seller_agents[r].remove()

    def _add_buyers(self, n: int) -> None:
        rows = population.add_buyers(self.market, n, self._free_buyer_rows)
        uid = self.market.buyers.uid
        if self.lazy_buyers:
            uid[rows] = self._buyer_number + np.arange(len(rows))
            self._buyer_number += len(rows)
            return
        rows = rows.tolist()  # Python ints: one conversion, not one per agent
        agents = [Buyer(self, r) for r in rows]
        self.buyer_agents.update(zip(rows, agents, strict=True))
        uid[rows] = [agent.unique_id for agent in agents]

    def _remove_buyers(self, rows: np.ndarray) -> None:
        population.remove_buyers(self.market, rows, self._free_buyer_rows)
        leaving = self.buyer_agents.pop
        for r in rows.tolist():
            agent = leaving(r, None)
            if agent is not None:
                agent.remove()

    # ------------------------------------------------------------------ views
    @property
    def sellers(self):
        return self.market.sellers

    @property
    def buyers(self):
        return self.market.buyers

    @property
    def beliefs(self):
        return self.market.beliefs

    @property
    def segment_names(self) -> list[str]:
        return self.market.segment_names

    @property
    def ledger(self) -> dict[str, float]:
        """Money moved from buyers to sellers over all steps, from each side's own books:
        what buyers paid (those still here and those who left) and what sellers received."""
        m = self.market
        b, s = m.buyers, m.sellers
        return {"paid": m.departed_paid + float(b.paid_total[: b.size].sum()),
                "received": float(s.received[: s.size].sum())}

    def mechanism(self, name: str):
        """The enabled mechanism called `name` (its `[market.<name>]` table), or None."""
        return self.market.by_name.get(name)

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

    def panel_frame(self) -> pd.DataFrame:
        """The buyer-period panel (needs record_panel=True); see simulator/panel.py."""
        return (self.panel or BuyerPanel()).frame(self.steps, self.segment_names)


class MetricsCollector(mesa.DataCollector):
    """Mesa's DataCollector, for reporters that read `model.metrics` (one float per
    metric a step): once Mesa has validated them, a step's values are appended as they
    are. Mesa deep-copies each value, which cost a twentieth of a step at 10,000 buyers."""

    def collect(self, model: MarketModel) -> None:
        if not self._validated or self.agent_reporters or self.agenttype_reporters:
            super().collect(model)
            return
        self._collection_steps.append(model.time)
        metrics = model.metrics
        for name, values in self.model_vars.items():
            values.append(metrics[name])


def _reporter(name: str):
    def report(model: MarketModel) -> float:
        return model.metrics[name]
    report.__name__ = f"report_{name}"
    return report


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
