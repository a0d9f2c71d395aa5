"""A compiled SGD trainer for the two-layer net (affine, ReLU, affine, softmax).

The whole step (gather the batch, forward, backward, SGD update) runs in one
compiled call, and so does the forward pass over the test set that the
seed's loop makes at every step.  The matrix products use Numba's ``np.dot``
(BLAS, single-threaded here); parallelism comes from splitting the work of
a step between two tasks in a ``prange``:

* task 0: the training step's forward and backward, then the first rows of
  the test set;
* task 1: the remaining test rows.

Both read the same weights; the SGD update follows once both are done.  So
the test forward made in step ``i`` sees the weights after update ``i - 1``:
the seed's "test after update ``i - 1``", made one step later.  The trainer
makes one extra test pass at the end so every update is evaluated.

The split point is chosen so both tasks get about the same number of
floating-point operations.  With one thread the two tasks run one after the
other.
"""

import numpy as np
from numba import njit, prange

from fastnn.kernels.cpu.affine import bias_relu_span, bias_span, colsum_span, relu_grad_colsum_span
from fastnn.kernels.cpu.losses import softmax_loss_argmax, softmax_span


@njit(cache=True)
def _flush_subnormals(a):
    tiny = np.finfo(a.dtype).tiny
    flat = a.reshape(a.size)
    zero = a.dtype.type(0)
    for i in range(flat.size):
        v = flat[i]
        flat[i] = v if abs(v) >= tiny else zero


@njit(cache=True)
def _train_step(X, y, rows, W1, b1, W2, b2, g, flush, block):
    """Forward and backward on one batch; gradients land in the buffers of ``g``."""
    xb, yb, a1, h1, s, ds, dh, dW1, db1, dW2, db2 = g
    for r in range(rows.size):
        xb[r] = X[rows[r]]
        yb[r] = y[rows[r]]
    np.dot(xb, W1, a1)
    bias_relu_span(a1, b1, h1, 0, a1.shape[0])
    np.dot(h1, W2, s)
    bias_span(s, b2, 0, s.shape[0])
    loss = softmax_span(s, yb, ds, s.dtype.type(1.0 / rows.size), 0, rows.size, block) / rows.size
    if flush:
        _flush_subnormals(ds)
    np.dot(h1.T, ds, dW2)
    db2[:] = 0
    colsum_span(ds, db2, 0, ds.shape[0])
    np.dot(ds, W2.T, dh)
    db1[:] = 0
    relu_grad_colsum_span(dh, a1, dh, db1, 0, dh.shape[0])
    np.dot(xb.T, dh, dW1)
    return loss


@njit(cache=True)
def _test_rows(Xt, yt, start, stop, W1, b1, W2, b2, t):
    """Test loss summed over rows [start, stop), and how many were classified right."""
    a1t, h1t, st = t
    if stop <= start:
        return 0.0, 0
    np.dot(Xt[start:stop], W1, a1t[start:stop])
    bias_relu_span(a1t, b1, h1t, start, stop)
    np.dot(h1t[start:stop], W2, st[start:stop])
    bias_span(st, b2, start, stop)
    return softmax_loss_argmax(st, yt, start, stop)


@njit(cache=True)
def _sgd(w, dw, lr):
    wf = w.reshape(w.size)
    dwf = dw.reshape(dw.size)
    for i in range(wf.size):
        wf[i] -= lr * dwf[i]


@njit(cache=True)
def _task(task, i, training, evaluate, X, y, batches, W1, b1, W2, b2, Xt, yt, split, flush, block, g, t):
    """Task 0 or 1 of step i: (batch loss, test loss summed, test rows right)."""
    step_loss = 0.0
    test_total = 0.0
    correct = 0
    if task == 0:
        if training:
            step_loss = _train_step(X, y, batches[i], W1, b1, W2, b2, g, flush, block)
        if evaluate:
            test_total, correct = _test_rows(Xt, yt, 0, split, W1, b1, W2, b2, t)
    elif evaluate:
        test_total, correct = _test_rows(Xt, yt, split, Xt.shape[0], W1, b1, W2, b2, t)
    return step_loss, test_total, correct


@njit(cache=True)
def _finish(i, training, evaluate, step_loss, test_total, correct, W1, b1, W2, b2, lr, n_test, g,
            train_loss, test_loss, test_correct):
    if evaluate:
        test_loss[i] = test_total / max(n_test, 1)
        test_correct[i] = correct
    if training:
        train_loss[i] = step_loss
        _sgd(W1, g[7], lr)
        _sgd(b1, g[8], lr)
        _sgd(W2, g[9], lr)
        _sgd(b2, g[10], lr)


@njit(cache=True, parallel=True)
def sgd_two_layer_steps(
    X, y, batches, W1, b1, W2, b2, lr, Xt, yt, split, eval_mask, flush, block, g, t, train_loss, test_loss, test_correct
):
    """
    Run ``len(batches)`` SGD steps of the two-layer net, in place, the two
    tasks of each step in a ``prange``.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Training inputs.
    y : ndarray of intp, shape (N,)
    batches : ndarray of intp, shape (S, B)
        Row indices of each step's batch.
    W1, b1, W2, b2 : ndarray, shapes (D, H), (H,), (H, C), (C,)
        Parameters, updated in place.
    lr : scalar of the parameters' dtype
    Xt : ndarray, shape (Nt, D)
        Test inputs (Nt may be 0).
    yt : ndarray of intp, shape (Nt,)
    split : int
        Test rows [0, split) go to the task that also trains.
    eval_mask : ndarray of bool, shape (S + 1,)
        eval_mask[i]: evaluate the test set on the weights before step i
        (i = S: after the last step).
    flush : bool
        Set subnormal values of the loss gradient to zero.
    block : int
        config.SOFTMAX_BLOCK_ELEMENTS.
    g, t : tuples of work buffers (see fastnn.fused)
    train_loss : ndarray of float64, shape (S,)
        Written with each step's mean batch loss.
    test_loss : ndarray of float64, shape (S + 1,)
        Written with the mean test loss where eval_mask is set.
    test_correct : ndarray of int64, shape (S + 1,)
        Written with the number of test rows classified right.
    """
    for i in range(batches.shape[0] + 1):
        training = i < batches.shape[0]
        step_loss = 0.0
        test_total = 0.0
        correct = 0
        for task in prange(2):
            a, b, c = _task(task, i, training, eval_mask[i], X, y, batches, W1, b1, W2, b2, Xt, yt, split, flush, block, g, t)
            step_loss += a
            test_total += b
            correct += c
        _finish(i, training, eval_mask[i], step_loss, test_total, correct, W1, b1, W2, b2, lr, Xt.shape[0], g,
                train_loss, test_loss, test_correct)


@njit(cache=True)
def sgd_two_layer_steps_serial(
    X, y, batches, W1, b1, W2, b2, lr, Xt, yt, split, eval_mask, flush, block, g, t, train_loss, test_loss, test_correct
):
    """sgd_two_layer_steps with the two tasks one after the other, for a forked child (fastnn.threads)."""
    for i in range(batches.shape[0] + 1):
        training = i < batches.shape[0]
        step_loss = 0.0
        test_total = 0.0
        correct = 0
        for task in range(2):
            a, b, c = _task(task, i, training, eval_mask[i], X, y, batches, W1, b1, W2, b2, Xt, yt, split, flush, block, g, t)
            step_loss += a
            test_total += b
            correct += c
        _finish(i, training, eval_mask[i], step_loss, test_total, correct, W1, b1, W2, b2, lr, Xt.shape[0], g,
                train_loss, test_loss, test_correct)
