"""Market parameters: one typed, documented tree shared by the model, scenario files and the UI.

Every `[market]` key of a scenario file is a field here. The field metadata
(`doc`, `range`, `choices`) is the single source for validation and for
docs/scenarios.md, so the three can never disagree.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from .config import build, flatten_dotted, schema_field, set_dotted, setting, suggest
from .config import iter_fields as _schema_fields
from .errors import ConfigError

#: Every parameter mistake is a ConfigError (file, key path, expected, found).
ParamError = ConfigError

__all__ = ["MarketParams", "ParamError", "flatten_dotted", "iter_fields", "set_dotted",
           "suggest", "market_field"]

INFORMATION_REGIMES = ("transparent", "asymmetric", "noisy", "delayed")
PRICING_POLICIES = ("market", "markup", "adaptive")
QUALITY_DISTRIBUTIONS = ("uniform", "beta", "two_type")
TASTE_DISTRIBUTIONS = ("constant", "uniform", "normal")
REFERENCE_POINTS = ("outside_option", "expectation")
SELLER_IDENTITIES = ("anonymous", "identifiable", "partners")
CLAIM_STRATEGIES = ("learned", "honest", "over_promise", "under_promise")
DISCLOSURE_MODES = ("voluntary", "mandatory")
NETWORKS = ("random", "small_world", "scale_free")

#: Sizes above these are refused as almost certainly a typo (a 10^9-buyer market
#: would exhaust memory long before it produced a result).
MAX_BUYERS = 5_000_000
MAX_SELLERS = 200_000


def _f(default, doc: str, *, range=None, choices=None, factory=None):
    """A dataclass field carrying the documentation and the accepted values."""
    return setting(default, doc, range=range, choices=choices, factory=factory)


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

    def moments(self) -> tuple[float, float]:
        """Mean and variance of quality: what buyers know about the population."""
        span = self.high - self.low
        if self.distribution == "two_type":
            return (self.low + self.share_high * span,
                    self.share_high * (1 - self.share_high) * span**2)
        if self.distribution == "beta":
            ab = self.a + self.b
            return (self.low + self.a / ab * span,
                    self.a * self.b / (ab**2 * (ab + 1)) * span**2)
        return 0.5 * (self.low + self.high), span**2 / 12


@dataclass
class CostParams:
    c0: float = _f(0.0, "Fixed part of unit cost: c = c0 + c1 * q.", range=(0.0, 100.0))
    c1: float = _f(1.0, "Cost of one unit of quality: c = c0 + c1 * q.", range=(0.0, 100.0))
    fixed: float = _f(0.0, "Fixed cost a seller pays every step it is in the market.",
                      range=(0.0, 1e6))
    noise: float = _f(0.0, "Standard deviation of an idiosyncratic part of unit cost (makes a "
                      "disclosed cost a noisy signal of quality).", range=(0.0, 10.0))


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
    forgiveness: float = _f(0.02, "Share of the way a remembered belief about a seller the "
                            "buyer has not bought from in the last step drifts back each step "
                            "toward what it would expect of that seller as a stranger, so a "
                            "bad (or good) memory fades and buyers may return.",
                            range=(0.0, 1.0))
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
    lapse: int = _f(0, "A buyer who finds nothing worth buying this many steps in a row "
                    "gives up and leaves (0 = never).", range=(0, 1_000_000))
    idle_loss: float = _f(0.02, "After a step in which it found nothing worth buying, market "
                          "trust moves this share of the way to 0, but not below "
                          "leave_below / (1 - loss) (a market that keeps refusing a buyer "
                          "loses its trust; leaving itself follows bad experiences or "
                          "lapse).", range=(0.0, 1.0))


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
class LearningParams:
    rate: float = _f(0.2, "Sellers' learning rate: weight of this step's profit in the value "
                     "of the action taken (certify, disclose, warranty, claim, shirk).",
                     range=(0.0, 1.0))
    exploration: float = _f(0.1, "Chance a new seller tries a random action instead of the "
                            "best one it knows.", range=(0.0, 1.0))
    halving: int = _f(50, "Steps in the market after which a seller explores half as often "
                      "(0 = never less).", range=(0, 1_000_000))


@dataclass
class CertificationParams:
    enabled: bool = _f(False, "Sellers may pay for a certificate each step.")
    cost_low: float = _f(0.1, "Certificate cost per step for the lowest-quality seller.",
                         range=(0.0, 1e3))
    cost_high: float = _f(0.1, "Certificate cost per step for the highest-quality seller "
                          "(linear in between: lower than cost_low lets it separate types).",
                          range=(0.0, 1e3))
    reveals: bool = _f(False, "true: the certifier publishes the seller's quality; false: "
                       "buyers see only a badge and learn what certified sellers are worth "
                       "(a Spence signal).")
    face_value: bool = _f(True, "Buyers first take a badge to mean the highest quality and "
                          "learn from experience; false: they start from the population mean.")


@dataclass
class WarrantyParams:
    enabled: bool = _f(False, "Sellers may offer a warranty (learned from profit).")
    threshold: float = _f(0.5, "A unit delivered below this quality is repaired up to it, at "
                          "the seller's expense (c1 per unit of quality).", range=(0.0, 1.0))


@dataclass
class ClaimsParams:
    enabled: bool = _f(False, "Sellers state a quality claim; buyers weigh it by how often "
                       "claims have proved true to them (their credibility).")
    strategy: str = _f("learned", "learned (inflation chosen from profit), honest, "
                       "over_promise or under_promise.", choices=CLAIM_STRATEGIES)
    inflation: float = _f(0.2, "Claim minus quality for over_promise (minus for under_promise); "
                          "the largest inflation a learning seller tries.", range=(0.0, 1.0))
    credibility: float = _f(0.5, "Buyers' initial weight on claims.", range=(0.0, 1.0))
    tolerance: float = _f(0.1, "A claim is false when delivered quality falls this far below "
                          "it.", range=(0.0, 1.0))
    audit: float = _f(0.0, "Chance a false claim is caught, per trade.", range=(0.0, 1.0))
    penalty: float = _f(0.0, "Fine a seller pays when a false claim is caught.",
                        range=(0.0, 1e3))


@dataclass
class DisclosureParams:
    enabled: bool = _f(False, "Sellers may disclose their quality verifiably.")
    mode: str = _f("voluntary", "voluntary (sellers learn whether it pays) or mandatory.",
                   choices=DISCLOSURE_MODES)
    cost: float = _f(0.0, "Cost per step of disclosing.", range=(0.0, 1e3))


@dataclass
class CostDisclosureParams:
    enabled: bool = _f(False, "Sellers publish their unit cost, from which buyers infer quality "
                       "(exactly when cost.noise = 0).")


@dataclass
class ReviewParams:
    enabled: bool = _f(False, "Buyers rate sellers; each seller's public score informs buyers.")
    probability: float = _f(0.3, "Chance a buyer rates a purchase.", range=(0.0, 1.0))
    delay: int = _f(0, "Steps before a rating is published.", range=(0, 10_000))
    noise: float = _f(0.1, "Standard deviation of a rating around the delivered quality.",
                      range=(0.0, 10.0))
    weight: float = _f(1.0, "What one rating is worth against one own purchase (scaled by "
                       "the reader's trust).", range=(0.0, 100.0))
    decay: float = _f(0.05, "Share of a score's weight that fades per step, so it tracks "
                      "recent behaviour.", range=(0.0, 1.0))


@dataclass
class WordOfMouthParams:
    enabled: bool = _f(False, "Buyers tell their neighbours on a social network how a purchase "
                       "went.")
    network: str = _f("small_world", "Network: random (Erdos-Renyi), small_world "
                      "(Watts-Strogatz) or scale_free (Barabasi-Albert).", choices=NETWORKS)
    degree: int = _f(4, "Mean number of neighbours.", range=(1, 1000))
    rewiring: float = _f(0.1, "Rewiring probability (small_world).", range=(0.0, 1.0))
    probability: float = _f(0.5, "Chance a buyer tells its neighbours after a purchase.",
                            range=(0.0, 1.0))
    weight: float = _f(0.5, "What a neighbour's story is worth against one own purchase "
                       "(scaled by trust).", range=(0.0, 100.0))


@dataclass
class TrialParams:
    enabled: bool = _f(False, "Sellers give free samples: a buyer sees an unknown candidate's "
                       "quality once before paying (the seller bears the unit cost).")
    probability: float = _f(0.2, "Chance per step that a buyer gets a trial.", range=(0.0, 1.0))


@dataclass
class PersonalizedPricingParams:
    enabled: bool = _f(False, "Sellers holding buyer data see tastes and price to each buyer.")
    share: float = _f(0.5, "Share of sellers that hold buyer data.", range=(0.0, 1.0))
    capture: float = _f(0.5, "How strongly a data-holding seller scales its price with a "
                        "buyer's taste relative to the average: price x (1 + capture x "
                        "(taste / mean taste - 1)), never below cost.", range=(0.0, 1.0))
    discovery: float = _f(0.0, "Chance per personalised purchase that the buyer finds out.",
                          range=(0.0, 1.0))
    backlash: float = _f(0.3, "Share of trust a buyer loses when it finds out (the privacy "
                         "cost).", range=(0.0, 1.0))


@dataclass
class MoralHazardParams:
    enabled: bool = _f(False, "Hidden action: a seller may deliver less than its capability to "
                       "save cost, and learns how honest to be from profit.")
    shirk: float = _f(0.3, "Quality withheld when shirking.", range=(0.0, 1.0))
    saving: float = _f(0.1, "Unit cost saved when shirking.", range=(0.0, 100.0))


@dataclass
class ComparisonSiteParams:
    enabled: bool = _f(False, "A price-comparison site lists the cheapest offers; buyers who "
                       "look at it also consider those sellers.")
    coverage: float = _f(0.5, "Chance per step that a buyer looks at the site.",
                         range=(0.0, 1.0))
    listed: int = _f(3, "Number of cheapest offers the site lists.", range=(1, 100))


#: What a buyer segment may set for itself; everything else is the market's.
SEGMENT_TABLES = ("taste", "prospect", "trust")


@dataclass
class SegmentParams:
    share: float = _f(1.0, "Share of buyers (new ones too) in this segment; shares add up to 1.",
                      range=(0.0, 1.0))
    review_weight: float = _f(1.0, "How much this segment reads reviews and listens to word of "
                              "mouth (multiplies their weight).", range=(0.0, 100.0))
    taste: TasteParams = _f(None, "The segment's taste distribution (default: the market's).",
                            factory=TasteParams)
    prospect: ProspectParams = _f(None, "The segment's risk attitudes (default: the market's).",
                                  factory=ProspectParams)
    trust: TrustParams = _f(None, "The segment's trust dynamics and patience (default: the "
                            "market's).", factory=TrustParams)


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
    learning: LearningParams = _f(None, "How sellers learn their strategies from profit.",
                                  factory=LearningParams)
    certification: CertificationParams = _f(None, "Certificates (Spence signalling).",
                                            factory=CertificationParams)
    warranty: WarrantyParams = _f(None, "Warranties (repair below a threshold).",
                                  factory=WarrantyParams)
    claims: ClaimsParams = _f(None, "Quality claims.", factory=ClaimsParams)
    disclosure: DisclosureParams = _f(None, "Verifiable quality disclosure (Grossman-Milgrom).",
                                      factory=DisclosureParams)
    cost_disclosure: CostDisclosureParams = _f(None, "Published unit costs.",
                                               factory=CostDisclosureParams)
    reviews: ReviewParams = _f(None, "Public ratings.", factory=ReviewParams)
    word_of_mouth: WordOfMouthParams = _f(None, "Stories on a social network.",
                                          factory=WordOfMouthParams)
    trials: TrialParams = _f(None, "Free samples.", factory=TrialParams)
    personalized_pricing: PersonalizedPricingParams = _f(
        None, "Seller-side data about buyers.", factory=PersonalizedPricingParams)
    moral_hazard: MoralHazardParams = _f(None, "Hidden action.", factory=MoralHazardParams)
    comparison_site: ComparisonSiteParams = _f(None, "Price-comparison site.",
                                               factory=ComparisonSiteParams)
    segments: dict[str, SegmentParams] = _f(None, "Named buyer segments: "
                                            "[market.segments.NAME] tables with share, "
                                            "review_weight and taste/prospect/trust overrides.",
                                            factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> MarketParams:
        """A copy with dotted-key overrides, e.g. replace(**{"prospect.lam": 1.0}).

        Only existing keys may change: a key naming no parameter, or a buyer segment the
        market does not have, is refused rather than created.
        """
        tree = self.to_dict()
        for key, value in changes.items():
            check_existing_segment(key, list(self.segments), key)
            if market_field(key) is None:
                raise ConfigError(key, "a market key", key, message=(
                    f"{key}: unknown market key{suggest(key, _MARKET_KEYS)}"))
            set_dotted(tree, key, value)
        return MarketParams.from_dict(tree)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None = None, *, where: str = "market"
                  ) -> MarketParams:
        """Build validated parameters from a (possibly partial) nested dict."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(where, "a table", data)
        data = dict(data)
        segments = data.pop("segments", {})
        params = build(cls, data, where)
        params.segments = _build_segments(segments, data, f"{where}.segments")
        _check_consistency(params, where)
        return params


