"""Experiment files: which scenario, which factors to vary and how, validated before anything runs.

An experiment is TOML with an `[experiment]` table (scenario, design, sizes,
metrics), a `[factors]` table (dotted market keys with values or ranges), an
optional `[fixed]` table (dotted keys set on every run) and an optional
`[analyze]` table. Every mistake is one `UserError` naming the file, the key
path, what was expected and what was found.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..metrics import HEADLINE, METRICS
from ..params import MarketParams, ParamError, iter_fields, suggest
from ..scenario import Scenario, read_toml

DESIGNS = ("grid", "random", "lhs", "sobol", "morris")
SCALES = ("linear", "log")
TOP_LEVEL_KEYS = ("experiment", "factors", "fixed", "analyze")
EXPERIMENT_KEYS = ("name", "description", "scenario", "arms", "design", "samples", "levels",
                   "second_order", "replications", "seed", "steps", "window", "metrics",
                   "series_every")
FACTOR_KEYS = ("values", "range", "levels", "scale")
ANALYZE_KEYS = ("heatmaps",)

#: A sweep larger than this is refused as almost certainly a typo.
MAX_RUNS = 2_000_000
#: A grid factor given as an integer range without `levels` enumerates at most this many values.
MAX_INTEGER_LEVELS = 1000


@dataclass(frozen=True)
class Factor:
    """One varied market key: a list of values, or a numeric range (linear or log)."""

    key: str                      # dotted, starting with "market."
    kind: str                     # the parameter's type: float, int, bool or str
    values: tuple | None = None
    low: float | None = None
    high: float | None = None
    levels: int | None = None     # grid only, with a range
    scale: str = "linear"

    @property
    def is_range(self) -> bool:
        return self.values is None

    def from_unit(self, u: float) -> Any:
        """The factor value at position u in [0, 1] of its range or value list."""
        if not self.is_range:
            index = min(int(u * len(self.values)), len(self.values) - 1)
            return self.values[index]
        return self.from_design(self.design_bounds()[0]
                                + u * (self.design_bounds()[1] - self.design_bounds()[0]))

    def design_bounds(self) -> tuple[float, float]:
        """Bounds in the space samplers draw in (log space for scale = "log")."""
        if self.scale == "log":
            return math.log(self.low), math.log(self.high)
        return float(self.low), float(self.high)

    def from_design(self, x: float) -> Any:
        """A design-space coordinate turned into the parameter value (exp, rounding, clipping)."""
        value = math.exp(x) if self.scale == "log" else float(x)
        value = min(max(value, self.low), self.high)
        return int(round(value)) if self.kind == "int" else value

    def grid_values(self) -> tuple:
        if not self.is_range:
            return self.values
        if self.levels is None:  # integer range: every integer
            return tuple(range(int(self.low), int(self.high) + 1))
        lo, hi = self.design_bounds()
        if self.levels == 1:
            return (self.from_design(lo),)
        return tuple(self.from_design(lo + i * (hi - lo) / (self.levels - 1))
                     for i in range(self.levels))


@dataclass
class Experiment:
    """A validated experiment; `scenario` already has the `[fixed]` overrides applied."""

    path: Path
    name: str
    description: str
    scenario_path: Path
    scenario: Scenario = field(repr=False)
    arms: tuple[str, ...]
    design: str
    samples: int | None
    levels: int
    second_order: bool
    replications: int
    seed: int
    steps: int
    window: float
    metrics: tuple[str, ...]
    series_every: int
    fixed: dict[str, Any]
    factors: tuple[Factor, ...]
    heatmaps: tuple[tuple[str, str], ...]

    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.factors)

    def describe(self) -> dict[str, Any]:
        """Everything that defines the runs, as JSON-able data (stored with the results)."""
        return {
            "name": self.name, "description": self.description,
            "experiment_file": str(self.path), "scenario_file": str(self.scenario_path),
            "arms": list(self.arms), "design": self.design, "samples": self.samples,
            "levels": self.levels, "second_order": self.second_order,
            "replications": self.replications, "seed": self.seed, "steps": self.steps,
            "window": self.window, "metrics": list(self.metrics),
            "series_every": self.series_every, "fixed": self.fixed,
            "factors": [asdict(f) for f in self.factors],
            "heatmaps": [list(h) for h in self.heatmaps],
        }


def factors_from_description(data: dict[str, Any]) -> tuple[Factor, ...]:
    """The factors of a stored `Experiment.describe()` (used by the analysis)."""
    out = []
    for f in data["factors"]:
        values = tuple(f["values"]) if f["values"] is not None else None
        out.append(Factor(**{**f, "values": values}))
    return tuple(out)


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file (and the scenario it names)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such experiment file" if not path.exists()
                        else f"{path}: expected an experiment .toml file, found a folder")
    data = read_toml(path)
    try:
        return _parse(data, path)
    except ParamError as exc:
        raise UserError(f"{path}: {exc}") from None


# -- parsing ------------------------------------------------------------------------------------
def _parse(data: dict[str, Any], path: Path) -> Experiment:
    _known(data, TOP_LEVEL_KEYS, "", "an experiment has [experiment], [factors], [fixed] and "
           "[analyze] tables")
    table = _table(data, "experiment", required=True)
    _known(table, EXPERIMENT_KEYS, "experiment.")

    scenario_path = _scenario_path(path, _get(table, "scenario", str, required=True))
    fixed = _dotted_table(_table(data, "fixed"), "fixed")
    scenario = Scenario.load(scenario_path)
    for key, value in fixed.items():
        _check_market_key(key, f"fixed.\"{key}\"")
        _check_value(scenario.arms[scenario.baseline], key, value, f"fixed.\"{key}\"")
    scenario = _with_fixed(scenario, fixed, path)

    name = _get(table, "name", str, default=path.stem)
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ParamError("experiment.name", "a name usable as a folder name", name)
    design = _choice(table, "design", DESIGNS, default="grid")
    arms = _arms(table, scenario)
    metrics = _metrics(table)

    factors = _factors(_table(data, "factors", required=True), design, scenario.arms[arms[0]])
    samples = _samples(table, design, len(factors))
    levels = _get(table, "levels", int, default=4)
    if "levels" in table and design != "morris":
        raise ParamError("experiment.levels", "no 'levels' (it sets the Morris grid; a grid "
                         "factor takes its own levels)", levels)
    if design == "morris" and (levels < 2 or levels % 2):
        raise ParamError("experiment.levels", "an even number >= 2 (Morris grid levels)", levels)
    second_order = _get(table, "second_order", bool, default=False)
    if "second_order" in table and design != "sobol":
        raise ParamError("experiment.second_order", "no 'second_order' (only for design = "
                         "'sobol')", second_order)

    replications = _get(table, "replications", int, default=scenario.replications)
    _bounded("experiment.replications", replications, 1, 10_000)
    steps = _get(table, "steps", int, default=scenario.steps)
    _bounded("experiment.steps", steps, 1, 1_000_000)
    seed = _get(table, "seed", int, default=scenario.seed)
    _bounded("experiment.seed", seed, 0, 2**63 - 1)
    window = _get(table, "window", float, default=scenario.window)
    if not 0 < window <= 1:
        raise ParamError("experiment.window", "a fraction in (0, 1]", window)
    series_every = _get(table, "series_every", int, default=0)
    _bounded("experiment.series_every", series_every, 0, steps)

    experiment = Experiment(
        path=path, name=name, description=_get(table, "description", str, default=""),
        scenario_path=scenario_path, scenario=scenario, arms=arms, design=design,
        samples=samples, levels=levels, second_order=second_order, replications=replications,
        seed=seed, steps=steps, window=window, metrics=metrics, series_every=series_every,
        fixed=fixed, factors=factors, heatmaps=_heatmaps(_table(data, "analyze"), factors),
    )
    _check_arms_leave_factors_alone(experiment)
    return experiment


def _known(table: dict, names: tuple[str, ...], prefix: str, hint: str = "") -> None:
    for key in table:
        if key not in names:
            where = f"{prefix}{key}"
            raise ParamError(where, "a known key", key, message=(
                f"{where}: unknown key{suggest(key, list(names))}; "
                + (hint or f"known keys here: {', '.join(names)}")))


def _table(data: dict, key: str, *, required: bool = False) -> dict:
    if key not in data:
        if required:
            raise ParamError(key, f"a [{key}] table", "none",
                             message=f"{key}: expected a [{key}] table, found none")
        return {}
    if not isinstance(data[key], dict):
        raise ParamError(key, "a table", data[key])
    return data[key]


_TYPE_WORDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}


def _get(table: dict, key: str, kind: type, *, default: Any = None, required: bool = False
         ) -> Any:
    path = f"experiment.{key}"
    if key not in table:
        if required:
            raise ParamError(path, _TYPE_WORDS[kind], "nothing",
                             message=f"{path}: expected {_TYPE_WORDS[kind]}, found nothing "
                             f"(the key is required)")
        return default
    value = table[key]
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ParamError(path, _TYPE_WORDS[kind], value)
    return value


def _bounded(path: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ParamError(path, f"a value in [{low}, {high}]", value)


def _choice(table: dict, key: str, choices: tuple[str, ...], default: str) -> str:
    value = _get(table, key, str, default=default)
    if value not in choices:
        raise ParamError(f"experiment.{key}",
                         f"one of {', '.join(choices)}{suggest(value, list(choices))}", value)
    return value


def _scenario_path(path: Path, text: str) -> Path:
    """Relative to the experiment file first, then to the working folder."""
    candidates = [path.parent / text, Path(text)]
    for candidate in candidates:
        if candidate.is_file():
            return Path(os.path.normpath(candidate))
    raise ParamError("experiment.scenario", "an existing scenario file", text, message=(
        f"experiment.scenario: no scenario file {text!r} (looked in {candidates[0]} and "
        f"{candidates[1].resolve()})"))


def _with_fixed(scenario: Scenario, fixed: dict[str, Any], path: Path) -> Scenario:
    try:
        return scenario.with_overrides(fixed)
    except UserError as exc:  # e.g. a fixed value that contradicts an arm's own setting
        text = str(exc).replace(" (set on the command line)", " (from [fixed])")
        raise UserError(f"{path}: [fixed] does not fit the scenario: {text}") from None


def _arms(table: dict, scenario: Scenario) -> tuple[str, ...]:
    if "arms" not in table:
        return (scenario.baseline,)
    arms = table["arms"]
    if not isinstance(arms, list) or not arms or not all(isinstance(a, str) for a in arms):
        raise ParamError("experiment.arms", "a non-empty list of arm names", arms)
    for i, arm in enumerate(arms):
        if arm not in scenario.arms:
            raise ParamError(f"experiment.arms[{i}]", f"an arm of {scenario.path} "
                             f"({', '.join(scenario.arm_names)}){suggest(arm, scenario.arm_names)}",
                             arm)
    if len(set(arms)) != len(arms):
        raise ParamError("experiment.arms", "each arm once", arms)
    return tuple(arms)


def _metrics(table: dict) -> tuple[str, ...]:
    if "metrics" not in table:
        return HEADLINE
    metrics = table["metrics"]
    if not isinstance(metrics, list) or not metrics:
        raise ParamError("experiment.metrics", "a non-empty list of metric names", metrics)
    for i, name in enumerate(metrics):
        if name not in METRICS:
            raise ParamError(f"experiment.metrics[{i}]", "a metric name"
                             f"{suggest(str(name), list(METRICS))} (one of {', '.join(METRICS)})",
                             name)
    return tuple(metrics)


def _samples(table: dict, design: str, n_factors: int) -> int | None:
    if design == "grid":
        if "samples" in table:
            raise ParamError("experiment.samples", "no 'samples' for design = 'grid' (its size "
                             "is the product of the factors' levels)", table["samples"])
        return None
    what = {"random": "the number of design points", "lhs": "the number of design points",
            "sobol": "the base sample size N (a power of 2; runs N x (D + 2) points)",
            "morris": "the number of trajectories (runs r x (D + 1) points)"}[design]
    samples = _get(table, "samples", int, required=True)
    if samples < (2 if design == "morris" else 1) or samples > MAX_RUNS:
        raise ParamError("experiment.samples", f"{what}, at least "
                         f"{2 if design == 'morris' else 1}", samples)
    if design == "sobol" and samples & (samples - 1):
        raise ParamError("experiment.samples", f"{what}, e.g. {1 << samples.bit_length() - 1} "
                         f"or {1 << samples.bit_length()}", samples)
    return samples


def _dotted_table(table: dict, where: str) -> dict[str, Any]:
    """`{"market.a.b": v}` from either quoted dotted keys or nested tables."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            for sub, leaf in _dotted_table(value, f"{where}.{key}").items():
                out[f"{key}.{sub}"] = leaf
        else:
            out[key] = value
    return out


