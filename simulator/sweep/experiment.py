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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import (
    build,
    check_keys,
    check_name,
    default_name,
    flatten_dotted,
    read_toml,
    setting,
    suggest,
)
from ..errors import ConfigError, UserError
from ..limits import check_fits_in_memory
from ..metrics import HEADLINE, METRICS
from ..params import MarketParams, check_existing_segment, market_field, market_keys
from ..scenario import MAX_STEPS, Scenario, ScenarioSettings
from .design import count_points

DESIGNS = ("grid", "random", "lhs", "sobol", "morris")
SCALES = ("linear", "log")
TOP_LEVEL_KEYS = ("experiment", "factors", "fixed", "analyze")
FACTOR_KEYS = ("values", "range", "levels", "scale")
ANALYZE_KEYS = ("heatmaps",)

#: A sweep of more runs (design points x arms x replications) is refused before anything is
#: built: it is almost certainly a typo, and its plan alone would need gigabytes.
MAX_RUNS = 2_000_000
#: A grid factor given as an integer range without `levels` enumerates at most this many values.
MAX_INTEGER_LEVELS = 1000


def _like_scenario(key: str) -> dict[str, Any]:
    """The range of a `[scenario]` setting, so the two tables cannot disagree."""
    meta = next(f.metadata for f in fields(ScenarioSettings) if f.name == key)
    return {k: v for k, v in meta.items() if k in ("range", "expected")}


@dataclass
class ExperimentSettings:
    """The `[experiment]` table; None means "not given" (the scenario's value, or none)."""

    name: str = setting("", "Name of the experiment; the default output folder is sweeps/NAME.")
    description: str = setting("", "What the experiment shows.")
    scenario: str = setting("", "The base scenario file (required).")
    arms: list[str] | None = setting(None, "Arms of the scenario to run at every point.")
    design: str = setting("grid", "How design points are chosen.", choices=DESIGNS)
    samples: int | None = setting(None, "Size of a random, lhs, sobol or morris design.")
    levels: int | None = setting(None, "Morris only: grid levels (even).")
    second_order: bool | None = setting(None, "Sobol only: second-order indices.")
    replications: int | None = setting(None, "Runs per design point and arm.",
                                       **_like_scenario("replications"))
    seed: int | None = setting(None, "Root seed of the runs and the design.",
                               **_like_scenario("seed"))
    steps: int | None = setting(None, "Steps per run.", **_like_scenario("steps"))
    window: float | None = setting(None, "Fraction of the final steps summarised.",
                                   **_like_scenario("window"))
    metrics: list[str] | None = setting(None, "Metrics the report analyses.")
    series_every: int = setting(0, "Store every metric every N steps (0 = summaries only).",
                                range=(0, MAX_STEPS))


EXPERIMENT_KEYS = tuple(f.name for f in fields(ExperimentSettings))


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

    def level_count(self) -> int:
        """How many values a grid gives this factor, without making them."""
        if not self.is_range:
            return len(self.values)
        if self.levels is None:
            return int(self.high) - int(self.low) + 1
        return self.levels

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
    data = read_toml(path, "experiment")
    try:
        return _parse(data, path)
    except ConfigError as exc:
        raise exc.located(path) from None


def count_runs(experiment: Experiment) -> int:
    """Rows of the sweep's table: design points x arms x replications (nothing is built)."""
    points = count_points(experiment.design, experiment.factors, experiment.samples,
                          experiment.second_order)
    return points * len(experiment.arms) * experiment.replications


