"""The seed's training loop in PyTorch (CPU), for comparisons only.

Importing this module raises ImportError when torch is not installed; the
rest of fastnn never needs it.  The parameters are shared with the NumPy
arrays (``torch.from_numpy``), so updates land in the caller's dict exactly
as with the other engines.
"""

import torch
import torch.nn.functional as F


def _tensors(params, split, device):
    W = [torch.from_numpy(params[name]).to(device) for name in ("W1", "b1", "W2", "b2")]
    data = (split.X_train, split.y_train, split.X_test, split.y_test)
    return (W, *(torch.from_numpy(a).to(device) for a in data))


@torch.no_grad()
def _test_loss(W, X, y):
    W1, b1, W2, b2 = W
    return float(F.cross_entropy(torch.relu(X @ W1 + b1) @ W2 + b2, y))


def _autograd_step(W, xb, yb):
    leaves = [w.detach().requires_grad_() for w in W]
    W1, b1, W2, b2 = leaves
    loss = F.cross_entropy(torch.relu(xb @ W1 + b1) @ W2 + b2, yb)
    grads = torch.autograd.grad(loss, leaves)
    return float(loss.detach()), grads


@torch.no_grad()
def _manual_step(W, xb, yb):
    W1, b1, W2, b2 = W
    a = xb @ W1 + b1
    h = torch.relu(a)
    s = h @ W2 + b2
    p = torch.softmax(s, dim=1)
    n = xb.shape[0]
    loss = float(-torch.log_softmax(s, dim=1)[torch.arange(n), yb].mean())
    ds = p
    ds[torch.arange(n), yb] -= 1
    ds /= n
    dW2, db2 = h.T @ ds, ds.sum(0)
    dh = (ds @ W2.T) * (a >= 0)
    return loss, (xb.T @ dh, dh.sum(0), dW2, db2)


def steps(autograd, device="cpu"):
    """A step function for fastnn.digits.seed: the seed's loop, with or without autograd.

    On a CUDA device the parameters are copied there at the start of a chunk
    and back at its end; on the CPU they share memory with the NumPy arrays.
    """
    step = _autograd_step if autograd else _manual_step

    def run(params, split, batches, lr, first_step, eval_every):
        W, X, y, Xt, yt = _tensors(params, split, device)
        train_loss = test_loss = float("nan")
        for k, batch in enumerate(torch.from_numpy(batches).to(device)):
            train_loss, grads = step(W, X[batch], y[batch])
            with torch.no_grad():
                for w, g in zip(W, grads):
                    w -= float(lr) * g
            if (first_step + k) % eval_every == 0:
                test_loss = _test_loss(W, Xt, yt)
        if device != "cpu":
            for name, w in zip(("W1", "b1", "W2", "b2"), W):
                params[name][...] = w.cpu().numpy()
        return train_loss, test_loss

    return run
