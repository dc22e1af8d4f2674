"""The phases of one step, in schedule order (docs/model.md, "One step").

Each phase is a function of the market's state (`market.MarketState`) and
what earlier phases produced; mechanisms join in through their hooks
(`mechanisms.base.Mechanism`). `MarketModel.step()` reads as this list:

1. `publish.start_step`: beliefs fade; delayed news and ratings come out;
2. `decide.decide`: sellers' choices (signals, disclosure, shirking), unit costs;
3. `publish.publish`: what buyers can see about quality;
4. `price.set_prices`: posted prices;
5. `shop.shop`: candidates, beliefs, CPT values, allocation under capacity;
6. `settle.settle`: delivery and payment;
7. `learn.learn`: beliefs, trust, reviews, stories;
8. `account.account`: sellers' profit, and what they learn from it;
9. `churn.churn`: switching, leaving and arriving buyers;
10. `turnover.turnover`: sellers exit and enter;
11. collect: `metrics.step_metrics`, recorded by Mesa's DataCollector.
"""
