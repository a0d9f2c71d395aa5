"""Reliability and security (issue 9): no crash, no code execution, no lost
checkpoint, no silent wrong answer.  Each test reproduces a defect that the
probes found and shows it fixed; the seeds are the probes'.
"""

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastnn.layers as L
import fastnn.optim as O
import fastnn.reference as R
from fastnn import checkpoint, threads
from fastnn.augment import Augment
from fastnn.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from fastnn.solver import Solver

# ------------------------------------------------------ forged caches


def _norm_caches():
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    _, bn = L.batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train"})
    _, ln = L.layernorm_forward(x, np.ones(4), np.zeros(4), {})
    return dout, bn, ln


FORGED = [
    ("batchnorm_backward", lambda bn, ln: (bn[0], np.ones(1), bn[2], bn[3]), ValueError, "cache's gamma: expected shape (4,)"),
    ("batchnorm_backward", lambda bn, ln: (bn[0], bn[1], np.ones(2), bn[3]), ValueError, "cache's inv_std: expected shape (4,)"),
    ("batchnorm_backward", lambda bn, ln: (bn[0][:2], bn[1], bn[2], bn[3]), ValueError, "cache's xhat: expected shape (6, 4)"),
    ("batchnorm_backward", lambda bn, ln: (bn[0], bn[1], bn[2], "TRAIN"), ValueError, "cache's mode: expected 'train' or 'test'"),
    ("batchnorm_backward", lambda bn, ln: (bn[0], bn[1].astype(complex), bn[2], bn[3]), TypeError, "cache's gamma"),
    ("layernorm_backward", lambda bn, ln: (ln[0], ln[1], np.ones((1, 1))), ValueError, "cache's inv_std: expected shape (6, 1)"),
    ("layernorm_backward", lambda bn, ln: (ln[0], np.ones(1), ln[2]), ValueError, "cache's gamma: expected shape (4,)"),
    ("layernorm_backward", lambda bn, ln: (ln[0],), TypeError, "cache: expected the tuple (xhat, gamma, inv_std)"),
]


@pytest.mark.parametrize("name, forge, error, message", FORGED, ids=[f"{f[0]}-{i}" for i, f in enumerate(FORGED)])
def test_a_forged_cache_is_an_error_not_an_out_of_bounds_read(name, forge, error, message):
    dout, bn, ln = _norm_caches()
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        getattr(L, name)(dout, forge(bn, ln))


def test_the_probes_segfault_is_a_value_error():
    # 2,000,000 rows with an inv_std of shape (1, 1) died with SIGSEGV, 3 runs of 3.
    x = np.random.randn(2_000_000, 2)
    out, (xhat, gamma, _) = L.layernorm_forward(x, np.ones(2), np.zeros(2), {})
    with pytest.raises(ValueError, match=r"inv_std: expected shape \(2000000, 1\)"):
        L.layernorm_backward(out, (xhat, gamma, np.ones((1, 1))))


def test_affine_norm_relu_backward_checks_the_norm_name():
    rng = np.random.default_rng(1)
    out, cache = L.affine_norm_relu_forward(rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), np.zeros(5),
                                            np.ones(5), np.zeros(5), {"mode": "train"})
    with pytest.raises(ValueError, match="norm: expected 'batchnorm' or 'layernorm', got 'groupnorm'"):
        L.affine_norm_relu_backward(out, cache[:3] + ("groupnorm",))


# ------------------------------------------------------ checkpoints


def _small_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 64)).astype(np.float32)
    y = rng.integers(5, size=n)
    return {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}


class _RunsCode:
    def __init__(self, marker="/nonexistent/fastnn-pwned"):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_checkpoint_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = _RunsCode(marker)
    path = tmp_path / "run_epoch_1.pkl"
    path.write_bytes(pickle.dumps({"model": evil}))
    with pytest.raises(checkpoint.CheckpointError, match="pickle checkpoint"):
        Solver.load_checkpoint(path, _small_data())
    assert not marker.exists()


