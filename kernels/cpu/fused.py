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
def _task(task, i, evaluate, data, params, setup, g, t, result):
    """Task 0 or 1 of step i; result[:] = (batch loss, test loss summed, test rows right)."""
    X, y, batches, Xt, yt = data
    W1, b1, W2, b2 = params
    lr, split, flush, block = setup
    training = i < batches.shape[0]
    result[:] = 0.0
    if task == 0:
        if training:
            result[0] = _train_step(X, y, batches[i], W1, b1, W2, b2, g, flush, block)
        if evaluate:
            result[1], result[2] = _test_rows(Xt, yt, 0, split, W1, b1, W2, b2, t)
    elif evaluate:
        result[1], result[2] = _test_rows(Xt, yt, split, Xt.shape[0], W1, b1, W2, b2, t)


@njit(cache=True)
def _finish(i, evaluate, results, data, params, setup, g, logs):
    """Record step i's results (both tasks') and apply its SGD update."""
    batches, n_test = data[2], data[3].shape[0]
    train_loss, test_loss, test_correct = logs
    if evaluate:
        test_loss[i] = (results[0, 1] + results[1, 1]) / max(n_test, 1)
        test_correct[i] = int(results[0, 2] + results[1, 2])
    if i < batches.shape[0]:
        train_loss[i] = results[0, 0]
        W1, b1, W2, b2 = params
        lr = setup[0]
        _sgd(W1, g[7], lr)
        _sgd(b1, g[8], lr)
        _sgd(W2, g[9], lr)
        _sgd(b2, g[10], lr)


@njit(cache=True, parallel=True)
def sgd_two_layer_steps(data, params, setup, eval_mask, g, t, logs):
    """
    Run ``len(batches)`` SGD steps of the two-layer net, in place, the two
    tasks of each step in a ``prange``.

    Parameters
    ----------
    data : tuple (X, y, batches, Xt, yt)
        Training inputs (N, D) and labels (N,) of intp; the row indices of
        each step's batch (S, B) of intp; test inputs (Nt, D) (Nt may be 0)
        and labels (Nt,).
    params : tuple (W1, b1, W2, b2)
        Shapes (D, H), (H,), (H, C), (C,), updated in place.
    setup : tuple (lr, split, flush, block)
        The learning rate in the parameters' dtype; test rows [0, split) go
        to the task that also trains; flush: set subnormal values of the loss
        gradient to zero; block: config.SOFTMAX_BLOCK_ELEMENTS.
    eval_mask : ndarray of bool, shape (S + 1,)
        eval_mask[i]: evaluate the test set on the weights before step i
        (i = S: after the last step).
    g, t : tuples of work buffers (see fastnn.fused)
    logs : tuple (train_loss, test_loss, test_correct)
        Written with each step's mean batch loss (S,), the mean test loss
        where eval_mask is set (S + 1,), and the test rows classified right
        (S + 1,) of int64.
    """
    results = np.zeros((2, 3))
    for i in range(data[2].shape[0] + 1):
        for task in prange(2):
            _task(task, i, eval_mask[i], data, params, setup, g, t, results[task])
        _finish(i, eval_mask[i], results, data, params, setup, g, logs)


@njit(cache=True)
def sgd_two_layer_steps_serial(data, params, setup, eval_mask, g, t, logs):
    """sgd_two_layer_steps with the two tasks one after the other, for a forked child (fastnn.threads)."""
    results = np.zeros((2, 3))
    for i in range(eval_mask.size):
        _task(0, i, eval_mask[i], data, params, setup, g, t, results[0])
        _task(1, i, eval_mask[i], data, params, setup, g, t, results[1])
        _finish(i, eval_mask[i], results, data, params, setup, g, logs)
