"""Seeded data augmentation for the 8x8 digits, applied per batch in compiled code."""

from dataclasses import dataclass

import numpy as np

from fastnn.kernels.cpu import augment as kernels


@dataclass
class Augment:
    """
    Random shifts, small rotations and Gaussian noise for square images.

    - max_shift: Shifts are whole pixels drawn from [-max_shift, max_shift] per axis
    - max_degrees: Rotations drawn uniformly from [-max_degrees, max_degrees]
    - noise_std: Standard deviation of the added Gaussian noise, in pixel units
    - side: Image side (8 for the digits; rows are side * side pixels)
    - seed: Seeds every draw, for reproducible runs
    - probability: The fraction of images transformed, each drawn
      independently; the others pass unchanged (1.0: all, and no draw)
    """

    max_shift: int = 1
    max_degrees: float = 10.0
    noise_std: float = 0.3
    side: int = 8
    seed: int = None
    probability: float = 1.0

    def __post_init__(self):
        if not isinstance(self.probability, (int, float)) or isinstance(self.probability, bool) or not 0 <= self.probability <= 1:
            raise ValueError(f"probability: expected a number in [0, 1], got {self.probability!r}")
        self.rng = np.random.default_rng(self.seed)

    def checkpoint_state(self):
        """The settings and the generator's current state, as plain data for fastnn.checkpoint."""
        settings = {k: getattr(self, k) for k in ("max_shift", "max_degrees", "noise_std", "side", "seed", "probability")}
        return {"settings": settings, "rng": self.rng.bit_generator.state}

    @classmethod
    def from_checkpoint_state(cls, state):
        """An Augment that continues exactly where checkpoint_state() was taken."""
        augment = cls(**state["settings"])
        augment.rng.bit_generator.state = state["rng"]
        return augment

    def __call__(self, X):
        """
        Inputs:
        - X: Images as rows, of shape (N, side * side), or as one-channel
          images, of shape (N, 1, side, side)

        Returns:
        - Augmented copy of X, of the same shape and dtype
        """
        X = np.ascontiguousarray(X)
        side = self.side
        if not (X.ndim == 2 and X.shape[1] == side * side or X.ndim == 4 and X.shape[1:] == (1, side, side)):
            raise ValueError(f"X: expected shape (N, {side * side}) or (N, 1, {side}, {side}) of {side}x{side} images, "
                             f"got {X.shape}")
        shape = X.shape
        X = X.reshape(shape[0], side * side)
        n = X.shape[0]
        shifts = self.rng.integers(-self.max_shift, self.max_shift + 1, (n, 2)).astype(np.float64)
        angles = np.deg2rad(self.rng.uniform(-self.max_degrees, self.max_degrees, n))
        noise = (self.rng.standard_normal(X.shape) * self.noise_std).astype(X.dtype)
        if self.probability < 1:
            kept = self.rng.random(n) >= self.probability
            shifts[kept], angles[kept], noise[kept] = 0, 0, 0
        out = np.empty_like(X)
        kernels.shift_rotate_noise(X, self.side, shifts, angles, noise, out)
        return out.reshape(shape)
