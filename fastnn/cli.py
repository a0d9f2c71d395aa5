"""The ``fastnn`` command: ``fastnn train``, ``fastnn gradcheck`` and ``fastnn bench``."""

import argparse
import sys
import time

import numpy as np


def _int_from(minimum, what):
    """An argparse type: an integer >= minimum, described as what."""

    def check(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    return check


_positive_int = _int_from(1, "a positive integer")
_non_negative_int = _int_from(0, "a non-negative integer")


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


# The recipe seeds NumPy's legacy generator with seed * 1000 + member, which must stay below 2**32.
_MAX_SEED = (2**32 - 1000) // 1000


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {_MAX_SEED}, got {text}") from None
    if not 0 <= value <= _MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {_MAX_SEED}, got {text}")
    return value


def _threads(text):
    import numba

    value = _positive_int(text)
    if value > numba.config.NUMBA_NUM_THREADS:
        raise argparse.ArgumentTypeError(f"expected at most {numba.config.NUMBA_NUM_THREADS} (this machine's CPUs), got {text}")
    return value


def _output_file(suffix):
    """An argparse type: a path ending in suffix whose directory exists and is writable, checked before any work."""
    import os

    def check(text):
        if not text.lower().endswith(suffix):
            raise argparse.ArgumentTypeError(f"expected a file name ending in {suffix}, got {text}")
        if os.path.isdir(text):
            raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
        directory = os.path.dirname(os.path.abspath(text))
        if not os.path.isdir(directory):
            raise argparse.ArgumentTypeError(f"the directory of {text} does not exist")
        if not os.access(directory, os.W_OK):
            raise argparse.ArgumentTypeError(f"the directory of {text} is not writable")
        return text

    return check


def _odd_size(text):
    value = _positive_int(text)
    if value % 2 == 0:
        raise argparse.ArgumentTypeError(f"expected an odd size, which padding keeps the image size with, got {text}")
    return value


def _hidden_sizes(text):
    try:
        sizes = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 512,256, got {text}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 512,256, got {text}")
    return sizes


def _keep_probability(text):
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a keep probability in (0, 1], got {text}")
    return value


#: Short names --optimizer also takes, besides fastnn.optim.RULES.
_OPTIMIZER_ALIASES = {"momentum": "sgd_momentum"}


def _add_train_parser(commands):
    from fastnn import optim
    from fastnn.digits.recipe import CNN_RECIPE as cnn
    from fastnn.digits.recipe import RECIPE as net
    from fastnn.digits.seed import SeedRecipe

    seed_defaults = SeedRecipe()
    p = commands.add_parser(
        "train",
        help="train a classifier on the bundled digits",
        description="Train on scikit-learn's digits (70/30 split). By default: the best recipe found, an ensemble "
        f"of {net.cnn_members} ConvNets and {net.ensemble} 64-{'-'.join(map(str, net.hidden))}-10 batchnorm nets trained with "
        f"Adam on the whole training split, {net.shift_probability:.0%} of each batch shifted by a pixel; "
        "the SVC and 3-NN baselines of the same split are printed beside its accuracy. "
        "--seed-recipe runs the seed notebook's experiment instead (the 64-100-10 net, plain SGD).",
    )
    p.add_argument("--seed-recipe", action="store_true", help="the seed notebook's exact experiment")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the split, initialisation and batches (default %(default)s)")
    p.add_argument("--dtype", choices=("float32", "float64"), help="default: float32, or float64 with --seed-recipe")
    p.add_argument("--lr", type=_positive_float, help=f"learning rate (default {net.lr}, or {seed_defaults.lr} with --seed-recipe)")
    p.add_argument("--batch-size", type=_positive_int, help=f"default {net.batch_size}, or {seed_defaults.batch_size} with --seed-recipe")
    p.add_argument("--hidden", type=_hidden_sizes, help="hidden sizes, e.g. 512,256 (default 512,256, or 100 with --seed-recipe)")
    p.add_argument("--threads", type=_threads, help="threads for Numba and BLAS together (default: all CPUs)")
    p.add_argument("--backend", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: train on the GPU with fastnn.cuda, the Solver keeping data and parameters there (default cpu)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    # Each group's flags default to None here, so that a flag given with the
    # other recipe is an error rather than silently ignored; the defaults
    # below are filled in afterwards.
    g = p.add_argument_group("the default recipe")
    g.add_argument("--model", choices=("two-layer", "fc", "cnn"),
                   help=f"default {net.model}; cnn: ThreeLayerConvNet on 1x8x8 images (conv, ReLU, 2x2 max pool, affine, ReLU, affine)")
    g.add_argument("--optimizer", choices=(*optim.RULES, *_OPTIMIZER_ALIASES), help=f"default {net.optimizer}")
    g.add_argument("--epochs", type=_positive_int, help=f"default {net.epochs} ({net.cnn_epochs} for the default's ConvNets, "
                   f"{cnn.epochs} with --model cnn); given, every member's")
    g.add_argument("--filters", type=_positive_int, help=f"--model cnn: convolution filters (default {cnn.filters})")
    g.add_argument("--filter-size", type=_odd_size, help=f"--model cnn: filter height and width, odd (default {cnn.filter_size})")
    g.add_argument("--dropout", type=_keep_probability, help=f"keep probability (default {net.dropout}: none)")
    g.add_argument("--norm", choices=("batchnorm", "layernorm", "none"), help=f"default {net.norm}")
    g.add_argument("--init", choices=("he", "xavier", "normal", "uniform"), help=f"default {net.init}")
    g.add_argument("--augment", action="store_const", const=True, help="random shifts, small rotations and noise per batch")
    g.add_argument("--ensemble", type=_positive_int, help=f"nets of --model averaged (default {net.ensemble}, {cnn.ensemble} with "
                   f"--model cnn); --model fc adds {net.cnn_members} ConvNets on the CPU")
    g.add_argument("--plot", metavar="FILE.png", type=_output_file(".png"), help="loss and train/validation accuracy curves (matplotlib)")
    g.add_argument("--metrics", metavar="FILE.json", type=_output_file(".json"), help="write the final numbers as JSON")
    s = p.add_argument_group("--seed-recipe only")
    s.add_argument("--iters", type=_positive_int, help=f"SGD steps (default {seed_defaults.iters})")
    s.add_argument(
        "--eval-every",
        type=_positive_int,
        help=f"run the test set forward every this many steps; the seed does it every step (default {seed_defaults.eval_every})",
    )
    s.add_argument(
        "--engine",
        choices=("fused", "layers", "reference"),
        help="fused: every step compiled (fastnn.fused); layers: the seed's Python loop over fastnn.layers; "
        "reference: the same loop over the NumPy oracle (default fused)",
    )
    s.add_argument("--compare", action="store_const", const=True, help="run every engine (and PyTorch, where installed) on identical batches")
    s.add_argument("--flush-subnormals", action="store_const", const=True, help="fused engine: set subnormal loss gradients to zero")
    p.set_defaults(recipe_flags={
        "model": net.model, "optimizer": net.optimizer, "epochs": None, "dropout": None, "norm": None,
        "init": net.init, "augment": False, "ensemble": None, "filters": None, "filter_size": None, "plot": None,
        "metrics": None,
    }, seed_recipe_flags={
        "iters": seed_defaults.iters, "eval_every": seed_defaults.eval_every, "engine": "fused", "compare": False,
        "flush_subnormals": False,
    })


def _flag(name):
    return "--" + name.replace("_", "-")


def _settle_train_flags(args):
    """Refuse the flags of the recipe not chosen (exit 2), then fill in the defaults of both."""
    chosen, other = ("seed_recipe_flags", "recipe_flags") if args.seed_recipe else ("recipe_flags", "seed_recipe_flags")
    stray = [_flag(k) for k in getattr(args, other) if getattr(args, k) is not None]
    if stray:
        which = "the default recipe (without --seed-recipe)" if args.seed_recipe else "--seed-recipe"
        verb = "applies" if len(stray) == 1 else "apply"
        print(f"fastnn train: error: {', '.join(stray)} {verb} only to {which}", file=sys.stderr)
        raise SystemExit(2)
    for group in (chosen, other):
        for key, default in getattr(args, group).items():
            if getattr(args, key) is None:
                setattr(args, key, default)


def _stop_if_diverged(losses, what):
    """Exit with a message, status 1, when a loss became NaN or infinite."""
    losses = np.atleast_1d(np.asarray(losses, np.float64))
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        where = f"at iteration {bad[0] + 1}" if losses.size > 1 else "by the end"
        print(f"fastnn train: {what}: the training loss became {losses[bad[0]]} {where}; lower --lr and try again",
              file=sys.stderr)
        raise SystemExit(1)


def _run_recipe(args):
    import json

    from fastnn.digits.data import digits_split
    from fastnn.digits.recipe import CNN_RECIPE, RECIPE, DefaultRecipe, baselines, plot_history, train_recipe

    base = CNN_RECIPE if args.model == "cnn" else RECIPE
    given = {"--filters": args.filters, "--filter-size": args.filter_size} if args.model != "cnn" else {
        "--norm": args.norm, "--dropout": args.dropout}
    stray = [flag for flag, value in given.items() if value is not None]
    if args.backend == "cuda" and (args.model == "cnn" or args.augment):
        what = "--model cnn" if args.model == "cnn" else "--augment"
        print(f"fastnn train: error: {what} runs on the CPU only; the GPU Solver trains the fully connected models "
              "without augmentation", file=sys.stderr)
        raise SystemExit(2)
    if stray:
        which = "--model cnn" if args.model != "cnn" else "the fully connected models"
        verb = "applies" if len(stray) == 1 else "apply"
        print(f"fastnn train: error: {', '.join(stray)} {verb} only to {which}", file=sys.stderr)
        raise SystemExit(2)
    hidden = args.hidden or base.hidden
    if args.model in ("two-layer", "cnn") and len(hidden) != 1:
        given = f"--hidden {','.join(map(str, hidden))}" if args.hidden else f"the default {','.join(map(str, hidden))}"
        print(f"fastnn train: error: --model {args.model} takes one hidden size (--hidden N), got {given}", file=sys.stderr)
        raise SystemExit(2)
    norm = args.norm or base.norm
    recipe = DefaultRecipe(
        model=args.model, hidden=hidden, optimizer=_OPTIMIZER_ALIASES.get(args.optimizer, args.optimizer),
        lr=args.lr or base.lr, epochs=args.epochs or base.epochs, batch_size=args.batch_size or base.batch_size,
        dropout=args.dropout or base.dropout, norm=None if norm == "none" else norm, init=args.init, augment=args.augment,
        ensemble=args.ensemble or base.ensemble, filters=args.filters or base.filters,
        filter_size=args.filter_size or base.filter_size, seed=args.seed, backend=args.backend,
        # The default's ConvNets join --model fc on the CPU only (the ConvNet has no GPU Solver path).
        cnn_members=base.cnn_members if args.model == "fc" and args.backend == "cpu" else 0,
        cnn_epochs=args.epochs or base.cnn_epochs, shift_probability=0.0 if args.augment else base.shift_probability,
        val_fraction=base.val_fraction, keep_best=base.keep_best,
    )
    if args.model == "fc" and args.backend == "cuda":
        print(f"fastnn train: --backend cuda trains the {recipe.ensemble} fully connected members only, without the default's "
              f"{base.cnn_members} ConvNets")
    split = digits_split(seed=args.seed, dtype=np.dtype(args.dtype or "float32"))
    if recipe.model == "cnn":
        net = (f"1x8x8-conv{recipe.filter_size}x{recipe.filter_size}x{recipe.filters}-pool-{recipe.hidden[0]}-10, "
               f"{recipe.optimizer}")
    else:
        net = (f"64-{'-'.join(map(str, recipe.hidden))}-10, norm {recipe.norm}, dropout keep {recipe.dropout}, "
               f"{recipe.optimizer}")
    convnets = (f"{recipe.cnn_members} x ConvNet (as --model cnn, {recipe.cnn_epochs} epochs) + " if recipe.cnn_members else "")
    augment = "shifts, rotations, noise" if recipe.augment else (
        f"{recipe.shift_probability:.0%} shifted by <= 1 pixel" if recipe.shift_probability else "none")
    training = ("the whole training split, the last epoch's weights" if not recipe.val_fraction and not recipe.keep_best
                else f"{recipe.val_fraction:.0%} held out, the best epoch's weights")
    print(
        f"digits: {len(split.y_train)} train / {len(split.y_test)} test; {convnets}{recipe.ensemble} x {recipe.model} {net} "
        f"lr {recipe.lr}, {recipe.epochs} epochs, batch {recipe.batch_size}, init {recipe.init}, augment: {augment}, "
        f"trained on {training}, seed {args.seed}, backend {recipe.backend}"
    )
    try:
        result = train_recipe(recipe, split, progress=not args.no_progress)
    except ImportError as exc:
        raise SystemExit(f"fastnn train --backend cuda: {exc}") from exc
    for number, solver in enumerate(result.solvers, 1):
        _stop_if_diverged(solver.loss_history, f"member {number}")
    print(f"members' test accuracies: {', '.join(f'{a:.4f}' for a in result.member_accuracies)}")
    print(f"test accuracy {result.accuracy:.4f}, wall time {result.seconds:.2f} s")
    classic = baselines(split)
    print("baselines on the same split (scikit-learn, raw pixels): "
          + ", ".join(f"{name} {accuracy:.4f}" for name, accuracy in classic.items()))
    if args.plot:
        plot_history(result.solvers[0], args.plot)
        print(f"curves of the first member written to {args.plot}")
    if args.metrics:
        metrics = {
            "test_accuracy": result.accuracy, "seconds": result.seconds, "member_test_accuracies": result.member_accuracies,
            "baselines": classic,
            "best_val_accuracies": [s.best_val_acc for s in result.solvers], "recipe": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(recipe).items()},
        }
        with open(args.metrics, "w") as f:
            json.dump(metrics, f, indent=2)
        print(f"metrics written to {args.metrics}")
    return 0


def _run_train(args):
    from fastnn import threads

    _settle_train_flags(args)
    if args.threads:
        threads.set_num_threads(args.threads)
    if not args.seed_recipe:
        return _run_recipe(args)
    return _run_seed_recipe(args)


def _run_seed_recipe(args):
    from fastnn import threads
    from fastnn.digits.data import digits_split
    from fastnn.digits.seed import SeedRecipe, engines, train_two_layer

    defaults = SeedRecipe()
    if args.hidden and len(args.hidden) != 1:
        raise SystemExit(f"fastnn train --seed-recipe: --hidden takes one size for the 64-H-10 net, got {args.hidden}")
    hidden = args.hidden[0] if args.hidden else defaults.hidden
    args.hidden = hidden
    recipe = SeedRecipe(args.iters, args.lr or defaults.lr, args.batch_size or defaults.batch_size, hidden, args.seed, args.eval_every)
    args.dtype = args.dtype or "float64"
    split = digits_split(seed=args.seed, dtype=np.dtype(args.dtype))
    print(
        f"digits: {len(split.y_train)} train / {len(split.y_test)} test, net 64-{args.hidden}-10, "
        f"{args.dtype}, {args.iters} SGD steps, lr {recipe.lr}, batch {recipe.batch_size}, seed {args.seed}"
    )
    try:
        table = engines(args.backend, args.flush_subnormals)
    except ValueError as exc:  # a flag that this backend cannot honour: "name: why"
        name, why = str(exc).split(": ", 1)
        print(f"fastnn train: error: {_flag(name)} {why}", file=sys.stderr)
        raise SystemExit(2) from exc
    except ImportError as exc:
        raise SystemExit(f"fastnn train --backend cuda: {exc}") from exc
    names = list(table) if args.compare else [args.engine if args.backend == "cpu" else "cuda"]
    warm = SeedRecipe(iters=2, hidden=hidden, batch_size=recipe.batch_size)
    for name in names:
        if name in ("fused", "layers", "cuda"):
            start = time.perf_counter()
            train_two_layer(table[name], split, warm, progress=False)
            print(f"{name}: JIT compile or cache load {time.perf_counter() - start:.2f} s")
    print(threads.describe())
    results = {}
    for name in names:
        results[name] = result = train_two_layer(table[name], split, recipe, progress=not args.no_progress, desc=name)
        _stop_if_diverged(result.train_loss, name)
        print(f"{name}: test accuracy {result.accuracy:.4f}, wall time {result.seconds:.2f} s")
    if args.compare:
        ref = results["reference"].seconds
        print()
        print(f"{'engine':<16} {'time (s)':>9} {'test acc':>9} {'vs reference':>13}")
        for name, result in results.items():
            print(f"{name:<16} {result.seconds:>9.2f} {result.accuracy:>9.4f} {ref / result.seconds:>12.2f}x")
    return 0


def _run_gradcheck(args):
    import fastnn.layers
    import fastnn.reference
    from fastnn.gradcheck import check_layers

    layers = fastnn.reference if args.reference else fastnn.layers
    # A limit follows the oracle's own error on the same inputs, where that is larger.
    results = check_layers(layers, seed=args.seed, reference=None if args.reference else fastnn.reference)
    width = max(len(r.layer) for r in results)
    print(f"{'layer':<{width}} {'grad':<9} {'error':>10} {'limit':>8}  result")
    for r in results:
        print(f"{r.layer:<{width}} {r.grad:<9} {r.error:>10.2e} {r.tolerance:>8.0e}  {'PASS' if r.passed else 'FAIL'}")
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _run_bench_cuda(args):
    if args.plot:
        print("fastnn bench --backend cuda: --plot draws the CPU table only; leave it out", file=sys.stderr)
        return 2
    from fastnn.bench import cuda as bench_cuda  # the table's plumbing; it imports numba-cuda only to run

    only = bench_cuda.FAMILIES if args.only is None else args.only
    if set(only) - set(bench_cuda.FAMILIES):
        print(f"fastnn bench --backend cuda: --only takes {', '.join(bench_cuda.FAMILIES)} on the GPU, got {' '.join(only)}",
              file=sys.stderr)
        return 2
    try:
        import fastnn.cuda as G
    except ImportError as exc:
        raise SystemExit(f"fastnn bench --backend cuda: {exc}") from exc
    if G.SIMULATOR:
        raise SystemExit("fastnn bench --backend cuda: timings need a real GPU, not the CUDA simulator")
    if args.threads:
        from fastnn import threads

        threads.set_num_threads(args.threads)
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    rows, copy_gbs = bench_cuda.run(args.repeats, train_steps=args.train_steps, dtypes=dtypes, only=only, with_torch=not args.no_torch)
    print(f"device: {G.device_name()}")
    print(bench_cuda.torch_settings(None if args.no_torch else bench_cuda._torch()))
    print(f"device-to-device copy {copy_gbs:.0f} GB/s in this run; medians of {args.repeats} interleaved rounds")
    if "train" in only and "float32" not in dtypes:
        print("the training rows train in float32 and are left out of a float64 table")
    print(bench_cuda.format_table(rows, copy_gbs))
    return 0


def _run_bench(args):
    from fastnn import threads
    from fastnn.bench import cpu as bench
    from fastnn.bench.timing import plot

    if args.backend == "cuda":
        return _run_bench_cuda(args)
    if args.threads:
        threads.set_num_threads(args.threads)
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    families = bench.FAMILIES if args.only is None else args.only
    rows, peaks, has_torch = bench.run(dtypes, families, args.repeats, args.train_steps, not args.no_torch, not args.no_progress)
    print(threads.describe())
    print(
        f"machine peaks measured in this run: GEMM {peaks['gemm_float32']:.0f} GFLOP/s float32, "
        f"{peaks['gemm_float64']:.0f} GFLOP/s float64; copy {peaks['numba_copy_gbs']:.1f} GB/s (Numba, all threads), "
        f"{peaks['copyto_gbs']:.1f} GB/s (np.copyto); % copy is of the better"
    )
    print(f"medians of {args.repeats} interleaved rounds; ratio = reference / fastnn, vs torch = torch / fastnn")
    print(bench.format_table(rows, peaks, has_torch))
    if args.plot:
        plot(rows, args.plot)
        print(f"plot written to {args.plot}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastnn", description="Compiled cs231n-style layers.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(commands)
    g = commands.add_parser(
        "gradcheck",
        help="numerically check the gradient of every layer",
        description="Compare every backward pass with centred differences in float64.",
    )
    g.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the random inputs (default %(default)s)")
    g.add_argument("--reference", action="store_true", help="check the NumPy reference instead")
    from fastnn.bench.cpu import FAMILIES

    b = commands.add_parser(
        "bench",
        help="time every kernel against the NumPy reference (and PyTorch)",
        description="Side-by-side timings: medians of interleaved rounds, with the machine's peaks measured in the same run.",
    )
    b.add_argument("--backend", choices=("cpu", "cuda"), default="cpu", help="cuda: the GPU table against PyTorch and CuPy")
    b.add_argument("--dtype", choices=("float32", "float64", "both"), default="both", help="default %(default)s")
    b.add_argument("--only", nargs="+", choices=FAMILIES, help="kernel families to run (default all; optim is CPU-only)")
    b.add_argument("--repeats", type=_positive_int, default=7, help="interleaved rounds per case (default %(default)s)")
    b.add_argument("--train-steps", type=_positive_int, default=2000, help="steps of the training-loop case (default %(default)s)")
    b.add_argument("--threads", type=_threads, help="threads for Numba and BLAS together (default: all CPUs)")
    b.add_argument("--plot", metavar="FILE.png", type=_output_file(".png"), help="draw the speed-ups with matplotlib (pip install -e '.[plot]')")
    b.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if it is installed")
    b.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    handler = {"train": _run_train, "gradcheck": _run_gradcheck, "bench": _run_bench}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        # One line, the shell's status for SIGINT; checkpoints are written
        # atomically, so the last complete one is intact.
        print(f"fastnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
