"""Scenario files: markets side by side (arms), loaded and validated before anything runs.

A scenario file is TOML with a `[scenario]` table (how to run), a `[market]`
table (the base market) and one `[arms.NAME]` table per variant, whose
`[arms.NAME.market]` overrides any part of the base. Every mistake is reported
as one `UserError` naming the file, the key path, what was expected and what
was found, so the CLI can print it without a traceback.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from . import config
from .config import (
        build,
    check_keys,
    check_name,
    default_name,
    iter_fields,
    parse_assignment,
    set_dotted,
    setting,
    suggest,
)
from .errors import ConfigError
from .limits import check_fits_in_memory, check_total_steps
from .params import MarketParams, check_existing_segment, market_field, market_keys

__all__ = ["Scenario", "ScenarioSettings", "parse_assignment", "read_toml", "deep_merge",
           "key_tables", "docs_with_tables"]

TOP_LEVEL_KEYS = ("scenario", "market", "arms")
ARM_KEYS = ("description", "market")

#: Replications x steps x arms above this is refused as almost certainly a typo.
MAX_STEPS = 1_000_000
MAX_REPLICATIONS = 10_000
_ARM_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # no dots: keys are dotted


@dataclass
class ScenarioSettings:
    """The `[scenario]` table: what to call the study and how to run it."""

    name: str = setting("", "Name of the study; results go to results/NAME/. Letters, digits, "
                        "'_', '-', '.'.", shown_default="the file name without .toml")
    description: str = setting("", "What the scenario shows; printed at the top of the report.")
    steps: int = setting(100, "Steps (shopping periods) per run.", range=(1, MAX_STEPS))
    replications: int = setting(10, "Runs per arm. Replication r of every arm uses the same "
                                 "random streams (common random numbers).",
                                 range=(1, MAX_REPLICATIONS))
    seed: int = setting(0, "Root seed; replication seeds are spawned from it.",
                         range=(0, 2**63 - 1))
    window: float = setting(0.3, "Fraction of the final steps averaged into each "
                             "replication's summary value.", range=(0.0, 1.0),
                            shown_range="above 0, up to 1", expected="a fraction in (0, 1]")
    early: float = setting(0.0, "Fraction of the first steps also summarised as the early "
                            "period (early_summary.csv, early_comparison.csv), where "
                            "short-term effects show; 0 = none.", range=(0.0, 1.0))
    baseline: str = setting("", "The arm every other arm is compared to.",
                             shown_default="the first arm")


class Scenario:
    """A validated scenario: settings plus one fully merged `MarketParams` per arm."""

    def __init__(self, data: dict[str, Any], path: Path | None = None,
                 overrides: dict[str, Any] | None = None):
        self.path = Path(path) if path is not None else None
        self.overrides = dict(overrides or {})
        self._data = data
        where = str(self.path) if self.path is not None else "scenario"
        try:
            self._validate(copy.deepcopy(data), self.overrides)
        except ConfigError as exc:
            raise _located(exc, self.overrides).located(where) from None

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
        """Read and validate a scenario file; `overrides` are dotted keys (what `--set` gives)."""
        path = Path(path)
        return cls(read_toml(path), path=path, overrides=overrides)

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path | None = None) -> Scenario:
        """Build a scenario from the same nested dict a TOML file would give."""
        return cls(copy.deepcopy(data), path=path)

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A copy with more dotted-key overrides on top of this scenario's own."""
        return Scenario(self._data, path=self.path, overrides={**self.overrides, **overrides})

    # -- validation ---------------------------------------------------------------------
    def _validate(self, data: dict[str, Any], overrides: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise ConfigError("(top level)", "a TOML document", data)
        check_keys(data, TOP_LEVEL_KEYS, "", "a scenario has only [scenario], [market] and "
                   "[arms.NAME] tables", what="top-level table")
        for key in ("scenario", "market"):
            if key in data and not isinstance(data[key], dict):
                raise ConfigError(key, f"a [{key}] table", data[key])
        for key in overrides:
            _check_override_key(key, data)
        for key, value in overrides.items():
            set_dotted(data, key, value)

        settings = build(ScenarioSettings, data.get("scenario", {}), "scenario")
        if not settings.window > 0:
            raise ConfigError("scenario.window", "a fraction in (0, 1]", settings.window)
        if settings.name:
            check_name(settings.name, "scenario.name")
        else:
            stem = self.path.stem if self.path is not None else "scenario"
            settings.name = default_name(stem, "scenario")

        base = data.get("market", {})
        # locate mistakes of the base market (and a base too big for this machine) under "market."
        check_fits_in_memory(MarketParams.from_dict(base, where="market"), settings.steps,
                             "market")
        self.arms = _build_arms(data.get("arms"), base)
        self.arm_descriptions = {
            name: table.get("description", "") for name, table in data["arms"].items()
        }
        baseline = settings.baseline or next(iter(self.arms))
        if baseline not in self.arms:
            raise ConfigError("scenario.baseline", f"the name of an arm "
                              f"({', '.join(self.arms)}){suggest(baseline, list(self.arms))}",
                              baseline)
        check_total_steps(settings.steps, settings.replications, len(self.arms),
                          "scenario.steps")
        for name, params in self.arms.items():
            check_fits_in_memory(params, settings.steps, f"arms.{name}.market")

        self.name = settings.name
        self.description = settings.description
        self.steps = settings.steps
        self.replications = settings.replications
        self.seed = settings.seed
        self.window = settings.window
        self.early = settings.early
        self.baseline = baseline
        self.arm_names = [baseline] + [a for a in self.arms if a != baseline]

    # -- running (implemented in runner) -------------------------------------------------
    def run(self, replications: int | None = None, steps: int | None = None, workers: int = 1,
            progress: bool = True, panel: bool = False):
        """Run every arm `replications` times; returns `runner.Results` (with the buyer-period
        panel when `panel`)."""
        from .runner import run_scenario

        return run_scenario(self, replications=replications, steps=steps, workers=workers,
                            progress=progress, panel=panel)

    def __repr__(self) -> str:
        return (f"Scenario({self.name!r}, arms={self.arm_names}, steps={self.steps}, "
                f"replications={self.replications}, seed={self.seed})")


def read_toml(path: Path, what: str = "scenario") -> dict[str, Any]:
    """The parsed file, or a UserError saying why it cannot be read (see config.read_toml)."""
    return config.read_toml(path, what)


def _build_arms(arms: Any, base: dict[str, Any]) -> dict[str, MarketParams]:
    if arms is None or arms == {}:
        raise ConfigError("arms", "at least one [arms.NAME] table (e.g. [arms.transparent.market] "
                          "with information = \"transparent\")", "none",
                          message="arms: expected at least one [arms.NAME] table (e.g. "
                          "[arms.transparent.market] with information = \"transparent\"), "
                          "found none")
    if not isinstance(arms, dict):
        raise ConfigError("arms", "tables [arms.NAME]", arms)
    merged = {}
    for name, table in arms.items():
        where = f"arms.{name}"
        if not _ARM_PATTERN.match(name):
            raise ConfigError(where, "an arm name of letters, digits, '_' or '-'", name)
        if not isinstance(table, dict):
            raise ConfigError(where, "a table", table)
        check_keys(table, ARM_KEYS, where, f"an arm has 'description' and a [{where}.market] "
                   "table of overrides")
        if not isinstance(table.get("description", ""), str):
            raise ConfigError(f"{where}.description", "a string", table["description"])
        own = table.get("market", {})
        if not isinstance(own, dict):
            raise ConfigError(f"{where}.market", "a table", own)
        merged[name] = MarketParams.from_dict(deep_merge(base, own), where=f"{where}.market")
    return merged


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`base` with `top` laid over it, table by table (non-tables in `top` win)."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _segment_names(*markets: Any) -> list[str]:
    """The buyer segments named in these market tables (as a file gives them)."""
    names: list[str] = []
    for market in markets:
        segments = market.get("segments") if isinstance(market, dict) else None
        if isinstance(segments, dict):
            names += [n for n in segments if n not in names]
    return names


def _check_override_key(key: str, data: dict[str, Any]) -> None:
    """Refuse an override that does not name a real key, before it can create one."""
    parts = key.split(".")
    head = parts[0]
    where = f"--set {key}"
    if head == "scenario" and len(parts) == 2:
        names = [f.name for f in fields(ScenarioSettings)]
        if parts[1] in names:
            return
        raise _unknown_override(key, [f"scenario.{n}" for n in names])
    if head == "market":
        if market_field(".".join(parts[1:])) is None:
            raise _unknown_override(key, [f"market.{k}" for k in market_keys()])
        check_existing_segment(".".join(parts[1:]), _segment_names(data.get("market")), where)
        return
    if head == "arms" and len(parts) >= 4 and parts[2] == "market":
        arms = data.get("arms") if isinstance(data.get("arms"), dict) else {}
        if parts[1] not in arms:
            raise ConfigError(key, "an existing arm", parts[1], message=(
                f"--set {key}: no arm named '{parts[1]}'{suggest(parts[1], list(arms))}; "
                f"arms: {', '.join(arms) or 'none'}"))
        if market_field(".".join(parts[3:])) is None:
            raise _unknown_override(key, [f"arms.{parts[1]}.market.{k}" for k in market_keys()])
        arm = arms[parts[1]]
        own = arm.get("market") if isinstance(arm, dict) else None
        check_existing_segment(".".join(parts[3:]), _segment_names(data.get("market"), own),
                               where)
        return
    raise ConfigError(key, "a known key", key, message=(
        f"--set {key}: unknown key; expected scenario.KEY, market.KEY or "
        f"arms.NAME.market.KEY{suggest(key, [f'market.{k}' for k in market_keys()])}"))


def _unknown_override(key: str, options: list[str]) -> ConfigError:
    inside = [o for o in options if o.startswith(key + ".")]
    if inside:
        return ConfigError(key, "a key", key, message=(
            f"--set {key}: is a table, set one of its keys: {', '.join(inside)}"))
    return ConfigError(key, "a known key", key,
                       message=f"--set {key}: unknown key{suggest(key, options)}")


def _located(exc: ConfigError, overrides: dict[str, Any]) -> ConfigError:
    """The error, saying when the offending value came from the command line."""
    text = exc.detail
    if not text.startswith("--set ") and exc.path in overrides and text.startswith(exc.path):
        exc.detail = f"{exc.path} (set on the command line){text[len(exc.path):]}"
    return exc


# -- documentation ------------------------------------------------------------------------
def _describe_range(meta: dict[str, Any]) -> str:
    if "shown_range" in meta:
        return meta["shown_range"]
    if "choices" in meta:
        return " \\| ".join(f"`{c}`" for c in meta["choices"])
    if "range" in meta:
        low, high = meta["range"]
        return f"{_number(low)} to {_number(high)}"
    return ""


def _number(x: Any) -> str:
    """A range bound: whole numbers without '.0', big ones readable."""
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    if isinstance(x, int) and abs(x) >= 10**6:
        exponent = math.floor(math.log10(abs(x)))
        if x == 10**exponent:
            return f"10^{exponent}"
        if x == 2**63 - 1:
            return "2^63 - 1"
    if isinstance(x, int) and abs(x) >= 10**4:
        return f"{x:,}"
    return repr(x) if isinstance(x, float) else str(x)


def _default(default: Any, meta: dict[str, Any]) -> str:
    """A default exactly as one would write it in TOML."""
    if "shown_default" in meta:
        return meta["shown_default"]
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, str):
        return f'`"{default}"`'
    return f"`{default!r}`"


