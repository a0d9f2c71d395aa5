"""Compiled first-order update rules with the cs231n contract.

``rule(w, dw, config=None) -> (next_w, config)``.  ``config`` holds the
hyper-parameters (defaults below, filled in on first use) and the rule's
state (``velocity``, ``cache``, ``m``, ``v``, ``t``), created as zeros on
first use.  Every update is one compiled pass (``fastnn.kernels.cpu.optim``).

State is used as given.  Without ``in_place``, ``w``, ``dw`` and the state
arrays compute in one dtype by the layers' rule (float32 stays float32;
integers count as float64; mixed float32 and float64 compute in float64, as
NumPy's ``w + v`` does in the course code), whatever their memory layout,
and caller arrays are never written: ``next_w`` and the new state are new
arrays, as in cs231n's ``next_w = w + v; config["velocity"] = v`` (the
course's ``sgd`` alone updates ``w`` in place; fastnn's returns a new array
there too).

With ``config["in_place"] = True`` the update is written into ``w`` itself,
which is returned, and into the state arrays where they are already
C-contiguous, writeable and of w's dtype (others are replaced by converted
copies).  ``w`` keeps its dtype, as PyTorch's optimisers keep a
parameter's: ``dw`` and the state are converted to it.  A ``w`` that is not
C-contiguous is updated through a contiguous copy written back; a read-only
or integer ``w`` is an error.  The Solver works this way.

Every hyper-parameter must be a finite real number and ``t`` a
non-negative integer; state of another shape than ``w`` is an error naming
the key.  A config belongs to one parameter: each stateful update records
the array it returned, and a later call with a different array while that
one is still alive (one config shared by two parameters, which would mix
their state and count Adam's ``t`` twice) raises ``ValueError``.

| rule | defaults |
|---|---|
| sgd | learning_rate 1e-2 |
| sgd_momentum | learning_rate 1e-2, momentum 0.9 |
| rmsprop | learning_rate 1e-2, decay_rate 0.99, epsilon 1e-8 |
| adam | learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8 (t counts from 1) |
"""

import math
import weakref

import numpy as np

from fastnn.kernels.cpu import optim as kernels
from fastnn.validation import as_float_arrays, check_shape, is_integer, is_real

def _check_hyper_parameters(config, defaults):
    for key in defaults:
        value = config[key]
        if key == "t":
            if not is_integer(value) or value < 0:
                raise TypeError(f"config['t']: expected a non-negative integer step count, got {value!r}")
            continue
        if not is_real(value):
            raise TypeError(f"config[{key!r}]: expected a real number, got {type(value).__name__} {value!r}")
        try:
            finite = math.isfinite(value)  # np.isfinite of a scalar costs 0.4 us, this 0.03
        except OverflowError:  # an int beyond float64's range
            finite = False
        if not finite:
            raise ValueError(f"config[{key!r}]: expected a finite number, got {value!r}")


def _check_owner(config, w):
    owner = config.get("_param")
    previous = owner() if owner is not None else None
    if previous is not None and previous is not w:
        raise ValueError(
            "config: its state belongs to the array its last update returned, which is still in use, and this "
            "call passes another one; a config belongs to one parameter (pass the previous next_w, or give each "
            "parameter its own config dict, as the Solver does)"
        )


def _in_dtype(name, value, dtype):
    # Arrays that already qualify pass with three attribute checks (np.asarray
    # with a dtype and an order took 0.5 us each, on every update).
    if type(value) is np.ndarray and value.dtype is dtype and value.flags.c_contiguous:
        return value
    return np.asarray(as_float_arrays((name,), value)[0], dtype=dtype, order="C")


def _prepare(w, dw, config, defaults, state_names=()):
    """Fill in and check the config; return (target, dw, states, config) ready for a kernel.

    See the module docstring for the rules: the computing dtype, which
    arrays are written in place, and which are new.
    """
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(f"config: expected a dict or None, got {type(config).__name__}")
    for key, value in defaults.items():
        config.setdefault(key, value)
    _check_hyper_parameters(config, defaults)
    if not isinstance(w, np.ndarray):
        raise TypeError(f"w: expected a numpy.ndarray, got {type(w).__name__}")
    if state_names:
        _check_owner(config, w)
    in_place = bool(config.get("in_place", False))
    given = {name: config.get(name) for name in state_names}
    present = [name for name in state_names if given[name] is not None]
    names = ("w", "dw", *(f"config[{name!r}]" for name in present))
    values = (w, dw, *(given[name] for name in present))
    if in_place:
        if w.dtype not in (np.float32, np.float64):
            raise TypeError(f"w: in_place keeps w's dtype, so it needs a float32 or float64 w, got dtype {w.dtype}")
        if not w.flags.writeable:
            raise ValueError("w: in_place writes into w, which is read-only")
        arrays = [_in_dtype(n, v, w.dtype) for n, v in zip(names, values)]
    else:
        arrays = as_float_arrays(names, *values)
    w_arr, dw_arr, present_arrays = arrays[0], arrays[1], arrays[2:]
    check_shape("dw", dw_arr, w_arr.shape, "the shape of w")

    def writable(array, original):
        # A caller's array is written only when in_place allows it and it can be.
        if array is original and not (in_place and array.flags.writeable):
            return array.copy()
        return array

    converted = dict(zip(present, present_arrays))
    states = []
    for name in state_names:
        if name in converted:
            state = converted[name]
            check_shape(f"config[{name!r}]", state, w_arr.shape, "the shape of w; a config belongs to one parameter")
            state = writable(state, given[name])
        else:
            state = np.zeros_like(w_arr)
        config[name] = state
        states.append(state)
    target = writable(w_arr, w)
    if state_names:
        config["_param"] = weakref.ref(w if in_place else target)
    return target, dw_arr, states, config


