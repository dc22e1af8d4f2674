"""The mechanisms' compiled loops (simulator/mechanisms/_kernels.py) give the numbers of the
numpy they replaced, bit for bit, on random inputs with the awkward cases in them (no
candidate, rows beyond the network, inactive listeners, repeated listeners)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.mechanisms import _kernels


@pytest.mark.parametrize("seed", range(3))
def test_personal_prices_equal_the_numpy_rule(seed):
    rng = np.random.default_rng(seed)
    n, k, sellers, rows = 300, 7, 40, 500
    cands = rng.integers(-1, sellers, size=(n, k))
    buyers = np.sort(rng.choice(rows, n, replace=False))
    theta = rng.uniform(0.5, 2.0, rows)
    price = rng.uniform(0.1, 1.5, (n, k))
    has_data = rng.random(sellers) < 0.5
    unit_cost = rng.uniform(0.0, 1.2, sellers)
    mean_theta, capture = float(theta[buyers].mean()), 0.7

    safe = np.maximum(cands, 0)
    personal = has_data[safe]
    relative = theta[buyers] / mean_theta
    custom = np.maximum(price * (1 + capture * (relative[:, None] - 1)), unit_cost[safe])
    expected = np.where(personal, custom, price)

    asked, flags = _kernels.personal_prices(cands, buyers, theta, mean_theta, capture, price,
                                            has_data, unit_cost)
    assert np.array_equal(flags, personal)
    assert np.array_equal(asked, expected)
    assert (asked[personal] >= unit_cost[safe][personal]).all()
    assert (asked[~personal] == price[~personal]).all()


def _listeners_numpy(tellers, talk, indptr, indices, active):
    """The numpy formulation the kernel replaced."""
    n = len(indptr) - 1
    keep = talk & (tellers < n)
    index = np.flatnonzero(keep)
    told = tellers[keep]
    start, end = indptr[told], indptr[told + 1]
    counts = end - start
    teller_idx = np.repeat(np.arange(len(told)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    listener = indices[start[teller_idx] + offsets]
    listener, teller_idx = listener[active[listener]], teller_idx[active[listener]]
    listener, first = np.unique(listener, return_index=True)
    return listener, index[teller_idx[first]]


@pytest.mark.parametrize("seed", range(4))
def test_first_stories_equal_the_numpy_expansion(seed):
    rng = np.random.default_rng(seed)
    n = 200
    degree = rng.integers(0, 8, n)
    indptr = np.concatenate([[0], np.cumsum(degree)]).astype(np.int64)
    indices = rng.integers(0, n, indptr[-1]).astype(np.int64)
    tellers = rng.integers(0, n + 30, 150)  # some arrived after the network was built
    talk = rng.random(len(tellers)) < 0.6
    active = np.concatenate([rng.random(n) < 0.8, np.ones(50, dtype=bool)])

    listener, story = _kernels.first_stories(tellers, talk, indptr, indices, active)
    want_listener, want_story = _listeners_numpy(tellers, talk, indptr, indices, active)
    assert len(listener) > 0
    assert np.array_equal(listener, want_listener)
    assert np.array_equal(story, want_story)
    assert active[listener].all() and talk[story].all()


def test_first_stories_of_a_network_too_small_to_talk():
    listener, story = _kernels.first_stories(np.array([0, 1]), np.ones(2, dtype=bool),
                                             np.zeros(3, dtype=np.int64),
                                             np.zeros(0, dtype=np.int64), np.ones(2, bool))
    assert len(listener) == 0 and len(story) == 0


def test_append_listed_equals_where_and_concatenate():
    rng = np.random.default_rng(0)
    cands = rng.integers(-1, 30, size=(100, 6))
    looks = rng.random(100) < 0.5
    listed = np.array([4, 9, 2])
    expected = np.concatenate([cands, np.where(looks[:, None], listed[None, :], -1)], axis=1)
    assert np.array_equal(_kernels.append_listed(cands, looks, listed), expected)


@pytest.mark.parametrize("seed", range(3))
def test_judge_claims_equals_the_numpy_update(seed):
    rng = np.random.default_rng(seed)
    rows, sellers, n = 400, 30, 250
    who = rng.choice(rows, n, replace=False)  # one trade per buyer
    seller = rng.integers(0, sellers, n)
    quality = rng.uniform(0, 1, n)
    learnable = rng.random(n) < 0.7
    claim = rng.uniform(0, 1.2, sellers)
    segment = rng.integers(0, 3, rows)
    gain, loss = rng.uniform(0, 0.3, 3), rng.uniform(0, 0.6, 3)
    credibility = rng.uniform(0, 1, rows)
    tolerance = 0.1

    false = quality < claim[seller] - tolerance
    cred, seg = credibility[who], segment[who]
    cred = np.where(false, cred * (1 - loss[seg]), cred + gain[seg] * (1 - cred))
    expected = credibility.copy()
    expected[who] = np.where(learnable, cred, credibility[who])

    got = _kernels.judge_claims(who, seller, quality, learnable, claim, tolerance, segment,
                                gain, loss, credibility)
    assert np.array_equal(got, false) and false.any() and (~false).any()
    assert np.array_equal(credibility, expected)