#: Segment names that mean something else in the outputs ("all" is the market-wide row).
RESERVED_SEGMENT_NAMES = ("all",)
#: A segment name becomes a column value and a dotted-key part: no dots, no spaces.
SEGMENT_NAME_RULE = "a segment name of letters, digits, '_' or '-' (at most 64)"
_SEGMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _build_segments(segments: Any, market: dict, where: str) -> dict[str, SegmentParams]:
    """Each segment starts from the market's own taste/prospect/trust tables."""
    if not isinstance(segments, dict):
        raise ConfigError(where, "a table of named segments", segments)
    built = {}
    for name, seg in segments.items():
        if not _SEGMENT_NAME.match(name):
            raise ConfigError(f"{where}.{name}", SEGMENT_NAME_RULE, name)
        if name.lower() in RESERVED_SEGMENT_NAMES:
            raise ConfigError(f"{where}.{name}", f"a segment name other than "
                              f"{', '.join(RESERVED_SEGMENT_NAMES)} (reserved for the "
                              "market-wide rows of the outputs)", name)
        if not isinstance(seg, dict):
            raise ConfigError(f"{where}.{name}", "a table", seg)
        merged = dict(seg)
        for table in SEGMENT_TABLES:
            base = market.get(table, {})
            if isinstance(base, dict) and isinstance(seg.get(table, {}), dict):
                merged[table] = {**base, **seg.get(table, {})}
        built[name] = build(SegmentParams, merged, f"{where}.{name}")
    if built:
        total = sum(seg.share for seg in built.values())
        if abs(total - 1.0) > 1e-9:
            raise ConfigError(where, "segment shares that add up to 1", round(total, 12))
    return built


