"""Metric names (part of the interface, docs/model.md "Metrics") and how each step's values
are computed: the collect phase of a step. Mechanisms add their own (`Mechanism.collect`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .market import MarketState
    from .phases.settle import Trades

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
    "review_coverage_top_half",
)

HEADLINE: tuple[str, ...] = ("price", "volume", "trust", "churn")

#: Buyer-side metrics that are also reported per buyer segment. Counts and
#: surpluses add up over segments; rates and means are per segment.
SEGMENT_METRICS: tuple[str, ...] = (
    "price", "volume", "trust", "churn", "switch_rate", "exit_rate", "quality_traded",
    "consumer_surplus", "satisfaction", "expectation_gap", "active_buyers",
)


def first_best(model: MarketState, buyers: np.ndarray) -> float:
    """Surplus if every active buyer got the seller maximising theta*q - c, capacity respected.

    With c = c0 + c1*q the pair surplus (theta - c1)*q - c0 is supermodular,
    so assortative matching (highest tastes with highest qualities) is
    optimal; with unlimited capacity each buyer simply takes its best seller.
    With cost noise (`cost.noise`) a seller's cost is its own, not c0 + c1*q, and a
    mechanism may offer other deals (shirking: less quality for less cost): each buyer's
    best deal is then found among every seller's (`_best_deals`).
    """
    p, s = model.params, model.sellers
    live = np.flatnonzero(s.in_market[: s.size])
    if len(live) == 0 or len(buyers) == 0:
        return 0.0
    if buyers is model.active_buyers():  # the common case: sorted once per population
        theta = model.active_tastes_descending()
    else:
        theta = np.sort(model.buyers.theta[buyers])[::-1]
    lines = _lines_with_alternatives(model, live)
    if p.cost.noise > 0 or (lines is not None and _an_alternative_pays(model, theta, *lines)):
        return _best_deals(model, theta, live, lines)
    q = np.sort(s.quality[live])[::-1]
    # Quality a seller can raise at the cost of quality (a repair) counts when it pays:
    # for a buyer with theta > c1 more quality is worth more than it costs.
    up = q
    for mech in model.mechanisms:
        up = mech.attainable(model, up)
    if p.capacity <= 0:
        gain = theta - p.cost.c1
        best = gain * up.max()  # in place below: a step makes this sum for every buyer
        np.maximum(best, gain * q.min(), out=best)
        best -= p.cost.c0
        return float(np.maximum(best, 0.0, out=best).sum())
    k = min(p.capacity, len(buyers))
    units, units_up = np.repeat(q, k)[: len(theta)], np.repeat(up, k)[: len(theta)]
    gain = theta[: len(units)] - p.cost.c1
    pair = np.maximum(gain * units, gain * units_up) - p.cost.c0
    return float(np.maximum(pair, 0.0).sum())


def step_metrics(model: MarketState, t: Trades, offering: np.ndarray, accounted: np.ndarray,
                 active_at_start: int, switchers: int, leavers: int, first_best_surplus: float,
                 entries: int, exits: int) -> dict[str, float]:
    """This step's value of every metric: NaN where a ratio or mean has nothing to be taken
    over this step (no trade, no buyer, no seller on offer, no first-best surplus).

    `offering` are the rows of the sellers that offered this step, `accounted` those whose
    profit was booked (both before any exit).
    Surpluses are what agents actually got: consumers' value of the quality delivered
    less price and switching costs; producers' realised profit (every cost and fine the
    engine booked); efficiency is the value delivered less the resources used up (units,
    repairs, samples, certificates, switching; not fines, which are transfers) over the
    first-best surplus of the same buyers and sellers.
    """
    s, b = model.sellers, model.buyers
    nan = float("nan")
    volume = len(t)
    traded = volume > 0
    active = b.active[: b.size]
    value = t.theta * t.delivered
    cs = float(np.sum(value - t.price - t.switching_cost))
    ps = float(s.profit[accounted].sum())
    resources = float(np.sum(s.unit_cost[t.seller]) + np.sum(t.switching_cost)
                      + np.sum(s.extra_cost[accounted] - s.fines[accounted]))
    realised = float(np.sum(value)) - resources
    m = {
        "price": float(t.price.mean()) if traded else nan,
        "volume": float(volume),
        "trust": float(b.trust[: b.size][active].mean()) if active.any() else nan,
        "switch_rate": switchers / active_at_start if active_at_start else nan,
        "exit_rate": leavers / active_at_start if active_at_start else nan,
        "quality_traded": float(t.delivered.mean()) if traded else nan,
        "mean_seller_quality": float(s.quality[offering].mean()) if len(offering) else nan,
        "consumer_surplus": cs,
        "producer_surplus": ps,
        "total_surplus": cs + ps,
        "efficiency": realised / first_best_surplus if first_best_surplus > 1e-12 else nan,
        "active_buyers": float(active.sum()),
        "active_sellers": float(len(offering)),
        "entries": float(entries),
        "exits": float(exits),
        "satisfaction": float(satisfaction(model, t).mean()) if traded else nan,
        "expectation_gap": float((t.expected - t.delivered).mean()) if traded else nan,
        # a share of booleans: the count over the trades (what mean would give, exactly)
        "deception_rate": np.count_nonzero(t.deceptive) / volume if traded else nan,
    }
    m["churn"] = m["switch_rate"] + m["exit_rate"]
    for mech in model.mechanisms:
        mech.collect(model, t, offering, m)
    for name in METRICS:  # a mechanism that is off: nobody certifies, discloses, is rated
        m.setdefault(name, 0.0)
    return m


def _seller_lines(model: MarketState, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every deal of each live seller as a line in the buyer's taste, (slope, intercept),
    seller x line: its quality at its own cost, then each alternative deal a mechanism
    offers (`Mechanism.alternatives`); each of them as made and raised to its attainable
    quality at c1 a unit (a repair)."""
    p, s = model.params, model.sellers
    q, cost = s.quality[live], s.cost[live]
    deals = [(q, cost)]
    for mech in model.mechanisms:
        deals += mech.alternatives(model, q, cost)
    slopes, costs = [], []
    for made, made_cost in deals:
        up = made
        for mech in model.mechanisms:
            up = mech.attainable(model, up)
        slopes += [made, up]
        costs += [made_cost, made_cost + p.cost.c1 * (up - made)]
    return np.stack(slopes, axis=1), -np.stack(costs, axis=1)


