"""cs231n's ``classifiers`` package on the compiled layers: ``fc_net`` (TwoLayerNet, FullyConnectedNet)."""