def _factor_tables(table: dict, prefix: str = "") -> dict[str, Any]:
    """Flatten nested `[factors.market.x]` tables down to the factor specs."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and not set(value) & set(FACTOR_KEYS) and value:
            out.update(_factor_tables(value, full + "."))
        else:
            out[full] = value
    return out


_MARKET_FIELDS = {f"market.{key}": (kind, meta) for key, kind, _, meta in iter_fields()}


def _market_field(key: str) -> tuple[str, dict] | None:
    """(type name, metadata) of a market leaf; a `NAME` part of the schema (e.g. a buyer
    segment's name) matches any name."""
    if key in _MARKET_FIELDS:
        return _MARKET_FIELDS[key]
    parts = key.split(".")
    for pattern, found in _MARKET_FIELDS.items():
        names = pattern.split(".")
        if len(names) == len(parts) and all(
                n == "NAME" or n == q for n, q in zip(names, parts, strict=True)):
            return found
    return None


def _check_market_key(key: str, where: str) -> tuple[str, dict]:
    found = _market_field(key)
    if found is None:
        raise ParamError(where, "a market key", key, message=(
            f"{where}: unknown market key{suggest(key, list(_MARKET_FIELDS))}; factors and fixed "
            f"values are dotted keys such as market.prospect.lam (see docs/scenarios.md)"))
    return found


def lookup(params: MarketParams, key: str) -> Any:
    """The value of dotted market `key` in `params` (through tables and named segments)."""
    node: Any = params
    for part in key.split(".")[1:]:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _check_value(base: MarketParams, key: str, value: Any, where: str) -> Any:
    """The value as the market parameter would take it, or a ParamError located at `where`."""
    parts = key.split(".")
    if parts[1] == "segments" and parts[2] not in base.segments:
        names = list(base.segments)
        raise ParamError(where, "", message=(
            f"{where}: no buyer segment named '{parts[2]}' in the scenario"
            f"{suggest(parts[2], names)} (segments: {', '.join(names) or 'none'})"))
    try:
        params = base.replace(**{key.removeprefix("market."): value})
    except ParamError as exc:
        raise ParamError(where, exc.expected, value) from None
    return lookup(params, key)


def _factors(table: dict, design: str, base: MarketParams) -> tuple[Factor, ...]:
    specs = _factor_tables(table)
    if not specs:
        raise ParamError("factors", "at least one factor, e.g. \"market.taste.value\" = "
                         "{ range = [1.0, 3.0], levels = 5 }", "none")
    return tuple(_factor(key, spec, design, base) for key, spec in specs.items())


def _factor(key: str, spec: Any, design: str, base: MarketParams) -> Factor:
    where = f"factors.\"{key}\""
    kind, _meta = _check_market_key(key, where)
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, dict):
        raise ParamError(where, "a list of values or a table with 'values' or 'range'", spec)
    _known(spec, FACTOR_KEYS, f"{where}.")
    if ("values" in spec) == ("range" in spec):
        raise ParamError(where, "exactly one of 'values' (a list) or 'range' ([low, high])",
                         "both" if "values" in spec else "neither",
                         message=f"{where}: expected exactly one of 'values' (a list) or "
                         f"'range' ([low, high]), found "
                         f"{'both' if 'values' in spec else 'neither'}")
    scale = spec.get("scale", "linear")
    if scale not in SCALES:
        raise ParamError(f"{where}.scale", f"one of {', '.join(SCALES)}", scale)

    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise ParamError(f"{where}.values", "a non-empty list", values)
        checked = tuple(_check_value(base, key, v, f"{where}.values[{i}]") for i, v in enumerate(values))
        if len(set(checked)) != len(checked):
            raise ParamError(f"{where}.values", "distinct values", values)
        for extra in ("levels", "scale"):
            if extra in spec:
                raise ParamError(f"{where}.{extra}", f"no '{extra}' with a 'values' list",
                                 spec[extra])
        if design in ("sobol", "morris"):
            raise ParamError(where, "", message=f"{where}: expected a numeric 'range' (design "
                             f"'{design}' samples continuous ranges), found a 'values' list")
        return Factor(key=key, kind=kind, values=checked)

    if kind not in ("int", "float"):
        raise ParamError(f"{where}.range", f"a 'values' list ({key} is a {kind})", spec["range"])
    rng = spec["range"]
    if (not isinstance(rng, list) or len(rng) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in rng)):
        raise ParamError(f"{where}.range", "two numbers [low, high]", rng)
    low = _check_value(base, key, rng[0], f"{where}.range[0]")
    high = _check_value(base, key, rng[1], f"{where}.range[1]")
    if not low < high:
        raise ParamError(f"{where}.range", "low < high", rng)
    if scale == "log" and low <= 0:
        raise ParamError(f"{where}.range[0]", "a positive low end (scale = 'log')", rng[0])
    levels = spec.get("levels")
    if design == "grid":
        if levels is None and kind == "float":
            raise ParamError(f"{where}.levels", "a number of grid levels for a float range",
                             "nothing")
        if levels is None and high - low + 1 > MAX_INTEGER_LEVELS:
            raise ParamError(f"{where}.levels", f"a number of levels (the range spans more than "
                             f"{MAX_INTEGER_LEVELS} integers)", "nothing")
        if levels is not None and (not isinstance(levels, int) or isinstance(levels, bool)
                                   or levels < 1):
            raise ParamError(f"{where}.levels", "a whole number >= 1", levels)
    elif levels is not None:
        raise ParamError(f"{where}.levels", f"no 'levels' (design '{design}' draws from the "
                         "range; levels are for design = 'grid')", levels)
    factor = Factor(key=key, kind=kind, low=low, high=high, levels=levels, scale=scale)
    if design == "grid" and kind == "int":
        grid = factor.grid_values()
        if len(set(grid)) != len(grid):
            raise ParamError(f"{where}.levels", f"at most {int(high - low) + 1} levels (the "
                             "integers in the range)", levels)
    return factor


