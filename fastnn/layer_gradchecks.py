"""Numerical gradient checks of every backward pass, shared by ``fastnn
gradcheck`` and the test suite.

Each check builds float64 inputs away from the kinks of ReLU and the hinge
(where a centred difference straddling the kink would be meaningless), runs
the layer's backward, and compares it with the numerical gradient.

The affine and ReLU layers are linear between kinks, so a centred difference
has no truncation error there and only rounding error, which shrinks as h
grows.  They are checked with ``LINEAR_STEP``, far larger than 1e-5 yet far
smaller than ``KINK_MARGIN``; the smooth layers (losses, normalisation) and
dropout (with a fixed seed, so the same mask in every pass) use the usual 1e-5.

Every backward function of the layer API is checked (``tests/test_gradients``
asserts it), batchnorm in both modes.
"""

from dataclasses import dataclass

import numpy as np

from fastnn.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

#: Largest relative error that passes, per layer family (float64).  The
#: affine-norm-ReLU sandwich composes three layers: the truncation error of
#: its centred difference reached 1.1e-7 relative on small entries of dx
#: (seed 3; the NumPy reference likewise), so it gets ten times that.
TOLERANCE = {"affine": 1e-8, "relu": 1e-8, "loss": 1e-7, "dropout": 1e-9, "norm": 1e-7, "norm_relu": 1e-6}

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
    backward: str = ""

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


def _check_array_layer(label, family, layers, name, inputs, rng, extra=(), grad_names=None, h=LINEAR_STEP,
                       backward=None, zero_grads=()):
    """Check every input's gradient of ``layers.{name}_forward(*inputs, *extra)``.

    ``extra`` are non-differentiated arguments (a param dict is copied for
    every call, so running averages cannot drift between evaluations).
    ``zero_grads`` name gradients that are exactly 0 in exact arithmetic (a
    bias that batchnorm cancels): a relative error of two roundings is
    meaningless, so theirs is checked as an absolute difference below 1e-8.
    """
    forward = getattr(layers, f"{name}_forward")
    backward = backward or f"{name}_backward"

    def call(args):
        fresh = [{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in e.items()} if isinstance(e, dict) else e
                 for e in extra]
        return forward(*args, *fresh)

    out, cache = call(inputs)
    dout = rng.standard_normal(out.shape)
    analytic = getattr(layers, backward)(dout, cache)
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    grad_names = grad_names or ("dx", "dw", "db")[: len(inputs)]
    if not len(analytic) == len(grad_names) == len(inputs):  # no gradient may go unchecked
        raise ValueError(f"{label}: {backward} returned {len(analytic)} gradients for {len(inputs)} inputs")
    results = []
    for index, (grad_name, grad) in enumerate(zip(grad_names, analytic)):
        def f(value, index=index):
            args = list(inputs)
            args[index] = value
            return call(args)[0]

        numeric = eval_numerical_gradient_array(f, inputs[index].copy(), dout, h=h)
        if grad_name in zero_grads:
            results.append(GradCheck(label, f"{grad_name} (abs)", float(np.abs(numeric - grad).max()), 1e-8, backward))
        else:
            results.append(GradCheck(label, grad_name, rel_error(numeric, grad), TOLERANCE[family], backward))
    return results


def _check_loss(name, loss_fn, x, y):
    _, dx = loss_fn(x, y)
    numeric = eval_numerical_gradient(lambda v: loss_fn(v, y)[0], x.copy(), verbose=False)
    return [GradCheck(name, "dx", rel_error(numeric, dx), TOLERANCE["loss"], name)]


def _norm_inputs(rng, n=8, d=5):
    return rng.standard_normal((n, d)) * 2 + 1, rng.standard_normal(d) + 1, rng.standard_normal(d)


def _norm_relu_inputs(layers, rng, norm):
    """Inputs of affine_norm_relu whose normalised pre-activations keep KINK_MARGIN from 0."""
    param = {"mode": "train"} if norm == "batchnorm" else {}
    while True:
        x, w, b = _affine_inputs(rng)
        gamma, beta = rng.standard_normal(5) + 1, rng.standard_normal(5)
        a = layers.affine_forward(x, w, b)[0]
        n = getattr(layers, f"{norm}_forward")(a, gamma, beta, dict(param))[0]
        if np.abs(n).min() > KINK_MARGIN:
            return (x, w, b, gamma, beta), param


def check_layers(layers, seed=0):
    """
    Run the numerical gradient check of every backward in ``layers``.

    Inputs:
    - layers: A module with the fastnn layer API (fastnn.layers or fastnn.reference)
    - seed: Seed for the random float64 inputs

    Returns:
    - results: List of GradCheck(layer, grad, error, tolerance, backward)
    """
    rng = np.random.default_rng(seed)
    results = _check_array_layer("affine", "affine", layers, "affine", _affine_inputs(rng), rng)
    results += _check_array_layer("relu", "relu", layers, "relu", (_away_from_zero(rng, (10, 10)),), rng)
    x, w, b = _affine_inputs(rng)
    while np.abs(x.reshape(len(x), -1) @ w + b).min() < KINK_MARGIN:
        x, w, b = _affine_inputs(rng)
    results += _check_array_layer("affine_relu", "affine", layers, "affine_relu", (x, w, b), rng)
    x = rng.standard_normal((10, 6))
    y = rng.integers(6, size=10)
    results += _check_loss("softmax_loss", layers.softmax_loss, x, y)
    results += _check_loss("svm_loss", layers.svm_loss, *_scores_away_from_hinge(rng, 10, 6))
    results += _check_array_layer("dropout", "dropout", layers, "dropout", (rng.standard_normal((10, 10)) + 10,), rng,
                                  extra=({"p": 0.2, "mode": "train", "seed": 123},), h=1e-5)
    norm_grads = ("dx", "dgamma", "dbeta")
    running = {"mode": "test", "running_mean": rng.standard_normal(5), "running_var": rng.random(5) + 0.5}
    for label, name, param, backward in [
        ("batchnorm", "batchnorm", {"mode": "train"}, None),
        ("batchnorm (test mode)", "batchnorm", running, None),
        ("batchnorm_alt", "batchnorm", {"mode": "train"}, "batchnorm_backward_alt"),
        ("layernorm", "layernorm", {}, None),
    ]:
        results += _check_array_layer(label, "norm", layers, name, _norm_inputs(rng), rng, extra=(param,),
                                      grad_names=norm_grads, h=1e-5, backward=backward)
    for norm in ("batchnorm", "layernorm"):
        inputs, param = _norm_relu_inputs(layers, rng, norm)
        results += _check_array_layer(f"affine_{norm}_relu", "norm_relu", layers, "affine_norm_relu", inputs, rng,
                                      extra=(param, norm), grad_names=("dx", "dw", "db", "dgamma", "dbeta"), h=1e-5,
                                      zero_grads=("db",) if norm == "batchnorm" else ())
    return results
