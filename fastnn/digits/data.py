"""The bundled scikit-learn digits (8x8 images, 10 classes); nothing is downloaded."""

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


@dataclass
class Split:
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def digits_split(seed=0, dtype=np.float64, train_size=0.7):
    """
    Load the digits and split them as the seed notebook does (70/30).

    Inputs:
    - seed: Seed of the shuffle, so runs are reproducible
    - dtype: float32 or float64 for the pixel values (0 to 16, unscaled as in the seed)
    - train_size: Fraction of the 1797 images used for training

    Returns:
    - Split with X_train of shape (N_train, 64), X_test of shape (N_test, 64)
      and integer labels y_train of shape (N_train,), y_test of shape (N_test,)
    """
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X.astype(dtype), y.astype(np.intp), train_size=train_size, random_state=seed
    )
    return Split(X_train, X_test, y_train, y_test)
