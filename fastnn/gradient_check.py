"""Numerical gradient checks with centred differences, as cs231n's ``gradient_check``.

``df/dx ~ (f(x + h) - f(x - h)) / (2h)`` has O(h^2) error, where the
one-sided difference has O(h); every check here uses the centred form.
Each function perturbs ``x`` in place, one element at a time, and restores
it; the order of evaluations is the course's, so a function with side
effects (dropout reseeding NumPy's generator, batchnorm's running averages)
sees the same calls.
"""

import random

import numpy as np

__all__ = [
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "eval_numerical_gradient_blobs",
    "eval_numerical_gradient_net",
    "grad_check_sparse",
    "rel_error",
]


def rel_error(x, y):
    """Largest elementwise relative error ``|x - y| / max(1e-8, |x| + |y|)``, as the notebooks define it."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def _around(f, x, ix, h):
    """f(x) with x[ix] raised by h, then lowered by h; x[ix] is restored."""
    old = x[ix]
    try:
        x[ix] = old + h
        plus = np.array(f(x), copy=True)
        x[ix] = old - h
        minus = np.array(f(x), copy=True)
    finally:
        x[ix] = old
    return plus, minus


def eval_numerical_gradient(f, x, verbose=True, h=0.00001):
    """
    Numerical gradient of a scalar function at x.

    Inputs:
    - f: Function taking an array of x's shape and returning a scalar
    - x: Float array of any shape, perturbed in place one element at a time
      and restored
    - verbose: Print each index and its gradient
    - h: Step of the centred difference

    Returns:
    - grad: Array of x's shape and dtype
    """
    f(x)  # the course evaluates f once at x first; side effects stay the same
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        fxph, fxmh = _around(f, x, ix, h)
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """
    Numerical gradient of sum(f(x) * df) at x, for array-valued f.

    Inputs:
    - f: Function taking an array of x's shape and returning an array
    - x: Float array, perturbed in place one element at a time and restored
    - df: Upstream gradient, of f(x)'s shape
    - h: Step of the centred difference

    Returns:
    - grad: Array of x's shape and dtype
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        pos, neg = _around(f, x, it.multi_index, h)
        grad[it.multi_index] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient_blobs(f, inputs, output, h=1e-5):
    """
    Numerical gradients for a function that reads input blobs and writes an
    output blob, as ``f(*inputs, output)``.  A blob is any object with
    ``vals`` (its values) and ``diffs`` (the gradient) arrays of one shape.

    Inputs:
    - f: Function called as f(*inputs, output); it writes output.vals
    - inputs: Tuple of input blobs, each perturbed in place and restored
    - output: Output blob; output.diffs is the upstream gradient
    - h: Step of the centred difference

    Returns:
    - numeric_diffs: List of arrays, one per input blob, of its vals' shape
    """
    inputs = tuple(inputs)
    numeric_diffs = []
    for blob in inputs:
        diff = np.zeros_like(blob.diffs)
        it = np.nditer(blob.vals, flags=["multi_index"], op_flags=["readwrite"])
        while not it.finished:
            ix = it.multi_index
            old = blob.vals[ix]
            try:
                blob.vals[ix] = old + h
                f(*(inputs + (output,)))
                pos = np.copy(output.vals)
                blob.vals[ix] = old - h
                f(*(inputs + (output,)))
                neg = np.copy(output.vals)
            finally:
                blob.vals[ix] = old
            diff[ix] = np.sum((pos - neg) * output.diffs) / (2.0 * h)
            it.iternext()
        numeric_diffs.append(diff)
    return numeric_diffs


def eval_numerical_gradient_net(net, inputs, output, h=1e-5):
    """eval_numerical_gradient_blobs for an object whose ``forward()`` computes output from inputs."""
    return eval_numerical_gradient_blobs(lambda *args: net.forward(), inputs, output, h=h)


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, return_errors=False):
    """
    Compare analytic and numerical gradients at a few random positions,
    drawn with Python's ``random.randrange`` as in the course (so
    ``random.seed`` fixes them), and print one line per position.

    Inputs:
    - f: Function taking an array of x's shape and returning a scalar
    - x: Float array, perturbed in place and restored
    - analytic_grad: Gradient of f at x, of x's shape
    - num_checks: How many random positions to check
    - h: Step of the centred difference
    - return_errors: Return the relative errors (the course returns None)

    Returns:
    - None, or with return_errors the list of relative errors, one per position
    """
    errors = []
    for _ in range(num_checks):
        ix = tuple(random.randrange(m) for m in x.shape)
        fxph, fxmh = _around(f, x, ix, h)
        numeric = (fxph - fxmh) / (2 * h)
        analytic = analytic_grad[ix]
        # The 1e-8 floor keeps a gradient of exactly 0 from dividing by zero.
        error = abs(numeric - analytic) / max(1e-8, abs(numeric) + abs(analytic))
        errors.append(float(error))
        print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {error:e}")
    return errors if return_errors else None
