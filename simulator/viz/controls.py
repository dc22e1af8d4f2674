"""The page's controls (Mesa `model_params`), built from an arm's parameters and read back.

Mesa passes control values to the model class as keyword arguments, so a
dotted market key becomes a keyword name with `__` for each dot
(`prospect.lam` -> `prospect__lam`). The named controls are the few levers the
issue asks for; every mechanism (any `X.enabled` switch in the parameter tree)
gets a checkbox without being listed here, so new mechanisms appear on the
page by themselves.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from ..errors import UserError
from ..params import MarketParams, iter_fields

SEP = "__"
SEED = "seed"

#: Choice controls: dotted key -> label (the values come from the parameter schema).
CHOICES = {
    "information": "Information regime",
    "pricing": "Pricing policy",
    "identity": "Seller identity",
}

#: Slider controls: dotted key -> (label, min, max, step). The bounds suit a live page
#: (a few hundred agents step in well under a second); an arm's own value outside
#: them widens the slider rather than being clipped.
SLIDERS = {
    "buyers": ("Buyers", 10, 2000, 10),
    "sellers": ("Sellers", 2, 500, 1),
    "prospect.lam": ("Loss aversion (lambda)", 1.0, 5.0, 0.05),
    "signal.noise": ("Signal noise (noisy regime)", 0.0, 0.5, 0.01),
}


def name_of(key: str) -> str:
    """The keyword name of a dotted market key."""
    return key.replace(".", SEP)


def key_of(name: str) -> str:
    """The dotted market key of a keyword name."""
    return name.replace(SEP, ".")


def get_dotted(params: MarketParams, key: str) -> Any:
    value: Any = params
    for part in key.split("."):
        value = getattr(value, part)
    return value


def mechanism_switches() -> dict[str, str]:
    """Every on/off switch of the parameter tree (`X.enabled`) -> a label from its table."""
    return dict(_switches())  # a copy: the answer is read on every redraw, and cached


@functools.cache
def _switches() -> dict[str, str]:
    docs = {f.name: f.metadata.get("doc", f.name) for f in dataclasses.fields(MarketParams)}
    switches = {}
    for key, kind, _default, _meta in iter_fields(MarketParams):
        table, _, leaf = key.rpartition(".")
        if leaf == "enabled" and kind == "bool" and "." not in table:
            doc = docs.get(table, "").rstrip(".")
            name = table.replace("_", " ").capitalize()
            switches[key] = f"{name}: {doc[:1].lower()}{doc[1:]}" if doc else name
    return switches


def control_keys() -> list[str]:
    """Dotted keys of every control, in page order."""
    return [*CHOICES, *SLIDERS, *mechanism_switches()]


def model_params(params: MarketParams, seed: int) -> dict[str, dict[str, Any]]:
    """Mesa `model_params` for the controls, starting at this arm's values and seed."""
    meta = {key: m for key, _kind, _default, m in iter_fields(MarketParams)}
    controls: dict[str, dict[str, Any]] = {}
    for key, label in CHOICES.items():
        controls[name_of(key)] = {"type": "Select", "label": label,
                                  "value": get_dotted(params, key),
                                  "values": list(meta[key]["choices"])}
    for key, (label, low, high, step) in SLIDERS.items():
        value = get_dotted(params, key)
        kind = "SliderInt" if isinstance(value, int) else "SliderFloat"
        controls[name_of(key)] = {"type": kind, "label": label, "value": value,
                                  "min": min(low, value), "max": max(high, value),
                                  "step": step}
    for key, label in mechanism_switches().items():
        controls[name_of(key)] = {"type": "Checkbox", "label": label,
                                  "value": get_dotted(params, key)}
    controls[SEED] = {"type": "InputText", "label": "Seed", "value": str(seed)}
    return controls


def overrides(values: dict[str, Any]) -> dict[str, Any]:
    """Dotted-key overrides from control values (keyword names); the seed is not one."""
    known = set(control_keys())
    out = {}
    for name, value in values.items():
        if name == SEED:
            continue
        key = key_of(name)
        if key not in known:
            raise UserError(f"control {name!r}: not a control of this page; controls: "
                            f"{', '.join(sorted(name_of(k) for k in known))}")
        out[key] = value
    return out


def parse_seed(value: Any) -> int:
    """The seed typed into the page: a whole number >= 0."""
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise UserError(f"seed: expected a whole number >= 0, found {text!r}")
    return int(text)
