"""Sellers' strategic choices each step: certify, disclose, offer a warranty, inflate claims, shirk.

Every choice is learned from profit with the same rule (ActionLearner), except
where the scenario fixes it (mandatory disclosure, a fixed claim strategy).
The choices decide what buyers can see (public quality, badges) and what the
seller pays this step.
"""

from __future__ import annotations

import numpy as np

from .learning import ActionLearner

#: Badge bits: buyers tell certified and warranty-backed sellers apart from
#: the rest and hold one pooled belief per combination.
CERTIFIED, WARRANTY = 1, 2
N_POOLS = 4


class SellerChoices:
    def __init__(self, params):
        self.p = params
        lp = params.learning
        actions = {"certify": (params.certification.enabled, 2),
                   "disclose": (params.disclosure.enabled, 2),
                   "warranty": (params.warranty.enabled, 2),
                   "claim": (params.claims.enabled, 3),
                   "shirk": (params.moral_hazard.enabled, 2)}
        self.learners: dict[str, ActionLearner] = {
            name: ActionLearner(n, lp.rate, lp.exploration, lp.halving)
            for name, (enabled, n) in actions.items() if enabled}

    def decide(self, model, live: np.ndarray) -> None:
        """Set this step's choices of the sellers in `live` and what they cost."""
        p, s, rng = self.p, model.sellers, model.rng
        s.extra_cost[live] = 0.0
        age = model.steps - s.entered[live]
        choose = {name: learner.choose(live, rng, age) for name, learner in self.learners.items()
                  if not self._fixed(name)}
        if "certify" in self.learners:
            s.certified[live] = choose["certify"] == 1
            c = p.certification
            span = max(p.quality.high - p.quality.low, 1e-12)
            share = np.clip((s.quality[live] - p.quality.low) / span, 0.0, 1.0)
            cost = c.cost_low + (c.cost_high - c.cost_low) * share
            s.extra_cost[live] += np.where(s.certified[live], cost, 0.0)
        if "disclose" in self.learners:
            if p.disclosure.mode == "mandatory":
                self.learners["disclose"].force(live, 1)
                s.disclosed[live] = True
            else:
                s.disclosed[live] = choose["disclose"] == 1
            s.extra_cost[live] += np.where(s.disclosed[live], p.disclosure.cost, 0.0)
        if "warranty" in self.learners:
            s.warranty[live] = choose["warranty"] == 1
        if "claim" in self.learners:
            c = p.claims
            if c.strategy == "learned":
                s.inflation[live] = choose["claim"] * c.inflation / 2
            else:
                sign = {"honest": 0.0, "over_promise": 1.0, "under_promise": -1.0}[c.strategy]
                s.inflation[live] = sign * c.inflation
            s.claim[live] = s.quality[live] + s.inflation[live]
        if "shirk" in self.learners:
            s.shirking[live] = choose["shirk"] == 1
        s.pool[live] = (CERTIFIED * (s.certified[live] & (not p.certification.reveals))
                        + WARRANTY * s.warranty[live])

    def _fixed(self, name: str) -> bool:
        return (name == "disclose" and self.p.disclosure.mode == "mandatory") or (
            name == "claim" and self.p.claims.strategy != "learned")

    def learn(self, live: np.ndarray, profit: np.ndarray) -> None:
        for name, learner in self.learners.items():
            if not self._fixed(name):
                learner.update(live, profit)
