"""Compiled first-order update rules with the cs231n contract.

``rule(w, dw, config=None) -> (next_w, config)``.  ``config`` holds the
hyper-parameters (defaults below, filled in on first use) and the rule's
state (``velocity``, ``cache``, ``m``, ``v``, ``t``), created as zeros on
first use.  By default ``w`` is left alone and ``next_w`` is a new array, as
in cs231n; with ``config["in_place"] = True`` the caller allows the update
to be written into ``w`` itself, which is then returned (the Solver does
this).  Every update is one compiled pass (``fastnn.kernels.optim``).

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

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "get_rule", "RULES"]


def _prepare(w, dw, config, defaults):
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(f"config: expected a dict or None, got {type(config).__name__}")
    for key, value in defaults.items():
        config.setdefault(key, value)
    if not isinstance(w, np.ndarray):
        raise TypeError(f"w: expected a numpy.ndarray, got {type(w).__name__}")
    w_arr, dw_arr = as_float_arrays(("w", "dw"), w, dw)
    check_shape("dw", dw_arr, w_arr.shape, "the shape of w")
    in_place = bool(config.get("in_place", False)) and w_arr is w
    target = w if in_place else w_arr.copy()
    return target, dw_arr, config


def _state(config, name, like):
    state = config.get(name)
    if state is None or state.shape != like.shape or state.dtype != like.dtype:
        state = np.zeros_like(like)
        config[name] = state
    return state


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
    w, dw, config = _prepare(w, dw, config, {"learning_rate": 1e-2})
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
    w, dw, config = _prepare(w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9})
    velocity = _state(config, "velocity", w)
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
    w, dw, config = _prepare(w, dw, config, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8})
    cache = _state(config, "cache", w)
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
    w, dw, config = _prepare(w, dw, config, defaults)
    m = _state(config, "m", w)
    v = _state(config, "v", w)
    config["t"] += 1
    b1, b2, step = config["beta1"], config["beta2"], config["t"]
    t = w.dtype.type
    K.adam(
        *_flat(w, dw, m, v), t(config["learning_rate"]), t(b1), t(b2), t(config["epsilon"]),
        t(1 - b1**step), t(1 - b2**step),
    )
    return w, config


RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}


def get_rule(rule):
    """An update rule from its name (sgd, sgd_momentum or momentum, rmsprop, adam) or a callable."""
    if callable(rule):
        return rule
    if rule not in RULES:
        raise ValueError(f"update_rule: expected one of {sorted(RULES)} or a callable, got {rule!r}")
    return RULES[rule]
