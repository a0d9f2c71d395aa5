"""The default recipe (fastnn.digits.recipe) trained in PyTorch, for timing comparisons.

Importing this module raises ImportError when torch is not installed; the
rest of fastnn never needs it.  Each member is the fastnn member's twin:
the same held-out split, the same initial weights (drawn by fastnn's own
model, then copied), the same batches (the Solver's ``RandomState(seed)
.choice`` draws, in the same order), Adam with the same hyper-parameters,
the learning rate decayed at every epoch's end, accuracy on the whole train
and validation sets after the first step and every epoch, and the best
validation epoch kept.  The layers come from ``nn`` (``torch.nn`` by
default; fastnn.torch's modules fit too), so one function times both.

Differences from fastnn's model that remain: torch's BatchNorm1d keeps the
unbiased variance as its running average (cs231n's keeps the biased one),
and its dropout masks are torch's.  The numbers are close, not equal; this
is for time per epoch and a sanity check of the accuracy.
"""

import copy
import time

import numpy as np

import fastnn.kernels  # noqa: F401  (before torch: fastnn.threads' spin setting must reach torch's OpenMP runtime)
import torch  # noqa: E402

from fastnn.classifiers.fc_net import FullyConnectedNet
from fastnn.digits.recipe import RecipeResult


def torch_network(model, nn, device, dtype):
    """torch layers in fastnn's FullyConnectedNet order, holding model's initial parameters."""
    layers = []
    n = model.num_layers
    for i in range(1, n + 1):
        W, b = model.params[f"W{i}"], model.params[f"b{i}"]
        linear = nn.Linear(W.shape[0], W.shape[1])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i == n:
            break
        if model.normalization == "batchnorm":
            # cs231n's running = momentum * running + (1 - momentum) * batch, momentum 0.9.
            layers.append(nn.BatchNorm1d(W.shape[1], eps=1e-5, momentum=0.1))
        elif model.normalization == "layernorm":
            layers.append(nn.LayerNorm(W.shape[1], eps=1e-5))
        layers.append(nn.ReLU())
        if model.use_dropout:
            layers.append(nn.Dropout(1 - model.dropout_param["p"]))
    return torch.nn.Sequential(*layers).to(device=device, dtype=dtype)


@torch.no_grad()
def _accuracy(net, X, y, batch_size=100):
    net.eval()
    correct = sum(int((net(X[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum()) for i in range(0, len(X), batch_size))
    net.train()
    return correct / len(X)


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def train_recipe_torch(recipe, split, device="cpu", nn=torch.nn):
    """
    Train the recipe's ensemble of fully connected nets in PyTorch and score it on the test set.

    Inputs:
    - recipe: fastnn.digits.recipe.DefaultRecipe (model 'fc', no augmentation)
    - split: fastnn.digits.data.Split (its dtype is the training dtype)
    - device: torch device, 'cpu' or 'cuda'
    - nn: the module namespace the layers and the loss come from (Linear, BatchNorm1d, LayerNorm, ReLU, Dropout,
  CrossEntropyLoss)

    Returns:
    - RecipeResult(accuracy, seconds, member_accuracies, solvers=[]), seconds
      being the training time alone (data on the device, models built)
    """
    if recipe.model != "fc" or recipe.augment:
        raise ValueError("recipe: the PyTorch twin trains the fully connected recipe without augmentation")
    dtype = split.X_train.dtype
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    scale = dtype.type(16)
    X, X_test = split.X_train / scale, split.X_test / scale
    to = lambda a: torch.as_tensor(np.ascontiguousarray(a), device=device)  # noqa: E731
    result = RecipeResult(0.0, 0.0)
    probabilities = 0.0
    for member in range(recipe.ensemble):
        seed = recipe.seed * 1000 + member
        order = np.random.default_rng(seed).permutation(len(X))
        n_val = int(len(X) * recipe.val_fraction)
        X_train, y_train = to(X[order[n_val:]]), to(split.y_train[order[n_val:]].astype(np.int64))
        X_val, y_val = to(X[order[:n_val]]), to(split.y_train[order[:n_val]].astype(np.int64))
        np.random.seed(seed)
        model = FullyConnectedNet(list(recipe.hidden), 64, 10, dropout_keep_ratio=recipe.dropout, normalization=recipe.norm,
                                  reg=recipe.reg, weight_scale=1e-2, dtype=dtype, init=recipe.init, init_seed=seed)
        torch.manual_seed(seed)
        net = torch_network(model, nn, device, torch_dtype)
        weights = [m.weight for m in net if isinstance(m, torch.nn.Linear)]
        optimizer = torch.optim.Adam(net.parameters(), lr=recipe.lr, betas=(0.9, 0.999), eps=1e-8)
        loss_fn = nn.CrossEntropyLoss()
        draw = np.random.RandomState(seed)
        num_train = X_train.shape[0]
        per_epoch = max(num_train // recipe.batch_size, 1)
        best_acc, best = -1.0, None
        _sync(device)
        start = time.perf_counter()
        for it in range(recipe.epochs * per_epoch):
            rows = to(draw.choice(num_train, recipe.batch_size))
            loss = loss_fn(net(X_train[rows]), y_train[rows])
            if recipe.reg:
                loss = loss + 0.5 * recipe.reg * sum((w * w).sum() for w in weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            epoch_end = (it + 1) % per_epoch == 0
            if epoch_end:
                for group in optimizer.param_groups:
                    group["lr"] *= recipe.lr_decay
            if it == 0 or epoch_end:
                _accuracy(net, X_train, y_train)
                val_acc = _accuracy(net, X_val, y_val)
                if val_acc > best_acc:
                    best_acc, best = val_acc, copy.deepcopy(net.state_dict())
        _sync(device)
        result.seconds += time.perf_counter() - start
        net.load_state_dict(best)
        net.eval()
        with torch.no_grad():
            member_probs = torch.softmax(net(to(X_test)).double(), 1).cpu().numpy()
        result.member_accuracies.append(float(np.mean(member_probs.argmax(axis=1) == split.y_test)))
        probabilities = probabilities + member_probs
    result.accuracy = float(np.mean(np.argmax(probabilities, axis=1) == split.y_test))
    return result