def _heatmaps(table: dict, factors: tuple[Factor, ...]) -> tuple[tuple[str, str], ...]:
    _known(table, ANALYZE_KEYS, "analyze.")
    names = [f.key for f in factors]
    if "heatmaps" not in table:
        return ((names[0], names[1]),) if len(names) >= 2 else ()
    pairs = table["heatmaps"]
    if not isinstance(pairs, list):
        raise ParamError("analyze.heatmaps", "a list of [x factor, y factor] pairs", pairs)
    out = []
    for i, pair in enumerate(pairs):
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(p, str) for p in pair) or pair[0] == pair[1]):
            raise ParamError(f"analyze.heatmaps[{i}]", "two different factor keys", pair)
        for j, name in enumerate(pair):
            if name not in names:
                raise ParamError(f"analyze.heatmaps[{i}][{j}]", f"a factor key"
                                 f"{suggest(name, names)} (one of {', '.join(names)})", name)
        out.append((pair[0], pair[1]))
    return tuple(out)


def _check_arms_leave_factors_alone(experiment: Experiment) -> None:
    """An arm that sets a varied key would silently undo the factor: refuse it."""
    probe = {}
    for factor in experiment.factors:
        values = factor.grid_values() if factor.levels or not factor.is_range else (
            factor.low, factor.high)
        probe[factor.key] = values
    for arm in experiment.arms:
        for key, values in probe.items():
            for value in values[:2]:
                arm_params = experiment.scenario.with_overrides({key: value}).arms[arm]
                if lookup(arm_params, key) != value:
                    raise UserError(
                        f"{experiment.path}: factors.\"{key}\": arm '{arm}' of "
                        f"{experiment.scenario_path} sets {key} itself, so the factor would not "
                        f"vary there; drop the arm from experiment.arms or the factor")
