"""Dropout's random numbers, drawn as cs231n draws them.

The course's ``dropout_forward`` calls ``np.random.seed(seed)`` whenever
dropout_param has a 'seed' key (in either mode), then draws
``np.random.rand(*x.shape)``: NumPy's global generator, float64 uniforms,
whatever x's dtype.  fastnn draws the very same numbers the same way, so
that ``np.random.seed(231)`` at the top of a notebook fixes fastnn's masks
too, a seeded call reseeds the global generator that the course Solver's
batch sampling then uses, and float32 and float64 get the same mask.

fastnn.layers draws them in compiled code (:mod:`fastnn.kernels.cpu.mt19937`,
NumPy's algorithm run on the global generator's own state, under its lock),
so the global generator ends where ``np.random.rand`` would have left it;
the reference draws with NumPy.
"""

import ctypes

import numpy as np


def reseed(dropout_param):
    """``np.random.seed(dropout_param['seed'])`` when the key is present, as the course does."""
    if "seed" in dropout_param:
        seed = dropout_param["seed"]
        try:
            np.random.seed(seed)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"dropout_param['seed']: expected None or an integer seed for np.random.seed "
                f"(0 to 2**32 - 1), got {seed!r}"
            ) from exc


def dropout_uniforms(shape):
    """``np.random.rand(*shape)``: float64 uniforms in [0, 1) from NumPy's global generator."""
    return np.random.random_sample(shape)


_view = None  # (bit generator, its words, its position): arrays over the generator's own memory


def global_mt19937():
    """
    The global generator's MT19937 state as arrays over its own memory, with its lock.

    Returns (words, position, lock): a uint32 array of shape (624,) and an
    int32 array of shape (1,), both writable views of the state struct, or
    None when ``np.random``'s global generator is not an MT19937 (another was
    set with ``np.random.set_bit_generator``), or its state is not laid out
    as ``{uint32 key[624]; int pos}`` (checked against ``.state`` on first
    use): then the caller draws with NumPy.
    """
    global _view
    get = getattr(np.random, "get_bit_generator", None)  # NumPy >= 1.25
    bitgen = get() if get is not None else None
    if type(bitgen) is not np.random.MT19937:
        return None
    if _view is None or _view[0] is not bitgen:
        address = bitgen.ctypes.state_address
        words = np.ctypeslib.as_array((ctypes.c_uint32 * 624).from_address(address))
        position = np.ctypeslib.as_array((ctypes.c_int32 * 1).from_address(address + words.nbytes))
        state = bitgen.state["state"]
        if not (np.array_equal(words, state["key"]) and position[0] == state["pos"]):
            return None
        _view = (bitgen, words, position)
    return _view[1], _view[2], _view[0].lock


# ------------------------------------------------------- the GPU's generator
#
# fastnn.cuda cannot draw NumPy's MT19937 stream in parallel, so its dropout
# masks come from Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel
# random numbers: as easy as 1, 2, 3", SC'11; the Random123 library's
# constants), a counter-based generator: any element's random word is a
# function of its index and a key, so every GPU thread computes its own.
# This is its NumPy twin, the oracle of kernels/cuda/dropout.py.

PHILOX_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
PHILOX_KEY_STEPS = (0x9E3779B9, 0xBB67AE85)
WORD_MASK = 0xFFFFFFFF


def philox4x32(counters, key):
    """
    Philox4x32-10 of each counter under one key.

    Inputs:
    - counters: Integer array of shape (M, 4), 32-bit words
    - key: Two 32-bit words

    Returns a uint64 array of shape (M, 4) holding the 32-bit output words.
    """
    c = [np.asarray(counters, np.uint64)[:, i].copy() for i in range(4)]
    k0, k1 = int(key[0]), int(key[1])
    m0, m1 = np.uint64(PHILOX_MULTIPLIERS[0]), np.uint64(PHILOX_MULTIPLIERS[1])
    word, shift = np.uint64(WORD_MASK), np.uint64(32)
    for _ in range(10):
        p0, p1 = m0 * c[0], m1 * c[2]
        c = [(p1 >> shift) ^ c[1] ^ np.uint64(k0), p1 & word, (p0 >> shift) ^ c[3] ^ np.uint64(k1), p0 & word]
        k0, k1 = (k0 + PHILOX_KEY_STEPS[0]) & WORD_MASK, (k1 + PHILOX_KEY_STEPS[1]) & WORD_MASK
    return np.stack(c, axis=1)


def philox_uniforms(n, key):
    """
    The GPU dropout's n uniforms under ``key``: element k is word k % 4 of
    counter (k // 4, 0, 0, 0), divided by 2**32 (exactly, in float64).
    """
    blocks = -(-n // 4)
    counters = np.zeros((blocks, 4), np.uint64)
    counters[:, 0] = np.arange(blocks, dtype=np.uint64)
    return philox4x32(counters, key).reshape(-1)[:n] / 2.0**32


def philox_key():
    """A fresh key for one GPU dropout call: two words from NumPy's global generator."""
    return tuple(int(w) for w in np.random.randint(0, 2**32, size=2, dtype=np.uint64))
