"""The fastnn command and the training job."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastnn.cli import main
from fastnn.digits.data import digits_split
from fastnn.digits.seed import SeedRecipe, train_two_layer


def _accuracies(output):
    return {name: float(acc) for name, acc in re.findall(r"^(.+?): test accuracy ([0-9.]+)", output, re.M)}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_short_training_run_reaches_a_sane_accuracy(capsys, dtype):
    assert main(["train", "--seed-recipe", "--iters", "500", "--no-progress", "--compare", "--dtype", dtype]) == 0
    output = capsys.readouterr().out
    accuracies = _accuracies(output)
    # Chance is 0.1; the seed's recipe is at 0.3-0.5 after 500 steps and 0.70 after 1000.
    # The engines are not compared with each other here: from the seed's
    # huge initial logits, ulp-level differences grow chaotically (1e-16 at
    # step 10, 1e-3 at step 200), so their accuracies differ by a few points.
    for engine in ("fused", "layers", "reference"):
        assert accuracies[engine] >= 0.25, engine
    assert "vs reference" in output and "JIT compile or cache load" in output


def test_training_is_reproducible():
    split = digits_split(seed=3)
    recipe = SeedRecipe(iters=200, seed=3, eval_every=50)
    first = train_two_layer("fused", split, recipe, progress=False)
    again = train_two_layer("fused", split, recipe, progress=False)
    assert (first.accuracy, first.train_loss, first.test_loss) == (again.accuracy, again.train_loss, again.test_loss)


@pytest.mark.parametrize("engine", ["fused", "layers"])
def test_training_steps_match_the_reference(engine):
    # Before chaotic divergence sets in (see above) the engines agree closely.
    split = digits_split(seed=3)
    recipe = SeedRecipe(iters=10, seed=3)
    fast = train_two_layer(engine, split, recipe, progress=False)
    ref = train_two_layer("reference", split, recipe, progress=False)
    assert fast.train_loss == pytest.approx(ref.train_loss, rel=1e-9)
    assert fast.test_loss == pytest.approx(ref.test_loss, rel=1e-9)
    assert fast.accuracy == ref.accuracy


def test_train_threads_and_engine_flags(capsys):
    assert main(["train", "--seed-recipe", "--iters", "50", "--no-progress", "--engine", "layers", "--threads", "1"]) == 0
    output = capsys.readouterr().out
    assert "numba 1 threads" in output and "layers: test accuracy" in output


def test_digits_split_is_70_30():
    split = digits_split(seed=0, dtype=np.float32)
    assert split.X_train.shape == (1257, 64) and split.X_test.shape == (540, 64)
    assert split.X_train.dtype == np.float32
    assert set(np.unique(split.y_train)) == set(range(10))


def test_gradcheck_command(capsys):
    from fastnn.gradcheck import check_layers
    import fastnn.layers

    assert main(["gradcheck"]) == 0
    output = capsys.readouterr().out
    assert output.count("PASS") == len(check_layers(fastnn.layers)) and "FAIL" not in output


@pytest.mark.parametrize(
    "argv",
    [["train", "--iters", "0"], ["train", "--lr", "-1"], ["train", "--dtype", "int8"], ["train", "--engine", "x"], ["bench", "--only", "x"],
     ["train", "--hidden", "10,-1"], ["train", "--dropout", "0"], ["train", "--dropout", "1.5"], ["train", "--optimizer", "lbfgs"], []],
)
def test_bad_arguments_are_refused(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_console_script_runs():
    # The script sits beside the interpreter, whether or not its venv is activated.
    script = Path(sys.executable).with_name("fastnn")
    result = subprocess.run([str(script), "gradcheck"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\d+ passed, 0 failed$", result.stdout, re.M), result.stdout


def test_import_is_light():
    code = "import sys, fastnn; print('numba' in sys.modules, 'sklearn' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "False"]


def test_default_recipe_short_run_with_plot_and_metrics(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    import json

    png, metrics = tmp_path / "curves.png", tmp_path / "metrics.json"
    argv = ["train", "--epochs", "3", "--ensemble", "2", "--hidden", "64,32", "--no-progress", "--plot", str(png), "--metrics", str(metrics)]
    assert main(argv) == 0
    output = capsys.readouterr().out
    assert "members' test accuracies" in output
    assert "2 x ConvNet (as --model cnn, 3 epochs) + 2 x fc 64-64-32-10" in output
    assert "baselines on the same split (scikit-learn, raw pixels): SVC(gamma=0.001, C=10) 0.9907, 3-NN 0.9870" in output
    numbers = json.loads(metrics.read_text())
    # Three epochs of two ConvNets and two small nets: far from the full recipe, far above chance (0.1).
    assert numbers["test_accuracy"] >= 0.5 and len(numbers["member_test_accuracies"]) == 4
    assert numbers["baselines"] == {"SVC(gamma=0.001, C=10)": pytest.approx(0.9907, abs=5e-5), "3-NN": pytest.approx(0.9870, abs=5e-5)}
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("flags", [["--model", "two-layer", "--hidden", "50", "--optimizer", "momentum", "--lr", "0.05", "--norm", "none"],
                                   ["--norm", "layernorm", "--dropout", "0.8", "--augment", "--init", "xavier", "--optimizer", "rmsprop"]])
def test_recipe_flags(capsys, flags):
    assert main(["train", "--epochs", "2", "--ensemble", "1", "--hidden", "32", "--no-progress", *flags] if "--hidden" not in flags
                else ["train", "--epochs", "2", "--ensemble", "1", "--no-progress", *flags]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_cnn_recipe_short_run(capsys):
    assert main(["train", "--model", "cnn", "--epochs", "5", "--filters", "8", "--filter-size", "3", "--hidden", "32", "--no-progress"]) == 0
    output = capsys.readouterr().out
    assert "1 x cnn 1x8x8-conv3x3x8-pool-32-10" in output
    # Five epochs of a small ConvNet: measured 0.78, far above chance (0.1).
    assert float(output.split("test accuracy ")[1].split(",")[0]) >= 0.5


@pytest.mark.parametrize("argv, words", [
    (["--filters", "8"], ["--filters applies only to --model cnn"]),
    (["--model", "cnn", "--norm", "batchnorm", "--dropout", "0.5"], ["--norm, --dropout apply only to the fully connected models"]),
    (["--model", "cnn", "--filter-size", "4"], ["--filter-size", "odd"]),
])
def test_cnn_flags_are_checked(capsys, argv, words):
    with pytest.raises(SystemExit) as info:
        main(["train", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err


def test_seed_recipe_takes_one_hidden_size():
    with pytest.raises(SystemExit, match="one size"):
        main(["train", "--seed-recipe", "--hidden", "10,10", "--iters", "1"])


@pytest.mark.parametrize("argv, words", [
    (["--seed-recipe", "--iters", "3", "--metrics", "m.json", "--plot", "p.png", "--epochs", "99"],
     ["--epochs, --plot, --metrics apply only to the default recipe"]),
    (["--iters", "5"], ["--iters applies only to --seed-recipe"]),
    (["--engine", "layers", "--compare"], ["--engine, --compare apply only to --seed-recipe"]),
    (["--seed-recipe", "--backend", "cuda", "--flush-subnormals"], ["--flush-subnormals applies only to the fused CPU engine"]),
    (["--backend", "cuda", "--model", "cnn"], ["--model cnn runs on the CPU only"]),
    (["--backend", "cuda", "--augment"], ["--augment runs on the CPU only"]),
])
def test_flags_of_the_other_recipe_are_refused(capsys, argv, words):
    # They were silently ignored: exit 0, nothing written.
    with pytest.raises(SystemExit) as info:
        main(["train", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err


@pytest.mark.parametrize("argv, words", [
    (["--lr", "inf"], ["--lr", "positive finite"]),
    (["--lr", "nan"], ["--lr", "positive finite"]),
    (["--threads", "999"], ["--threads", "at most"]),
    (["--seed", "-1"], ["--seed", "from 0 to"]),
    (["--metrics", "/nonexistent/x.json"], ["--metrics", "does not exist"]),
    (["--plot", "p.txt"], ["--plot", "ending in .png"]),
    (["--metrics", "."], ["--metrics", "ending in .json"]),
    (["--model", "two-layer"], ["--model two-layer takes one hidden size (--hidden N), got the default 512,256"]),
    (["--model", "cnn", "--hidden", "50,20"], ["--model cnn takes one hidden size (--hidden N), got --hidden 50,20"]),
])
def test_bad_values_are_argparse_errors_before_any_work(capsys, argv, words):
    with pytest.raises(SystemExit) as info:
        main(["train", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words) and "Traceback" not in err, err


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # lr 1e300 in float32
@pytest.mark.parametrize("argv", [["--epochs", "1", "--ensemble", "1"], ["--seed-recipe", "--iters", "100"]])
def test_a_diverged_run_stops_with_a_message(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(["train", "--lr", "1e300", "--no-progress", *argv])
    assert info.value.code == 1
    assert "the training loss became nan" in capsys.readouterr().err


def test_ctrl_c_prints_one_line_and_exits_130():
    import signal
    import time

    script = Path(sys.executable).with_name("fastnn")
    child = subprocess.Popen([str(script), "train", "--seed-recipe", "--iters", "100000000", "--no-progress"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    line = child.stdout.readline()  # the first line is printed once the data is loaded
    assert line.startswith("digits:") and time.monotonic() < deadline
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert err.strip().splitlines() == ["fastnn train: interrupted"], err


def test_an_output_file_that_is_a_directory_is_refused_before_any_work(capsys, tmp_path):
    folder = tmp_path / "m.json"
    folder.mkdir()
    with pytest.raises(SystemExit) as info:
        main(["train", "--metrics", str(folder)])
    assert info.value.code == 2 and "is a directory, not a file" in capsys.readouterr().err


def test_gradcheck_refuses_a_negative_seed(capsys):
    with pytest.raises(SystemExit) as info:
        main(["gradcheck", "--seed", "-1"])
    assert info.value.code == 2 and "expected a non-negative integer, got -1" in capsys.readouterr().err


def test_gradcheck_limits_follow_the_references_own_error(capsys):
    # Seed 99999999999 draws affine inputs where the NumPy oracle's dx error
    # is 1.01e-8 against the 1e-8 limit, as fastnn's is: the centred
    # differences set the error there, not the kernel.
    from fastnn import catalog
    from fastnn.gradcheck import check_layer

    import fastnn.layers
    import fastnn.reference

    plain = check_layer(catalog.get("affine"), fastnn.layers, np.random.default_rng(99999999999))
    followed = check_layer(catalog.get("affine"), fastnn.layers, np.random.default_rng(99999999999), fastnn.reference)
    assert [r.error for r in plain] == [r.error for r in followed]
    assert any(not r.passed for r in plain) and all(r.passed for r in followed)
    assert main(["gradcheck", "--seed", "99999999999"]) == 0
