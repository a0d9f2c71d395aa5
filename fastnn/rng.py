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
