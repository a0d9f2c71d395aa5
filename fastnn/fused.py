"""Compiled SGD training of the two-layer net: the fused fast path.

``sgd_two_layer`` runs forward, backward and the SGD update of many steps in
one compiled call (see ``fastnn.kernels.cpu.fused``), far faster than calling the
layers one by one from Python.  It computes exactly what the seed's loop
computes with ``fastnn.layers``:

    h = relu(X @ W1 + b1);  scores = h @ W2 + b2;  softmax loss;  backward;
    W -= lr * dW  for W1, b1, W2, b2

and, if a test set is given, the test loss and accuracy after every
``eval_every``-th update.
"""

from dataclasses import dataclass

import numpy as np

from fastnn.validation import HostArrays, as_labels, check_ndim, check_shape

PARAM_NAMES = ("W1", "b1", "W2", "b2")


@dataclass
class History:
    """Per-step results of :func:`sgd_two_layer`.

    - train_loss: float64 array of shape (S,), each step's mean batch loss
    - test_loss: float64 array of shape (S,), the test loss after step i,
      NaN where the test set was not evaluated
    - test_accuracy: float64 array of shape (S,), likewise
    """

    train_loss: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray


def _check_params(params):
    if not isinstance(params, dict) or any(name not in params for name in PARAM_NAMES):
        raise TypeError(f"params: expected a dict with keys {PARAM_NAMES}, got {params!r:.80}")
    W1, b1, W2, b2 = (params[name] for name in PARAM_NAMES)
    dtype = getattr(W1, "dtype", None)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"params['W1']: expected a float32 or float64 ndarray, got {type(W1).__name__} of dtype {dtype}")
    for name in PARAM_NAMES:
        p = params[name]
        if type(p) is not np.ndarray or p.dtype != dtype:
            raise TypeError(f"params[{name!r}]: expected an ndarray of dtype {dtype} like W1, got {getattr(p, 'dtype', type(p).__name__)}")
        if not p.flags.c_contiguous or not p.flags.writeable:
            raise ValueError(f"params[{name!r}]: expected a writeable C-contiguous array (it is updated in place)")
    check_ndim("params['W1']", W1, 2, "(D, H)")
    check_shape("params['b1']", b1, (W1.shape[1],), "one bias per hidden unit")
    check_ndim("params['W2']", W2, 2, "(H, C)")
    check_shape("params['W2']", W2, (W1.shape[1], W2.shape[1]), "rows = hidden units of W1")
    check_shape("params['b2']", b2, (W2.shape[1],), "one bias per class")
    return W1, b1, W2, b2


def _check_inputs(name, X, y, W1, num_classes):
    from fastnn.kernels.cpu.losses import label_range

    X = np.ascontiguousarray(X, dtype=W1.dtype)
    check_ndim(name, X, 2, f"(N, {W1.shape[0]})")
    check_shape(name, X, (X.shape[0], W1.shape[0]), "one row of D features per example")
    return X, as_labels(y, X.shape[0], num_classes, arrays=HostArrays(value_range=label_range)) if len(X) else np.zeros(0, np.intp)


def _split_point(batch, d, h, c, n_test):
    """Test rows for the training task, so that both tasks get equal FLOPs."""
    train = batch * (2 * d * h + 3 * h * c)
    per_test_row = d * h + h * c
    total = train + n_test * per_test_row
    return int(np.clip(round((total / 2 - train) / per_test_row), 0, n_test))


