"""Metric names (part of the interface, MODEL.md section 4) and how each step's values are computed."""

from __future__ import annotations

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