def _check_consistency(p: MarketParams, where: str) -> None:
    """Ranges whose low end must not exceed the high end, in the market and every segment."""
    if p.quality.low > p.quality.high:
        raise ConfigError(f"{where}.quality.low", f"at most quality.high ({p.quality.high})",
                          p.quality.low)
    tastes = [("", p.taste)] + [(f"segments.{name}.", seg.taste)
                                for name, seg in p.segments.items()]
    for prefix, taste in tastes:
        if taste.low > taste.high:
            raise ConfigError(f"{where}.{prefix}taste.low",
                              f"at most {prefix}taste.high ({taste.high})", taste.low)


def iter_fields(cls: type = MarketParams, prefix: str = ""):
    """Yield (dotted key, type name, default, field metadata) for every leaf parameter."""
    return _schema_fields(cls, prefix)


_MARKET_KEYS = [key for key, *_ in _schema_fields(MarketParams)]


def market_field(key: str) -> tuple[str, dict] | None:
    """(type name, metadata) of market leaf `key` (without "market."), or None."""
    return schema_field(MarketParams, key)


def market_keys() -> list[str]:
    """Every market leaf as a dotted key (segments as segments.NAME.KEY)."""
    return list(_MARKET_KEYS)


def check_existing_segment(key: str, names: list[str], where: str) -> None:
    """Refuse a dotted market key (without "market.") naming a segment not in `names`:
    overrides and factors may change segments, never create one by a typo."""
    parts = key.split(".")
    if len(parts) >= 3 and parts[0] == "segments" and parts[1] not in names:
        raise ConfigError(where, "an existing buyer segment", parts[1], message=(
            f"{where}: no buyer segment named '{parts[1]}' in the scenario"
            f"{suggest(parts[1], names)} "
            f"(segments: {', '.join(names) or 'none'}; only existing segments can be set)"))
