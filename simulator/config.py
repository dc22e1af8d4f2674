"""The configuration engine: typed dataclass trees, read from TOML, validated in one place.

Market parameters (simulator.params), the `[scenario]` table (simulator.scenario)
and the `[experiment]` table (simulator.sweep.experiment) are dataclasses whose
fields carry their documentation and accepted values (`doc`, `range`, `choices`).
`build` turns a nested dict into such a tree, `iter_fields`/`schema_field` walk
the schema (a `NAME` part stands for any name of a `dict[str, X]` table, e.g.
a buyer segment), and `read_toml` reads a file defensively. Every mistake is a
`ConfigError` naming the key path, what was expected and what was found.
"""

from __future__ import annotations

import difflib
import math
import re
import stat
import tomllib
import types
import unicodedata
from dataclasses import field, fields, is_dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from .errors import ConfigError, UserError

#: Configuration files above this size are refused (the shipped ones are a few kilobytes).
MAX_FILE_BYTES = 1 << 20
#: Tables and lists nested deeper than this are refused (the schemas need at most 6).
MAX_DEPTH = 32
#: Names that become folder names: letters, digits, '_', '-', '.'; at most 64 characters.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NAME_RULE = "letters, digits, '_', '-' or '.' (at most 64, usable as a folder name)"


def setting(default: Any, doc: str, *, range: tuple | None = None,
            choices: tuple | None = None, factory=None, **shown: str):
    """A dataclass field carrying its documentation and accepted values.

    `shown` holds documentation-only overrides: `shown_default`, `shown_range`, and
    `expected` (the wording of the range check's message).
    """
    meta: dict[str, Any] = {"doc": doc, **shown}
    if range is not None:
        meta["range"] = range
    if choices is not None:
        meta["choices"] = choices
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


_HINTS: dict[type, dict[str, Any]] = {}


def hints(cls: type) -> dict[str, Any]:
    """The resolved type of each field of dataclass `cls` (cached)."""
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def _plain_type(kind: Any) -> Any:
    """`int | None` -> int: None is a default meaning "not given", never a TOML value."""
    if get_origin(kind) in (Union, types.UnionType):
        options = [a for a in get_args(kind) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return kind


def named_tables(kind: Any) -> type | None:
    """X for a `dict[str, X]` field of dataclasses X (tables under user-chosen names)."""
    if get_origin(kind) is dict:
        value = get_args(kind)[1]
        if is_dataclass(value):
            return value
    return None


def check_keys(table: dict, names: list[str] | tuple[str, ...], where: str,
               hint: str = "", what: str = "key") -> None:
    """Refuse a key of `table` that is not in `names`, suggesting the closest."""
    for key in table:
        if key not in names:
            path = f"{where}.{key}" if where else str(key)
            raise ConfigError(path, "a known key", key, message=(
                f"{path}: unknown {what}{suggest(key, list(names))}; "
                + (hint or f"known keys here: {', '.join(names)}")))


def build(cls: type, data: Any, where: str):
    """An instance of dataclass `cls` from a (partial) nested dict, every value checked."""
    if not isinstance(data, dict):
        raise ConfigError(where, "a table", data)
    check_keys(data, [f.name for f in fields(cls)], where)
    kinds = hints(cls)
    values = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        path = f"{where}.{f.name}"
        kind = _plain_type(kinds[f.name])
        if is_dataclass(kind):
            values[f.name] = build(kind, data[f.name], path)
        elif (inner := named_tables(kind)) is not None:
            tables = data[f.name]
            if not isinstance(tables, dict):
                raise ConfigError(path, "a table of named tables", tables)
            values[f.name] = {name: build(inner, table, f"{path}.{name}")
                              for name, table in tables.items()}
        else:
            values[f.name] = coerce(kind, data[f.name], path, f.metadata)
    return cls(**values)


_TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def type_word(kind: Any) -> str:
    if get_origin(kind) is list:
        return f"a list of {_TYPE_WORDS[get_args(kind)[0]].removeprefix('a ')}s"
    return _TYPE_WORDS[kind]


def coerce(kind: Any, value: Any, path: str, meta: dict) -> Any:
    """`value` as type `kind` (ints accepted for floats), within its range and choices."""
    if get_origin(kind) is list:
        item = get_args(kind)[0]
        if not isinstance(value, list) or not value:
            raise ConfigError(path, f"a non-empty {type_word(kind).removeprefix('a ')}", value)
        return [coerce(item, v, f"{path}[{i}]", {}) for i, v in enumerate(value)]
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, "true or false", value)
        return value
    if kind is int:
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        ):
            raise ConfigError(path, "a whole number", value)
        value = int(value)
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path, "a number", value)
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(path, "a finite number", value)
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(path, "a string", value)
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(path, f"one of {', '.join(choices)}"
                          f"{suggest(str(value), list(choices))}", value)
    bounds = meta.get("range")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise ConfigError(path, meta.get("expected", f"a value in [{bounds[0]}, {bounds[1]}]"),
                          value)
    return value


