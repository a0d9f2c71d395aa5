"""Data-parallel training of the default recipe with torch.distributed: ``torchrun ... -m fastnn.distributed``.

    torchrun --standalone --nproc-per-node 2 -m fastnn.distributed --epochs 30
    torchrun --nnodes 2 --node-rank 0 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
             --nproc-per-node 2 -m fastnn.distributed          # on each machine, its own --node-rank

The engine is PyTorch's: the model is built from fastnn.torch modules
(``--modules torch`` builds it from torch.nn instead, for comparison) and
wrapped in ``torch.nn.parallel.DistributedDataParallel`` over gloo, which
averages the gradients across processes after every backward pass.  Every
process draws the same global batch from ``RandomState(seed)``, as the
Solver does, and trains on its own contiguous share of it (batch_size /
world_size rows), so with equal shares the averaged gradient is the one of
the whole batch: without batch normalisation or dropout, N processes
compute what one process computes on the full batches (the tests hold two
gloo processes to one to 1e-10 in float64 over 20 SGD steps).  Batch
normalisation normalises over each process's share, as DistributedDataParallel
does without SyncBatchNorm (which needs GPUs); dropout draws each
process's masks from NumPy's generator seeded with seed + rank.

The recipe is fastnn.digits.recipe.DefaultRecipe's member 0 (one net, no
ensemble): the same held-out split, initial weights (fastnn's draw) and
Adam settings.  Rank 0 measures accuracy and keeps the best validation
epoch; it prints the time per epoch and the test accuracy.

Threads: each process uses (CPU cores) / (processes on its machine)
threads, at least one, for fastnn and for torch alike (``--threads``
overrides it), so two processes on a 2-core machine run one thread each.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

_MODULES = ("fastnn", "torch")


def parse_args(argv=None):
    from fastnn.digits.recipe import DefaultRecipe

    r = DefaultRecipe()
    p = argparse.ArgumentParser(prog="torchrun ... -m fastnn.distributed", description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=r.epochs, help="default %(default)s")
    p.add_argument("--steps", type=int, help="train exactly this many steps instead of whole epochs")
    p.add_argument("--hidden", default=",".join(map(str, r.hidden)), help="hidden sizes (default %(default)s)")
    p.add_argument("--norm", choices=("batchnorm", "none"), default=r.norm, help="default %(default)s")
    p.add_argument("--dropout", type=float, default=r.dropout, help="keep probability (default %(default)s: none)")
    p.add_argument("--optimizer", choices=("adam", "sgd", "sgd_momentum"), default=r.optimizer, help="default %(default)s")
    p.add_argument("--lr", type=float, default=r.lr, help="default %(default)s")
    p.add_argument("--batch-size", type=int, default=r.batch_size, help="the global batch, split across processes (default %(default)s)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--modules", choices=_MODULES, default="fastnn", help="layers from fastnn.torch (default) or torch.nn")
    p.add_argument("--threads", type=int, help="threads per process (default: cores / processes on this machine)")
    p.add_argument("--save-params", metavar="FILE.npz", help="rank 0 writes the final parameters")
    p.add_argument("--metrics", metavar="FILE.json", help="rank 0 writes the timings and accuracy")
    args = p.parse_args(argv)
    try:
        args.hidden = tuple(int(v) for v in args.hidden.split(","))
    except ValueError:
        p.error(f"--hidden: expected comma-separated positive integers, got {args.hidden}")
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(args, name)}")
    if args.steps is not None and args.steps < 1:
        p.error(f"--steps: expected a positive integer, got {args.steps}")
    if not 0 < args.dropout <= 1:
        p.error(f"--dropout: expected a keep probability in (0, 1], got {args.dropout}")
    return args


def threads_per_process(local_world_size, cores=None):
    """Cores shared out among the processes of one machine, at least one each."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, local_world_size))


def _network(args, dtype, nn):
    import torch

    from fastnn.classifiers.fc_net import FullyConnectedNet
    from fastnn.digits.torch_recipe import torch_network

    np.random.seed(args.seed)
    model = FullyConnectedNet(list(args.hidden), 64, 10, dropout_keep_ratio=args.dropout,
                              normalization=None if args.norm == "none" else args.norm, weight_scale=1e-2,
                              dtype=dtype, init="he", init_seed=args.seed)
    return torch_network(model, nn, "cpu", torch.float32 if dtype == np.float32 else torch.float64)


