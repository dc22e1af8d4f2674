"""The CPT valuation kernels alone, before and after the vectorised power: one JSON line.

The lotteries are the ones the default market (10,000 buyers x 200 sellers)
values in its 30th step, captured from `Valuation.value`; reservation prices
are bisected for the first 2,000 of those buyers (the market-pricing sample).
"Before" is the scalar loop with libm's pow that `kernels.py` had until the
vectorised one replaced it, kept below for this comparison only. Each figure
is the minimum over `--repeats` timings (the machine is shared, so the
minimum is the least disturbed one); `cpu` is process time, `wall` elapsed.
`values_cutoff` is what shopping asks of the kernel: only the values that
reach the outside option (the others are bounded, not valued).

    python benchmarks/bench_valuation.py              # one thread
    python benchmarks/bench_valuation.py --threads 2  # kernels.set_threads(2) as well
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from numba import njit

from simulator import kernels
from simulator.model import MarketModel
from simulator.valuation import Valuation, _read_only


@njit(cache=True)
def _before_value(theta, mean, sd, price, floor, has_floor, z, probs, gain_w, loss_w,
                  alpha, beta, lam, expectation):
    nodes = z.shape[0]
    expected = 0.0
    if expectation:
        for j in range(nodes):
            q = mean + sd * z[j]
            if has_floor and q < floor:
                q = floor
            expected += probs[j] * (theta * q - price)
    total = 0.0
    for j in range(nodes):
        q = mean + sd * z[j]
        if has_floor and q < floor:
            q = floor
        x = theta * q - price - expected
        if x >= 0.0:
            total += gain_w[j] * x**alpha
        else:
            total += -lam * loss_w[j] * (-x) ** beta
    return expected + total


@njit(cache=True)
def _before_values(theta, mean, sd, price, floor, has_floor, z, probs, gain_w, loss_w,
                   alpha, beta, lam, expectation):
    n, k = mean.shape
    out = np.empty((n, k))
    for i in range(n):
        for c in range(k):
            out[i, c] = _before_value(theta[i, c], mean[i, c], sd[i, c], price[i, c],
                                      floor[i, c] if has_floor else 0.0, has_floor, z, probs,
                                      gain_w, loss_w, alpha, beta, lam, expectation)
    return out


@njit(cache=True)
def _before_reservations(theta, mean, sd, floor, has_floor, z, probs, gain_w, loss_w,
                         alpha, beta, lam, expectation, iterations):
    n = mean.shape[0]
    out = np.empty(n)
    for i in range(n):
        fl = floor[i] if has_floor else 0.0
        q_lo, q_hi = mean[i] + sd[i] * z[0], mean[i] + sd[i] * z[z.shape[0] - 1]
        if has_floor:
            q_lo, q_hi = max(q_lo, fl), max(q_hi, fl)
        lo, hi = theta[i] * q_lo - 1.0, theta[i] * q_hi + 1.0
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            if _before_value(theta[i], mean[i], sd[i], mid, fl, has_floor, z, probs, gain_w,
                             loss_w, alpha, beta, lam, expectation) >= 0.0:
                lo = mid
            else:
                hi = mid
        out[i] = lo
    return out


def captured_lotteries(steps: int = 30) -> tuple[Valuation, tuple]:
    """The (theta, mean, sd, price, floor) of the default market's last valuation call."""
    seen = []
    original = Valuation.value

    def spy(self, *args, **options):
        seen.append((self, args))
        return original(self, *args, **options)

    Valuation.value = spy
    try:
        model = MarketModel({"buyers": 10_000, "sellers": 200}, rng=1)
        model.market.plain_shop = False  # shop step by step, through Valuation.value
        for _ in range(steps):
            model.step()
    finally:
        Valuation.value = original
    return seen[-1]


def best_of(fn, repeats: int) -> tuple[float, float]:
    """Minimum CPU and wall seconds of fn() over `repeats` calls (after one warm-up)."""
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return min(cpu), min(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    val, (theta, mean, sd, price, floor) = captured_lotteries()
    arrays = _read_only(theta, mean, sd, price, -np.inf if floor is None else floor)
    values_args = (*arrays[:4], arrays[4], floor is not None, *val.kernel_args())
    buyers = slice(0, 2000)
    one = _read_only(theta[buyers, 0], mean[buyers, 0], sd[buyers, 0], -np.inf)
    reserve_args = (*one[:3], one[3], False, *val.kernel_args(), 40)
    lotteries, sample = mean.size, one[0].shape[0]

    after = kernels.lottery_values(*values_args)
    if not np.allclose(after, _before_values(*values_args), rtol=1e-12, atol=1e-12):
        raise SystemExit("the kernel and the loop before it disagree beyond 1e-12")

    result = {"lotteries": lotteries, "nodes": len(val.z), "threads": args.threads}
    for name, fn, count, unit in [
        ("values_before", lambda: _before_values(*values_args), lotteries, "lottery"),
        ("values_after", lambda: kernels.lottery_values(*values_args), lotteries, "lottery"),
        # what shopping asks for: only values that reach the outside option
        ("values_cutoff", lambda: kernels.lottery_values(*values_args, -1e-12), lotteries,
         "lottery"),
        ("reservation_before", lambda: _before_reservations(*reserve_args), sample, "buyer"),
        ("reservation_after", lambda: kernels.reservation_prices(*reserve_args), sample,
         "buyer"),
    ]:
        if not name.endswith("before"):
            kernels.set_threads(args.threads)
        cpu, wall = best_of(fn, args.repeats)
        kernels.set_threads(1)
        result[f"{name}_ns_per_{unit}_cpu"] = round(1e9 * cpu / count, 1)
        result[f"{name}_ns_per_{unit}_wall"] = round(1e9 * wall / count, 1)
    for kind, unit in (("values", "lottery"), ("reservation", "buyer")):
        result[f"{kind}_speedup_cpu"] = round(result[f"{kind}_before_ns_per_{unit}_cpu"]
                                               / result[f"{kind}_after_ns_per_{unit}_cpu"], 2)
    result["load"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
