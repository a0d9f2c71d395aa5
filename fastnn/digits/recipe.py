"""The default training recipe of ``fastnn train``: the best found for the digits.

The default (:data:`RECIPE`, issue 25) averages the softmax probabilities of
four members: two ConvNets as ``--model cnn`` (64 5x5 filters, hidden 512,
30 epochs) and two fully connected nets 64-512-256-10 (batchnorm, ReLU, He
initialisation, 40 epochs), each trained with Adam (lr 1e-3, decay 0.95
per epoch, batches of 64) on inputs scaled to [0, 1], on the whole training
split with that fixed schedule (no validation holdout, no best-epoch
selection), 30% of each batch's digits shifted by at most one pixel.
Test accuracies and wall times: the README's table (issue 25).

How it was chosen, on the training split only: for each split seed 0-4, the
1257 training digits were split again 80/20 (``train_test_split``,
random_state 100 + seed, and for the finalists 200 + seed); each candidate
trained on the 80% and was scored on the 20% (252 digits), in a plain loop
(shuffled epochs, Adam) over these models.  Mean accuracy over the five
seeds (the SVC of the issue on the same inner splits: 0.9905 and 0.9873):

| candidate | inner 100 | inner 200 |
|---|---|---|
| 4 fc nets, no augmentation (the previous default's nets) | 0.9857 | |
| 1 ConvNet, 20 epochs | 0.9865 | |
| 4 fc nets without normalisation, hidden 1024 | 0.9770 | |
| 2 ConvNets + 4 fc nets, no augmentation | 0.9841 | |
| 3 ConvNets | 0.9849 | |
| 1 ConvNet, weight decay 1e-3, 30 epochs | 0.9865 | |
| 4 fc nets, weight decay 1e-3 | 0.9849 | |
| 1 ConvNet, 30% shifted, 30 epochs | 0.9881 | |
| 4 fc nets, 30% shifted, 40 epochs | 0.9897 | 0.9881 |
| 1 ConvNet, 50% shifted, 40 epochs | 0.9905 | 0.9881 |
| 3 ConvNets, 30% shifted, 30 epochs | 0.9881 | |
| **2 ConvNets + 2 fc nets, 30% shifted (chosen)** | 0.9889 | **0.9913** |
| 4 fc nets, 50% shifted, 60 epochs | 0.9889 | |
| 1 ConvNet, 70% shifted, 60 epochs | 0.9881 | |
| 2 ConvNets, 50% shifted, 40 epochs | 0.9873 | |
| 2 ConvNets + 2 fc nets, 50% shifted | 0.9889 | |

The chosen one has the best mean over both inner splits (0.9901, the SVC
0.9889).  The differences are a few digits in 1260, near the noise; what
stood out is the one-pixel shift of a fraction of the digits, and no
holdout.  Earlier measurements (the previous default, on the test split of
seeds 0-4): one fc net 0.9796 median; 256x2 without normalisation 0.972;
standardised inputs 0.970; layer norm 0.970; dropout 0.954-0.974; shifts,
rotations and noise on every digit 0.89-0.94 (``--augment``).
"""

import time
from dataclasses import dataclass, field, replace

import numpy as np

from fastnn.augment import Augment
from fastnn.classifiers.cnn import ThreeLayerConvNet
from fastnn.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from fastnn.solver import Solver


@dataclass
class DefaultRecipe:
    model: str = "fc"
    hidden: tuple = (512, 256)
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_decay: float = 0.95
    epochs: int = 30
    batch_size: int = 64
    dropout: float = 1.0
    norm: str = "batchnorm"
    filters: int = 32
    filter_size: int = 3
    init: str = "he"
    augment: bool = False
    ensemble: int = 4
    reg: float = 0.0
    seed: int = 0
    val_fraction: float = 0.1
    backend: str = "cpu"
    cnn_members: int = 0
    cnn_epochs: int = 30
    shift_probability: float = 0.0
    keep_best: bool = True


