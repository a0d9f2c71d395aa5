"""Every layer of fastnn.catalog with bench sizes, by family: the reference against fastnn."""

from .common import LayerBenchmark, OptimizerBenchmark, layer_params


class Affine(LayerBenchmark):
    params = layer_params("affine")


class Relu(LayerBenchmark):
    params = layer_params("relu")


class Losses(LayerBenchmark):
    params = layer_params("loss")


class Normalization(LayerBenchmark):
    params = layer_params("norm")


class OptimizerStep(OptimizerBenchmark):
    pass
