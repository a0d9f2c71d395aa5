"""Time per epoch of the default recipe's member 0, one process, four ways, interleaved:

- fastnn's Solver on fastnn.layers (``fastnn train``'s path);
- the PyTorch twin built from torch.nn (fastnn.digits.torch_recipe);
- the same twin built from fastnn.torch's modules;
- and, with --distributed, ``torchrun -m fastnn.distributed`` at 1 and 2 processes.

Each row is the median over --repeats rounds, the rounds interleaved so
that a noisy machine slows every row alike.  Needs PyTorch.

    .venv/bin/python tools/torch_recipe_times.py [--epochs 5] [--repeats 3] [--distributed]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

import fastnn.torch as fnn  # before torch itself (fastnn.threads)
import torch
from fastnn.digits.data import digits_split
from fastnn.digits.recipe import DefaultRecipe, train_recipe
from fastnn.digits.torch_recipe import train_recipe_torch


def _torchrun(processes, epochs):
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.json")
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
                   "-m", "fastnn.distributed", "--epochs", str(epochs), "--metrics", metrics]
        subprocess.run(command, check=True, capture_output=True, text=True)
        with open(metrics) as f:
            m = json.load(f)
    return m["seconds_per_epoch"], m["test_accuracy"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--distributed", action="store_true")
    args = p.parse_args()
    split = digits_split(seed=0, dtype=np.dtype("float32"))
    recipe = DefaultRecipe(ensemble=1, epochs=args.epochs)
    runs = {
        "fastnn Solver (fastnn.layers)": lambda: train_recipe(recipe, split, progress=False),
        "PyTorch, torch.nn modules": lambda: train_recipe_torch(recipe, split, nn=torch.nn),
        "PyTorch, fastnn.torch modules": lambda: train_recipe_torch(recipe, split, nn=fnn),
    }
    for run in runs.values():  # compile and warm up
        run()
    times = {name: [] for name in runs}
    accuracy = {}
    if args.distributed:
        for n in (1, 2):
            times[f"torchrun -m fastnn.distributed, {n} process(es)"] = []
    for _ in range(args.repeats):
        for name, run in runs.items():
            result = run()
            times[name].append(result.seconds / args.epochs)
            accuracy[name] = result.accuracy
        if args.distributed:
            for n in (1, 2):
                name = f"torchrun -m fastnn.distributed, {n} process(es)"
                seconds, accuracy[name] = _torchrun(n, args.epochs)
                times[name].append(seconds)
    base = statistics.median(times["PyTorch, torch.nn modules"])
    print(f"default recipe, member 0, {args.epochs} epochs, float32, {torch.get_num_threads()} torch threads; "
          f"medians of {args.repeats} interleaved rounds")
    print(f"{'run':<46} {'s/epoch':>8} {'vs torch.nn':>12} {'test acc':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<46} {median:>8.3f} {base / median:>11.2f}x {accuracy[name]:>9.4f}")


if __name__ == "__main__":
    main()
