"""Fuzzing `infogap validate` with mutated shipped scenarios and experiments (issue 11).

Each mutant is a shipped file with one mutation (a deleted line, a value of another type
or size, a renamed key, a nested table, a truncation, inserted bytes, ...). Validating it
in-process must end with exit status 0 or 2 and never a traceback. Fixed seed, so a
failure is reproducible: the assertion names the mutation class and the mutant's text.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from pathlib import Path

import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261203
MUTANTS_PER_FILE = 27  # 3 of each class per file: about 20 s on a quiet machine

#: Values a key may be given instead of its own: other types, huge, negative, NaN-like.
HOSTILE_VALUES = [
    '"abc"', '""', "true", "false", "[]", "{}", "[1, \"a\"]", "{ a = 1 }", "0", "-1", "-0.0",
    "1e308", "-1e308", "nan", "-inf", "inf", "9223372036854775808", "-9223372036854775809",
    "1" + "0" * 40, "0.5", "1.5", "2", "1000000000", "1979-05-27", "12:30:00",
    '"' + "x" * 300 + '"', '"a\\u0000b"', '"a\\nb"', '"all"', '"../etc"', "[[1], [2]]",
    "[" * 40 + "]" * 40, '"transparent"', '"grid"', '"log"', "[1.0, 0.5]", "[0, 1e9]",
]
#: Key names a key may be renamed to.
HOSTILE_KEYS = ["buyer", "all", '"two words"', '"a.b"', '"é"', "x" * 80, "segments", "market",
                "scenario", "factors", "levels", "values", '""']
INSERTED = [b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\n", b"[", b"]", b"=", b'"', b"'''",
            b"\r", b"\t", b"[[x]]\n", b"\xe9", b"#", b"{", b"\\"]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _assignments(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines)
            if "=" in line and not line.lstrip().startswith(("#", "["))]


def _headers(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line.lstrip().startswith("[")]


def delete_line(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    del lines[rng.randrange(len(lines))]
    return "".join(lines)


def change_value(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    i = rng.choice(_assignments(lines) or [0])
    key = lines[i].split("=", 1)[0]
    lines[i] = f"{key}= {rng.choice(HOSTILE_VALUES)}\n"
    return "".join(lines)


def scale_number(text: str, rng: random.Random) -> str:
    """A number multiplied by a huge factor, negated or zeroed."""
    lines = _lines(text)
    numeric = [i for i in _assignments(lines)
               if lines[i].split("=", 1)[1].strip().replace(".", "", 1).replace("_", "")
               .isdigit()]
    if not numeric:
        return change_value(text, rng)
    i = rng.choice(numeric)
    key, value = lines[i].split("=", 1)
    number = float(value.strip().replace("_", ""))
    factor = rng.choice([10**6, 10**9, 10**12, -1, 0, 1e-9])
    new = number * factor
    shown = str(int(new)) if rng.random() < 0.5 and abs(new) < 1e30 else repr(float(new))
    if float(shown) == number:  # zero scaled stays zero: make it huge instead
        shown = "-1e12"
    lines[i] = f"{key}= {shown}\n"
    return "".join(lines)


def rename_key(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    if rng.random() < 0.5 and _headers(lines):
        i = rng.choice(_headers(lines))
        parts = lines[i].strip().strip("[]").split(".")
        parts[rng.randrange(len(parts))] = rng.choice(HOSTILE_KEYS)
        lines[i] = "[" + ".".join(parts) + "]\n"
    else:
        i = rng.choice(_assignments(lines) or [0])
        value = lines[i].split("=", 1)[1] if "=" in lines[i] else " 1\n"
        lines[i] = f"{rng.choice(HOSTILE_KEYS)} ={value}"
    return "".join(lines)


def nest_table(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    if rng.random() < 0.5 and _headers(lines):
        i = rng.choice(_headers(lines))
        inner = lines[i].strip().strip("[]")
        extra = ".".join(rng.choice(["x", "market", "taste", "segments", "all", "market"])
                         for _ in range(rng.randint(1, 6)))
        lines[i] = f"[{inner}.{extra}]\n" if rng.random() < 0.7 else f"[[{inner}]]\n"
    else:
        i = rng.choice(_assignments(lines) or [0])
        if "=" in lines[i]:
            key, value = lines[i].split("=", 1)
            depth = rng.choice([1, 5, 50, 3000])
            lines[i] = f"{key}= " + "{ a = " * depth + value.strip() + " }" * depth + "\n"
    return "".join(lines)


def table_to_value(text: str, rng: random.Random) -> str:
    """A whole table (header and body) replaced by one value, e.g. `market = 5`."""
    lines = _lines(text)
    heads = _headers(lines)
    if not heads:
        return change_value(text, rng)
    i = rng.choice(heads)
    j = next((h for h in heads if h > i), len(lines))
    name = lines[i].strip().strip("[]")
    value = rng.choice(HOSTILE_VALUES)
    if "." in name and rng.random() < 0.5:  # [a.b.c] -> [a.b] with c = value
        parent, leaf = name.rsplit(".", 1)
        return "".join(lines[:i] + [f"[{parent}]\n{leaf} = {value}\n"] + lines[j:])
    return f"{name} = {value}\n" + "".join(lines[:i] + lines[j:])


def truncate(text: str, rng: random.Random) -> str:
    return text[:rng.randrange(len(text))]


def insert_bytes(text: str, rng: random.Random) -> bytes:
    raw = text.encode()
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + rng.choice(INSERTED) * rng.randint(1, 3) + raw[at:]


def duplicate_table(text: str, rng: random.Random) -> str:
    """A table's lines repeated, or a dotted key added beside its table (given twice)."""
    lines = _lines(text)
    heads = _headers(lines)
    if not heads:
        return text + text
    i = rng.choice(heads)
    j = next((h for h in heads if h > i), len(lines))
    return "".join(lines[:j] + lines[i:j] + lines[j:])


