"""The seed notebook's experiment: a 64-100-10 net trained with plain SGD.

The loop is written once against the layer API, so the same code runs with
the compiled layers (:mod:`fastnn.layers`) and with the NumPy oracle
(:mod:`fastnn.reference`), and ``fastnn train --compare`` times both.
"""

import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm


@dataclass
class Recipe:
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


def train_two_layer(layers, split, recipe=None, progress=True, desc="train"):
    """
    Train the seed's two-layer net with SGD on a digits split.

    Like the seed, every ``eval_every`` iterations (every one by default) it
    runs the whole test set forward and computes its loss; the progress bar
    shows the losses and test accuracy every 1000 iterations.

    Inputs:
    - layers: A module with the fastnn layer API
    - split: fastnn.data.Split; its dtype sets the training dtype
    - recipe: Recipe of hyper-parameters (default: the seed's)
    - progress: Show a tqdm progress bar
    - desc: Label of the progress bar

    Returns:
    - TrainResult(accuracy, seconds, train_loss, test_loss), where seconds is
      the wall time of the loop alone
    """
    recipe = recipe or Recipe()
    dtype = split.X_train.dtype
    rng = np.random.default_rng(recipe.seed)
    num_classes = int(max(split.y_train.max(), split.y_test.max())) + 1
    params = init_two_layer(rng, split.X_train.shape[1], recipe.hidden, num_classes, dtype)
    lr = dtype.type(recipe.lr)
    n_train = split.X_train.shape[0]
    train_loss = test_loss = float("nan")
    bar = tqdm(range(recipe.iters), desc=desc, disable=not progress, mininterval=0.5, unit="it")
    start = time.perf_counter()
    for i in bar:
        batch = rng.integers(0, n_train, recipe.batch_size)
        X, y = split.X_train[batch], split.y_train[batch]

        hidden, cache1 = layers.affine_relu_forward(X, params["W1"], params["b1"])
        scores, cache2 = layers.affine_forward(hidden, params["W2"], params["b2"])
        train_loss, dscores = layers.softmax_loss(scores, y)

        dhidden, dW2, db2 = layers.affine_backward(dscores, cache2)
        _, dW1, db1 = layers.affine_relu_backward(dhidden, cache1)

        for name, grad in (("W1", dW1), ("b1", db1), ("W2", dW2), ("b2", db2)):
            params[name] -= lr * grad

        if i % recipe.eval_every == 0:
            test_scores = forward_scores(layers, params, split.X_test)
            test_loss, _ = layers.softmax_loss(test_scores, split.y_test)
            if progress and i % 1000 == 0:
                accuracy = np.mean(test_scores.argmax(axis=1) == split.y_test)
                bar.set_postfix(tr_loss=f"{train_loss:.2f}", te_loss=f"{test_loss:.2f}", te_acc=f"{accuracy:.3f}")
    seconds = time.perf_counter() - start
    bar.close()
    accuracy = float(np.mean(forward_scores(layers, params, split.X_test).argmax(axis=1) == split.y_test))
    return TrainResult(accuracy, seconds, float(train_loss), float(test_loss))
