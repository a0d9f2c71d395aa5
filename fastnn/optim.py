"""Compiled first-order update rules with the cs231n contract.

``rule(w, dw, config=None) -> (next_w, config)``.  ``config`` holds the
hyper-parameters (defaults below, filled in on first use) and the rule's
state (``velocity``, ``cache``, ``m``, ``v``, ``t``), created as zeros on
first use.  Every update is one compiled pass (``fastnn.kernels.optim``).

State is used as given.  ``w``, ``dw`` and the state arrays compute in one
dtype by the layers' rule (float32 stays float32; integers count as
float64; mixed float32 and float64 compute in float64, as NumPy's
``w + v`` does in the course code), whatever their memory layout.  State of
another shape raises ``ValueError`` naming the key.

Caller arrays are never written unless ``config["in_place"]`` is true:
without it ``next_w`` and the new state are new arrays, as in cs231n's
``next_w = w + v; config["velocity"] = v`` (the course's ``sgd`` alone
updates ``w`` in place; fastnn's returns a new array there too).  With it
the caller allows the update to be written into ``w`` and into the state
arrays themselves, where they are already C-contiguous arrays of the
computing dtype (the Solver does this).

| rule | defaults |
|---|---|
| sgd | learning_rate 1e-2 |
| sgd_momentum | learning_rate 1e-2, momentum 0.9 |
| rmsprop | learning_rate 1e-2, decay_rate 0.99, epsilon 1e-8 |
| adam | learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8 (t counts from 1) |
"""

import numpy as np

from fastnn.kernels import optim as K
from fastnn.validation import as_float_arrays, check_shape

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam"]


def _prepare(w, dw, config, defaults, state_names=()):
    """Fill in defaults; return (target, dw, states, config) in one dtype, ready for a kernel.

    ``target`` is w itself only when in_place allows it and w needs no
    conversion; likewise each state array.  Every other array is a new one,
    and new state arrays are stored into config.
    """
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(f"config: expected a dict or None, got {type(config).__name__}")
    for key, value in defaults.items():
        config.setdefault(key, value)
    if not isinstance(w, np.ndarray):
        raise TypeError(f"w: expected a numpy.ndarray, got {type(w).__name__}")
    given = {name: config.get(name) for name in state_names}
    present = [name for name in state_names if given[name] is not None]
    names = ("w", "dw", *(f"config[{name!r}]" for name in present))
    arrays = as_float_arrays(names, w, dw, *(given[name] for name in present))
    w_arr, dw_arr, present_arrays = arrays[0], arrays[1], arrays[2:]
    check_shape("dw", dw_arr, w_arr.shape, "the shape of w")
    in_place = bool(config.get("in_place", False))

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
            check_shape(f"config[{name!r}]", state, w_arr.shape, "the shape of w")
            state = writable(state, given[name])
        else:
            state = np.zeros_like(w_arr)
        config[name] = state
        states.append(state)
    return writable(w_arr, w), dw_arr, states, config


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
    w, dw, _, config = _prepare(w, dw, config, {"learning_rate": 1e-2})
    K.sgd(*_flat(w, dw), w.dtype.type(config["learning_rate"]))
    return w, config


def sgd_momentum(w, dw, config=None):
    """
    SGD with momentum: ``v = momentum * v - learning_rate * dw; w += v``.

    Inputs:
    - w, dw: Parameter and gradient, of one shape
    - config: learning_rate, momentum, and the state velocity

    Returns a tuple of:
    - next_w, config
    """
    w, dw, (velocity,), config = _prepare(w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
    t = w.dtype.type
    K.sgd_momentum(*_flat(w, dw, velocity), t(config["learning_rate"]), t(config["momentum"]))
    return w, config


def rmsprop(w, dw, config=None):
    """
    RMSProp: a moving average of squared gradients scales each step.

    Inputs:
    - w, dw: Parameter and gradient, of one shape
    - config: learning_rate, decay_rate, epsilon, and the state cache

    Returns a tuple of:
    - next_w, config
    """
    w, dw, (cache,), config = _prepare(
        w, dw, config, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}, ("cache",)
    )
    t = w.dtype.type
    K.rmsprop(*_flat(w, dw, cache), t(config["learning_rate"]), t(config["decay_rate"]), t(config["epsilon"]))
    return w, config


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
    w, dw, (m, v), config = _prepare(w, dw, config, defaults, ("m", "v"))
    config["t"] += 1
    b1, b2, step = config["beta1"], config["beta2"], config["t"]
    t = w.dtype.type
    K.adam(
        *_flat(w, dw, m, v), t(config["learning_rate"]), t(b1), t(b2), t(config["epsilon"]),
        t(1 - b1**step), t(1 - b2**step),
    )
    return w, config


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
_NOT_RULES = frozenset(name for name in globals() if name not in __all__) | {"_NOT_RULES"}
