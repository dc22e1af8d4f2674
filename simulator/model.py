"""TEMPORARY STUB so that scenario/viz work can start; replaced by the real engine."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import METRICS
from .params import MarketParams


def run_market(params, steps: int, seed) -> pd.DataFrame:
    if not isinstance(params, MarketParams):
        params = MarketParams.from_dict(params)
    rng = np.random.default_rng(seed)
    data = {m: rng.random(steps) for m in METRICS}
    df = pd.DataFrame(data, index=pd.RangeIndex(1, steps + 1, name="step"))
    return df
