"""Keep the memory a step frees for the next step, instead of handing it back to Linux.

A step makes dozens of arrays of a few MB (one entry per buyer and candidate) and frees
them. glibc's malloc gives arrays that size their own mapping, or returns the top of its
heap to the kernel once more than a few MB there are free; either way the next step's
arrays land on fresh pages, and every 4 kB page costs a page fault and a zeroing. In a
10,000-buyer market with every mechanism on that was ~2,100 faults a step, a third of
the step's CPU time (docs/performance.md). With the thresholds below, arrays up to 32 MB
come from the heap and up to 256 MB of freed heap stays mapped, so steady steps fault
almost never. Results are untouched (where memory comes from changes no number); peak
memory is the same peak. Process-wide, glibc only (elsewhere a no-op).
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: mallopt parameters (glibc malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Arrays up to this size come from the heap (glibc's own ceiling for its dynamic one).
MMAP_THRESHOLD = 32 * 2**20
#: Freed heap kept mapped for reuse.
TRIM_THRESHOLD = 256 * 2**20

_done = False


def keep_freed_memory() -> bool:
    """Set glibc's thresholds once per process; False where there is no glibc mallopt."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
