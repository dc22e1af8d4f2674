"""Readable references of the engine's fast paths, for the tests and the benchmarks.

- `beliefs`: the compiled belief look-up (`kernels.candidate_beliefs`) in numpy;
- `loop`: the market core written the plain Mesa way, one object per agent
  (`ReferenceMarket`), checked statistically against the engine.

The CPT valuation's numpy reference is `Valuation.of_outcomes(payoffs(...))`
and `Valuation.reservation_reference` (simulator/valuation.py).
"""
