"""Metric names (part of the interface, MODEL.md section 4) and how each step's values are computed."""

from __future__ import annotations

import numpy as np

#: Reported per step and per market, in report order: the headline four first.
METRICS: tuple[str, ...] = (
    "price",
    "volume",
    "trust",
    "churn",
    "switch_rate",
    "exit_rate",
    "quality_traded",
    "mean_seller_quality",
    "consumer_surplus",
    "producer_surplus",
    "total_surplus",
    "efficiency",
    "active_buyers",
    "active_sellers",
    "entries",
    "exits",
    "satisfaction",
    "expectation_gap",
    "disclosure_rate",
    "certified_share",
    "claim_inflation",
    "deception_rate",
    "review_coverage",
)

HEADLINE: tuple[str, ...] = ("price", "volume", "trust", "churn")

#: Buyer-side metrics that are also reported per buyer segment. Counts and
#: surpluses add up over segments; rates and means are per segment.
SEGMENT_METRICS: tuple[str, ...] = (
    "price", "volume", "trust", "churn", "switch_rate", "exit_rate", "quality_traded",
    "consumer_surplus", "satisfaction", "expectation_gap", "active_buyers",
)


def first_best(model, buyers) -> float:
    """Surplus if every active buyer got the seller maximising theta*q - c, capacity respected.

    With c = c0 + c1*q the pair surplus (theta - c1)*q - c0 is supermodular,
    so assortative matching (highest tastes with highest qualities) is
    optimal; with unlimited capacity each buyer simply takes its best seller.
    """
    p, s = model.params, model.sellers
    live = np.flatnonzero(s.in_market[: s.size])
    if len(live) == 0 or len(buyers) == 0:
        return 0.0
    theta = np.sort(model.buyers.theta[buyers])[::-1]
    q = s.quality[live]
    if p.capacity <= 0:
        best = np.maximum((theta - p.cost.c1) * q.max(), (theta - p.cost.c1) * q.min()) - p.cost.c0
        return float(np.maximum(best, 0.0).sum())
    units = np.repeat(np.sort(q)[::-1], min(p.capacity, len(buyers)))[: len(theta)]
    pair = (theta[: len(units)] - p.cost.c1) * units - p.cost.c0
    return float(np.maximum(pair, 0.0).sum())


def step_metrics(model, offering: np.ndarray, active_at_start: int, switchers: int,
                 leavers: int, first_best_surplus: float) -> dict[str, float]:
    """This step's values of every metric (only `price` may be NaN: nothing traded).

    `offering` are the rows of the sellers that offered this step (before any exit).
    """
    s, b, t = model.sellers, model.buyers, model.trades
    volume = len(t["price"])
    active = b.active[: b.size]
    cs = float(np.sum(t["theta"] * t["delivered"] - t["price"] - t["switching_cost"]))
    ps_trade = float(np.sum(t["price"] - s.cost[t["seller"]]))
    fixed = model.params.cost.fixed * int(s.in_market[: s.size].sum())
    start = max(active_at_start, 1)
    traded = volume > 0
    m = {
        "price": float(t["price"].mean()) if traded else float("nan"),
        "volume": float(volume),
        "trust": float(b.trust[: b.size][active].mean()) if active.any() else 0.0,
        "switch_rate": switchers / start,
        "exit_rate": leavers / start,
        "quality_traded": float(t["delivered"].mean()) if traded else 0.0,
        "mean_seller_quality": float(s.quality[offering].mean()) if len(offering) else 0.0,
        "consumer_surplus": cs,
        "producer_surplus": ps_trade - fixed,
        "total_surplus": cs + ps_trade - fixed,
        # Expected surplus of the units as made (noise cannot push it above 1; shirking
        # shows as the value it destroys).
        "efficiency": (float(np.sum(t["theta"] * t["made"] - s.unit_cost[t["seller"]]
                                    - t["switching_cost"])) / first_best_surplus
                       if first_best_surplus > 1e-12 else 1.0),
        "active_buyers": float(active.sum()),
        "active_sellers": float(len(offering)),
        "entries": float(model.step_entries),
        "exits": float(model.step_exits),
        "satisfaction": float(satisfaction(model).mean()) if traded else 0.0,
        "expectation_gap": float((t["expected"] - t["delivered"]).mean()) if traded else 0.0,
    }
    m["churn"] = m["switch_rate"] + m["exit_rate"]
    p = model.params
    live = np.flatnonzero(s.in_market[: s.size])
    if len(live):
        if p.disclosure.enabled:
            m["disclosure_rate"] = float(s.disclosed[live].mean())
        if p.certification.enabled:
            m["certified_share"] = float(s.certified[live].mean())
        if p.claims.enabled:
            m["claim_inflation"] = float(s.inflation[live].mean())
    if traded:
        m["deception_rate"] = float(t["deceptive"].mean())
    if p.reviews.enabled and len(offering):
        m["review_coverage"] = float((s.rev_count[offering] > 0).mean())
    for name in METRICS:
        m.setdefault(name, 0.0)
    return m


def satisfaction(model) -> np.ndarray:
    """Each trade's experienced payoff against expectation, valued by the buyer's own CPT
    value function (disappointment weighs lam times more than delight)."""
    t = model.trades
    return model.by_segment(t["buyer"], "satisfaction", t["theta"], t["delivered"],
                            t["expected"])


def segment_metrics(model, start_segments: np.ndarray, switched_segments: np.ndarray,
                    leaving_segments: np.ndarray) -> dict[str, dict[str, float]]:
    """SEGMENT_METRICS for each named segment this step (after churn)."""
    b, t = model.buyers, model.trades
    trade_seg = b.segment[t["buyer"]]
    sat = satisfaction(model) if len(t["buyer"]) else np.zeros(0)
    active = b.active[: b.size]
    seg_now = b.segment[: b.size]
    out = {}
    for k, name in enumerate(model.segment_names):
        mine = trade_seg == k
        n_start = max(int((start_segments == k).sum()), 1)
        here = active & (seg_now == k)
        traded = bool(mine.any())
        switch = float((switched_segments == k).sum()) / n_start
        leave = float((leaving_segments == k).sum()) / n_start
        out[name] = {
            "price": float(t["price"][mine].mean()) if traded else float("nan"),
            "volume": float(mine.sum()),
            "trust": float(b.trust[: b.size][here].mean()) if here.any() else 0.0,
            "churn": switch + leave,
            "switch_rate": switch,
            "exit_rate": leave,
            "quality_traded": float(t["delivered"][mine].mean()) if traded else 0.0,
            "consumer_surplus": float(np.sum(t["theta"][mine] * t["delivered"][mine]
                                             - t["price"][mine] - t["switching_cost"][mine])),
            "satisfaction": float(sat[mine].mean()) if traded else 0.0,
            "expectation_gap": float((t["expected"][mine] - t["delivered"][mine]).mean())
            if traded else 0.0,
            "active_buyers": float(here.sum()),
        }
    return out