MUTATIONS = {
    "delete a line": delete_line,
    "change a value's type or size": change_value,
    "scale a number (huge, negative, zero)": scale_number,
    "rename a key": rename_key,
    "nest a table or value": nest_table,
    "replace a table by a value": table_to_value,
    "truncate the file": truncate,
    "insert bytes": insert_bytes,
    "repeat a table": duplicate_table,
}


def shipped() -> list[Path]:
    return sorted((ROOT / "scenarios").glob("*.toml")) + sorted(
        (ROOT / "experiments").glob("*.toml"))


def fuzz(tmp_path: Path, mutants_per_file: int = MUTANTS_PER_FILE, seed: int = SEED
         ) -> tuple[Counter, list[str]]:
    """Validate every mutant in-process; (class, outcome) counts and the failures seen.

    Experiments are written beside a copy of the shipped scenarios, so their relative
    `scenario` paths still resolve and the experiment itself is what is mutated.
    """
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    (tmp_path / "experiments").mkdir()
    rng = random.Random(seed)
    outcomes: Counter = Counter()
    failures: list[str] = []
    names = list(MUTATIONS)
    for source in shipped():
        text = source.read_text()
        for n in range(mutants_per_file):
            kind = names[n % len(names)]
            mutant = MUTATIONS[kind](text, rng)
            path = tmp_path / ("experiments" if source.parent.name == "experiments"
                               else "mutants") / f"{source.stem}-{n}.toml"
            path.parent.mkdir(exist_ok=True)
            if isinstance(mutant, bytes):
                path.write_bytes(mutant)
            else:
                path.write_text(mutant, encoding="utf-8")
            outcome = _validate(path)
            outcomes[kind, outcome] += 1
            if outcome not in ("exit 0", "exit 2"):
                failures.append(f"{kind} on {source.name} ({outcome}):\n{mutant!r}"[:600])
    return outcomes, failures


def _validate(path: Path) -> str:
    import contextlib
    import io

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(["validate", str(path)])
    except SystemExit as stop:
        status = stop.code
    except Exception as exc:  # noqa: BLE001 - a traceback is exactly what the test looks for
        return f"traceback: {type(exc).__name__}: {exc}"
    text = err.getvalue()
    if "Traceback" in text:
        return "traceback printed"
    if status == 2 and len(text.strip().splitlines()) != 1:
        return f"exit 2 with {len(text.strip().splitlines())} lines"
    return f"exit {status}"


def test_mutated_shipped_files_end_in_exit_0_or_2_without_traceback(tmp_path):
    outcomes, failures = fuzz(tmp_path)
    tried = sum(outcomes.values())
    assert tried == len(shipped()) * MUTANTS_PER_FILE
    assert not failures, f"{len(failures)} of {tried} mutants failed; first:\n{failures[0]}"
    for kind in MUTATIONS:  # every class really mutates: some of its mutants are refused
        assert outcomes[kind, "exit 2"] > 0, kind


@pytest.mark.parametrize("kind", list(MUTATIONS))
def test_each_mutation_changes_the_file(kind):
    text = (ROOT / "scenarios" / "lemons.toml").read_text()
    rng = random.Random(SEED)
    changed = [MUTATIONS[kind](text, rng) for _ in range(5)]
    assert all(m != text and m != text.encode() for m in changed)


if __name__ == "__main__":  # the table quoted in the closing note of issue 11
    import tempfile
    import time

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        outcomes, failures = fuzz(Path(folder))
    print(f"{sum(outcomes.values())} mutants in {time.perf_counter() - start:.0f} s, "
          f"{len(failures)} failures")
    for kind in MUTATIONS:
        ends = {o: c for (k, o), c in sorted(outcomes.items()) if k == kind}
        print(f"  {kind}: {ends}")
    for failure in failures[:5]:
        print(failure)
