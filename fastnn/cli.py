"""The ``fastnn`` command: ``fastnn train`` and ``fastnn gradcheck``."""

import argparse
import sys
import time

import numpy as np


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _add_train_parser(commands):
    from fastnn.train import Recipe

    defaults = Recipe()
    p = commands.add_parser(
        "train",
        help="train the seed's 64-100-10 net on the bundled digits",
        description="Train the seed notebook's two-layer net (affine, ReLU, affine, softmax) "
        "with plain SGD on scikit-learn's digits, split 70/30. The defaults are the seed's recipe.",
    )
    p.add_argument("--iters", type=_positive_int, default=defaults.iters, help="SGD steps (default %(default)s)")
    p.add_argument("--lr", type=_positive_float, default=defaults.lr, help="learning rate (default %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=defaults.batch_size, help="default %(default)s")
    p.add_argument("--hidden", type=_positive_int, default=defaults.hidden, help="hidden units (default %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of split, init and batches (default %(default)s)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64", help="default %(default)s")
    p.add_argument(
        "--eval-every",
        type=_positive_int,
        default=defaults.eval_every,
        help="run the test set forward every this many steps; the seed does it every step (default %(default)s)",
    )
    p.add_argument("--compare", action="store_true", help="also run the NumPy reference layers and compare")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _run_train(args):
    import fastnn.layers
    import fastnn.reference
    from fastnn.data import digits_split
    from fastnn.train import Recipe, train_two_layer

    recipe = Recipe(args.iters, args.lr, args.batch_size, args.hidden, args.seed, args.eval_every)
    split = digits_split(seed=args.seed, dtype=np.dtype(args.dtype))
    print(
        f"digits: {len(split.y_train)} train / {len(split.y_test)} test, net 64-{args.hidden}-10, "
        f"{args.dtype}, {args.iters} SGD steps, lr {args.lr}, batch {args.batch_size}, seed {args.seed}"
    )
    start = time.perf_counter()
    train_two_layer(fastnn.layers, split, Recipe(iters=2, hidden=args.hidden, batch_size=args.batch_size), progress=False)
    print(f"JIT compile or cache load: {time.perf_counter() - start:.2f} s")

    runs = [("fastnn", fastnn.layers)]
    if args.compare:
        runs.append(("numpy reference", fastnn.reference))
    results = {}
    for name, layers in runs:
        results[name] = result = train_two_layer(layers, split, recipe, progress=not args.no_progress, desc=name)
        print(f"{name}: test accuracy {result.accuracy:.4f}, wall time {result.seconds:.2f} s")
    if args.compare:
        fast, ref = results["fastnn"], results["numpy reference"]
        print()
        print(f"{'run':<16} {'time (s)':>9} {'test acc':>9}")
        for name, result in results.items():
            print(f"{name:<16} {result.seconds:>9.2f} {result.accuracy:>9.4f}")
        print(f"speed-up: {ref.seconds / fast.seconds:.2f}x")
    return 0


def _run_gradcheck(args):
    import fastnn.layers
    import fastnn.reference
    from fastnn.layer_gradchecks import check_layers

    layers = fastnn.reference if args.reference else fastnn.layers
    results = check_layers(layers, seed=args.seed)
    print(f"{'layer':<14} {'grad':<5} {'rel error':>10} {'limit':>8}  result")
    for r in results:
        print(f"{r.layer:<14} {r.grad:<5} {r.error:>10.2e} {r.tolerance:>8.0e}  {'PASS' if r.passed else 'FAIL'}")
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastnn", description="Compiled cs231n-style layers.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(commands)
    g = commands.add_parser(
        "gradcheck",
        help="numerically check the gradient of every layer",
        description="Compare every backward pass with centred differences in float64.",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default %(default)s)")
    g.add_argument("--reference", action="store_true", help="check the NumPy reference instead")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    handler = {"train": _run_train, "gradcheck": _run_gradcheck}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
