"""x**e as exp(e * log x) in plain arithmetic, so numba can vectorise loops over it.

The CPT value of a lottery raises every payoff to alpha or beta. libm's `pow`
is a scalar call (~14 ns on the project machine) that stops LLVM from
vectorising the loop around it; `power` below is a few dozen additions and
multiplications (fdlibm's log polynomial, a degree-13 Taylor series for exp
after the usual ln 2 reduction), so a loop over a buffer of payoffs runs four
lanes at a time (~5 ns per power). It differs from libm's pow by at most
1 + |e ln x| ulp (the rounding of e ln x; 3 ulp for x in [1e-3, 1e3]; the
tests hold it there); `in_range` says where it applies, and callers use
`x ** e` outside. The arithmetic is plain IEEE double (no
fused multiply-add, no fast-math), so results do not depend on the CPU.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from . import numba_import  # noqa: F401  (before any kernel loads: see there)

#: Magnitudes the fast path accepts; with |e| <= 1, e * log x stays well inside exp's range.
TINY, HUGE = 1e-300, 1e300

_EXPONENT_SHIFT = np.uint64(52)
_ONE_BITS = np.uint64(0x3FF0000000000000)
_MANTISSA_MASK = np.uint64(0x000FFFFFFFFFFFFF)
_SQRT_HALF_OFFSET = np.uint64(0x3FF0000000000000 - 0x3FE6A09E667F3BCD)  # 1.0 - sqrt(1/2)
_TWO52_BITS = np.uint64(0x4330000000000000)  # 2**52: integer bits -> exact double
_TWO52_PLUS_BIAS = 4503599627370496.0 + 1023.0
_ROUND_SHIFT = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer
_BIAS = np.int64(1023)

# fdlibm e_log.c
_LG1, _LG2, _LG3 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01
_LG4, _LG5, _LG6 = 2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_FACTORIALS = (479001600.0, 39916800.0, 3628800.0, 362880.0, 40320.0, 5040.0, 720.0, 120.0,
               24.0, 6.0, 2.0, 1.0, 1.0)  # 12! down to 0!


@intrinsic
def _bits(typingctx, x):
    """The IEEE bits of a float64 as a uint64 (a bit cast, no conversion)."""
    if isinstance(x, types.Float) and x.bitwidth == 64:
        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], context.get_value_type(types.uint64))
        return types.uint64(x), codegen
    return None


@intrinsic
def _from_bits(typingctx, u):
    """The float64 whose IEEE bits are the 64-bit integer u."""
    if isinstance(u, types.Integer) and u.bitwidth == 64:
        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], context.get_value_type(types.float64))
        return types.float64(u), codegen
    return None


@njit(cache=True, inline="always", error_model="numpy")
def log(x):
    """Natural log of a positive normal double (fdlibm's polynomial, < 1 ulp)."""
    ix = _bits(x)
    exponent = (ix + _SQRT_HALF_OFFSET) >> _EXPONENT_SHIFT  # so that m is in [sqrt(1/2), sqrt(2))
    m = _from_bits(ix - (exponent << _EXPONENT_SHIFT) + _ONE_BITS)
    k = _from_bits(_TWO52_BITS | exponent) - _TWO52_PLUS_BIAS
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
    hfsq = 0.5 * f * f
    return k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)


@njit(cache=True, inline="always", error_model="numpy")
def exp(y):
    """e**y for |y| < 700: y = k ln 2 + r, |r| <= ln(2)/2, Taylor to r**13, times 2**k."""
    shifted = y * _INV_LN2 + _ROUND_SHIFT
    k = shifted - _ROUND_SHIFT
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0  # 1/13!, then Horner down to 1/0!
    for factorial in _FACTORIALS:
        p = 1.0 / factorial + r * p
    # The low bits of `shifted` hold k; shifted into the exponent field they make 2**k.
    scale = _from_bits((np.int64(_bits(shifted)) + _BIAS) << np.int64(52))
    return p * scale


@njit(cache=True, inline="always", error_model="numpy")
def power(x, e):
    """x**e for x in [TINY, HUGE] and |e| <= 1 (exactly x when e == 1)."""
    if e == 1.0:
        return x
    return exp(e * log(x))


@njit(cache=True, inline="always", error_model="numpy")
def signed_binade(x):
    """(k, u) with |x| = 2**(k - 1023) * u, u in [1, 2), for a finite normal double; k is
    the biased exponent (0 for 0 and subnormals, 2047 for inf and nan) plus 2048 where x
    is negative (its sign bit). Read from the bits: two integer operations that
    vectorise."""
    ix = _bits(x)
    return ix >> _EXPONENT_SHIFT, _from_bits((ix & _MANTISSA_MASK) | _ONE_BITS)


def binade_powers(e: float, lower: bool) -> np.ndarray:
    """(2**(k - 1023))**e for every biased exponent k (the scale `signed_binade` pairs with). At
    k = 0 (0 and subnormals) it is 0 for a `lower` bound and 2**(-1022 e) for an upper one,
    and nan at k = 2047, so bounds built on them stay bounds (or say nothing) there."""
    k = np.arange(2048, dtype=float)
    k[0] = 0.0 if lower else 1.0
    with np.errstate(over="ignore", under="ignore"):
        out = np.exp2((k - 1023.0) * e)
    if lower:
        out[0] = 0.0
    out[-1] = np.nan
    return out


@njit(cache=True, inline="always")
def in_range(x):
    return x >= TINY and x <= HUGE