#: ``fastnn train --model cnn``: one ThreeLayerConvNet on the digits as 1x8x8
#: images, 64 filters of 5x5, hidden 512, He initialisation, Adam as above for
#: 20 epochs.  Measured for seeds 0-4 (float32, 2-core machine): 0.9796,
#: 0.9852, 0.9556, 0.9852, 0.9870, median 0.9852, about 5 s a run.  It is
#: not the default: its median is one test digit in 540 above the default's
#: (0.9833) while its weak seed 2 is seven digits worse (0.9556 against
#: 0.9685).  Tried and measured worse (median, worst of seeds 0-4): 32 3x3
#: filters, hidden 256: 0.9796, 0.9704; four of those averaged: 0.9815,
#: 0.9648; four of the 64 5x5 nets averaged: 0.9833, 0.9611 (21 s); weight
#: decay 1e-3, batches of 32 or lr 3e-3 with decay 0.85: 0.978-0.982;
#: the course's draw (weight_scale 1e-2 or 0.1 for every layer): 0.93-0.976;
#: shift/rotation/noise augmentation: 0.90.
CNN_RECIPE = DefaultRecipe(model="cnn", hidden=(512,), epochs=20, ensemble=1, filters=64, filter_size=5, norm=None)

#: The default of ``fastnn train`` (issue 25): two ConvNets as CNN_RECIPE's
#: (30 epochs) and two of the fully connected nets (40 epochs), their
#: softmax probabilities averaged; 30% of each batch's digits shifted by one
#: pixel at most (no rotation or noise); every member trains on the whole
#: training split with a fixed schedule (no validation holdout, no
#: best-epoch selection: ``keep_best=False``).  Chosen on the training split
#: only: see the module docstring.
RECIPE = DefaultRecipe(epochs=40, ensemble=2, cnn_members=2, cnn_epochs=30, shift_probability=0.3, val_fraction=0.0,
                       keep_best=False)


@dataclass
class RecipeResult:
    accuracy: float
    seconds: float
    member_accuracies: list = field(default_factory=list)
    solvers: list = field(default_factory=list)


