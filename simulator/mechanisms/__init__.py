"""Mechanisms that close (or exploit) the information gap: one module each.

`SCHEDULE` lists every mechanism class in the order the phases call their
hooks (and so draw their random numbers). To add one: write its module (a
`base.Mechanism` subclass), its parameter table in `simulator/params.py`, and
a line here (docs/model.md, "How to add a mechanism").
"""

from __future__ import annotations

from .base import N_POOLS, Mechanism
from .certification import CERTIFIED, Certification
from .claims import Claims
from .comparison_site import ComparisonSite
from .cost_disclosure import CostDisclosure
from .disclosure import Disclosure
from .hidden_action import HiddenAction
from .identity import Identity
from .personalized_pricing import PersonalizedPricing
from .reviews import Reviews
from .trials import Trials
from .warranty import WARRANTY, Warranty
from .word_of_mouth import WordOfMouth

SCHEDULE: tuple[type[Mechanism], ...] = (
    Identity,
    CostDisclosure,
    Certification,
    Disclosure,
    Warranty,
    Trials,
    PersonalizedPricing,
    Claims,
    HiddenAction,
    Reviews,
    WordOfMouth,
    ComparisonSite,
)

__all__ = ["CERTIFIED", "N_POOLS", "SCHEDULE", "WARRANTY", "Mechanism"]
