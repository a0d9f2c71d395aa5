"""NumPy's legacy generator (MT19937, as in ``np.random.rand``), compiled.

Dropout's mask must be the course's ``np.random.rand(*x.shape) < p`` from
NumPy's global generator, bit for bit.  Drawn by NumPy, those uniforms
took 23.5 ms at (4096, 1024), 5.6 ns each, 94% of dropout's forward
(measured).  Here the same stream is produced from the generator's state
(624 words and a position, the arrays of :func:`fastnn.rng.global_mt19937`)
by the reference algorithm, in loops that vectorise:

* the twist regenerates all 624 words at once (two loops with no
  dependency shorter than a vector, as in ``mt19937_gen``);
* the tempering runs over a whole run of words;
* each double takes two words, ``a = w0 >> 5``, ``b = w1 >> 6``, as
  ``(a * 2**26 + b) / 2**53`` (NumPy's ``mt19937_next_double``; the division
  by a power of two is the exact product by its inverse).

The words are advanced in place and the caller stores the new position,
so the global generator ends where ``np.random.rand`` would have left it.
``tests/test_norm_dropout.py`` checks masks and final states against NumPy's
across block boundaries and odd starting positions.
"""

import numpy as np
from numba import njit

STATE_WORDS = 624
_SHIFT = 397


@njit(cache=True)
def _mix(current, following, far):
    y = (np.int64(current) & 0x80000000) | (np.int64(following) & 0x7FFFFFFF)
    return np.int64(far) ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)


@njit(cache=True)
def twist(key, old):
    """
    Regenerate the 624 words of ``key`` (uint32) in place: NumPy's ``mt19937_gen``.

    ``old`` (uint32, 624) is scratch: the words before the twist are copied
    there and read from it, so the loops store to one array and load from
    another.  Twisting in place, each store aliasing the next loads, kept
    them scalar: 4.1 ns a word.  From the copy, through slices of both
    arrays, 0.48 ns; indexing the two arrays directly (the loop counters
    start at 0, so no negative-index checks) 0.15 ns (measured).
    """
    n, m = STATE_WORDS, _SHIFT
    for i in range(n):
        old[i] = key[i]
    for i in range(n - m):
        key[i] = _mix(old[i], old[i + 1], old[i + m])
    # These read words the first loop (and, 227 words back, this one) wrote.
    for i in range(m - 1):
        key[n - m + i] = _mix(old[n - m + i], old[n - m + 1 + i], key[i])
    key[n - 1] = _mix(old[n - 1], key[0], key[m - 1])


@njit(cache=True)
def _temper_into(src, dst):
    for k in range(src.size):
        y = np.int64(src[k])
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        dst[k] = y


@njit(cache=True)
def next_words(key, pos, words, old):
    """
    Fill ``words`` with the generator's next outputs; returns the new position.

    Parameters
    ----------
    key : uint32 ndarray, shape (624,)
        The state, advanced in place.
    pos : int
        Words of ``key`` already used (624: a twist is due).
    words : uint32 ndarray, shape (k,)
    old : uint32 ndarray, shape (624,)
        Scratch for :func:`twist`.
    """
    filled = 0
    while filled < words.size:
        if pos == STATE_WORDS:
            twist(key, old)
            pos = 0
        take = min(STATE_WORDS - pos, words.size - filled)
        _temper_into(key[pos : pos + take], words[filled : filled + take])
        pos += take
        filled += take
    return pos


@njit(cache=True)
def uniforms_from_words(words, out):
    """``out[i] = (words[2i] >> 5) * 2**-27 + (words[2i+1] >> 6) * 2**-53``, NumPy's doubles in [0, 1)."""
    for i in range(out.size):
        a = np.float64(words[2 * i] >> np.uint32(5))
        b = np.float64(words[2 * i + 1] >> np.uint32(6))
        out[i] = (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)
