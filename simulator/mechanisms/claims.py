"""Quality claims (cheap talk): sellers state a quality, buyers learn how far to believe it.

A buyer moves its belief toward a claim by its credibility, which rises when
claims prove true to it and falls (faster) when they do not. Inflation is
learned from profit or fixed by the scenario; an audit may catch and fine a
false claim.
"""

from __future__ import annotations

from ._kernels import judge_claims
from .base import SellerChoice, share

STRATEGY_SIGN = {"honest": 0.0, "over_promise": 1.0, "under_promise": -1.0}


class Claims(SellerChoice):
    name = "claims"
    n_actions = 3  # inflate by 0, half or all of `inflation`
    seller_columns = {"claim": (float, 0.0), "inflation": (float, 0.0)}
    buyer_columns = {"credibility": (float, 0.0)}  # weight a buyer gives claims
    metrics = ("claim_inflation",)

    def buyers_added(self, m, rows):
        m.buyers.credibility[rows] = self.p.credibility

    def decide(self, m, live, age):
        s = m.sellers
        if self.p.strategy == "learned":
            s.inflation[live] = self.choose(m, live, age) * self.p.inflation / 2
        else:
            s.inflation[live] = STRATEGY_SIGN[self.p.strategy] * self.p.inflation
        s.claim[live] = s.quality[live] + s.inflation[live]

    def learn_from_profit(self, m, live, profit):
        if self.p.strategy == "learned":
            self.learner.update(live, profit)

    def adjust_beliefs(self, m, rules, buyers, cands, mean, var, open_):
        rules.claim_shift(mean, var, open_, buyers, cands, *self.belief_terms(m)[1:])

    def belief_terms(self, m):
        """`adjust_beliefs`' terms as `shop_kernels.predictive_beliefs` takes them."""
        return True, m.buyers.credibility, m.sellers.claim

    def deceptive(self, m, sellers, made):
        return m.sellers.claim[sellers] > made + self.p.tolerance

    def after_trade(self, m, trades):
        """Buyers learn how far to believe claims; a caught false claim is fined."""
        s, b = m.sellers, m.buyers
        who, seller, quality = trades.buyer, trades.seller, trades.quality
        false = judge_claims(who, seller, quality, m.learnable(seller), s.claim,
                             float(self.p.tolerance), b.segment, m.segment_trust["gain"],
                             m.segment_trust["loss"], b.credibility)
        if self.p.audit > 0 and self.p.penalty > 0:
            caught = false & (m.rng.random(len(who)) < self.p.audit)
            m.charge(seller[caught], self.p.penalty, transfer=True)

    def collect(self, m, trades, offering, metrics):
        metrics["claim_inflation"] = share(m.sellers.inflation[m.live_sellers()])
