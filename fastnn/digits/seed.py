"""The seed notebook's experiment: a 64-100-10 net trained with plain SGD.

One recipe, several engines that compute the same thing:

* ``fused``: :func:`fastnn.fused.sgd_two_layer`, every step compiled;
* ``layers``: the seed's Python loop calling :mod:`fastnn.layers`;
* ``reference``: the same loop calling the NumPy oracle :mod:`fastnn.reference`;
* ``torch-autograd`` and ``torch-manual``: the same loop in PyTorch, where
  it is installed (see :mod:`fastnn.digits.torch_loops`).

Every engine starts from the same initial weights and sees the same batches
(drawn per chunk of ``REPORT_EVERY`` steps from one seeded generator), so
``fastnn train --compare`` times identical work.
"""

import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

REPORT_EVERY = 1000


@dataclass
class SeedRecipe:
    """Hyper-parameters; the defaults are the seed notebook's."""

    iters: int = 50_000
    lr: float = 1e-4
    batch_size: int = 100
    hidden: int = 100
    seed: int = 0
    eval_every: int = 1


@dataclass
class TrainResult:
    accuracy: float
    seconds: float
    train_loss: float
    test_loss: float


def init_two_layer(rng, input_dim, hidden, num_classes, dtype):
    """The seed's initialisation: every weight and bias uniform in [0, 1)."""
    return {
        "W1": rng.random((input_dim, hidden)).astype(dtype),
        "b1": rng.random(hidden).astype(dtype),
        "W2": rng.random((hidden, num_classes)).astype(dtype),
        "b2": rng.random(num_classes).astype(dtype),
    }


def forward_scores(layers, params, X):
    """Scores of shape (N, C) of the two-layer net for X of shape (N, D)."""
    hidden, _ = layers.affine_relu_forward(X, params["W1"], params["b1"])
    scores, _ = layers.affine_forward(hidden, params["W2"], params["b2"])
    return scores


def seed_step(layers, params, X, y, update):
    """One step of the seed's loop: forward, backward, then update(name, grad) per parameter."""
    hidden, cache1 = layers.affine_relu_forward(X, params["W1"], params["b1"])
    scores, cache2 = layers.affine_forward(hidden, params["W2"], params["b2"])
    loss, dscores = layers.softmax_loss(scores, y)
    dhidden, dW2, db2 = layers.affine_backward(dscores, cache2)
    _, dW1, db1 = layers.affine_relu_backward(dhidden, cache1)
    for name, grad in (("W1", dW1), ("b1", db1), ("W2", dW2), ("b2", db2)):
        update(name, grad)
    return loss


def seed_test_loss(layers, params, X, y):
    """The softmax loss of the whole set X, y, as the seed computes it after each step."""
    loss, _ = layers.softmax_loss(forward_scores(layers, params, X), y)
    return loss


def _layer_steps(layers):
    """The seed's loop over a chunk of batches, written against a layer module."""

    def steps(params, split, batches, lr, first_step, eval_every):
        def update(name, grad):
            params[name] -= lr * grad

        train_loss = test_loss = float("nan")
        for k, batch in enumerate(batches):
            train_loss = seed_step(layers, params, split.X_train[batch], split.y_train[batch], update)
            if (first_step + k) % eval_every == 0:
                test_loss = seed_test_loss(layers, params, split.X_test, split.y_test)
        return train_loss, test_loss

    return steps


def fused_steps(flush_subnormals=False):
    """The fused engine: every step compiled (fastnn.fused.sgd_two_layer)."""

    def steps(params, split, batches, lr, first_step, eval_every):
        from fastnn.fused import sgd_two_layer

        history = sgd_two_layer(
            params, split.X_train, split.y_train, batches, lr, split.X_test, split.y_test, eval_every,
            flush_subnormals=flush_subnormals, first_step=first_step,
        )
        evaluated = history.test_loss[~np.isnan(history.test_loss)]
        return float(history.train_loss[-1]), float(evaluated[-1]) if evaluated.size else float("nan")

    return steps


def cuda_steps():
    """The seed's loop over :mod:`fastnn.cuda`: data, weights and every step on the GPU.

    The parameters are copied to the device at the start of a chunk and back
    at its end, so the caller's dict is current between chunks.
    """
    import fastnn.cuda as G

    device_data = {}

    def steps(params, split, batches, lr, first_step, eval_every):
        if device_data.get("split") is not split:
            device_data.clear()
            device_data.update(
                split=split,
                X=G.to_device(split.X_train),
                y=G.to_device(split.y_train.astype(np.int64)),
                Xt=G.to_device(split.X_test),
                yt=G.to_device(split.y_test.astype(np.int64)),
            )
        d = device_data
        W = {name: G.to_device(value) for name, value in params.items()}
        # Host row indices: checked on the host and uploaded with each batch,
        # where device ones would cost a copy back of their range every step.
        rows = np.ascontiguousarray(batches, dtype=np.int64)

        def update(name, grad):
            G.sgd_update(W[name], grad, lr)

        train_loss = test_loss = float("nan")
        for k in range(len(batches)):
            X, y = G.take_rows((d["X"], d["y"]), rows[k])
            train_loss = seed_step(G, W, X, y, update)
            if (first_step + k) % eval_every == 0:
                test_loss = seed_test_loss(G, W, d["Xt"], d["yt"])
        for name, value in W.items():
            params[name][...] = G.to_host(value)
        return train_loss, test_loss

    return steps


