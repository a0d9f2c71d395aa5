"""Numerical gradient checks of every backward pass, shared by ``fastnn
gradcheck`` and the test suite.

Each check builds float64 inputs away from the kinks of ReLU and the hinge
(where a centred difference straddling the kink would be meaningless), runs
the layer's backward, and compares it with the numerical gradient.

The affine and ReLU layers are linear between kinks, so a centred difference
has no truncation error there and only rounding error, which shrinks as h
grows.  They are checked with ``LINEAR_STEP``, far larger than 1e-5 yet far
smaller than ``KINK_MARGIN``; the smooth losses use the usual 1e-5.
"""

from dataclasses import dataclass

import numpy as np

from fastnn.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

#: Largest relative error that passes, per layer family (float64).
TOLERANCE = {"affine": 1e-8, "relu": 1e-8, "loss": 1e-7}

#: Step for the piecewise-linear layers.
LINEAR_STEP = 1e-3

#: Smallest distance from a kink of any input, pre-activation or margin;
#: a step of LINEAR_STEP moves none of them more than ~0.005.
KINK_MARGIN = 0.05


@dataclass
class GradCheck:
    layer: str
    grad: str
    error: float
    tolerance: float

    @property
    def passed(self):
        return self.error <= self.tolerance


def _away_from_zero(rng, shape):
    x = rng.standard_normal(shape)
    return x + np.copysign(KINK_MARGIN, x)


def _affine_inputs(rng):
    x = rng.standard_normal((10, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    return x, w, b


def _scores_away_from_hinge(rng, num_rows, num_classes):
    while True:
        x = rng.standard_normal((num_rows, num_classes))
        y = rng.integers(num_classes, size=num_rows)
        margins = x - x[np.arange(num_rows), y][:, None] + 1
        margins[np.arange(num_rows), y] = 1
        if np.abs(margins).min() > KINK_MARGIN:
            return x, y


def _check_array_layer(name, family, forward, backward, inputs, rng):
    """Check every input's gradient of an array-valued layer."""
    out, cache = forward(*inputs)
    dout = rng.standard_normal(out.shape)
    analytic = backward(dout, cache)
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    results = []
    for index, (grad_name, grad) in enumerate(zip(("dx", "dw", "db"), analytic)):
        def f(value, index=index):
            args = list(inputs)
            args[index] = value
            return forward(*args)[0]

        numeric = eval_numerical_gradient_array(f, inputs[index].copy(), dout, h=LINEAR_STEP)
        results.append(GradCheck(name, grad_name, rel_error(numeric, grad), TOLERANCE[family]))
    return results


def _check_loss(name, loss_fn, x, y):
    _, dx = loss_fn(x, y)
    numeric = eval_numerical_gradient(lambda v: loss_fn(v, y)[0], x.copy(), verbose=False)
    return [GradCheck(name, "dx", rel_error(numeric, dx), TOLERANCE["loss"])]


def check_layers(layers, seed=0):
    """
    Run the numerical gradient check of every backward in ``layers``.

    Inputs:
    - layers: A module with the fastnn layer API (fastnn.layers or fastnn.reference)
    - seed: Seed for the random float64 inputs

    Returns:
    - results: List of GradCheck(layer, grad, error, tolerance)
    """
    rng = np.random.default_rng(seed)
    results = _check_array_layer(
        "affine", "affine", layers.affine_forward, layers.affine_backward, _affine_inputs(rng), rng
    )
    results += _check_array_layer(
        "relu", "relu", layers.relu_forward, layers.relu_backward, (_away_from_zero(rng, (10, 10)),), rng
    )
    x, w, b = _affine_inputs(rng)
    while np.abs(x.reshape(len(x), -1) @ w + b).min() < KINK_MARGIN:
        x, w, b = _affine_inputs(rng)
    results += _check_array_layer(
        "affine_relu", "affine", layers.affine_relu_forward, layers.affine_relu_backward, (x, w, b), rng
    )
    x = rng.standard_normal((10, 6))
    y = rng.integers(6, size=10)
    results += _check_loss("softmax_loss", layers.softmax_loss, x, y)
    results += _check_loss("svm_loss", layers.svm_loss, *_scores_away_from_hinge(rng, 10, 6))
    return results
