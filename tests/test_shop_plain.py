"""The one-pass shop (`kernels.shop_plain`) against the step-by-step one: the same
markets give the same bits, and markets a mechanism shops in never take it."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import kernels
from simulator.mechanisms import SCHEDULE
from simulator.model import MarketModel

PLAIN_MARKETS = {
    "core": {},
    "capacity": {"capacity": 3, "sellers": 8},
    "switching": {"choice": {"switching_cost": 0.05}},
    "expectation": {"prospect": {"reference": "expectation", "alpha": 0.7, "beta": 0.95}},
    "risk_neutral": {"prospect": {"alpha": 1.0, "beta": 1.0, "lam": 1.0, "gamma_gain": 1.0,
                                  "gamma_loss": 1.0}},
    "anonymous": {"identity": "anonymous"},
    "transparent": {"information": "transparent"},
    # mechanisms that act outside shopping: public quality, hidden action, news
    "disclosure": {"disclosure": {"enabled": True}},
    "moral_hazard": {"moral_hazard": {"enabled": True}},
    "word_of_mouth": {"word_of_mouth": {"enabled": True}},
}


def _series(params: dict, plain: bool, steps: int = 40, threads: int = 1) -> np.ndarray:
    kernels.set_threads(threads)
    try:
        model = MarketModel({"buyers": 400, "sellers": 30, **params}, rng=5)
        assert model.market.plain_shop
        model.market.plain_shop = plain
        for _ in range(steps):
            model.step()
    finally:
        kernels.set_threads(1)
    frame = model.datacollector.get_model_vars_dataframe()
    return frame.to_numpy(dtype=float)


@pytest.mark.parametrize("name", sorted(PLAIN_MARKETS))
def test_one_pass_gives_the_bits_of_the_step_by_step_shop(name):
    params = PLAIN_MARKETS[name]
    plain = _series(params, plain=True)
    np.testing.assert_array_equal(plain, _series(params, plain=False))
    assert np.nansum(plain) != 0


def test_one_pass_on_two_threads_gives_the_same_bits():
    np.testing.assert_array_equal(_series({"buyers": 3000}, True, steps=10, threads=2),
                                  _series({"buyers": 3000}, True, steps=10))
    assert kernels._shop_plain_threaded.signatures


def test_markets_a_mechanism_shops_in_take_the_step_by_step_shop():
    model = MarketModel({"buyers": 50, "sellers": 10, "reviews": {"enabled": True}}, rng=1)
    assert not model.market.plain_shop
    noisy = MarketModel({"buyers": 50, "sellers": 10, "choice": {"logit_noise": 0.1}}, rng=1)
    assert not noisy.market.plain_shop
    touching = {cls.__name__ for cls in SCHEDULE if cls.touches_shopping()}
    assert {"Reviews", "Warranty", "Claims", "Identity", "Trials"} <= touching
    assert not {"Disclosure", "HiddenAction", "WordOfMouth"} & touching


def test_shop_buffers_are_kept_across_steps_and_grow_when_needed():
    market = MarketModel({"buyers": 50, "sellers": 10}, rng=1).market
    dtypes = (np.float64, np.int64, np.bool_)
    first = market.buffers("x", (100, 6), dtypes)
    assert [(a.shape, a.dtype) for a in first] == [((100, 6), np.dtype(d)) for d in dtypes]
    assert all(a.flags.c_contiguous for a in first)
    smaller = market.buffers("x", (80, 6), dtypes)
    assert all(np.shares_memory(a, b) for a, b in zip(first, smaller, strict=True))
    larger = market.buffers("x", (500, 6), dtypes)
    assert larger[0].shape == (500, 6)
    assert not np.shares_memory(larger[0], first[0])
    assert not np.shares_memory(market.buffers("x", (500, 7), dtypes)[0], larger[0])