def sgd_two_layer(
    params, X, y, batches, lr, X_test=None, y_test=None, eval_every=1, flush_subnormals=False, first_step=0
):
    """
    Train the two-layer net with plain SGD, all steps in one compiled call.

    Inputs:
    - params: Dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,), all of one
      float dtype (float32 or float64), C-contiguous; updated in place
    - X: Training inputs, of shape (N, D); converted to the params' dtype
    - y: Integer labels, of shape (N,), in [0, C)
    - batches: Integer row indices into X, of shape (S, B): one batch per step
    - lr: Learning rate, a positive number
    - X_test, y_test: Optional test set, of shapes (N_test, D) and (N_test,)
    - eval_every: Evaluate the test set after every this many steps
      (after steps 0, eval_every, 2 * eval_every, ... as the seed does)
    - flush_subnormals: Set subnormal entries of the loss gradient to zero
      (subnormal arithmetic is slow on x86; see README)
    - first_step: Index of this call's first step in a longer run, so that
      eval_every counts across calls

    Returns:
    - History(train_loss, test_loss, test_accuracy), each of shape (S,)
    """
    from fastnn import config, threads
    from fastnn.kernels.cpu.fused import sgd_two_layer_steps, sgd_two_layer_steps_serial

    W1, b1, W2, b2 = _check_params(params)
    d, h = W1.shape
    c = W2.shape[1]
    X, y = _check_inputs("X", X, y, W1, c)
    batches = np.asarray(batches)
    if batches.dtype.kind not in "iu":
        raise TypeError(f"batches: expected integer row indices, got dtype {batches.dtype}")
    check_ndim("batches", batches, 2, "(S, B)")
    if batches.size and (batches.min() < 0 or batches.max() >= len(X)):
        raise ValueError(f"batches: expected row indices in [0, {len(X)}), got values from {batches.min()} to {batches.max()}")
    if batches.shape[1] == 0:
        raise ValueError(f"batches: expected at least one row per batch, got shape {batches.shape}")
    if not lr > 0:
        raise ValueError(f"lr: expected a positive learning rate, got {lr!r}")
    if not isinstance(eval_every, (int, np.integer)) or eval_every < 1:
        raise ValueError(f"eval_every: expected a positive integer, got {eval_every!r}")
    if X_test is None:
        X_test, y_test = np.zeros((0, d), W1.dtype), np.zeros(0, np.intp)
    X_test, y_test = _check_inputs("X_test", X_test, y_test, W1, c)

    steps, batch = batches.shape
    batches = np.ascontiguousarray(batches, dtype=np.intp)
    dtype = W1.dtype
    g = (
        np.empty((batch, d), dtype),
        np.empty(batch, np.intp),
        np.empty((batch, h), dtype),
        np.empty((batch, h), dtype),
        np.empty((batch, c), dtype),
        np.empty((batch, c), dtype),
        np.empty((batch, h), dtype),
        np.empty((d, h), dtype),
        np.empty(h, dtype),
        np.empty((h, c), dtype),
        np.empty(c, dtype),
    )
    n_test = len(X_test)
    t = (np.empty((n_test, h), dtype), np.empty((n_test, h), dtype), np.empty((n_test, c), dtype))
    # Kernel slot i evaluates the weights before step i, i.e. after step i - 1.
    eval_mask = np.zeros(steps + 1, bool)
    if n_test:
        eval_mask[1:] = (first_step + np.arange(steps)) % eval_every == 0
    train_loss = np.empty(steps)
    test_loss = np.full(steps + 1, np.nan)
    test_correct = np.zeros(steps + 1, np.int64)
    split = _split_point(batch, d, h, c, n_test)
    # BLAS runs single-threaded inside the kernel's two tasks; more would oversubscribe.
    steps_kernel = sgd_two_layer_steps if threads.parallel_allowed() else sgd_two_layer_steps_serial
    with threads.serial_blas():
        steps_kernel(
            (X, y, batches, X_test, y_test), (W1, b1, W2, b2),
            (dtype.type(lr), split, bool(flush_subnormals), config.SOFTMAX_BLOCK_ELEMENTS),
            eval_mask, g, t, (train_loss, test_loss, test_correct),
        )
    accuracy = np.where(eval_mask, test_correct / max(n_test, 1), np.nan)
    return History(train_loss, test_loss[1:], accuracy[1:])
