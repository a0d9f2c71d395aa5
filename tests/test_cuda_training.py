"""Training on the GPU beyond the catalog checks: dropout (Philox4x32-10 masks),
the normalisation layers' special cases, and the optimisers of fastnn.cuda.optim.

The GPU mask cannot be NumPy's, so it is checked against its own NumPy twin
(fastnn.rng.philox_uniforms, itself checked against Random123's published
known-answer vectors) and for its statistics; given the mask, the values
are the CPU formula's to the bit.
"""

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed")
G = pytest.importorskip("fastnn.cuda")

import fastnn.layers as L  # noqa: E402
from fastnn import rng  # noqa: E402

D = G.to_device

# Random123's kat_vectors for philox4x32 with 10 rounds: counter, key, output.
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0), (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, expected", PHILOX_KAT)
def test_philox_matches_random123(counter, key, expected):
    assert tuple(int(w) for w in rng.philox4x32([counter], key)[0]) == expected


def _expected(x, dout, p, key):
    keep = rng.philox_uniforms(x.size, key).reshape(x.shape) < p
    scale = np.where(keep, 1.0 / p, 0.0)
    return keep, (x.astype(np.float64) * scale).astype(x.dtype), (dout.astype(np.float64) * scale).astype(x.dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (0, 4)])
def test_gpu_dropout_is_its_philox_stream_and_the_cpu_formula(dtype, shape):
    generator = np.random.default_rng(1)
    x = generator.standard_normal(shape).astype(dtype)
    dout = generator.standard_normal(shape).astype(dtype)
    np.random.seed(3)
    out, cache = G.dropout_forward(D(x), {"mode": "train", "p": 0.6})
    dx = G.dropout_backward(D(dout), cache)
    np.random.seed(3)
    keep, expected_out, expected_dx = _expected(x, dout, 0.6, rng.philox_key())
    np.testing.assert_array_equal(cache[1].copy_to_host(), keep)
    for got, want in ((out, expected_out), (dx, expected_dx)):
        got = got.copy_to_host()
        assert got.dtype == dtype and got.shape == x.shape
        np.testing.assert_array_equal(got, want)


def test_gpu_dropout_keeps_p_of_the_units():
    # 4000 units at p = 0.3: the kept count is within 5 standard deviations.
    x = np.ones(4000)
    for seed in range(3):
        _, (_, mask) = G.dropout_forward(D(x), {"mode": "train", "p": 0.3, "seed": seed})
        kept = int(mask.copy_to_host().sum())
        assert abs(kept - 1200) < 5 * np.sqrt(4000 * 0.3 * 0.7), kept


def test_gpu_dropout_seeds_as_the_course_does():
    x = D(np.ones((8, 8)))
    mask = lambda param: G.dropout_forward(x, param)[1][1].copy_to_host()  # noqa: E731
    assert np.array_equal(mask({"mode": "train", "p": 0.5, "seed": 1}), mask({"mode": "train", "p": 0.5, "seed": 1}))
    assert not np.array_equal(mask({"mode": "train", "p": 0.5, "seed": 1}), mask({"mode": "train", "p": 0.5, "seed": 2}))
    # Unseeded calls draw new keys from the global generator.
    assert not np.array_equal(mask({"mode": "train", "p": 0.5}), mask({"mode": "train", "p": 0.5}))
    # Test mode is the identity, and a seed there reseeds the global generator as on the CPU.
    out, (used, none) = G.dropout_forward(x, {"mode": "test", "p": 0.5, "seed": 4})
    assert none is None and used["mode"] == "test"
    np.testing.assert_array_equal(out.copy_to_host(), np.ones((8, 8)))
    assert np.random.randint(2**31) == np.random.RandomState(4).randint(2**31)


def test_gpu_batchnorm_running_averages_stay_on_the_device():
    x = np.random.default_rng(10).standard_normal((5, 3)) * 2 + 1
    param, ref = {"mode": "train"}, {"mode": "train"}
    for _ in range(2):
        G.batchnorm_forward(D(x), D(np.ones(3)), D(np.zeros(3)), param)
        L.batchnorm_forward(x, np.ones(3), np.zeros(3), ref)
    assert not isinstance(param["running_mean"], np.ndarray)
    np.testing.assert_allclose(param["running_mean"].copy_to_host(), ref["running_mean"], rtol=1e-14)
    np.testing.assert_allclose(param["running_var"].copy_to_host(), ref["running_var"], rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_layernorm_of_one_feature_has_zero_gradient(dtype):
    x = np.random.default_rng(11).standard_normal((4, 1)).astype(dtype)
    out, cache = G.layernorm_forward(D(x), D(np.ones(1, dtype)), D(np.zeros(1, dtype)), {})
    dx = G.layernorm_backward(D(np.ones((4, 1), dtype)), cache)[0].copy_to_host()
    np.testing.assert_array_equal(dx, np.zeros((4, 1), dtype))


# ------------------------------------------------------------ optimisers

from fastnn import optim as cpu_optim  # noqa: E402

import fastnn.cuda.optim as GPU_OPTIM  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", list(cpu_optim.RULES))
def test_gpu_optimisers_match_the_cpu_rules(rule, dtype):
    # Three steps, state carried in the configs, against fastnn.optim; the
    # caller's arrays are not written, and in_place writes into w.
    generator = np.random.default_rng(12)
    w = generator.standard_normal((7, 5)).astype(dtype)
    grads = [generator.standard_normal((7, 5)).astype(dtype) for _ in range(3)]
    cpu_w, cpu_config = w, {"learning_rate": 1e-2}
    gpu_w, gpu_config = D(w), {"learning_rate": 1e-2}
    place_w, place_config = D(w), {"learning_rate": 1e-2, "in_place": True}
    for g in grads:
        before = gpu_w.copy_to_host()
        cpu_w, cpu_config = cpu_optim.RULES[rule](cpu_w, g, cpu_config)
        gpu_w_next, gpu_config = GPU_OPTIM.RULES[rule](gpu_w, D(g), gpu_config)
        np.testing.assert_array_equal(gpu_w.copy_to_host(), before)
        gpu_w = gpu_w_next
        returned, place_config = GPU_OPTIM.RULES[rule](place_w, D(g), place_config)
        assert returned is place_w
    tolerance = 1e-6 if dtype == np.float32 else 1e-14
    for got in (gpu_w, place_w):
        got = got.copy_to_host()
        assert got.dtype == dtype
        np.testing.assert_allclose(got, cpu_w, rtol=tolerance, atol=tolerance)
    for name in ("velocity", "cache", "m", "v"):
        if name in cpu_config:
            np.testing.assert_allclose(gpu_config[name].copy_to_host(), cpu_config[name], rtol=tolerance, atol=tolerance)
    assert gpu_config.get("t") == cpu_config.get("t")