def _result(w, target, config):
    """The array to return: with in_place, w itself (a non-contiguous w gets the result written back)."""
    if config.get("in_place", False) and target is not w:
        w[...] = target
        return w
    return target


def _flat(*arrays):
    return [a.reshape(-1) for a in arrays]


def sgd(w, dw, config=None):
    """
    Vanilla stochastic gradient descent: ``w -= learning_rate * dw``.

    Inputs:
    - w: Parameter array, of any shape
    - dw: Gradient, of w's shape
    - config: Dict with learning_rate (and in_place); created if None

    Returns a tuple of:
    - next_w: The updated parameter (w itself when in_place)
    - config: The config, with defaults filled in
    """
    target, dw, _, config = _prepare(w, dw, config, {"learning_rate": 1e-2})
    kernels.sgd(*_flat(target, dw), target.dtype.type(config["learning_rate"]))
    return _result(w, target, config), config


def sgd_momentum(w, dw, config=None):
    """
    SGD with momentum: ``v = momentum * v - learning_rate * dw; w += v``.

    Inputs:
    - w, dw: Parameter and gradient, of one shape
    - config: learning_rate, momentum, and the state velocity

    Returns a tuple of:
    - next_w, config
    """
    target, dw, (velocity,), config = _prepare(w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
    t = target.dtype.type
    kernels.sgd_momentum(*_flat(target, dw, velocity), t(config["learning_rate"]), t(config["momentum"]))
    return _result(w, target, config), config


def rmsprop(w, dw, config=None):
    """
    RMSProp: a moving average of squared gradients scales each step.

    Inputs:
    - w, dw: Parameter and gradient, of one shape
    - config: learning_rate, decay_rate, epsilon, and the state cache

    Returns a tuple of:
    - next_w, config
    """
    target, dw, (cache,), config = _prepare(
        w, dw, config, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}, ("cache",)
    )
    t = target.dtype.type
    kernels.rmsprop(*_flat(target, dw, cache), t(config["learning_rate"]), t(config["decay_rate"]), t(config["epsilon"]))
    return _result(w, target, config), config


def adam(w, dw, config=None):
    """
    Adam, with bias-corrected first and second moments; t is incremented
    before the correction, so the first step uses t = 1.

    Inputs:
    - w, dw: Parameter and gradient, of one shape
    - config: learning_rate, beta1, beta2, epsilon, and the state m, v, t

    Returns a tuple of:
    - next_w, config
    """
    defaults = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}
    target, dw, (m, v), config = _prepare(w, dw, config, defaults, ("m", "v"))
    config["t"] += 1
    b1, b2, step = config["beta1"], config["beta2"], config["t"]
    t = target.dtype.type
    kernels.adam(
        *_flat(target, dw, m, v), t(config["learning_rate"]), t(b1), t(b2), t(config["epsilon"]),
        t(1 - b1**step), t(1 - b2**step),
    )
    return _result(w, target, config), config


#: The rules, by name: the only list of them.  The CLI's choices, the bench
#: and asv cases and the tests iterate over it; a new rule is its kernel, its
#: function above, its reference in fastnn.reference_optim, and a line here.
RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}

__all__ = list(RULES)


def get_rule(rule):
    """
    An update rule: a callable as it is, or a name looked up in this module
    the way cs231n's Solver does (``getattr(optim, name)``), so that a rule
    of one's own can be passed as a callable or set as ``fastnn.optim.NAME``.
    """
    if callable(rule):
        return rule
    found = globals().get(rule) if isinstance(rule, str) and rule not in _NOT_RULES else None
    if callable(found):
        return found
    raise ValueError(
        f"update_rule: expected a callable rule(w, dw, config) -> (next_w, config) or the name of one in "
        f"fastnn.optim ({', '.join(__all__)}), got {rule!r}"
    )


# Everything this module defines besides the rules; names added later
# (fastnn.optim.nesterov = ...) count as rules.
_NOT_RULES = frozenset(name for name in globals() if name not in RULES) | {"_NOT_RULES"}