def _softmax(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _model(recipe, dtype, seed):
    if recipe.model == "two-layer":
        if len(recipe.hidden) != 1:
            raise ValueError(f"hidden: the two-layer model takes one hidden size, got {recipe.hidden}")
        return TwoLayerNet(64, recipe.hidden[0], 10, weight_scale=1e-2, reg=recipe.reg, dtype=dtype, init=recipe.init, init_seed=seed,
                           backend=recipe.backend)
    if recipe.model == "cnn":
        if recipe.backend != "cpu":
            raise ValueError(f"backend: the ConvNet trains on the CPU only, got {recipe.backend!r}")
        if len(recipe.hidden) != 1:
            raise ValueError(f"hidden: the ConvNet takes one hidden size, got {recipe.hidden}")
        return ThreeLayerConvNet((1, 8, 8), recipe.filters, recipe.filter_size, recipe.hidden[0], 10, weight_scale=1e-2,
                                 reg=recipe.reg, dtype=dtype, init=recipe.init, init_seed=seed)
    if recipe.model != "fc":
        raise ValueError(f"model: expected 'two-layer', 'fc' or 'cnn', got {recipe.model!r}")
    return FullyConnectedNet(
        list(recipe.hidden), 64, 10, dropout_keep_ratio=recipe.dropout, normalization=recipe.norm,
        reg=recipe.reg, weight_scale=1e-2, dtype=dtype, init=recipe.init, init_seed=seed, backend=recipe.backend,
    )


def _test_scores(model, X_test):
    if model.backend == "cpu":
        return model.loss(X_test)
    import fastnn.cuda as G

    return G.to_host(model.loss(G.to_device(X_test)))


def train_recipe(recipe, split, progress=True):
    """
    Train the recipe's ensemble on a digits split and score it on the test set.

    Each member seeds its initialisation and its Solver's batches, and
    NumPy's global generator, which dropout draws from (as in cs231n).

    Inputs:
    - recipe: DefaultRecipe (backend 'cuda' trains the fully connected models on the GPU)
    - split: fastnn.digits.data.Split (its dtype is the training dtype)
    - progress: Show each member's progress bar

    Returns:
    - RecipeResult(accuracy, seconds, member_accuracies, solvers)
    """
    dtype = split.X_train.dtype
    scale = dtype.type(16)
    X, X_test = split.X_train / scale, split.X_test / scale
    members = [recipe] * recipe.ensemble
    if recipe.cnn_members:
        cnn = replace(CNN_RECIPE, epochs=recipe.cnn_epochs, seed=recipe.seed, backend=recipe.backend,
                      optimizer=recipe.optimizer, lr=recipe.lr, lr_decay=recipe.lr_decay, batch_size=recipe.batch_size)
        members = [cnn] * recipe.cnn_members + members
    start = time.perf_counter()
    probabilities = 0.0
    result = RecipeResult(0.0, 0.0)
    for number, member in enumerate(members):
        seed = recipe.seed * 1000 + number
        images = member.model == "cnn"
        X_member = X.reshape(-1, 1, 8, 8) if images else X
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(X_member))
        n_val = int(len(X_member) * recipe.val_fraction)
        train = order[n_val:]
        # No holdout: a tenth of the training data stands in, for the progress line only (it decides nothing
        # without keep_best, and its check draws nothing from the Solver's generator).
        val = order[:n_val] if n_val else order[:max(1, len(order) // 10)]
        data = {
            "X_train": X_member[train], "y_train": split.y_train[train],
            "X_val": X_member[val], "y_val": split.y_train[val],
        }
        np.random.seed(seed)
        model = _model(member, dtype, seed)
        solver = Solver(
            model, data, update_rule=member.optimizer, optim_config={"learning_rate": member.lr},
            lr_decay=member.lr_decay, num_epochs=member.epochs, batch_size=member.batch_size, verbose=progress,
            seed=seed, num_train_samples=None, augment=_augment(recipe, seed), keep_best=recipe.keep_best,
        )
        solver.train()
        X_eval = X_test.reshape(-1, 1, 8, 8) if images else X_test
        member_probs = _softmax(_test_scores(model, X_eval).astype(np.float64))
        result.member_accuracies.append(float(np.mean(member_probs.argmax(axis=1) == split.y_test)))
        result.solvers.append(solver)
        probabilities = probabilities + member_probs
    result.seconds = time.perf_counter() - start
    result.accuracy = float(np.mean(np.argmax(probabilities, axis=1) == split.y_test))
    return result


def _augment(recipe, seed):
    """The members' augmentation: the full one (--augment), the default's one-pixel shifts of a fraction, or none."""
    if recipe.augment:
        return Augment(seed=seed)
    if recipe.shift_probability:
        return Augment(max_shift=1, max_degrees=0.0, noise_std=0.0, probability=recipe.shift_probability, seed=seed)
    return None


def baselines(split):
    """
    scikit-learn's classic baselines on the same split, for ``fastnn train``
    to print beside its accuracy: ``SVC(gamma=0.001, C=10)`` and 3-NN on the
    raw pixels (0 to 16).  Returns {name: test accuracy}.
    """
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    X, X_test = split.X_train.astype(np.float64), split.X_test.astype(np.float64)
    return {
        "SVC(gamma=0.001, C=10)": float(SVC(gamma=0.001, C=10).fit(X, split.y_train).score(X_test, split.y_test)),
        "3-NN": float(KNeighborsClassifier(n_neighbors=3).fit(X, split.y_train).score(X_test, split.y_test)),
    }


def plot_history(solver, path):
    """Loss and train/validation accuracy curves of one Solver, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6))
    top.plot(solver.loss_history, linewidth=0.6)
    top.set_xlabel("iteration")
    top.set_ylabel("training loss")
    top.set_yscale("log")
    epochs = np.arange(len(solver.train_acc_history))
    bottom.plot(epochs, solver.train_acc_history, label="train")
    bottom.plot(epochs, solver.val_acc_history, label="validation")
    bottom.set_xlabel("epoch")
    bottom.set_ylabel("accuracy")
    bottom.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
