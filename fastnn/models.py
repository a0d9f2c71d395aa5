"""The models' earlier import path, kept for code written against fastnn 0.1.

They live in :mod:`fastnn.classifiers.fc_net`, cs231n's path.
"""

from fastnn.classifiers.fc_net import FullyConnectedNet, TwoLayerNet

__all__ = ["FullyConnectedNet", "TwoLayerNet"]
