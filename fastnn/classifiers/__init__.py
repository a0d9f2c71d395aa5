"""cs231n's ``classifiers`` package on the compiled layers: ``fc_net`` (TwoLayerNet, FullyConnectedNet) and ``cnn`` (ThreeLayerConvNet)."""

from fastnn.classifiers import cnn, fc_net  # noqa: F401  (registers the models for checkpoints)
