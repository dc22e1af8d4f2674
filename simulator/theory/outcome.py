"""What a benchmark predicts: named equilibria with metric values, thresholds and notes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    """One equilibrium of one benchmark; `metrics` are named as in `simulator.metrics.METRICS`
    (per step: `volume` in units per step)."""

    benchmark: str
    equilibrium: str
    metrics: dict[str, float]
    #: The one a price process starting from buyers' prior beliefs reaches (what the
    #: simulation should approach), or the only prediction of its benchmark.
    reached: bool = True
    note: str = ""


@dataclass
class Threshold:
    """A parameter value where the prediction changes (e.g. pooling starts)."""

    benchmark: str
    name: str
    key: str
    value: float
    note: str = ""


@dataclass
class ArmTheory:
    """Everything theory says about one arm."""

    arm: str
    outcomes: list[Outcome] = field(default_factory=list)
    thresholds: list[Threshold] = field(default_factory=list)
    #: Extra numbers: (benchmark, name, metric, value), e.g. certainty equivalents.
    facts: list[tuple[str, str, str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def prediction(self) -> Outcome | None:
        """The reached equilibrium of the arm's own benchmark (not the first best)."""
        for o in self.outcomes:
            if o.reached and o.benchmark != "first_best":
                return o
        return None
