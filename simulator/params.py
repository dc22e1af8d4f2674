"""Market parameters: one typed, documented tree shared by the model, scenario files and the UI.

Every `[market]` key of a scenario file is a field here. The field metadata
(`doc`, `range`, `choices`) is the single source for validation and for
docs/scenarios.md, so the three can never disagree.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, get_type_hints

INFORMATION_REGIMES = ("transparent", "asymmetric", "noisy", "delayed")
PRICING_POLICIES = ("market", "markup", "adaptive")
QUALITY_DISTRIBUTIONS = ("uniform", "beta", "two_type")
TASTE_DISTRIBUTIONS = ("constant", "uniform", "normal")
REFERENCE_POINTS = ("outside_option", "expectation")
SELLER_IDENTITIES = ("anonymous", "identifiable", "partners")

#: Sizes above these are refused as almost certainly a typo (a 10^9-buyer market
#: would exhaust memory long before it produced a result).
MAX_BUYERS = 5_000_000
MAX_SELLERS = 200_000


def _f(default, doc: str, *, range=None, choices=None, factory=None):
    """A dataclass field carrying the documentation and the accepted values."""
    meta = {"doc": doc}
    if range is not None:
        meta["range"] = range
    if choices is not None:
        meta["choices"] = choices
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class QualityParams:
    distribution: str = _f("uniform", "How sellers' capability quality q is drawn.",
                           choices=QUALITY_DISTRIBUTIONS)
    low: float = _f(0.0, "Lowest quality (uniform) or the low type's quality (two_type).",
                    range=(0.0, 1.0))
    high: float = _f(1.0, "Highest quality (uniform) or the high type's quality (two_type).",
                     range=(0.0, 1.0))
    share_high: float = _f(0.5, "Share of high-type sellers (two_type).", range=(0.0, 1.0))
    a: float = _f(2.0, "Beta distribution shape a (beta), scaled onto [low, high].",
                  range=(1e-3, 1e3))
    b: float = _f(2.0, "Beta distribution shape b (beta), scaled onto [low, high].",
                  range=(1e-3, 1e3))


@dataclass
class CostParams:
    c0: float = _f(0.0, "Fixed part of unit cost: c = c0 + c1 * q.", range=(0.0, 100.0))
    c1: float = _f(1.0, "Cost of one unit of quality: c = c0 + c1 * q.", range=(0.0, 100.0))
    fixed: float = _f(0.0, "Fixed cost a seller pays every step it is in the market.",
                      range=(0.0, 1e6))


@dataclass
class TasteParams:
    distribution: str = _f("constant", "How buyers' taste theta (value of one unit of quality) "
                           "is drawn.", choices=TASTE_DISTRIBUTIONS)
    value: float = _f(1.5, "Taste of every buyer (constant).", range=(0.0, 100.0))
    low: float = _f(1.0, "Lowest taste (uniform).", range=(0.0, 100.0))
    high: float = _f(2.0, "Highest taste (uniform).", range=(0.0, 100.0))
    mean: float = _f(1.5, "Mean taste (normal, truncated at 0).", range=(0.0, 100.0))
    sd: float = _f(0.2, "Standard deviation of taste (normal).", range=(0.0, 100.0))


@dataclass
class ProspectParams:
    alpha: float = _f(0.88, "Curvature of the value function for gains, x**alpha.",
                      range=(0.05, 1.0))
    beta: float = _f(0.88, "Curvature for losses, -lam * (-x)**beta.", range=(0.05, 1.0))
    lam: float = _f(2.25, "Loss aversion lambda (1 = none).", range=(1.0, 10.0))
    gamma_gain: float = _f(0.61, "Probability weighting for gains (1 = none).", range=(0.28, 1.0))
    gamma_loss: float = _f(0.69, "Probability weighting for losses (1 = none).",
                           range=(0.28, 1.0))
    reference: str = _f("outside_option", "Reference point: the outside option (payoff 0) or "
                        "the buyer's own expectation (Koszegi-Rabin gain-loss utility).",
                        choices=REFERENCE_POINTS)


@dataclass
class BeliefParams:
    prior_weight: float = _f(2.0, "How many observations the prior belief is worth.",
                             range=(0.01, 1e4))
    forgetting: float = _f(0.1, "Share of belief precision lost per step, so beliefs track a "
                           "changing market (0 = plain Bayesian updating).", range=(0.0, 0.99))
    market_feedback: float = _f(1.0, "How many observations the market's average quality of "
                                "blind purchases is worth to every buyer each step (what buyers "
                                "hear about the market; 0 = only their own purchases).",
                                range=(0.0, 1e3))
    memory: int = _f(8, "Sellers a buyer remembers individually (least recently used are "
                     "forgotten). Bounds memory at buyers x memory.", range=(1, 64))
    nodes: int = _f(3, "Gauss-Hermite nodes used to turn a normal belief into a CPT lottery.",
                    range=(1, 9))


@dataclass
class TrustParams:
    initial: float = _f(0.7, "Trust of a new buyer in the market and in unknown sellers.",
                        range=(0.0, 1.0))
    gain: float = _f(0.05, "After a good experience trust moves this share of the way to 1.",
                     range=(0.0, 1.0))
    loss: float = _f(0.15, "After a bad experience trust moves this share of the way to 0 "
                     "(larger than gain: losses loom larger).", range=(0.0, 1.0))
    tolerance: float = _f(0.1, "Delivered quality this far below expectation still counts as "
                          "a good experience.", range=(0.0, 1.0))
    leave_below: float = _f(0.2, "A buyer whose market trust falls below this leaves.",
                            range=(0.0, 1.0))


@dataclass
class ChoiceParams:
    candidates: int = _f(5, "Sellers a buyer samples each step besides its current seller (K).",
                         range=(1, 100))
    logit_noise: float = _f(0.0, "Scale of Gumbel choice noise in payoff units (0 = always "
                            "the best option).", range=(0.0, 100.0))
    switching_cost: float = _f(0.0, "Cost of buying from a seller other than the current one.",
                               range=(0.0, 100.0))


@dataclass
class PriceParams:
    markup: float = _f(0.2, "Markup m: markup pricing asks cost * (1 + m); adaptive starts there.",
                       range=(0.0, 100.0))
    adjustment: float = _f(0.5, "Market pricing: share of the gap to the clearing price closed "
                           "per step.", range=(0.01, 1.0))
    adaptive_step: float = _f(0.05, "Adaptive pricing: relative price change per step.",
                              range=(0.0, 1.0))


@dataclass
class SignalParams:
    noise: float = _f(0.15, "Standard deviation of the public quality signal (noisy regime).",
                      range=(0.0, 10.0))


@dataclass
class DelayParams:
    steps: int = _f(10, "Steps after a seller enters until its quality becomes public "
                    "(delayed regime).", range=(0, 100_000))


@dataclass
class ArrivalParams:
    rate: float = _f(0.0, "Expected new buyers per step, as a share of the initial number.",
                     range=(0.0, 1.0))


@dataclass
class EntryParams:
    enabled: bool = _f(False, "Free entry: new sellers arrive while incumbents' profits cover "
                       "the entry cost.")
    cost: float = _f(0.05, "Entry cost per step (amortised) that average profit must cover.",
                     range=(0.0, 1e6))
    rate: float = _f(0.05, "Expected entrants per step as a share of active sellers when "
                     "entry pays.", range=(0.0, 1.0))
    max_sellers: int = _f(0, "Upper bound on active sellers (0 = 4 x the initial number).",
                          range=(0, MAX_SELLERS))


@dataclass
class ExitParams:
    enabled: bool = _f(False, "Sellers leave after a run of loss-making steps.")
    patience: int = _f(10, "Consecutive steps with profit <= 0 after which a seller exits.",
                       range=(1, 100_000))


@dataclass
class MarketParams:
    buyers: int = _f(200, "Buyers at the start.", range=(1, MAX_BUYERS))
    sellers: int = _f(50, "Sellers at the start.", range=(1, MAX_SELLERS))
    information: str = _f("asymmetric", "What buyers see about quality before buying.",
                          choices=INFORMATION_REGIMES)
    pricing: str = _f("markup", "How sellers set prices.", choices=PRICING_POLICIES)
    identity: str = _f("identifiable", "Whether buyers can tell sellers apart across periods: "
                       "anonymous, identifiable, or partners (a buyer keeps its seller).",
                       choices=SELLER_IDENTITIES)
    capacity: int = _f(0, "Units a seller can sell per step (0 = unlimited).",
                       range=(0, 10_000_000))
    quality_noise: float = _f(0.05, "Standard deviation of delivered quality around q.",
                              range=(0.0, 10.0))
    quality: QualityParams = _f(None, "Seller quality distribution.", factory=QualityParams)
    cost: CostParams = _f(None, "Seller cost.", factory=CostParams)
    taste: TasteParams = _f(None, "Buyer taste distribution.", factory=TasteParams)
    prospect: ProspectParams = _f(None, "Cumulative prospect theory preferences.",
                                  factory=ProspectParams)
    beliefs: BeliefParams = _f(None, "Bayesian belief updating.", factory=BeliefParams)
    trust: TrustParams = _f(None, "Trust dynamics and leaving.", factory=TrustParams)
    choice: ChoiceParams = _f(None, "How buyers choose among sellers.", factory=ChoiceParams)
    price: PriceParams = _f(None, "Pricing policy parameters.", factory=PriceParams)
    signal: SignalParams = _f(None, "Public quality signal (noisy regime).",
                              factory=SignalParams)
    delay: DelayParams = _f(None, "Delayed revelation (delayed regime).", factory=DelayParams)
    arrivals: ArrivalParams = _f(None, "New buyers.", factory=ArrivalParams)
    entry: EntryParams = _f(None, "Seller entry.", factory=EntryParams)
    exit: ExitParams = _f(None, "Seller exit.", factory=ExitParams)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> MarketParams:
        """A copy with dotted-key overrides, e.g. replace(**{"prospect.lam": 1.0})."""
        tree = self.to_dict()
        for key, value in changes.items():
            set_dotted(tree, key, value)
        return MarketParams.from_dict(tree)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None = None, *, where: str = "market"
                  ) -> MarketParams:
        """Build validated parameters from a (possibly partial) nested dict."""
        params = _build(cls, data or {}, where)
        _check_consistency(params, where)
        return params


class ParamError(ValueError):
    """A parameter problem, located by its dotted key path."""

    def __init__(self, path: str, expected: str, found: Any = None, *, message: str | None = None):
        self.path, self.expected, self.found = path, expected, found
        super().__init__(message or f"{path}: expected {expected}, found {_show(found)}")


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return f"{value!r} ({type(value).__name__})"


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _build(cls: type, data: Any, where: str):
    if not isinstance(data, dict):
        raise ParamError(where, "a table", data)
    names = [f.name for f in fields(cls)]
    for key in data:
        if key not in names:
            raise ParamError(
                f"{where}.{key}", "a known key", key,
                message=f"{where}.{key}: unknown key{suggest(key, names)}; "
                f"known keys here: {', '.join(names)}",
            )
    hints = _hints(cls)
    values = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        path = f"{where}.{f.name}"
        kind = hints[f.name]
        if is_dataclass(kind):
            values[f.name] = _build(kind, data[f.name], path)
        else:
            values[f.name] = _coerce(kind, data[f.name], path, f.metadata)
    return cls(**values)


def _coerce(kind: type, value: Any, path: str, meta: dict) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ParamError(path, "true or false", value)
        return value
    if kind is int:
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        ):
            raise ParamError(path, "a whole number", value)
        value = int(value)
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamError(path, "a number", value)
        value = float(value)
        if not math.isfinite(value):
            raise ParamError(path, "a finite number", value)
    elif kind is str:
        if not isinstance(value, str):
            raise ParamError(path, "a string", value)
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ParamError(path, f"one of {', '.join(choices)}{suggest(str(value), list(choices))}",
                         value)
    bounds = meta.get("range")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise ParamError(path, f"a value in [{bounds[0]}, {bounds[1]}]", value)
    return value


def _check_consistency(p: MarketParams, where: str) -> None:
    if p.quality.low > p.quality.high:
        raise ParamError(f"{where}.quality.low", f"at most quality.high ({p.quality.high})",
                         p.quality.low)
    if p.taste.low > p.taste.high:
        raise ParamError(f"{where}.taste.low", f"at most taste.high ({p.taste.high})",
                         p.taste.low)


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set `a.b.c` in a nested dict, creating tables on the way."""
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ParamError(key, "a path through tables", node)
    node[parts[-1]] = value


def iter_fields(cls: type = MarketParams, prefix: str = ""):
    """Yield (dotted key, type name, default, field metadata) for every leaf parameter."""
    hints = _hints(cls)
    defaults = cls()
    for f in fields(cls):
        kind = hints[f.name]
        key = f"{prefix}{f.name}"
        if is_dataclass(kind):
            yield from iter_fields(kind, key + ".")
        else:
            yield key, kind.__name__, getattr(defaults, f.name), f.metadata