# -- parsing ------------------------------------------------------------------------------------
def _parse(data: dict[str, Any], path: Path) -> Experiment:
    check_keys(data, TOP_LEVEL_KEYS, "", "an experiment has [experiment], [factors], [fixed] "
               "and [analyze] tables")
    settings = build(ExperimentSettings, _table(data, "experiment", required=True), "experiment")
    if not settings.scenario:
        raise ConfigError("experiment.scenario", "a string", None, message=(
            "experiment.scenario: expected a string, found nothing (the key is required)"))

    scenario_path = _scenario_path(path, settings.scenario)
    fixed = flatten_dotted(_table(data, "fixed"), where="fixed")
    scenario = Scenario.load(scenario_path)
    for key, value in fixed.items():
        where = f"fixed.\"{key}\""
        _check_market_key(key, where)
        _check_value([scenario.arms[scenario.baseline]], key, value, where)
    scenario = _with_fixed(scenario, fixed, path)

    name = (check_name(settings.name, "experiment.name") if settings.name
            else default_name(path.stem, "experiment"))
    design = settings.design
    arms = _arms(settings.arms, scenario)
    metrics = _metrics(settings.metrics)

    bases = [scenario.arms[arm] for arm in arms]
    factors = _factors(_table(data, "factors", required=True), design, bases)
    samples = _samples(settings.samples, design)
    levels = 4 if settings.levels is None else settings.levels
    if settings.levels is not None and design != "morris":
        raise ConfigError("experiment.levels", "no 'levels' (it sets the Morris grid; a grid "
                          "factor takes its own levels)", levels)
    if design == "morris" and (levels < 2 or levels % 2):
        raise ConfigError("experiment.levels", "an even number >= 2 (Morris grid levels)",
                          levels)
    if settings.second_order is not None and design != "sobol":
        raise ConfigError("experiment.second_order", "no 'second_order' (only for design = "
                          "'sobol')", settings.second_order)

    replications = _or(settings.replications, scenario.replications)
    steps = _or(settings.steps, scenario.steps)
    seed = _or(settings.seed, scenario.seed)
    window = _or(settings.window, scenario.window)
    if not 0 < window <= 1:
        raise ConfigError("experiment.window", "a fraction in (0, 1]", window)
    if settings.series_every > steps:
        raise ConfigError("experiment.series_every", f"a value in [0, {steps}] (the steps)",
                          settings.series_every)

    experiment = Experiment(
        path=path, name=name, description=settings.description,
        scenario_path=scenario_path, scenario=scenario, arms=arms, design=design,
        samples=samples, levels=levels, second_order=bool(settings.second_order),
        replications=replications, seed=seed, steps=steps, window=window, metrics=metrics,
        series_every=settings.series_every, fixed=fixed, factors=factors,
        heatmaps=_heatmaps(_table(data, "analyze"), factors),
    )
    _check_size(experiment)
    for factor in factors:
        _check_distinct_levels(factor)
    _check_arms_leave_factors_alone(experiment)
    return experiment


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _check_size(experiment: Experiment) -> None:
    """Count the runs before anything is built, and check the largest market fits in memory."""
    runs = count_runs(experiment)
    if runs > MAX_RUNS:
        levels = " x ".join(str(f.level_count()) for f in experiment.factors)
        points = (f"{levels} grid points" if experiment.design == "grid"
                  else f"{experiment.design} with samples = {experiment.samples}")
        where = "factors" if experiment.design == "grid" else "experiment.samples"
        raise ConfigError(where, "", message=(
            f"{where}: expected a sweep of at most {MAX_RUNS:,} runs, found {runs:,} ("
            f"{points}, x {len(experiment.arms)} arms x {experiment.replications} "
            "replications); make the design smaller"))
    largest = {}
    for factor in experiment.factors:
        ends = factor.values if not factor.is_range else (factor.low, factor.high)
        numbers = [v for v in ends if isinstance(v, int | float) and not isinstance(v, bool)]
        if numbers:
            largest[factor.key.removeprefix("market.")] = max(numbers)
    for arm in experiment.arms:
        params = experiment.scenario.arms[arm]
        try:
            params = params.replace(**largest)
        except ConfigError:
            pass  # the corner is not a valid market; each design point is checked on its own
        check_fits_in_memory(params, experiment.steps, f"factors (at their largest values, "
                             f"arm '{arm}')")


def _table(data: dict, key: str, *, required: bool = False) -> dict:
    if key not in data:
        if required:
            raise ConfigError(key, f"a [{key}] table", "none",
                              message=f"{key}: expected a [{key}] table, found none")
        return {}
    if not isinstance(data[key], dict):
        raise ConfigError(key, "a table", data[key])
    return data[key]


def _scenario_path(path: Path, text: str) -> Path:
    """Relative to the experiment file first, then to the working folder."""
    candidates = [path.parent / text, Path(text)]
    for candidate in candidates:
        try:
            if candidate.is_file():
                return Path(os.path.normpath(candidate))
        except (OSError, ValueError):  # a name too long, or with a NUL byte
            continue
    try:
        elsewhere = candidates[1].resolve()
    except (OSError, ValueError):
        elsewhere = candidates[1]
    raise ConfigError("experiment.scenario", "an existing scenario file", text, message=(
        f"experiment.scenario: no scenario file {text!r} (looked in {candidates[0]} and "
        f"{elsewhere})"))


def _with_fixed(scenario: Scenario, fixed: dict[str, Any], path: Path) -> Scenario:
    try:
        return scenario.with_overrides(fixed)
    except UserError as exc:  # e.g. a fixed value that contradicts an arm's own setting
        text = str(exc).replace(" (set on the command line)", " (from [fixed])")
        raise UserError(f"{path}: [fixed] does not fit the scenario: {text}") from None


