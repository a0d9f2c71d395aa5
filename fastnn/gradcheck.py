"""Numerical gradient checks with centred differences.

``df/dx ~ (f(x + h) - f(x - h)) / (2h)`` has O(h^2) error, where the
one-sided difference has O(h); every check here uses the centred form.
"""

import numpy as np


def rel_error(x, y):
    """Largest elementwise relative error, with a 1e-8 floor on the denominator."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


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


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """
    Numerical gradient of a scalar function at x.

    Inputs:
    - f: Function taking an array of x's shape and returning a scalar
    - x: Float array, perturbed in place one element at a time and restored
    - verbose: Print each index and its gradient
    - h: Step of the centred difference

    Returns:
    - grad: Array of x's shape
    """
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
    - grad: Array of x's shape
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        pos, neg = _around(f, x, it.multi_index, h)
        grad[it.multi_index] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, rng=None, verbose=True):
    """
    Compare analytic and numerical gradients at a few random positions.

    Inputs:
    - f: Function taking an array of x's shape and returning a scalar
    - x: Float array, perturbed in place and restored
    - analytic_grad: Gradient of f at x, of x's shape
    - num_checks: How many random positions to check
    - h: Step of the centred difference
    - rng: numpy Generator or seed for the positions
    - verbose: Print one line per position

    Returns:
    - errors: List of the relative errors, one per position
    """
    rng = np.random.default_rng(rng)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        fxph, fxmh = _around(f, x, ix, h)
        numeric = float(fxph - fxmh) / (2 * h)
        analytic = analytic_grad[ix]
        error = abs(numeric - analytic) / max(1e-8, abs(numeric) + abs(analytic))
        errors.append(float(error))
        if verbose:
            print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {error:e}")
    return errors