def _lines_with_alternatives(model: MarketState, live: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray] | None:
    """`_seller_lines`, or None where no mechanism offers alternative deals."""
    from .mechanisms.base import Mechanism  # loaded with the model; not for METRICS' readers

    if all(type(mech).alternatives is Mechanism.alternatives for mech in model.mechanisms):
        return None
    return _seller_lines(model, live)


def _an_alternative_pays(model: MarketState, theta: np.ndarray, slope: np.ndarray,
                         intercept: np.ndarray) -> bool:
    """Whether some seller's alternative deal (`_seller_lines` beyond its first two) beats
    its usual ones for some buyer. An alternative's line less the usual deals' upper
    envelope is concave with its kinks where the usual ones cross (theta = c1), so the
    tastes' ends and c1 are enough."""
    at = np.array([theta[-1], theta[0], np.clip(model.params.cost.c1, theta[-1], theta[0])])
    value = slope[:, :, None] * at + intercept[:, :, None]  # seller x line x taste
    return bool((value[:, 2:].max(axis=1) > value[:, :2].max(axis=1)).any())


def _best_deals(model: MarketState, theta: np.ndarray, live: np.ndarray,
                lines: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """`first_best` over every deal of every seller, each a line in the buyer's taste
    theta: its quality q at its own cost c, each alternative deal a mechanism offers
    (`Mechanism.alternatives`), and each of these raised to its attainable quality at
    c1 a unit (a repair). Without capacity limits each buyer takes the highest line at
    its theta (`kernels.envelope_sum`; exact). With them, the best matching of tastes to
    units that does not cross (higher tastes to sellers of higher attainable quality;
    `kernels.matching_sum`): equal to the best assignment in every case tested with
    repairs, cost noise and shirking whose saving is at most a seller's cost; where the
    saving exceeds some seller's whole cost, it can fall short of it (in random small
    markets, by 0.3% in the median case that does, 5.6% at most). `lines`: the sellers'
    lines if already made."""
    from . import kernels  # compiled: the model has loaded them already

    p, q = model.params, model.sellers.quality[live]
    slope, intercept = lines if lines is not None else _seller_lines(model, live)
    if p.capacity <= 0:
        return kernels.envelope_sum(np.ascontiguousarray(theta[::-1]), slope.ravel(order="F"),
                                    intercept.ravel(order="F"))
    order = np.lexsort((-q, -slope.max(axis=1)))  # highest attainable quality first
    tastes = np.ascontiguousarray(theta[: len(order) * p.capacity])  # the rest get no unit
    return kernels.matching_sum(tastes, p.capacity, np.ascontiguousarray(slope[order]),
                                np.ascontiguousarray(intercept[order]))


def satisfaction(model: MarketState, t: Trades) -> np.ndarray:
    """Each trade's experienced payoff against expectation, valued by the buyer's own CPT
    value function (disappointment weighs lam times more than delight)."""
    return model.by_segment(t.buyer, "satisfaction", t.theta, t.delivered, t.expected,
                            segments=t.segment)


def segment_metrics(model: MarketState, t: Trades, start_segments: np.ndarray,
                    switched_segments: np.ndarray, leaving_segments: np.ndarray
                    ) -> dict[str, dict[str, float]]:
    """SEGMENT_METRICS for each named segment this step (after churn)."""
    b = model.buyers
    trade_seg = t.segment
    sat = satisfaction(model, t) if len(t) else np.zeros(0)
    active = b.active[: b.size]
    seg_now = b.segment[: b.size]
    out = {}
    nan = float("nan")
    for k, name in enumerate(model.segment_names):
        mine = trade_seg == k
        n_start = int((start_segments == k).sum())
        here = active & (seg_now == k)
        traded = bool(mine.any())
        switch = float((switched_segments == k).sum()) / n_start if n_start else nan
        leave = float((leaving_segments == k).sum()) / n_start if n_start else nan
        out[name] = {
            "price": float(t.price[mine].mean()) if traded else nan,
            "volume": float(mine.sum()),
            "trust": float(b.trust[: b.size][here].mean()) if here.any() else nan,
            "churn": switch + leave,
            "switch_rate": switch,
            "exit_rate": leave,
            "quality_traded": float(t.delivered[mine].mean()) if traded else nan,
            "consumer_surplus": float(np.sum(t.theta[mine] * t.delivered[mine]
                                             - t.price[mine] - t.switching_cost[mine])),
            "satisfaction": float(sat[mine].mean()) if traded else nan,
            "expectation_gap": float((t.expected[mine] - t.delivered[mine]).mean())
            if traded else nan,
            "active_buyers": float(here.sum()),
        }
    return out
