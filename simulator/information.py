"""What buyers can see about sellers' quality before buying (MODEL.md section 3).

The information regime fixes what is public from a seller's entry (or, in the
delayed regime, from `delay.steps` later); sellers' own choices add to it each
step: a verifiable disclosure, a revealing certificate, a published cost.
Public information is a mean and a variance per seller (infinite: nothing).
"""

from __future__ import annotations

import numpy as np


def publish(model, rows: np.ndarray) -> None:
    """What the information regime alone lets buyers see about these sellers' quality."""
    s, regime = model.sellers, model.params.information
    if regime == "transparent" or (regime == "delayed" and model.params.delay.steps == 0):
        s.regime_mean[rows], s.regime_var[rows] = s.quality[rows], 0.0
    elif regime == "noisy":
        # Linear Bayes: shrink the signal toward the population mean by its reliability.
        noise = model.params.signal.noise**2
        k = model.quality_var / (model.quality_var + noise) if model.quality_var > 0 else 0.0
        s.regime_mean[rows] = model.quality_mean + k * (s.signal[rows] - model.quality_mean)
        s.regime_var[rows] = (1 - k) * model.quality_var
    else:
        s.regime_var[rows] = np.inf
    s.pub_mean[rows], s.pub_var[rows] = s.regime_mean[rows], s.regime_var[rows]


def reveal_due(model) -> None:
    """Delayed regime: quality becomes public `delay.steps` after a seller entered."""
    if model.params.information != "delayed":
        return
    s = model.sellers
    due = np.flatnonzero(s.in_market[: s.size] & np.isinf(s.regime_var[: s.size])
                         & (model.steps - s.entered[: s.size] >= model.params.delay.steps))
    s.regime_mean[due], s.regime_var[due] = s.quality[due], 0.0


def public_information(model, live: np.ndarray) -> None:
    """This step's public quality information: the regime plus what sellers chose to
    reveal (disclosure, a revealing certificate) or let buyers infer (their cost)."""
    p, s = model.params, model.sellers
    mean, var = s.regime_mean[live].copy(), s.regime_var[live].copy()
    if p.cost_disclosure.enabled and p.cost.c1 > 0:
        implied = (s.cost[live] - p.cost.c0) / p.cost.c1
        cvar = (p.cost.noise / p.cost.c1) ** 2
        if cvar == 0:
            mean, var = implied, np.zeros_like(var)
        else:
            prec = np.where(np.isinf(var), 0.0, 1 / np.maximum(var, 1e-300)) + 1 / cvar
            mean = np.where(np.isinf(var), implied,
                            (mean / np.maximum(var, 1e-300) + implied / cvar) / prec)
            mean = np.where(var == 0, s.regime_mean[live], mean)
            var = np.where(var == 0, 0.0, 1 / prec)
    exact = s.disclosed[live] | (s.certified[live] & p.certification.reveals)
    s.pub_mean[live] = np.where(exact, s.quality[live], mean)
    s.pub_var[live] = np.where(exact, 0.0, var)