def train(args, rank, world):
    """
    One process's part of the run, inside an initialised gloo process group
    (or alone, world 1).

    Returns (rank 0; other ranks None for the accuracies):
    - dict with seconds, seconds_per_epoch, steps, test_accuracy,
      best_val_accuracy, losses (this process's share's), params (name -> array)
    """
    import torch
    import torch.distributed as dist

    from fastnn.digits.data import digits_split

    if args.batch_size % world:
        raise ValueError(f"--batch-size: the global batch of {args.batch_size} does not split evenly over {world} processes")
    dtype = np.dtype(args.dtype)
    if args.modules == "fastnn":
        import fastnn.torch as nn
    else:
        nn = torch.nn
    split = digits_split(seed=args.seed, dtype=dtype)
    scale = dtype.type(16)
    X, X_test = split.X_train / scale, split.X_test / scale
    order = np.random.default_rng(args.seed).permutation(len(X))
    n_val = int(len(X) * 0.1)
    tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    X_train, y_train = tensor(X[order[n_val:]]), tensor(split.y_train[order[n_val:]].astype(np.int64))
    X_val, y_val = tensor(X[order[:n_val]]), tensor(split.y_train[order[:n_val]].astype(np.int64))

    net = _network(args, dtype, nn)
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    loss_fn = nn.CrossEntropyLoss()
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9 if args.optimizer == "sgd_momentum" else 0)
    draw = np.random.RandomState(args.seed)
    np.random.seed(args.seed + rank)  # dropout's masks: each share its own
    num_train = X_train.shape[0]
    per_epoch = max(num_train // args.batch_size, 1)
    steps = args.steps or args.epochs * per_epoch
    share = args.batch_size // world
    losses, best_acc, best = [], -1.0, None

    def accuracy(X, y):
        net.eval()
        with torch.no_grad():
            correct = sum(int((net(X[i : i + 100]).argmax(1) == y[i : i + 100]).sum()) for i in range(0, len(X), 100))
        net.train()
        return correct / len(X)

    if world > 1:
        dist.barrier()
    start = time.perf_counter()
    for it in range(steps):
        rows = torch.from_numpy(draw.choice(num_train, args.batch_size)[rank * share : (rank + 1) * share])
        loss = loss_fn(model(X_train[rows]), y_train[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        epoch_end = (it + 1) % per_epoch == 0
        if epoch_end:
            for group in optimizer.param_groups:
                group["lr"] *= 0.95
        if rank == 0 and (it == 0 or epoch_end or it == steps - 1):
            val_acc = accuracy(X_val, y_val)
            if val_acc > best_acc:
                best_acc, best = val_acc, {k: v.clone() for k, v in net.state_dict().items()}
    seconds = time.perf_counter() - start
    params = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    result = {"seconds": seconds, "seconds_per_epoch": seconds * per_epoch / steps, "steps": steps, "losses": losses,
              "params": params, "world_size": world, "threads": torch.get_num_threads()}
    if rank == 0:
        net.load_state_dict(best)
        result["best_val_accuracy"] = best_acc
        result["test_accuracy"] = accuracy(tensor(X_test), tensor(split.y_test.astype(np.int64)))
    return result


def main(argv=None):
    args = parse_args(argv)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        print("fastnn.distributed: run it under torchrun, e.g. torchrun --standalone --nproc-per-node 2 -m fastnn.distributed",
              file=sys.stderr)
        return 2
    import fastnn.kernels  # noqa: F401  (before torch: fastnn.threads' spin setting must reach torch's OpenMP runtime)
    import numba
    import torch
    import torch.distributed as dist

    from fastnn import threads

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    count = args.threads or threads_per_process(int(os.environ.get("LOCAL_WORLD_SIZE", world)))
    threads.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    torch.set_num_threads(count)
    dist.init_process_group("gloo")
    try:
        result = train(args, rank, world)
    finally:
        dist.destroy_process_group()
    if rank != 0:
        return 0
    print(f"{world} process(es) x {result['threads']} thread(s), fastnn.torch modules: {args.modules == 'fastnn'}; "
          f"{result['steps']} steps of a global batch of {args.batch_size}")
    print(f"time per epoch {result['seconds_per_epoch']:.3f} s, total {result['seconds']:.2f} s; "
          f"best validation accuracy {result['best_val_accuracy']:.4f}, test accuracy {result['test_accuracy']:.4f}")
    if args.save_params:
        from fastnn import checkpoint

        checkpoint.save(args.save_params, {"params": result["params"], "losses": np.asarray(result["losses"])})
    if args.metrics:
        with open(args.metrics, "w") as f:
            json.dump({k: v for k, v in result.items() if k not in ("params", "losses")}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
