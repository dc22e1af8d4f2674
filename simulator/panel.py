"""The buyer-period panel: one row per buyer and step, for churn analysis.

Rows are recorded before a leaver's row can be recycled by a newcomer; the
frame adds `left_next` (the buyer leaves in the next step) and keeps only the
rows whose next step is known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .market import MarketState

COLUMNS = ["buyer", "step", "segment", "trust", "tenure", "last_gap", "losses_seen", "idle",
           "price_paid", "switched", "left_next"]


class BuyerPanel:
    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []

    def record(self, model: MarketState, start: np.ndarray, switched: np.ndarray,
               leaving: np.ndarray) -> None:
        """Buyers active at the start of the step: their state after it (`idle` = steps in
        a row without a purchase), and whether they switched or left."""
        b = model.buyers
        self._parts.append({
            "buyer": b.uid[start].copy(),
            "step": np.full(len(start), model.now, dtype=np.int64),
            "segment": b.segment[start].copy(),
            "trust": b.trust[start].copy(),
            "tenure": model.now - b.joined[start],
            "last_gap": b.last_gap[start].copy(),
            "losses_seen": b.losses[start].copy(),
            "idle": b.idle[start].copy(),
            "price_paid": b.spent[start].copy(),
            "switched": np.isin(start, switched),
            "left": np.isin(start, leaving),
        })

    def frame(self, steps: int, segment_names: list[str]) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(columns=COLUMNS)
        df = pd.DataFrame({k: np.concatenate([part[k] for part in self._parts])
                           for k in self._parts[0]})
        if segment_names:
            df["segment"] = np.array(segment_names, dtype=object)[df["segment"]]
        else:
            df["segment"] = "all"
        df = df.sort_values(["buyer", "step"], kind="stable").reset_index(drop=True)
        nxt = df.groupby("buyer")["left"].shift(-1)
        df["left_next"] = nxt.fillna(False).astype(bool)
        # The last step's future is unknown, and a leaver's own row is its last.
        df = df[(df["step"] < steps) & ~df["left"]].drop(columns="left")
        return df.reset_index(drop=True)
