"""Numerical gradient checks of every layer in :mod:`fastnn.catalog`, shared
by ``fastnn gradcheck`` and the test suite.

Each check makes the entry's float64 inputs at its gradient-check size,
drawn again until every kink variable (ReLU input, hinge margin) keeps
``catalog.KINK_MARGIN`` from zero, where a centred difference straddling
the kink would be meaningless; runs the layer's backward; and compares
every gradient it returns with centred differences at the entry's step.
Param dicts are copied for every evaluation, so running averages cannot
drift between them, and dropout's seed gives the same mask in every pass.

The cs231n functions (:mod:`fastnn.gradient_check`) are importable from
here too, the path of fastnn 0.1.
"""

from dataclasses import dataclass

import numpy as np

from fastnn import catalog
from fastnn.gradient_check import *  # noqa: F401,F403
from fastnn.gradient_check import __all__ as _course_names
from fastnn.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

__all__ = [*_course_names, "GradCheck", "check_layer", "check_layers"]

#: Absolute bound for gradients that are exactly zero in exact arithmetic:
#: a relative error of two roundings would be meaningless.
ZERO_GRAD_TOLERANCE = 1e-8


@dataclass
class GradCheck:
    layer: str
    grad: str
    error: float
    tolerance: float
    backward: str = ""

    @property
    def passed(self):
        return self.error <= self.tolerance


def _inputs(entry, layers, rng):
    while True:
        arrays, params = entry.make_inputs(rng, entry.gradcheck_size, np.float64)
        if entry.kinks is None or np.abs(entry.kinks(layers, arrays, params)).min() > catalog.KINK_MARGIN:
            return arrays, params


def _errors(entry, layers, arrays, params, dout):
    """(grad name, error, is an absolute error) of every gradient of one entry on layers, at the given inputs."""
    forward = getattr(layers, entry.forward)
    backward_name = entry.forward if entry.is_loss else entry.backward

    def call(args):
        return forward(*args, *catalog.copy_params(params))

    out, cache = call(arrays)
    if entry.is_loss:
        analytic = (cache,)
        numeric = [eval_numerical_gradient(lambda v: call([v])[0], arrays[0].copy(), verbose=False)]
    else:
        analytic = getattr(layers, entry.backward)(dout, cache)
        analytic = analytic if isinstance(analytic, tuple) else (analytic,)
        numeric = []
        for index in range(len(arrays)):
            def f(value, index=index):
                args = list(arrays)
                args[index] = value
                return call(args)[0]

            numeric.append(eval_numerical_gradient_array(f, arrays[index].copy(), dout, h=entry.step))
    if not len(analytic) == len(entry.grads) == len(arrays):  # no gradient may go unchecked
        raise ValueError(f"{entry.name}: {backward_name} returned {len(analytic)} gradients for {len(arrays)} inputs")
    return [(name, float(np.abs(num - grad).max()), True) if name in entry.zero_grads else (name, rel_error(num, grad), False)
            for name, grad, num in zip(entry.grads, analytic, numeric)]


def check_layer(entry, layers, rng, reference=None):
    """
    The gradient checks of one catalog entry: a GradCheck per gradient.

    With ``reference`` (a layer module: the NumPy oracle), the same inputs
    are checked there too, and a gradient's limit is raised to the
    reference's own error where the reference exceeds it: on those inputs
    the centred differences, not the kernel, set the error.
    """
    arrays, params = _inputs(entry, layers, rng)
    dout = None
    if not entry.is_loss:
        out, _ = getattr(layers, entry.forward)(*arrays, *catalog.copy_params(params))
        dout = rng.standard_normal(out.shape)
    backward_name = entry.forward if entry.is_loss else entry.backward
    errors = _errors(entry, layers, arrays, params, dout)
    floors = [0.0] * len(errors) if reference is None else [e for _, e, _ in _errors(entry, reference, arrays, params, dout)]
    results = []
    for (name, error, absolute), floor in zip(errors, floors):
        tolerance = max(ZERO_GRAD_TOLERANCE if absolute else entry.gradcheck_tolerance, floor)
        results.append(GradCheck(entry.name, f"{name} (abs)" if absolute else name, error, tolerance, backward_name))
    return results


def check_layers(layers, seed=0, reference=None):
    """
    Run the numerical gradient check of every layer in the catalog.

    Inputs:
    - layers: A module with the fastnn layer API (fastnn.layers or fastnn.reference)
    - seed: Seed for the random float64 inputs
    - reference: A layer module whose error on the same inputs raises a
      gradient's limit where it exceeds it (fastnn gradcheck passes
      fastnn.reference when it checks fastnn.layers), or None

    Returns:
    - results: List of GradCheck(layer, grad, error, tolerance, backward)
    """
    rng = np.random.default_rng(seed)
    return [result for entry in catalog.LAYERS for result in check_layer(entry, layers, rng, reference)]
