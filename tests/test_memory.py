"""`memory.keep_freed_memory`: after it, arrays of a few MB made and freed again and again
reuse the same pages instead of faulting fresh ones in (glibc; elsewhere it says no)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from simulator import memory
from simulator.model import MarketModel

#: A step's pattern in small: a few arrays of a few MB made, filled and freed, many times;
#: prints the page faults of all but the first round.
CHURN = """
import resource, sys
import numpy as np
from simulator import memory
if sys.argv[1] == "on":
    assert memory.keep_freed_memory()
def round_():
    arrays = [np.ones(3 * 2**20 // 8) for _ in range(3)]
    return sum(a.sum() for a in arrays)
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    round_()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True,
                         check=True)
    return int(out.stdout)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_freed_arrays_are_reused_without_page_faults():
    pages = 20 * 3 * 3 * 2**20 // 4096  # every page of every round
    # By default glibc trims the freed arrays off its heap's top and faults them in again.
    assert _faults("off") > pages // 2
    assert _faults("on") < pages // 50


def test_a_model_turns_it_on_once():
    MarketModel({"buyers": 20, "sellers": 3}, rng=1)
    if platform.libc_ver()[0] == "glibc":
        assert memory._done
        assert memory.keep_freed_memory()  # a second call is harmless