# -- the schema as dotted keys -------------------------------------------------------------
def iter_fields(cls: type, prefix: str = ""):
    """Yield (dotted key, type name, default, field metadata) for every leaf of `cls`."""
    kinds = hints(cls)
    defaults = cls()
    for f in fields(cls):
        kind = _plain_type(kinds[f.name])
        key = f"{prefix}{f.name}"
        if (inner := named_tables(kind)) is not None:
            yield from iter_fields(inner, key + ".NAME.")
        elif is_dataclass(kind):
            yield from iter_fields(kind, key + ".")
        else:
            name = getattr(kind, "__name__", str(kind))
            yield key, name, getattr(defaults, f.name), f.metadata


_LEAVES: dict[type, dict[str, tuple[str, dict]]] = {}


def schema_field(cls: type, dotted: str) -> tuple[str, dict] | None:
    """(type name, metadata) of leaf `dotted` of `cls`, or None. A `NAME` part of the schema
    (a named table such as a buyer segment) matches any one name."""
    if cls not in _LEAVES:
        _LEAVES[cls] = {key: (kind, meta) for key, kind, _, meta in iter_fields(cls)}
    leaves = _LEAVES[cls]
    if dotted in leaves:
        return leaves[dotted]
    parts = dotted.split(".")
    for pattern, found in leaves.items():
        names = pattern.split(".")
        if len(names) == len(parts) and all(
                n == "NAME" or n == q for n, q in zip(names, parts, strict=True)):
            return found
    return None


def schema_keys(cls: type) -> list[str]:
    return [key for key, *_ in iter_fields(cls)]


# -- dotted keys in nested dicts -----------------------------------------------------------
def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set `a.b.c` in a nested dict, creating tables on the way."""
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(key, "a path through tables", node)
    node[parts[-1]] = value


def flatten_dotted(tree: dict[str, Any], prefix: str = "", *, where: str | None = None,
                   leaf=None) -> dict[str, Any]:
    """Dotted key -> value for every leaf of a nested dict (the inverse of set_dotted).

    With `where` (the table's name in a file), a key reached twice, e.g. as a quoted dotted
    key and through nested tables, is refused rather than one copy silently dropped. `leaf`
    (a predicate on a table) stops the descent at tables that are values themselves.
    """
    out: dict[str, Any] = {}
    for key, value in tree.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and value and not (leaf and leaf(value)):
            items = flatten_dotted(value, f"{full}.", where=where, leaf=leaf).items()
        else:
            items = [(full, value)]
        for name, item in items:
            if name in out and where is not None:
                raise ConfigError(f"{where}.\"{name}\"", "each key once", "it twice (as a "
                                  "dotted key and in a table)", message=(
                                      f"{where}.\"{name}\": given twice (as a dotted key and "
                                      f"through a table); give it once"))
            out[name] = item
    return out


# -- names ---------------------------------------------------------------------------------
def check_name(value: str, path: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ConfigError(path, NAME_RULE, value)
    return value


def default_name(stem: str, fallback: str) -> str:
    """A valid name from a file name: accents dropped, other characters turned into '_'."""
    ascii_ = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_).strip("_.-")[:64]
    return name if NAME_PATTERN.match(name) else fallback


# -- files ---------------------------------------------------------------------------------
def read_toml(path: Path, what: str = "scenario") -> dict[str, Any]:
    """The parsed file, or a UserError saying why it cannot be read.

    Refuses what is not a regular file (a folder, /dev/zero, a pipe), files above
    MAX_FILE_BYTES and nesting deeper than MAX_DEPTH; accepts a UTF-8 byte order mark.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UserError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"{path}: is a folder, expected a {what} .toml file")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{path}: expected a regular {what} .toml file, found a device, pipe "
                        f"or socket")
    if info.st_size > MAX_FILE_BYTES:
        raise UserError(f"{path}: expected a {what} file of at most {MAX_FILE_BYTES:,} bytes, "
                        f"found {info.st_size:,} bytes")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file ({exc.strerror})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise UserError(f"{path}: expected a {what} file of at most {MAX_FILE_BYTES:,} bytes, "
                        "found more")
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: expected UTF-8 text, found an undecodable byte at offset "
                        f"{exc.start}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise UserError(f"{path}: expected tables and lists nested at most {MAX_DEPTH} deep, "
                        "found deeper nesting") from None
    try:
        check_depth(data)
    except ConfigError as exc:
        raise exc.located(path) from None
    return data


def check_depth(tree: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse tables and lists nested deeper than `limit` (walked without recursion)."""
    stack = [(tree, "", 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > limit:
            raise ConfigError(where or "(top level)", f"tables and lists nested at most {limit} "
                              "deep", "deeper nesting", message=(
                                  f"{where}: expected tables and lists nested at most {limit} "
                                  "deep, found deeper nesting"))
        if isinstance(node, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1)
                         for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(node))


def parse_assignment(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` from the command line; VALUE is read as TOML, or as a bare string."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(f"--set {text}: expected KEY=VALUE, e.g. --set market.buyers=200")
    value = value.strip()
    try:
        parsed = tomllib.loads(f"v = {value}")
    except (tomllib.TOMLDecodeError, RecursionError):
        return key, value
    return key, parsed["v"] if list(parsed) == ["v"] else value
