"""Cumulative prospect theory (Tversky and Kahneman 1992), vectorised over many prospects.

Buyers value every candidate purchase as a CPT lottery, thousands per step, so
every function here takes numpy arrays and broadcasts: parameters may be
scalars or per-buyer arrays, outcomes have the prospect's outcomes on the last
axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

#: Tversky and Kahneman (1992), median estimates.
TK1992 = dict(alpha=0.88, beta=0.88, lam=2.25, gamma_gain=0.61, gamma_loss=0.69)


@dataclass(frozen=True)
class ProspectTheory:
    """CPT preferences; with every parameter equal to 1 this is expected value.

    Parameters may be numpy arrays (one per decision maker) as long as they
    broadcast against the leading axes of the outcomes passed in.
    """

    alpha: ArrayLike = TK1992["alpha"]
    beta: ArrayLike = TK1992["beta"]
    lam: ArrayLike = TK1992["lam"]
    gamma_gain: ArrayLike = TK1992["gamma_gain"]
    gamma_loss: ArrayLike = TK1992["gamma_loss"]

    @classmethod
    def risk_neutral(cls) -> ProspectTheory:
        return cls(alpha=1.0, beta=1.0, lam=1.0, gamma_gain=1.0, gamma_loss=1.0)

    def value(self, x: ArrayLike) -> np.ndarray:
        """v(x) = x**alpha for gains, -lam * (-x)**beta for losses."""
        x = np.asarray(x, dtype=float)
        magnitude = np.abs(x)
        alpha, beta = np.asarray(self.alpha), np.asarray(self.beta)
        gains = magnitude**alpha
        # One power for both domains when they share a curvature (every trade's satisfaction).
        same = alpha.ndim == 0 and beta.ndim == 0 and alpha == beta
        losses = -np.asarray(self.lam) * (gains if same else magnitude**beta)
        return np.where(x >= 0, gains, losses)

    def weight(self, p: ArrayLike, domain: str = "gain") -> np.ndarray:
        """w(p) = p**g / (p**g + (1 - p)**g)**(1/g), with g for gains or for losses."""
        if domain not in ("gain", "loss"):
            raise ValueError(f"domain must be 'gain' or 'loss', not {domain!r}")
        g = self.gamma_gain if domain == "gain" else self.gamma_loss
        return _weight(np.asarray(p, dtype=float), np.asarray(g, dtype=float))

    def decision_weights(self, probs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Rank-dependent weights for outcomes sorted ascending, if gains and if losses.

        For sorted outcomes, a gain's weight depends only on the probability of
        outcomes at least as good, and a loss's only on the probability of
        outcomes at least as bad; so both vectors can be computed once for a
        fixed probability vector and reused for any outcomes (the engine's
        fast path).
        """
        probs = np.asarray(probs, dtype=float)
        at_least = np.cumsum(probs[..., ::-1], axis=-1)[..., ::-1]  # P(X >= x_k)
        better = np.maximum(at_least - probs, 0.0)  # P(X > x_k)
        at_most = np.cumsum(probs, axis=-1)  # P(X <= x_k)
        worse = np.maximum(at_most - probs, 0.0)  # P(X < x_k)
        gg, gl = _per_prospect(self.gamma_gain), _per_prospect(self.gamma_loss)
        gain_w = _weight(at_least, gg) - _weight(better, gg)
        loss_w = _weight(at_most, gl) - _weight(worse, gl)
        return gain_w, loss_w

    def sorted_utility(
        self, outcomes: np.ndarray, gain_w: np.ndarray, loss_w: np.ndarray
    ) -> np.ndarray:
        """CPT value of outcomes already sorted ascending on the last axis."""
        alpha, beta, lam = (_per_prospect(v) for v in (self.alpha, self.beta, self.lam))
        magnitude = np.abs(outcomes)
        gain = outcomes >= 0
        if alpha.ndim == 0 and beta.ndim == 0 and alpha == beta:
            # One power for both domains: the hot path of every buyer's choice.
            signed_w = np.where(gain, gain_w, -lam * loss_w)
            return np.einsum("...k,...k->...", signed_w, magnitude**alpha)
        v = np.where(gain, magnitude**alpha, -lam * magnitude**beta)
        return np.sum(np.where(gain, gain_w, loss_w) * v, axis=-1)

    def utility(self, outcomes: ArrayLike, probs: ArrayLike) -> np.ndarray:
        """CPT value of discrete prospects (outcomes and probabilities on the last axis)."""
        outcomes = np.asarray(outcomes, dtype=float)
        probs = np.broadcast_to(np.asarray(probs, dtype=float), outcomes.shape)
        order = np.argsort(outcomes, axis=-1, kind="stable")
        x = np.take_along_axis(outcomes, order, axis=-1)
        p = np.take_along_axis(probs, order, axis=-1)
        gain_w, loss_w = self.decision_weights(p)
        return self.sorted_utility(x, gain_w, loss_w)

    def certainty_equivalent(self, outcomes: ArrayLike, probs: ArrayLike) -> np.ndarray:
        """The sure amount valued the same as the prospect: v(CE) = utility."""
        u = self.utility(outcomes, probs)
        alpha, beta, lam = (np.asarray(v, dtype=float) for v in (self.alpha, self.beta, self.lam))
        gain = np.abs(u) ** (1.0 / alpha)
        loss = -((np.abs(u) / lam) ** (1.0 / beta))
        return np.where(u >= 0, gain, loss)


def _per_prospect(param: ArrayLike) -> np.ndarray:
    """A per-prospect parameter, broadcast over the outcome axis."""
    arr = np.asarray(param, dtype=float)
    return arr[..., None] if arr.ndim else arr


def _weight(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, 1.0)
    pg = p**g
    return pg / (pg + (1.0 - p) ** g) ** (1.0 / g)


def normal_nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and probabilities for a standard normal (exact to degree 2n-1).

    They turn a normal belief into an n-outcome lottery that CPT can value.
    """
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / w.sum()
