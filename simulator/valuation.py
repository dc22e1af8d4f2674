"""How a buyer values a purchase: a normal belief about quality becomes a CPT lottery.

The belief N(mean, sd^2) about delivered quality is discretised at
Gauss-Hermite nodes, so the payoff theta * q - price is a small sorted
lottery; its rank-dependent weights are computed once, and values for every
(buyer, candidate) pair come out of one array expression.
"""

from __future__ import annotations

import numpy as np

from . import kernels, shop_kernels
from .params import ProspectParams
from .prospect import ProspectTheory, normal_nodes


class Valuation:
    def __init__(self, prospect: ProspectParams, nodes: int):
        self.prefs = ProspectTheory(prospect.alpha, prospect.beta, prospect.lam,
                                    prospect.gamma_gain, prospect.gamma_loss)
        self.expectation_reference = prospect.reference == "expectation"
        self.z, self.probs = normal_nodes(nodes)
        self.gain_w, self.loss_w = self.prefs.decision_weights(self.probs)

    def of_outcomes(self, outcomes: np.ndarray) -> np.ndarray:
        """CPT value of lotteries over the nodes (last axis, sorted ascending).

        With the expectation as reference point the buyer gets the expected
        payoff plus a CPT gain-loss term around it (Koszegi-Rabin); that term
        is 0 for a risk-neutral buyer, so both reference points reduce to
        expected value.
        """
        if not self.expectation_reference:
            return self.prefs.sorted_utility(outcomes, self.gain_w, self.loss_w)
        expected = outcomes @ self.probs
        surprise = outcomes - expected[..., None]
        return expected + self.prefs.sorted_utility(surprise, self.gain_w, self.loss_w)

    def payoffs(self, theta: np.ndarray, mean: np.ndarray, sd: np.ndarray,
                price: np.ndarray, floor: np.ndarray | None = None) -> np.ndarray:
        """Payoff theta * q - price at each node, shape (..., nodes).

        `floor` is a warranty: quality below it is repaired up to it (the
        payoffs stay sorted, so the rank-dependent weights still apply).
        """
        if floor is not None:
            q = np.maximum(mean[..., None] + sd[..., None] * self.z, floor[..., None])
            return theta[..., None] * q - price[..., None]
        # theta * (m + s z) - p, with two operations on the (..., nodes) array, not four
        return (theta * mean - price)[..., None] + (theta * sd)[..., None] * self.z

    def value(self, theta, mean, sd, price, floor=None, cutoff: float = -np.inf) -> np.ndarray:
        """CPT value of buying; (buyer, candidate) arrays go through the compiled loop,
        which equals `of_outcomes(payoffs(...))` (the readable reference) to 1e-12.

        Values below `cutoff` may be -inf instead (`kernels.lottery_values`: the others,
        and which are below it, do not change)."""
        if np.ndim(mean) != 2:
            return self.of_outcomes(self.payoffs(theta, mean, sd, price, floor))
        arrays = _read_only(theta, mean, sd, price, -np.inf if floor is None else floor)
        return kernels.lottery_values(*arrays[:4], arrays[4], floor is not None,
                                      *self.kernel_args(), cutoff)

    def cells(self, rows, buyers, cands, theta, mean, var, cost, pool, floors, value,
              cutoff: float = -np.inf, best_only: bool = False) -> None:
        """`value` of the (buyer, candidate) cells of `rows`, in place, straight from the
        shop's arrays (`shop_kernels.cell_values`): the same numbers as `value` of the
        gathered tastes, square roots, prices and `floors[pool[cands]]` (None: no floor),
        -inf where a buyer has no candidate; and, as there, values below `cutoff` may be
        -inf. `best_only`: so may values below their row's best for certain
        (`shop_kernels.best_values`, where its bounds hold)."""
        alpha, beta = float(self.prefs.alpha), float(self.prefs.beta)
        prune = cutoff > -np.inf and 0.0 < alpha <= 1.0 and 0.0 < beta <= 1.0
        args = self.kernel_args()
        tables = kernels._tables(alpha, beta, cutoff if prune else -np.inf, args)
        has_floor = floors is not None
        floors = np.asarray(floors, dtype=float) if has_floor else np.full(1, -np.inf)
        fast = kernels._fast(alpha, beta)
        if best_only and prune and not self.expectation_reference:
            kernels.threaded(shop_kernels.best_values, shop_kernels.best_values_threaded,
                             rows, buyers, cands, theta, mean, var, cost, pool, floors,
                             has_floor, args, fast, tables, float(cutoff), value)
            return
        kernels.threaded(shop_kernels.cell_values, shop_kernels.cell_values_threaded, rows,
                         buyers, cands, theta, mean, var, cost, pool, floors, has_floor, args,
                         fast, prune, tables, kernels.BLOCK, value)

    def kernel_args(self) -> tuple:
        p = self.prefs
        return (self.z, self.probs, self.gain_w, self.loss_w, float(p.alpha), float(p.beta),
                float(p.lam), self.expectation_reference)

    def reservation(self, theta: np.ndarray, mean: np.ndarray, sd: np.ndarray,
                    floor: np.ndarray | None = None, iterations: int = 40) -> np.ndarray:
        """The price at which each buyer is indifferent to buying, by bisection.

        The value of buying falls with the price, so one bisection over all
        buyers at once converges to 2**-iterations of the bracket.
        """
        arrays = _read_only(theta, mean, sd, -np.inf if floor is None else floor)
        return kernels.reservation_prices(*arrays[:3], arrays[3], floor is not None,
                                          *self.kernel_args(), iterations)

    def reservation_reference(self, theta, mean, sd, floor=None, iterations: int = 40):
        """The same bisection in numpy (the readable reference the tests compare with)."""
        gross = self.payoffs(theta, mean, sd, np.zeros_like(theta), floor)
        lo = gross[:, 0] - 1.0
        hi = gross[:, -1] + 1.0
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            buy = self.of_outcomes(gross - mid[:, None]) >= 0
            lo = np.where(buy, mid, lo)
            hi = np.where(buy, hi, mid)
        return lo

    def satisfaction(self, theta: np.ndarray, delivered: np.ndarray,
                     expected: np.ndarray) -> np.ndarray:
        """Experienced payoff against expectation, valued by the CPT value function."""
        return self.prefs.value(theta * (delivered - expected))


def _read_only(*arrays) -> list[np.ndarray]:
    """Broadcast float views for the compiled loops (read-only: no copies, no warnings)."""
    out = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in arrays))
    for a in out:
        a.flags.writeable = False
    return out
