"""The layer catalog is complete and consistent: every entry names functions
that exist on its backends, its inputs have one gradient each, and every
layer function of fastnn.layers belongs to an entry."""

import numpy as np
import pytest

import fastnn.layers as L
import fastnn.reference as R
from fastnn import catalog


@pytest.mark.parametrize("entry", catalog.LAYERS, ids=lambda e: e.name)
def test_entry_names_functions_of_every_backend(entry):
    modules = [L, R]
    if "cuda" in entry.backends:
        modules.append(pytest.importorskip("fastnn.cuda"))
    for module in modules:
        for name in filter(None, (entry.forward, entry.backward)):
            assert callable(getattr(module, name, None)), f"{module.__name__}.{name}"


@pytest.mark.parametrize("entry", catalog.LAYERS, ids=lambda e: e.name)
def test_inputs_match_the_gradient_names(entry):
    for size in (entry.gradcheck_size, *entry.sizes["cpu"]):
        arrays, params = entry.make_inputs(np.random.default_rng(0), size, np.float64)
        assert len(arrays) == len(entry.grads), (entry.name, size)
    assert set(entry.zero_grads) <= set(entry.grads)
    assert entry.backends[0] == "cpu" and set(entry.backends) <= {"cpu", "cuda"}
    assert set(entry.bench_sizes) <= set(entry.backends)


def test_names_are_unique_and_cover_the_layer_api():
    assert len(catalog.BY_NAME) == len(catalog.LAYERS)
    assert L.__all__ == catalog.function_names("cpu")
    with pytest.raises(KeyError, match="known: affine"):
        catalog.get("conv3d")


def test_copies_of_params_are_fresh():
    param = {"mode": "train", "running_mean": np.zeros(3)}
    (copy, name) = catalog.copy_params((param, "batchnorm"))
    assert copy == {"mode": "train", "running_mean": copy["running_mean"]} and name == "batchnorm"
    assert copy is not param and copy["running_mean"] is not param["running_mean"]
