"""Every layer of fastnn.catalog with bench sizes, by family: the reference against fastnn."""

from . import common
from .common import layer_params


class Affine(common._LayerBenchmark):
    params = layer_params("affine")


class Relu(common._LayerBenchmark):
    params = layer_params("relu")


class Losses(common._LayerBenchmark):
    params = layer_params("loss")


class Normalization(common._LayerBenchmark):
    params = layer_params("norm")


class Convolution(common._LayerBenchmark):
    params = layer_params("conv")


class OptimizerStep(common._OptimizerBenchmark):
    pass
