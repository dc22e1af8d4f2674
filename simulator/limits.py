"""Sizes this machine can take: refuse, before anything runs, a market or a study too big for it.

Each field's range only bounds one number; a market with the largest buyers,
memory slots and candidates the schema allows still needs far more memory than
any machine has. `estimated_bytes` is a deliberately generous estimate of one
market's peak memory, measured with tracemalloc on the engine (about 1,500
bytes per buyer at the defaults, 40 per remembered seller, 90 per candidate,
220 per word-of-mouth neighbour, 450 per seller), times 1.25, plus 300 MB for
the interpreter and libraries.
"""

from __future__ import annotations

import os

from .errors import ConfigError

#: steps x replications x arms above this is refused: the per-step tables of `infogap run`
#: (about 40 metrics per row, plus segment rows) would need gigabytes.
MAX_TOTAL_STEPS = 5_000_000

_PER_BUYER = 800            # bytes: buyer table, pool beliefs, per-step temporaries
_PER_MEMORY_SLOT = 40       # per buyer and remembered seller
_PER_CANDIDATE = 90         # per buyer and sampled seller (the (n, K+1) choice arrays)
_PER_NEIGHBOUR = 220        # per buyer and word-of-mouth neighbour (the network)
_PER_SELLER = 450
_MECHANISMS = 300           # per buyer, when any optional mechanism is on
_MARGIN = 1.25
_BASELINE = 300 * 2**20     # interpreter, numpy, numba, pandas


def total_memory() -> int | None:
    """Bytes of physical memory, from os.sysconf or /proc/meminfo; None when unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def estimated_bytes(params, steps: int) -> int:
    """A generous estimate of one market's peak memory over `steps` steps."""
    buyers = params.buyers * (1 + params.arrivals.rate * steps)  # arrivals may add rows
    sellers = params.sellers
    if params.entry.enabled:
        sellers = max(sellers, params.entry.max_sellers or 4 * params.sellers)
    candidates = params.choice.candidates
    if params.comparison_site.enabled:  # the site's listed sellers are candidates too
        candidates += params.comparison_site.listed
    per_buyer = (_PER_BUYER + _PER_MEMORY_SLOT * params.beliefs.memory
                 + _PER_CANDIDATE * candidates)
    if params.word_of_mouth.enabled:
        per_buyer += _PER_NEIGHBOUR * params.word_of_mouth.degree
    if any(getattr(table, "enabled", False) for table in vars(params).values()):
        per_buyer += _MECHANISMS
    return int(_MARGIN * (buyers * per_buyer + sellers * _PER_SELLER)) + _BASELINE


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_fits_in_memory(params, steps: int, where: str) -> None:
    """Refuse a market whose estimated peak memory exceeds this machine's memory."""
    have = total_memory()
    need = estimated_bytes(params, steps)
    if have is not None and need > have:
        raise ConfigError(where, "", message=(
            f"{where}: expected a market that fits in this machine's memory ({_gib(have)}), "
            f"found one that needs about {_gib(need)} ({params.buyers:,} buyers x "
            f"{params.beliefs.memory} remembered sellers x {params.choice.candidates} "
            f"candidates, {params.sellers:,} sellers); make it smaller"))


def check_total_steps(steps: int, replications: int, arms: int, where: str) -> None:
    total = steps * replications * arms
    if total > MAX_TOTAL_STEPS:
        raise ConfigError(where, "", message=(
            f"{where}: expected steps x replications x arms of at most {MAX_TOTAL_STEPS:,}, "
            f"found {steps:,} x {replications:,} x {arms} = {total:,}; lower steps or "
            "replications (or use `infogap sweep`, which keeps no per-step tables)"))
