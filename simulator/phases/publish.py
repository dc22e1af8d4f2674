"""What buyers can see about sellers' quality before buying (docs/model.md, section 3).

The information regime fixes what is public from a seller's entry (or, in the
delayed regime, from `delay.steps` later); mechanisms add to it each step (a
verifiable disclosure, a revealing certificate, a published cost). Public
information is a mean and a variance per seller (infinite: nothing).
"""

from __future__ import annotations

import numpy as np

from ..market import MarketState


def publish_regime(m: MarketState, rows: np.ndarray) -> None:
    """What the information regime alone lets buyers see about these (new) sellers."""
    s, regime = m.sellers, m.params.information
    if regime == "transparent" or (regime == "delayed" and m.params.delay.steps == 0):
        s.regime_mean[rows], s.regime_var[rows] = s.quality[rows], 0.0
    elif regime == "noisy":
        # Linear Bayes: shrink the signal toward the population mean by its reliability.
        noise = m.params.signal.noise**2
        k = m.quality_var / (m.quality_var + noise) if m.quality_var > 0 else 0.0
        s.regime_mean[rows] = m.quality_mean + k * (s.signal[rows] - m.quality_mean)
        s.regime_var[rows] = (1 - k) * m.quality_var
    else:
        s.regime_var[rows] = np.inf
    s.pub_mean[rows], s.pub_var[rows] = s.regime_mean[rows], s.regime_var[rows]


def start_step(m: MarketState) -> None:
    """Before sellers decide: beliefs fade, delayed quality comes out, and mechanisms
    do what time does (ratings whose delay is over appear)."""
    s = m.sellers
    m.beliefs.fade(m.params.beliefs.forgiveness, s.pool, s.pub_mean, s.pub_var, m.now,
                   m.buyers.size)
    if m.params.information == "delayed":
        s = m.sellers
        due = np.flatnonzero(s.in_market[: s.size] & np.isinf(s.regime_var[: s.size])
                             & (m.now - s.entered[: s.size] >= m.params.delay.steps))
        s.regime_mean[due], s.regime_var[due] = s.quality[due], 0.0
    for mech in m.mechanisms:
        mech.start_step(m)


def publish(m: MarketState) -> None:
    """This step's public information: the regime, then what each mechanism adds."""
    s, live = m.sellers, m.live_sellers()
    mean, var = s.regime_mean[live].copy(), s.regime_var[live].copy()
    for mech in m.mechanisms:
        mean, var = mech.publish(m, live, mean, var)
    s.pub_mean[live], s.pub_var[live] = mean, var