def _arms(arms: list[str] | None, scenario: Scenario) -> tuple[str, ...]:
    if arms is None:
        return (scenario.baseline,)
    for i, arm in enumerate(arms):
        if arm not in scenario.arms:
            raise ConfigError(f"experiment.arms[{i}]", f"an arm of {scenario.path} "
                              f"({', '.join(scenario.arm_names)})"
                              f"{suggest(arm, scenario.arm_names)}", arm)
    if len(set(arms)) != len(arms):
        raise ConfigError("experiment.arms", "each arm once", arms)
    return tuple(arms)


def _metrics(metrics: list[str] | None) -> tuple[str, ...]:
    if metrics is None:
        return HEADLINE
    for i, name in enumerate(metrics):
        if name not in METRICS:
            raise ConfigError(f"experiment.metrics[{i}]", "a metric name"
                              f"{suggest(str(name), list(METRICS))} (one of "
                              f"{', '.join(METRICS)})", name)
    return tuple(metrics)


def _samples(samples: int | None, design: str) -> int | None:
    if design == "grid":
        if samples is not None:
            raise ConfigError("experiment.samples", "no 'samples' for design = 'grid' (its "
                              "size is the product of the factors' levels)", samples)
        return None
    what = {"random": "the number of design points", "lhs": "the number of design points",
            "sobol": "the base sample size N (a power of 2; runs N x (D + 2) points)",
            "morris": "the number of trajectories (runs r x (D + 1) points)"}[design]
    if samples is None:
        raise ConfigError("experiment.samples", "a whole number", None, message=(
            "experiment.samples: expected a whole number, found nothing (the key is "
            "required)"))
    if samples < (2 if design == "morris" else 1) or samples > MAX_RUNS:
        raise ConfigError("experiment.samples", f"{what}, at least "
                          f"{2 if design == 'morris' else 1} and at most {MAX_RUNS:,}", samples)
    if design == "sobol" and samples & (samples - 1):
        raise ConfigError("experiment.samples", f"{what}, e.g. "
                          f"{1 << samples.bit_length() - 1} or {1 << samples.bit_length()}",
                          samples)
    return samples


def _is_factor_spec(table: dict) -> bool:
    return bool(set(table) & set(FACTOR_KEYS))


def _check_market_key(key: str, where: str) -> tuple[str, dict]:
    found = market_field(key.removeprefix("market.")) if key.startswith("market.") else None
    if found is None:
        options = [f"market.{k}" for k in market_keys()]
        raise ConfigError(where, "a market key", key, message=(
            f"{where}: unknown market key{suggest(key, options)}; factors and fixed "
            f"values are dotted keys such as market.prospect.lam (see docs/scenarios.md)"))
    return found


def lookup(params: MarketParams, key: str) -> Any:
    """The value of dotted market `key` in `params` (through tables and named segments)."""
    node: Any = params
    for part in key.split(".")[1:]:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _check_value(bases: list[MarketParams], key: str, value: Any, where: str) -> Any:
    """The value as the market parameter would take it, or a ConfigError located at `where`.
    A buyer segment must exist in every arm the experiment runs."""
    inner = key.removeprefix("market.")
    for base in bases:
        check_existing_segment(inner, list(base.segments), where)
    try:
        params = bases[0].replace(**{inner: value})
    except ConfigError as exc:
        raise ConfigError(where, exc.expected, value) from None
    return lookup(params, key)


def _factors(table: dict, design: str, bases: list[MarketParams]) -> tuple[Factor, ...]:
    specs = flatten_dotted(table, where="factors", leaf=_is_factor_spec)
    if not specs:
        raise ConfigError("factors", "at least one factor, e.g. \"market.taste.value\" = "
                          "{ range = [1.0, 3.0], levels = 5 }", "none")
    return tuple(_factor(key, spec, design, bases) for key, spec in specs.items())


