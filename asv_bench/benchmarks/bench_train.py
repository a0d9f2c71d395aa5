"""The seed's training loop: the NumPy reference loop against the fused trainer."""

import numpy as np

from fastnn.digits.data import digits_split
from fastnn.digits.seed import SeedRecipe, engines, train_two_layer


class TrainLoop:
    params = (["fused", "layers", "reference"], ["float32", "float64"])
    param_names = ["engine", "dtype"]
    timeout = 600

    def setup(self, engine, dtype):
        self.split = digits_split(seed=0, dtype=np.dtype(dtype))
        self.steps = engines()[engine]
        train_two_layer(self.steps, self.split, SeedRecipe(iters=2), progress=False)

    def time_2000_steps(self, engine, dtype):
        train_two_layer(self.steps, self.split, SeedRecipe(iters=2000), progress=False)

    def track_test_accuracy_2000_steps(self, engine, dtype):
        return train_two_layer(self.steps, self.split, SeedRecipe(iters=2000), progress=False).accuracy

    track_test_accuracy_2000_steps.unit = "accuracy"
