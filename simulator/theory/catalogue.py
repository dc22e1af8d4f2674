"""Which benchmarks apply to an arm's market, and what each of them predicts.

The first best is always given (it is the efficiency yardstick). The arm's
own benchmark depends on what buyers can see and how prices are set: full
information when quality is public; Akerlof's equilibria when it is hidden
and sellers take a going price; Grossman-Milgrom with verifiable disclosure;
Spence with certificates (two types). Mechanisms that act through learning or
search (reviews, word of mouth, trials, claims, warranties, a comparison site,
...) have no static benchmark: the arm says so.
"""

from __future__ import annotations

from ..params import MarketParams
from .akerlof import bisect_parameter, equilibria, pools, regime
from .certification import add as add_certification
from .cpt import unknown_seller
from .disclosure import add as add_disclosure
from .first_best import allocation, first_best, full_information
from .market import StaticMarket
from .outcome import ArmTheory, Outcome, Threshold

#: Mechanisms that work through learning or search over time: no static benchmark.
DYNAMIC = ("reviews", "word_of_mouth", "trials", "claims", "warranty", "personalized_pricing",
           "moral_hazard", "comparison_site")


def arm_theory(arm: str, params: MarketParams, quick: bool = False) -> ArmTheory:
    """Every benchmark that applies to this market, solved from its parameters. `quick`:
    only which equilibrium is reached, without thresholds and facts (for phase diagrams)."""
    market = StaticMarket.of(params)
    theory = ArmTheory(arm)
    fb = allocation(market)
    theory.outcomes.append(first_best(market, fb))
    if not quick:
        theory.facts += unknown_seller(market)
        theory.notes += _population_notes(params)
        theory.notes += _shirking_note(params, market)
    dynamic = [name for name in DYNAMIC if getattr(params, name).enabled]
    if dynamic:
        theory.notes.append(f"no static benchmark: {', '.join(dynamic)} work through learning "
                            "or search over time (first best shown as the yardstick)")
        return theory
    info = params.information
    if info == "transparent":
        theory.outcomes.append(full_information(market, fb))
        if params.pricing == "markup" and params.capacity == 0:
            theory.notes.append("full information with posted cost-plus prices; buyers in "
                                "the simulation see only `choice.candidates` sellers a step")
        return theory
    if info in ("noisy", "delayed"):
        theory.notes.append(f"no static benchmark for the {info} regime (it lies between the "
                            "asymmetric and the transparent market)")
        return theory
    if params.pricing != "market":
        theory.notes.append(f"no equilibrium benchmark: {params.pricing} pricing (Akerlof's "
                            "benchmark assumes price-taking sellers, `pricing = \"market\"`)")
        return theory
    if params.disclosure.enabled:
        add_disclosure(theory, market)
        return theory
    if params.cost_disclosure.enabled:
        if params.cost.noise == 0 and params.cost.c1 > 0:
            outcome = full_information(market, fb, benchmark="cost_disclosure")
            outcome.note = "published costs reveal quality exactly"
            theory.outcomes.append(outcome)
        else:
            theory.notes.append("no benchmark for noisy published costs")
        return theory
    if params.certification.enabled:
        if market.quality.kind != "two_type":
            theory.notes.append("spence: the certification benchmark covers two types only")
            return theory
        if add_certification(theory, market):
            return theory
    if quick:
        theory.outcomes.append(Outcome("akerlof", regime(market), {}))
        return theory
    theory.outcomes += equilibria(market)
    _akerlof_thresholds(theory, params, market)
    if params.identity != "anonymous":
        theory.notes.append(f"{params.identity} sellers: repeat purchases let buyers learn "
                            "sellers, which Akerlof's static market does not have")
    return theory


def _akerlof_thresholds(theory: ArmTheory, params: MarketParams, market: StaticMarket) -> None:
    q = params.quality
    add = theory.thresholds.append
    if q.distribution == "two_type" and q.high > q.low:
        value = bisect_parameter(params, "quality.share_high", 0.0, 1.0, pools)
        add(Threshold("akerlof", "pooling_exists", "quality.share_high", value,
                      "high-type share from which every seller trades at a pooled price"))
    if params.taste.distribution == "constant" and not params.segments:
        value = bisect_parameter(params, "taste.value", 0.0, 100.0, pools)
        add(Threshold("akerlof", "pooling_exists", "taste.value", value,
                      "taste k below which trade unravels (not every seller trades)"))
    if q.distribution == "uniform" and q.high > 0:
        value = bisect_parameter(params.replace(**{"quality.low": 0.0}),
                                         "quality.low", 0.0, q.high, pools)
        add(Threshold("akerlof", "pooling_exists", "quality.low", value,
                      "quality floor L from which every seller trades"))


def _shirking_note(params: MarketParams, market: StaticMarket) -> list[str]:
    """Theory's first best delivers full quality; the simulated one lets a buyer whose
    taste is below saving / shirk take a shirked unit (`Mechanism.alternatives`)."""
    mh = params.moral_hazard
    lowest = min(float(group.tastes.min()) for group in market.groups)
    if not mh.enabled or mh.saving <= lowest * mh.shirk:
        return []
    whom = (f"buyers of taste below {mh.saving / mh.shirk:.3g} (saving / shirk)" if mh.shirk > 0
            else "every buyer (nothing is withheld)")
    return [f"moral hazard: shirking saves more than it costs {whom}; theory's first best "
            "delivers full quality, while the simulated first best (efficiency's yardstick) "
            "lets them take a shirked unit, so it can be higher"]


def _population_notes(params: MarketParams) -> list[str]:
    """Where the simulated numbers of buyers or sellers drift from the ones theory uses."""
    notes = []
    if params.arrivals.rate > 0:
        notes.append(f"new buyers arrive ({params.arrivals.rate:g} x {params.buyers} a step): "
                     f"theory counts the initial {params.buyers} buyers, so where capacity "
                     "does not bind, simulated volume grows beyond it")
    if params.entry.enabled or params.exit.enabled:
        notes.append(f"sellers enter or exit: theory holds the initial {params.sellers} "
                     "sellers fixed")
    if params.cost.noise > 0:
        notes.append("cost noise: theory's first best takes every seller's cost as c0 + c1 q, "
                     "while the simulated first best (efficiency's yardstick) counts each "
                     "seller at its own cost, so it is higher")
    return notes
