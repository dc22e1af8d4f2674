"""Word of mouth: after a purchase, a buyer may tell its neighbours on a social network
(networkx: random, small-world or scale-free) how it went; listeners weigh the story by
their trust, as a fraction of an own experience.
"""

from __future__ import annotations

import numpy as np

from ._kernels import first_stories
from .base import Mechanism


class WordOfMouth(Mechanism):
    name = "word_of_mouth"

    def __init__(self, market):
        super().__init__(market)
        self.network = SocialNetwork(self.p, market.params.buyers,
                                     seed=int(market.rng.integers(2**31)))

    def after_trade(self, m, trades):
        from ..phases.learn import hear

        buyers, sellers, got = trades.buyer, trades.seller, trades.quality
        talk = m.rng.random(len(buyers)) < self.p.probability
        # Each active listener takes in one story per step (the first one it hears).
        listener, story = first_stories(buyers, talk, self.network.indptr,
                                        self.network.indices, m.buyers.active)
        if len(listener) == 0:
            return
        b = m.buyers
        weight = self.p.weight * b.trust[listener] * m.segment_reading[b.segment[listener]]
        hear(m, listener, sellers[story], got[story], weight)


class SocialNetwork:
    """Who talks to whom: the initial buyers' rows as nodes of a networkx graph (CSR)."""

    def __init__(self, w, n_buyers: int, seed: int):
        n = self.size = n_buyers
        if n < 3:  # too few buyers for a network: nobody to talk to
            self.indptr, self.indices = np.zeros(n + 1, dtype=np.int64), np.zeros(0, np.int64)
            return
        import networkx as nx

        k = min(max(w.degree, 1), n - 1)
        if w.network == "random":
            graph = nx.fast_gnp_random_graph(n, k / max(n - 1, 1), seed=seed)
        elif w.network == "scale_free":
            graph = nx.barabasi_albert_graph(n, max(1, min(k // 2, n - 1)), seed=seed)
        else:
            graph = nx.watts_strogatz_graph(n, max(2, k - k % 2), w.rewiring, seed=seed)
        adj = nx.to_scipy_sparse_array(graph, nodelist=range(n), format="csr")
        self.indptr, self.indices = adj.indptr.astype(np.int64), adj.indices.astype(np.int64)