def test_an_npz_with_an_object_array_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, a=np.array([_RunsCode()], dtype=object))
    with pytest.raises(checkpoint.CheckpointError, match="not a fastnn checkpoint"):
        checkpoint.load(path)


@pytest.mark.parametrize("content", [b"", b"garbage that is not a zip", b"PK\x03\x04broken"], ids=["empty", "garbage", "torn-zip"])
def test_unreadable_files_name_the_path(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(checkpoint.CheckpointError, match=f"{path}: not a fastnn checkpoint"):
        Solver.load_checkpoint(path, _small_data())


def _crafted(path, meta, arrays=None, header=None):
    """A checkpoint file with the given metadata object (JSON text if a str) and arrays, or one raw .npy header."""
    import json
    import zipfile

    text = meta if isinstance(meta, str) else json.dumps(meta)
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("__fastnn_checkpoint__.npy", "w") as f:
            np.lib.format.write_array(f, np.frombuffer(text.encode(), np.uint8))
        for name, value in (arrays or {}).items():
            with archive.open(f"{name}.npy", "w") as f:
                np.lib.format.write_array(f, value)
        if header is not None:
            with archive.open("a0.npy", "w") as f:
                np.lib.format.write_array_header_1_0(f, header)
                f.write(b"\0" * 64)


def _meta(content):
    return {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "content": content}


@pytest.mark.parametrize("case", ["no content", "dangling array", "array key of a number", "tuple of a number",
                                  "3000 deep", "8 TiB header"])
def test_a_malformed_checkpoint_is_a_checkpoint_error(tmp_path, case):
    path = tmp_path / "bad.npz"
    if case == "no content":
        _crafted(path, {"format": checkpoint.FORMAT, "version": checkpoint.VERSION})
    elif case == "dangling array":
        _crafted(path, _meta({"w": {"__array__": "a7"}}))
    elif case == "array key of a number":
        _crafted(path, _meta({"w": {"__array__": 3}}), {"a0": np.ones(2)})
    elif case == "tuple of a number":
        _crafted(path, _meta({"t": {"__tuple__": 5}}))
    elif case == "3000 deep":
        _crafted(path, '{"format": "%s", "version": %d, "content": %s1%s}' % (checkpoint.FORMAT, checkpoint.VERSION, "[" * 3000, "]" * 3000))
    else:
        _crafted(path, _meta({"w": {"__array__": "a0"}}), header={"descr": "<f8", "fortran_order": False, "shape": (1 << 40,)})
    with pytest.raises(checkpoint.CheckpointError, match=f"{path}: (a malformed|not a fastnn) checkpoint"):
        checkpoint.load(path)
    with pytest.raises(checkpoint.CheckpointError):
        Solver.load_checkpoint(path, _small_data())


def test_a_checkpoint_gets_the_usual_mode_and_an_overwrite_keeps_the_old_one(tmp_path):
    umask = os.umask(0o022)
    try:
        path = tmp_path / "run.npz"
        checkpoint.save(path, {"a": 1})
        assert os.stat(path).st_mode & 0o777 == 0o644
        os.chmod(path, 0o600)
        checkpoint.save(path, {"a": 2})
        assert os.stat(path).st_mode & 0o777 == 0o600 and checkpoint.load(path) == {"a": 2}
    finally:
        os.umask(umask)


def test_the_temporary_files_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    path = tmp_path / "run.npz"
    orphans = [tmp_path / f"run.npz.{name}.tmp" for name in ("abcd1234", "x_Y9z0Q1")]
    for orphan in orphans:
        orphan.write_bytes(b"torn")
    other = tmp_path / "other.npz.abcd1234.tmp"
    other.write_bytes(b"another name's")
    checkpoint.save(path, {"a": 1})
    assert not any(o.exists() for o in orphans) and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.npz.abcd1234.tmp", "run.npz"]


def test_a_foreign_npz_names_the_path(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(checkpoint.CheckpointError, match="without fastnn's metadata"):
        Solver.load_checkpoint(path, _small_data())
    checkpoint.save(path, {"something": "else"})
    with pytest.raises(checkpoint.CheckpointError, match="not of a Solver"):
        Solver.load_checkpoint(path, _small_data())


_SAVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from fastnn import checkpoint
    path = sys.argv[1]
    big = np.arange(3_000_000, dtype=np.float64)
    version = 0
    print("ready", flush=True)
    while True:
        version += 1
        checkpoint.save(path, {"version": version, "big": big + version})
    """
)


def test_a_kill_during_a_save_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "run.npz"
    checkpoint.save(path, {"version": 0, "big": np.arange(3_000_000, dtype=np.float64)})
    rng = np.random.default_rng(9)
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE)
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.4))  # a random point of some save
        child.send_signal(signal.SIGKILL)
        child.wait()
        state = checkpoint.load(path)
        np.testing.assert_array_equal(state["big"], np.arange(3_000_000) + state["version"])
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "run.npz"]
    assert all(name.endswith(".tmp") for name in leftovers)  # a killed save can leave only its temporary


def test_resume_with_augmentation_is_bit_identical(tmp_path):
    data = _small_data()
    options = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=10, verbose=False, seed=1)

    def model():
        return FullyConnectedNet([16], 64, 5, dtype=np.float64, init="he", init_seed=2)

    straight = Solver(model(), data, num_epochs=4, augment=Augment(seed=4), **options)
    straight.train()
    first = Solver(model(), data, num_epochs=2, augment=Augment(seed=4), checkpoint_name=str(tmp_path / "run"), **options)
    first.train()
    resumed = Solver.load_checkpoint(tmp_path / "run_epoch_2.npz", data, num_epochs=4)
    assert type(resumed.augment) is Augment and resumed.checkpoint_name == str(tmp_path / "run")
    resumed.train()
    assert resumed.loss_history == straight.loss_history
    for name, value in straight.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], value)
    assert (tmp_path / "run_epoch_4.npz").exists()  # the resumed run kept checkpointing


@pytest.mark.parametrize("rule", list(O.RULES))
def test_resume_is_bit_identical_for_every_rule(tmp_path, rule):
    data = _small_data(seed=3)
    options = dict(update_rule=rule, optim_config={"learning_rate": 1e-3}, batch_size=10, verbose=False, seed=5,
                   lr_decay=0.9, num_train_samples=20)

    def model():
        return FullyConnectedNet([12], 64, 5, normalization="batchnorm", dtype=np.float32, init="he", init_seed=1)

    straight = Solver(model(), data, num_epochs=3, **options)
    straight.train()
    Solver(model(), data, num_epochs=1, checkpoint_name=str(tmp_path / "r"), **options).train()
    resumed = Solver.load_checkpoint(tmp_path / "r_epoch_1.npz", data, num_epochs=3)
    resumed.train()
    assert resumed.loss_history == straight.loss_history
    assert resumed.val_acc_history == straight.val_acc_history
    for name, value in straight.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], value)
    np.testing.assert_array_equal(resumed.model.bn_params[0]["running_mean"], straight.model.bn_params[0]["running_mean"])


def test_a_rule_or_augment_of_ones_own_must_be_passed_again(tmp_path):
    data = _small_data()

    def rule(w, dw, config=None):
        return O.sgd(w, dw, config)

    solver = Solver(TwoLayerNet(64, 8, 5), data, update_rule=rule, augment=lambda X: X, num_epochs=1, batch_size=10,
                    verbose=False, checkpoint_name=str(tmp_path / "own"))
    solver.train()
    path = tmp_path / "own_epoch_1.npz"
    with pytest.raises(ValueError, match="update_rule: .*pass update_rule="):
        Solver.load_checkpoint(path, data, augment=None)
    with pytest.raises(ValueError, match="augment: .*pass augment="):
        Solver.load_checkpoint(path, data, update_rule=rule)
    resumed = Solver.load_checkpoint(path, data, update_rule=rule, augment=None)
    assert resumed.epoch == 1 and resumed.augment is None


# ------------------------------------------------------ fork safety


def _child_work(queue):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2048, 64))
    y = rng.integers(64, size=2048)
    from fastnn.fused import sgd_two_layer

    params = {"W1": 0.1 * rng.standard_normal((64, 16)), "b1": np.zeros(16), "W2": 0.1 * rng.standard_normal((16, 64)), "b2": np.zeros(64)}
    history = sgd_two_layer(params, x, y, rng.integers(2048, size=(2, 32)), 0.1, x[:300], y[:300])
    queue.put((float(L.relu_forward(x)[0].sum()), float(L.softmax_loss(x, y)[0]), float(history.train_loss.sum()),
               threads.parallel_allowed()))


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_children_after_a_parallel_launch_survive(method):
    # "fork() called from a process already using GNU OpenMP" killed a forked child.
    L.relu_forward(np.ones(1 << 20))  # the parent's own parallel launch
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    child = ctx.Process(target=_child_work, args=(queue,))
    child.start()
    child.join(120)
    assert child.exitcode == 0
    got = queue.get(timeout=5)
    parent = multiprocessing.Queue()
    _child_work(parent)
    expected = parent.get(timeout=5)
    np.testing.assert_allclose(got[:3], expected[:3], rtol=1e-12)
    assert got[3] is (method != "fork")  # a forked child runs serially; spawn and forkserver start fresh


# ------------------------------------------------------ silent wrong results


def test_relu_forward_in_place_keeps_what_backward_needs():
    x = np.array([-1.0, -2.0, 3.0, 4.0])
    out, cache = L.relu_forward(x, out=x)
    np.testing.assert_array_equal(L.relu_backward(np.ones(4), cache), [0, 0, 1, 1])
    assert out is x


def test_overlapping_out_is_buffered_as_numpy_does():
    b = np.arange(-3.0, 9.0)
    expected = b.copy()
    np.maximum(expected[:-1], 0, out=expected[1:])
    L.relu_forward(b[:-1], out=b[1:])
    np.testing.assert_array_equal(b, expected)
    d = np.arange(-3.0, 9.0)
    x = np.linspace(-1, 1, 11)
    expected = d.copy()
    np.multiply(expected[:-1], x >= 0, out=expected[1:])
    L.relu_backward(d[:-1], x, out=d[1:])
    np.testing.assert_array_equal(d, expected)


# The simulator computes inf - inf in NumPy scalars, on threads of its own.
@pytest.mark.filterwarnings("ignore:invalid value encountered in scalar subtract:RuntimeWarning")
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("column", [0, 1])
@pytest.mark.parametrize("module", ["cpu", "cuda"])
def test_svm_loss_propagates_nan_and_inf_as_the_reference(value, column, module):
    x = np.random.default_rng(2).standard_normal((3, 4))
    x[0, column] = value
    y = np.array([1, 0, 2])
    with np.errstate(invalid="ignore"):
        ref_loss, ref_dx = R.svm_loss(x, y)
    if module == "cpu":
        loss, dx = L.svm_loss(x, y)
    else:
        G = pytest.importorskip("fastnn.cuda")
        loss, dx = G.svm_loss(G.to_device(x), G.to_device(y))
        dx = G.to_host(dx)
    np.testing.assert_array_equal(loss, ref_loss)
    np.testing.assert_array_equal(dx, ref_dx)


@pytest.mark.parametrize("key, value, error", [
    ("learning_rate", None, TypeError), ("learning_rate", "0.1", TypeError), ("learning_rate", [0.1], TypeError),
    ("learning_rate", float("nan"), ValueError), ("learning_rate", float("inf"), ValueError),
    ("beta1", True, TypeError), ("t", "0", TypeError), ("t", -1, TypeError), ("t", 1.5, TypeError),
])
def test_config_values_are_validated(key, value, error):
    with pytest.raises(error, match=rf"config\['{key}'\]"):
        O.adam(np.ones(3), np.ones(3), {key: value})


def test_a_config_shared_between_parameters_is_an_error():
    w1, w2 = np.ones((2, 3)), np.ones((2, 3))
    config = {}
    w1, config = O.adam(w1, np.ones((2, 3)), config)
    with pytest.raises(ValueError, match="a config belongs to one parameter"):
        O.adam(w2, np.ones((2, 3)), config)
    with pytest.raises(ValueError, match=r"config\['m'\]: expected shape \(4,\).*a config belongs to one parameter"):
        O.adam(np.ones(4), np.ones(4), {"m": np.zeros((2, 3)), "v": np.zeros((2, 3))})
    for _ in range(3):  # the same parameter, passed back step after step, is fine
        w1, config = O.adam(w1, np.ones((2, 3)), config)
    assert config["t"] == 4


@pytest.mark.parametrize("rule", [O.sgd, O.sgd_momentum, O.rmsprop, O.adam])
def test_in_place_keeps_the_parameters_dtype_and_memory(rule):
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    dw = np.linspace(1, 2, 12).reshape(3, 4)  # float64
    expected, _ = rule(w.astype(np.float64), dw, {"learning_rate": 1e-2})
    next_w, config = rule(w, dw, {"learning_rate": 1e-2, "in_place": True})
    assert next_w is w and w.dtype == np.float32
    # float32 against float64: entries are O(1), so an absolute 1e-6 (about 16 float32 ulps) too
    np.testing.assert_allclose(w, expected, rtol=1e-6, atol=1e-6)
    strided = np.zeros((3, 8), np.float32)[:, ::2]
    strided[...] = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    next_w, _ = rule(strided, dw, {"learning_rate": 1e-2, "in_place": True})
    assert next_w is strided
    np.testing.assert_allclose(strided, expected, rtol=1e-6, atol=1e-6)
    frozen = np.ones((3, 4))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="w: in_place writes into w, which is read-only"):
        rule(frozen, dw, {"in_place": True})


def test_dropout_backward_uses_the_p_that_forward_used():
    param = {"mode": "train", "p": 0.5, "seed": 3}
    x = np.ones((4, 5))
    out, cache = L.dropout_forward(x, param)
    param["p"] = 0.25
    np.testing.assert_array_equal(L.dropout_backward(np.ones_like(x), cache), out)


@pytest.mark.parametrize("mode", ["TRAIN", "Test", None, 1])
def test_modes_other_than_train_and_test_are_refused(mode):
    with pytest.raises(ValueError, match=r"bn_param\['mode'\]: expected 'train' or 'test'"):
        L.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": mode})


# ------------------------------------------------------ clear errors


@pytest.mark.parametrize("options, message", [
    ({"batch_size": 0}, "batch_size: expected an integer >= 1"),
    ({"batch_size": -5}, "batch_size: expected an integer >= 1"),
    ({"num_epochs": -1}, "num_epochs: expected an integer >= 0"),
    ({"lr_decay": float("nan")}, "lr_decay: expected a finite positive number"),
    ({"print_every": 0}, "print_every: expected an integer >= 1"),
    ({"num_train_samples": 0}, "num_train_samples: expected an integer >= 1"),
])
def test_solver_arguments_are_validated(options, message):
    with pytest.raises(ValueError, match=message):
        Solver(TwoLayerNet(64, 8, 5), _small_data(), **options)


def test_an_empty_training_set_is_an_error():
    data = _small_data()
    data["X_train"], data["y_train"] = data["X_train"][:0], data["y_train"][:0]
    with pytest.raises(ValueError, match="at least one training example"):
        Solver(TwoLayerNet(64, 8, 5), data)


def test_big_endian_arrays_and_memmap_outputs_are_accepted(tmp_path):
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    out, _ = L.relu_forward(x.astype(">f8"))
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    assert out.dtype == np.float64 and out.dtype.isnative
    loss, _ = L.softmax_loss(x.astype(">f4"), np.array([0, 1, 2]))
    assert loss == pytest.approx(R.softmax_loss(x.astype(np.float32), np.array([0, 1, 2]))[0], rel=1e-6)
    target = np.memmap(tmp_path / "out.bin", dtype=np.float64, mode="w+", shape=x.shape)
    assert L.relu_forward(x, out=target)[0] is target
    np.testing.assert_array_equal(target, np.maximum(x, 0))


def test_set_num_threads_holds_in_new_threads():
    with threads.limit_threads(1):
        seen = []
        worker = threading.Thread(target=lambda: (L.relu_forward(np.ones(1 << 20)), seen.append(threads.get_num_threads())))
        worker.start()
        worker.join()
        assert seen == [1]
        import numba

        inner = []
        worker = threading.Thread(target=lambda: (L.relu_forward(np.ones(1 << 20)), inner.append(numba.get_num_threads())))
        worker.start()
        worker.join()
        assert inner == [1]  # applied in the thread before its parallel launch


def _checkpointed_run(tmp_path, **model_options):
    from fastnn.classifiers.fc_net import FullyConnectedNet

    model = FullyConnectedNet([6], 64, 5, dtype=np.float32, **model_options)
    solver = Solver(model, _small_data(), num_epochs=1, batch_size=10, verbose=False, seed=0,
                    checkpoint_name=str(tmp_path / "run"))
    solver.train()
    return tmp_path / "run_epoch_1.npz"


@pytest.mark.parametrize("change, words", [
    (lambda s: s.update(epoch=-3), "epoch expected a non-negative int, got -3"),
    (lambda s: s.update(best_val_acc=float("nan")), "best_val_acc expected a number in [0, 1]"),
    (lambda s: s["model"]["attributes"].update(reg=float("nan")), "reg expected a finite non-negative number"),
    (lambda s: s["model"]["attributes"]["params"].update(W1=np.ones((3, 3), np.float32)), "b1 expected an array of shape (3,)"),
    (lambda s: s["model"]["attributes"]["params"].pop("b2"), "do not fit this FullyConnectedNet"),
    (lambda s: s.update(random_state=("MT19937", np.ones(3, np.uint32), 0, 0, 0.0)), "random_state is not a NumPy generator state"),
    (lambda s: s.update(augment=[1]), "augment expected a dict or None"),
])
def test_a_forged_checkpoint_state_is_refused_on_load(tmp_path, change, words):
    path = _checkpointed_run(tmp_path)
    state = checkpoint.load(path)
    change(state)
    checkpoint.save(path, state)
    with pytest.raises(checkpoint.CheckpointError) as info:
        Solver.load_checkpoint(path, _small_data())
    assert words in str(info.value) and str(path) in str(info.value)


def test_a_checkpoint_of_another_architecture_does_not_load_into_a_model(tmp_path):
    from fastnn.classifiers.fc_net import FullyConnectedNet

    path = _checkpointed_run(tmp_path)
    other = FullyConnectedNet([6], 64, 5, dtype=np.float32, normalization="batchnorm")
    with pytest.raises(ValueError, match="do not fit this FullyConnectedNet"):
        Solver.load_checkpoint(path, _small_data(), model=other)


def test_a_checkpoint_never_decides_where_a_resumed_run_writes(tmp_path):
    path = _checkpointed_run(tmp_path)
    state = checkpoint.load(path)
    state["options"]["checkpoint_name"] = str(tmp_path / ".." / ".." / "escaped")
    checkpoint.save(path, state)
    solver = Solver.load_checkpoint(path, _small_data(), num_epochs=2)
    assert solver.checkpoint_name == str(tmp_path / "escaped")
    solver.train()
    assert (tmp_path / "escaped_epoch_2.npz").exists() and not (tmp_path.parent.parent / "escaped_epoch_2.npz").exists()