def engines(backend="cpu", flush_subnormals=False):
    """
    The engines of one backend: name -> function(params, split, batches, lr, first_step, eval_every).

    Inputs:
    - backend: 'cpu': fused, layers, reference, and torch-autograd and
      torch-manual where PyTorch is installed; 'cuda': cuda, the CPU
      reference to compare with, and torch-cuda-autograd and
      torch-cuda-manual where PyTorch has CUDA
    - flush_subnormals: The fused engine sets subnormal loss gradients to zero

    Raises ImportError, from fastnn.cuda, for 'cuda' on a machine without a GPU.
    """
    import fastnn.reference

    if backend not in ("cpu", "cuda"):
        raise ValueError(f"backend: expected 'cpu' or 'cuda', got {backend!r}")
    if flush_subnormals and backend != "cpu":
        raise ValueError("flush_subnormals: applies only to the fused CPU engine, not to backend 'cuda'")
    reference = _layer_steps(fastnn.reference)
    if backend == "cuda":
        table = {"cuda": cuda_steps(), "reference": reference}
    else:
        import fastnn.layers

        table = {"fused": fused_steps(flush_subnormals), "layers": _layer_steps(fastnn.layers), "reference": reference}
    try:
        import torch

        from fastnn.digits import torch_loops
    except ImportError:
        return table
    if backend == "cpu":
        table["torch-autograd"] = torch_loops.steps(autograd=True)
        table["torch-manual"] = torch_loops.steps(autograd=False)
    elif torch.cuda.is_available():
        table["torch-cuda-autograd"] = torch_loops.steps(autograd=True, device="cuda")
        table["torch-cuda-manual"] = torch_loops.steps(autograd=False, device="cuda")
    return table


def train_two_layer(engine, split, recipe=None, progress=True, desc=None):
    """
    Train the seed's two-layer net with SGD on a digits split.

    Like the seed, every ``eval_every`` steps (every one by default) it runs
    the whole test set forward and computes its loss; the progress bar shows
    the latest losses and the test accuracy every REPORT_EVERY steps.

    Inputs:
    - engine: Name of an engine from engines(), or a step function
    - split: fastnn.digits.data.Split; its dtype sets the training dtype
    - recipe: SeedRecipe of hyper-parameters (default: the seed's)
    - progress: Show a tqdm progress bar
    - desc: Label of the progress bar (default: the engine's name)

    Returns:
    - TrainResult(accuracy, seconds, train_loss, test_loss), where seconds is
      the wall time of the training loop alone
    """
    import fastnn.reference

    recipe = recipe or SeedRecipe()
    steps = engines()[engine] if isinstance(engine, str) else engine
    dtype = split.X_train.dtype
    rng = np.random.default_rng(recipe.seed)
    num_classes = int(max(split.y_train.max(), split.y_test.max())) + 1
    params = init_two_layer(rng, split.X_train.shape[1], recipe.hidden, num_classes, dtype)
    lr = dtype.type(recipe.lr)
    n_train = split.X_train.shape[0]
    train_loss = test_loss = float("nan")
    bar = tqdm(total=recipe.iters, desc=desc or str(engine), disable=not progress, mininterval=0.5, unit="it")
    seconds = 0.0
    for first in range(0, recipe.iters, REPORT_EVERY):
        count = min(REPORT_EVERY, recipe.iters - first)
        batches = rng.integers(0, n_train, (count, recipe.batch_size))
        start = time.perf_counter()
        train_loss, test_loss = steps(params, split, batches, lr, first, recipe.eval_every)
        seconds += time.perf_counter() - start
        if progress:
            scores = forward_scores(fastnn.reference, params, split.X_test)
            accuracy = np.mean(scores.argmax(axis=1) == split.y_test)
            bar.set_postfix(tr_loss=f"{train_loss:.2f}", te_loss=f"{test_loss:.2f}", te_acc=f"{accuracy:.3f}")
        bar.update(count)
    bar.close()
    scores = forward_scores(fastnn.reference, params, split.X_test)
    accuracy = float(np.mean(scores.argmax(axis=1) == split.y_test))
    return TrainResult(accuracy, seconds, float(train_loss), float(test_loss))
