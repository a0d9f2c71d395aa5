"""The update rules of :mod:`fastnn.optim` on GPU arrays: ``import fastnn.cuda.optim as optim``.

``rule(w, dw, config=None) -> (next_w, config)``, with the hyper-parameters,
defaults and checks of fastnn.optim.  w and dw are device arrays (anything
``fastnn.cuda`` takes) of one float dtype; the state (velocity, cache, m, v)
lives on the device: created as zeros on first use, and host arrays given
in the config are copied to the device once.

As on the CPU, the caller's arrays are not written: next_w and the new
state are new device arrays.  With ``config["in_place"] = True`` the update
is written into w (C-contiguous) and the state arrays, and w is returned;
the GPU Solver path works this way.  A config belongs to one parameter, as
fastnn.optim checks.  Each rule takes ``stream=`` as fastnn.cuda's functions do.
"""

import weakref

import numpy as np

from fastnn.cuda import DEVICE, _as_device, _contiguous, _streamed, launch, to_device
from fastnn.kernels.cuda import optim as kernels
from fastnn.optim import _check_hyper_parameters, _check_owner
from fastnn.validation import check_shape

_DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0},
}
_STATE = {"sgd": (), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v")}


def _state(config, name, w):
    value = config.get(name)
    if value is None:
        return launch.zeros(w.shape, w.dtype)
    device = launch.as_device_array(value)
    if device is None:
        device = to_device(np.asarray(value, w.dtype))
    check_shape(f"config[{name!r}]", device, w.shape, "the shape of w; a config belongs to one parameter")
    if device.dtype != w.dtype:
        raise TypeError(f"config[{name!r}]: expected dtype {w.dtype} (w's), got dtype {device.dtype}")
    return _contiguous(f"config[{name!r}]", device)


def _update(rule, w, dw, config, scalars):
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(f"config: expected a dict or None, got {type(config).__name__}")
    for key, value in _DEFAULTS[rule].items():
        config.setdefault(key, value)
    _check_hyper_parameters(config, _DEFAULTS[rule])
    given = _as_device("w", w)
    w, dw = DEVICE.convert("w", given, given.dtype), _as_device("dw", dw)
    if w.dtype not in (np.float32, np.float64):
        raise TypeError(f"w: expected float32 or float64, got dtype {w.dtype}")
    check_shape("dw", dw, w.shape, "the shape of w")
    if dw.dtype != w.dtype:
        raise TypeError(f"dw: expected dtype {w.dtype} (w's), got dtype {dw.dtype}")
    dw = _contiguous("dw", dw)
    names = _STATE[rule]
    if names:
        _check_owner(config, given)
    states = [_state(config, name, w) for name in names]
    in_place = bool(config.get("in_place", False))
    if in_place and w is not given:
        raise ValueError("w: in_place writes into w, which must be a C-contiguous device array")
    outputs = [w, *states] if in_place else [launch.empty_like(a) for a in (w, *states)]
    dtype = w.dtype.type
    flat = lambda arrays: [a.reshape(a.size) for a in arrays]  # noqa: E731
    kernels.update(rule, flat([w, dw, *states]), [dtype(s) for s in scalars(config)], flat(outputs))
    for name, state in zip(names, outputs[1:]):
        config[name] = state
    if names:
        config["_param"] = weakref.ref(outputs[0])
    return outputs[0], config


def sgd(w, dw, config=None):
    """Vanilla SGD, ``w - learning_rate * dw``, on the GPU; as :func:`fastnn.optim.sgd`."""
    return _update("sgd", w, dw, config, lambda c: (c["learning_rate"],))


def sgd_momentum(w, dw, config=None):
    """SGD with momentum on the GPU; as :func:`fastnn.optim.sgd_momentum`."""
    return _update("sgd_momentum", w, dw, config, lambda c: (c["learning_rate"], c["momentum"]))


def rmsprop(w, dw, config=None):
    """RMSProp on the GPU; as :func:`fastnn.optim.rmsprop`."""
    return _update("rmsprop", w, dw, config, lambda c: (c["learning_rate"], c["decay_rate"], c["epsilon"]))


def adam(w, dw, config=None):
    """Adam on the GPU, t incremented before the bias correction; as :func:`fastnn.optim.adam`."""

    def scalars(c):
        c["t"] += 1
        b1, b2, step = c["beta1"], c["beta2"], c["t"]
        return c["learning_rate"], b1, b2, c["epsilon"], 1 - b1**step, 1 - b2**step

    return _update("adam", w, dw, config, scalars)


sgd, sgd_momentum, rmsprop, adam = (_streamed(rule) for rule in (sgd, sgd_momentum, rmsprop, adam))

#: The rules, by name, as fastnn.optim.RULES.
RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}

__all__ = list(RULES)