def key_tables() -> str:
    """Markdown tables of every scenario and market key, generated from the schemas."""
    lines = ["### `[scenario]`", "", "| key | type | default | range | meaning |",
             "|---|---|---|---|---|"]
    for key, kind, default, meta in iter_fields(ScenarioSettings):
        lines.append(f"| `{key}` | {kind} | {_default(default, meta)} | "
                     f"{_describe_range(meta)} | {meta['doc']} |")
    lines += ["", "### `[market]` (and `[arms.NAME.market]`)", "",
              "| key | type | default | range | meaning |", "|---|---|---|---|---|"]
    for key, kind, default, meta in iter_fields(MarketParams):
        lines.append(f"| `{key}` | {kind} | {_default(default, meta)} | "
                     f"{_describe_range(meta)} | {meta['doc']} |")
    return "\n".join(lines) + "\n"


DOCS_BEGIN = "<!-- BEGIN GENERATED KEY TABLES: python -m simulator.scenario --update-docs -->"
DOCS_END = "<!-- END GENERATED KEY TABLES -->"


def docs_with_tables(text: str) -> str:
    """`text` (docs/scenarios.md) with the generated block replaced by `key_tables()`."""
    head, _, rest = text.partition(DOCS_BEGIN)
    _, _, tail = rest.partition(DOCS_END)
    return f"{head}{DOCS_BEGIN}\n{key_tables()}{DOCS_END}{tail}"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--update-docs"]:
        doc = Path(__file__).resolve().parent.parent / "docs" / "scenarios.md"
        doc.write_text(docs_with_tables(doc.read_text()))
        print(f"updated {doc}")
    else:
        print("usage: python -m simulator.scenario --update-docs", file=sys.stderr)
        sys.exit(2)
