"""Word of mouth: after a purchase, a buyer may tell its neighbours on a social network
(networkx: random, small-world or scale-free) how it went; listeners weigh the story by
their trust, as a fraction of an own experience.
"""

from __future__ import annotations

import networkx as nx
import numpy as np


class SocialNetwork:
    def __init__(self, params, n_buyers: int, seed: int):
        w = params.word_of_mouth
        self.p = w
        n = n_buyers
        self.size = n
        if n < 3:  # too few buyers for a network: nobody to talk to
            self.indptr, self.indices = np.zeros(n + 1, dtype=np.int64), np.zeros(0, np.int64)
            return
        k = min(max(w.degree, 1), n - 1)
        if w.network == "random":
            graph = nx.fast_gnp_random_graph(n, k / max(n - 1, 1), seed=seed)
        elif w.network == "scale_free":
            graph = nx.barabasi_albert_graph(n, max(1, min(k // 2, n - 1)), seed=seed)
        else:
            graph = nx.watts_strogatz_graph(n, max(2, k - k % 2), w.rewiring, seed=seed)
        adj = nx.to_scipy_sparse_array(graph, nodelist=range(n), format="csr")
        self.indptr, self.indices = adj.indptr.astype(np.int64), adj.indices.astype(np.int64)

    def listeners(self, tellers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(listener, index into tellers) for every neighbour of every teller.

        Buyers who arrived after the network was built (rows beyond it) have no
        neighbours.
        """
        tellers = tellers[tellers < self.size]
        start, end = self.indptr[tellers], self.indptr[tellers + 1]
        counts = end - start
        teller_idx = np.repeat(np.arange(len(tellers)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.indices[start[teller_idx] + offsets], teller_idx

    def tell(self, model, buyers: np.ndarray, sellers: np.ndarray, delivered: np.ndarray
             ) -> None:
        talk = model.rng.random(len(buyers)) < self.p.probability
        inside = buyers < self.size
        tellers, sel, got = buyers[talk & inside], sellers[talk & inside], delivered[talk & inside]
        if len(tellers) == 0:
            return
        listener, idx = self.listeners(tellers)
        active = model.buyers.active[listener]
        listener, idx = listener[active], idx[active]
        # Each listener takes in one story per step (the first one it hears).
        listener, first = np.unique(listener, return_index=True)
        idx = idx[first]
        b = model.buyers
        weight = self.p.weight * b.trust[listener] * model.segment_reading[b.segment[listener]]
        model.hear(listener, sel[idx], got[idx], weight)
