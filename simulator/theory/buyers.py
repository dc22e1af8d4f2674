"""What buyers would pay for a belief about quality, with their own prospect-theory preferences.

A belief N(mean, var) about delivered quality is the lottery theta * q over
the buyers' Gauss-Hermite nodes, valued as `simulator.valuation.Valuation`
values it (the tests hold the two equal); this module stays in numpy so that
`infogap theory` answers without compiling the engine's loops.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..params import ProspectParams
from ..prospect import ProspectTheory, normal_nodes

ITERATIONS = 42


def preferences(prospect: ProspectParams) -> ProspectTheory:
    return ProspectTheory(prospect.alpha, prospect.beta, prospect.lam, prospect.gamma_gain,
                          prospect.gamma_loss)


def risk_neutral(prospect: ProspectParams) -> bool:
    return all(getattr(prospect, k) == 1.0 for k in ("alpha", "beta", "lam", "gamma_gain",
                                                       "gamma_loss"))


def lottery_value(prospect: ProspectParams, outcomes: np.ndarray, probs: np.ndarray,
                  gain_w=None, loss_w=None) -> np.ndarray:
    """CPT value of lotteries sorted ascending on the last axis (expectation reference:
    expected payoff plus the CPT value of the surprise, as buyers in the simulation)."""
    prefs = preferences(prospect)
    if gain_w is None:
        gain_w, loss_w = prefs.decision_weights(probs)
    if prospect.reference != "expectation":
        return prefs.sorted_utility(outcomes, gain_w, loss_w)
    expected = outcomes @ probs
    return expected + prefs.sorted_utility(outcomes - expected[..., None], gain_w, loss_w)


def reservation(prospect: ProspectParams, taste, mean, var, nodes: int) -> np.ndarray:
    """The highest price at which buying beats the outside option, for a belief N(mean, var)
    about quality (broadcast over taste, mean and var)."""
    taste, mean, var = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                             (taste, mean, var)))
    if risk_neutral(prospect):
        return taste * mean
    z, probs, gain_w, loss_w = _nodes(prospect, nodes)
    gross = taste[..., None] * (mean[..., None] + np.sqrt(np.maximum(var, 0.0))[..., None] * z)
    if prospect.reference == "expectation":  # value = E - price + CPT(surprise): linear in price
        return lottery_value(prospect, gross, probs, gain_w, loss_w)
    lo, hi = gross[..., 0].copy(), gross[..., -1].copy()  # surely buy / surely not
    # The CPT value (reference 0) of the sorted payoffs, inlined: this loop is the hot path.
    a, b, lam = prospect.alpha, prospect.beta, prospect.lam
    for _ in range(ITERATIONS):
        mid = 0.5 * (lo + hi)
        x = gross - mid[..., None]
        gain = x >= 0
        size = np.abs(x)
        value = np.where(gain, gain_w * size**a, -lam * loss_w * size**b).sum(axis=-1)
        buy = value >= 0
        lo = np.where(buy, mid, lo)
        hi = np.where(buy, hi, mid)
    return lo


@lru_cache(maxsize=64)
def _nodes_cached(key: tuple, nodes: int):
    z, probs = normal_nodes(nodes)
    gain_w, loss_w = ProspectTheory(*key).decision_weights(probs)
    return z, probs, gain_w, loss_w


def _nodes(prospect: ProspectParams, nodes: int):
    """Gauss-Hermite nodes, probabilities and rank-dependent weights (cached)."""
    return _nodes_cached((prospect.alpha, prospect.beta, prospect.lam, prospect.gamma_gain,
                          prospect.gamma_loss), nodes)


def certainty_equivalent(prospect: ProspectParams, outcomes, probs) -> float:
    """The sure amount valued like the lottery (outcomes and probabilities as given)."""
    return float(preferences(prospect).certainty_equivalent(outcomes, probs))
