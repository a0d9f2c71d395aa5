"""Where one Solver step goes: the GEMMs against everything else (issue 12).

The course's setting: FullyConnectedNet([100, 100]) on 3072 inputs, batch
100, float32 (the course's default dtype for this model), and the given
update rule.  The step is timed through ``Solver._step`` (batch sampling,
``model.loss``, the updates); the GEMMs are the same six products per layer
(one forward, two backward) on arrays of the same shapes, timed alone in
the same interleaved rounds.  Prints both and the share of everything else.

    .venv/bin/python tools/profile_solver_step.py [--rule adam] [--dtype float32] [--layers fastnn|reference]
"""

import argparse

import numpy as np


def gemm_calls(model, X, dtype):
    """The matrix products one step of ``model`` makes, on arrays of their shapes."""
    rng = np.random.default_rng(0)
    calls = []
    inputs = X.reshape(X.shape[0], -1).astype(dtype)
    for k in range(1, model.num_layers + 1):
        w = model.params[f"W{k}"]
        out = rng.standard_normal((inputs.shape[0], w.shape[1])).astype(dtype)
        calls += [lambda a=inputs, w=w: a @ w, lambda d=out, w=w: d @ w.T, lambda a=inputs, d=out: a.T @ d]
        inputs = out
    return calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", default="sgd_momentum")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--layers", default="fastnn", choices=["fastnn", "reference"])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)

    import fastnn.layers
    import fastnn.reference
    from fastnn.bench.timing import time_interleaved
    from fastnn.classifiers.fc_net import FullyConnectedNet
    from fastnn.solver import Solver

    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 3, 32, 32)).astype(dtype)
    y = rng.integers(10, size=1000)
    data = {"X_train": X, "y_train": y, "X_val": X[:100], "y_val": y[:100]}
    np.random.seed(0)
    layers = fastnn.layers if args.layers == "fastnn" else fastnn.reference
    model = FullyConnectedNet([100, 100], dtype=dtype.type, weight_scale=5e-2, layers=layers)
    solver = Solver(model, data, update_rule=args.rule, optim_config={"learning_rate": 1e-3}, batch_size=100, verbose=False, seed=0)
    calls = gemm_calls(model, X[:100], dtype)

    def gemms():
        for call in calls:
            call()

    t = time_interleaved({"step": solver._step, "gemms": gemms}, args.repeats)
    other = t["step"] - t["gemms"]
    print(f"{args.layers} layers, {args.rule}, {args.dtype}: step {t['step'] * 1e6:.0f} us, "
          f"its {len(calls)} GEMMs alone {t['gemms'] * 1e6:.0f} us ({100 * t['gemms'] / t['step']:.0f}%), "
          f"everything else {other * 1e6:.0f} us ({100 * other / t['step']:.0f}%)")


if __name__ == "__main__":
    main()