def _factor(key: str, spec: Any, design: str, bases: list[MarketParams]) -> Factor:
    where = f"factors.\"{key}\""
    kind, _meta = _check_market_key(key, where)
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, dict):
        raise ConfigError(where, "a list of values or a table with 'values' or 'range'", spec)
    check_keys(spec, FACTOR_KEYS, where)
    if ("values" in spec) == ("range" in spec):
        found = "both" if "values" in spec else "neither"
        raise ConfigError(where, "exactly one of 'values' (a list) or 'range' ([low, high])",
                          found, message=f"{where}: expected exactly one of 'values' (a list) "
                          f"or 'range' ([low, high]), found {found}")
    scale = spec.get("scale", "linear")
    if scale not in SCALES:
        raise ConfigError(f"{where}.scale", f"one of {', '.join(SCALES)}", scale)

    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.values", "a non-empty list", values)
        checked = tuple(_check_value(bases, key, v, f"{where}.values[{i}]")
                        for i, v in enumerate(values))
        if len(set(checked)) != len(checked):
            raise ConfigError(f"{where}.values", "distinct values", values)
        for extra in ("levels", "scale"):
            if extra in spec:
                raise ConfigError(f"{where}.{extra}", f"no '{extra}' with a 'values' list",
                                  spec[extra])
        if design in ("sobol", "morris"):
            raise ConfigError(where, "", message=f"{where}: expected a numeric 'range' (design "
                              f"'{design}' samples continuous ranges), found a 'values' list")
        return Factor(key=key, kind=kind, values=checked)

    if kind not in ("int", "float"):
        raise ConfigError(f"{where}.range", f"a 'values' list ({key} is a {kind})",
                          spec["range"])
    rng = spec["range"]
    if (not isinstance(rng, list) or len(rng) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in rng)):
        raise ConfigError(f"{where}.range", "two numbers [low, high]", rng)
    low = _check_value(bases, key, rng[0], f"{where}.range[0]")
    high = _check_value(bases, key, rng[1], f"{where}.range[1]")
    if not low < high:
        raise ConfigError(f"{where}.range", "low < high", rng)
    if scale == "log" and low <= 0:
        raise ConfigError(f"{where}.range[0]", "a positive low end (scale = 'log')", rng[0])
    levels = spec.get("levels")
    if design == "grid":
        if levels is None and kind == "float":
            raise ConfigError(f"{where}.levels", "a number of grid levels for a float range",
                              "nothing")
        if levels is None and high - low + 1 > MAX_INTEGER_LEVELS:
            raise ConfigError(f"{where}.levels", f"a number of levels (the range spans more "
                              f"than {MAX_INTEGER_LEVELS} integers)", "nothing")
        if levels is not None and (not isinstance(levels, int) or isinstance(levels, bool)
                                   or not 1 <= levels <= MAX_RUNS):
            raise ConfigError(f"{where}.levels", f"a whole number in [1, {MAX_RUNS:,}]", levels)
        if levels is not None and kind == "int" and levels > int(high) - int(low) + 1:
            raise ConfigError(f"{where}.levels", f"at most {int(high - low) + 1} levels (the "
                              "integers in the range)", levels)
    elif levels is not None:
        raise ConfigError(f"{where}.levels", f"no 'levels' (design '{design}' draws from the "
                          "range; levels are for design = 'grid')", levels)
    return Factor(key=key, kind=kind, low=low, high=high, levels=levels, scale=scale)


def _check_distinct_levels(factor: Factor) -> None:
    """Rounded integer levels must differ (checked once the sweep's size is known)."""
    if factor.is_range and factor.kind == "int" and factor.levels is not None:
        grid = factor.grid_values()
        if len(set(grid)) != len(grid):
            raise ConfigError(f"factors.\"{factor.key}\".levels", f"at most "
                              f"{len(set(grid))} levels (distinct integers once rounded)",
                              factor.levels)


def _heatmaps(table: dict, factors: tuple[Factor, ...]) -> tuple[tuple[str, str], ...]:
    check_keys(table, ANALYZE_KEYS, "analyze")
    names = [f.key for f in factors]
    if "heatmaps" not in table:
        return ((names[0], names[1]),) if len(names) >= 2 else ()
    pairs = table["heatmaps"]
    if not isinstance(pairs, list):
        raise ConfigError("analyze.heatmaps", "a list of [x factor, y factor] pairs", pairs)
    out = []
    for i, pair in enumerate(pairs):
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(p, str) for p in pair) or pair[0] == pair[1]):
            raise ConfigError(f"analyze.heatmaps[{i}]", "two different factor keys", pair)
        for j, name in enumerate(pair):
            if name not in names:
                raise ConfigError(f"analyze.heatmaps[{i}][{j}]", f"a factor key"
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
                try:
                    arm_params = experiment.scenario.with_overrides({key: value}).arms[arm]
                except ConfigError:  # a segment only some arms define: set on the arm itself
                    break
                if lookup(arm_params, key) != value:
                    raise UserError(
                        f"{experiment.path}: factors.\"{key}\": arm '{arm}' of "
                        f"{experiment.scenario_path} sets {key} itself, so the factor would not "
                        f"vary there; drop the arm from experiment.arms or the factor")
