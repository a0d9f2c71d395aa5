"""The cs231n Solver: minibatch training of a model with an update rule.

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, num_epochs=20, batch_size=100)
    solver.train()

``data`` holds X_train, y_train, X_val, y_val.  The course's semantics,
step for step:

- each iteration draws its batch with ``np.random.choice(num_train,
  batch_size)`` (with replacement) from NumPy's global generator, so
  ``np.random.seed`` reproduces a run; ``check_accuracy`` subsamples the
  same way;
- train and validation accuracy are measured after the first iteration, at
  the end of every epoch and after the last iteration; the learning rate of
  every parameter's config is multiplied by ``lr_decay`` at each epoch's end;
- ``loss_history``, ``train_acc_history``, ``val_acc_history``,
  ``best_val_acc`` and ``best_params`` are kept as in the course, and the
  model ends with the best parameters;
- with ``verbose`` the course's lines are printed, beside a progress bar.

fastnn's extras: ``update_rule`` may be a callable ``rule(w, dw, config)``
as well as a name in fastnn.optim; ``augment``, a callable applied to every
batch; ``seed``, which draws from a private ``np.random.RandomState(seed)``
(the same numbers as ``np.random.seed(seed)`` would give) instead of the
global generator; checkpoints that ``load_checkpoint`` resumes.  A
checkpoint, ``{checkpoint_name}_epoch_{n}.npz``, is arrays and JSON in one
file (fastnn.checkpoint: no pickle, so loading one runs no code), written
atomically, so a kill mid-save leaves the previous one intact.

A model on the GPU (``backend="cuda"``, fastnn.cuda's layers; see
fastnn.classifiers) trains there: the data are uploaded once per
``train()``, each batch is drawn on the host as above and gathered on the
device, the update rules are fastnn.cuda.optim's twins of fastnn.optim's
(a rule of one's own is given device arrays), accuracies are counted on the
device and read back once per check, losses come back as np.float64, and
``best_params`` stay on the device until a checkpoint copies them to the
host.  ``augment`` works on host batches and is refused there.  A
checkpoint holds host arrays only; ``load_checkpoint(..., backend=)``
resumes it on either side.

Where the model is exactly fastnn's own two-layer net (``TwoLayerNet``, or
``FullyConnectedNet`` with one hidden layer, no normalisation and no
dropout, on fastnn.layers) trained by fastnn.optim.sgd without
regularisation or augmentation, on data of the model's dtype, the
iterations between two accuracy checks run in the fused compiled trainer
(:func:`fastnn.fused.sgd_two_layer`), which computes what ``model.loss``
and ``sgd`` compute (the tests hold them to 1e-12 in float64) on the same
batches.  Anything else, a subclass or a look-alike included, runs
``model.loss`` every iteration.
"""

import os

import numpy as np
from tqdm import tqdm

import fastnn.layers
from fastnn import checkpoint, optim
from fastnn.augment import Augment
from fastnn.classifiers.base import from_checkpoint_state, host_tree, is_own_model
from fastnn.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from fastnn.validation import is_integer, is_real

_OPTIONS = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "checkpoint_name": None,
    "print_every": 10,
    "verbose": True,
    "augment": None,
    "seed": None,
    "keep_best": True,
}


def _owned_copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _gpu():
    import fastnn.cuda

    return fastnn.cuda


def _check_progress(state, path):
    """A checkpoint's epoch, best accuracy, histories and generator state: of the types and ranges train() writes."""
    where = os.fspath(path)
    epoch, best = state["epoch"], state["best_val_acc"]
    if type(epoch) is not int or epoch < 0:
        raise checkpoint.CheckpointError(f"{where}: epoch expected a non-negative int, got {epoch!r:.80}")
    if type(best) not in (int, float) or not 0 <= best <= 1:
        raise checkpoint.CheckpointError(f"{where}: best_val_acc expected a number in [0, 1], got {best!r:.80}")
    for name in ("loss_history", "train_acc_history", "val_acc_history"):
        value = state[name]
        if type(value) is not np.ndarray or value.ndim != 1 or value.dtype != np.float64:
            raise checkpoint.CheckpointError(f"{where}: {name} expected a 1-D float64 array, got {type(value).__name__}")
    random_state = state["random_state"]
    if random_state is not None:
        try:
            np.random.RandomState().set_state(random_state)
        except (TypeError, ValueError, IndexError) as exc:
            raise checkpoint.CheckpointError(f"{where}: random_state is not a NumPy generator state ({exc})") from None


class Solver:
    """
    Inputs:
    - model: An object with params (a dict of arrays) and loss(X, y=None)
    - data: Dict with X_train, y_train, X_val, y_val
    - update_rule: Name of a rule in fastnn.optim (sgd, sgd_momentum,
      rmsprop, adam, or one set there) or a callable rule(w, dw, config)
    - optim_config: Dict of hyper-parameters for the update rule (learning_rate, ...)
    - lr_decay: Factor applied to the learning rate after every epoch
    - batch_size, num_epochs: Minibatch size and number of passes over the data
    - num_train_samples, num_val_samples: Examples drawn (with replacement)
      to measure accuracy (None: all)
    - checkpoint_name: Write {checkpoint_name}_epoch_{n}.npz after every epoch
    - print_every: Print the loss every this many iterations
    - verbose: The course's printed lines and a progress bar; False for silence
    - augment: Optional callable X -> augmented X, applied to every batch
    - seed: Draw batches and subsamples from np.random.RandomState(seed)
      rather than NumPy's global generator
    - keep_best: The course's rule, True: the model ends with the
      parameters of the best validation accuracy.  False: it ends with the
      last ones, so the schedule decides (fastnn's digits recipe, which
      validates on its training data)
    Unknown keyword arguments raise ValueError.
    """

    def __init__(self, model, data, **kwargs):
        unknown = sorted(set(kwargs) - set(_OPTIONS))
        if unknown:
            raise ValueError(f"Solver: unrecognised arguments {unknown}; expected some of {sorted(_OPTIONS)}")
        missing = [k for k in ("X_train", "y_train", "X_val", "y_val") if k not in data]
        if missing:
            raise ValueError(f"data: expected keys X_train, y_train, X_val, y_val, missing {missing}")
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        options = {**_OPTIONS, **kwargs}
        self.update_rule = optim.get_rule(options["update_rule"])
        self.optim_config = dict(options["optim_config"] or {})
        for name in ("lr_decay", "batch_size", "num_epochs", "num_train_samples", "num_val_samples",
                     "checkpoint_name", "print_every", "verbose", "augment", "seed", "keep_best"):
            setattr(self, name, options[name])
        self._check_options()
        self._check_augment()
        self._uploaded = {}
        self._random = np.random if self.seed is None else np.random.RandomState(self.seed)
        self._reset()

    def _check_options(self):
        def whole(name, value, low):
            if not is_integer(value) or value < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")

        if type(self.keep_best) is not bool:
            raise TypeError(f"keep_best: expected a bool, got {self.keep_best!r}")
        whole("batch_size", self.batch_size, 1)
        whole("num_epochs", self.num_epochs, 0)
        whole("print_every", self.print_every, 1)
        for name in ("num_train_samples", "num_val_samples"):
            if getattr(self, name) is not None:
                whole(name, getattr(self, name), 1)
        if not is_real(self.lr_decay) or not np.isfinite(self.lr_decay) or self.lr_decay <= 0:
            raise ValueError(f"lr_decay: expected a finite positive number, got {self.lr_decay!r}")
        if self.seed is not None:
            whole("seed", self.seed, 0)
        if self.augment is not None and not callable(self.augment):
            raise TypeError(f"augment: expected a callable X -> X or None, got {type(self.augment).__name__}")
        for split in ("train", "val"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if not hasattr(X, "shape") or not hasattr(y, "shape") or X.ndim < 1:
                raise TypeError(f"data: expected X_{split} and y_{split} as arrays, got {type(X).__name__} and {type(y).__name__}")
            if X.shape[0] != y.shape[0]:
                raise ValueError(f"data: X_{split} has {X.shape[0]} rows but y_{split} has {y.shape[0]} labels")
        if self.X_train.shape[0] == 0:
            raise ValueError(f"data: expected at least one training example, got X_train of shape {self.X_train.shape}")

    def _reset(self):
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        # The course copies optim_config per parameter.  Arrays are copied
        # too and every update may then run in place: the Solver owns them.
        self.optim_configs = {
            p: {**{k: _owned_copy(v) for k, v in self.optim_config.items()}, "in_place": True} for p in self.model.params
        }

    @property
    def _on_gpu(self):
        return getattr(self.model, "backend", "cpu") == "cuda"

    def _check_augment(self):
        if self._on_gpu and self.augment is not None:
            raise ValueError("augment: it works on host batches, and this model trains on the GPU (backend 'cuda'); "
                             "pass augment=None, or train on the CPU")

    def _owned(self, value):
        """A copy the Solver owns of a parameter, on the model's side (device arrays when it trains on the GPU)."""
        if not self._on_gpu:
            return _owned_copy(value)
        G = _gpu()
        return G.copy(value) if G.is_device_array(value) else G.to_device(value)

    def _rule(self):
        """The update rule to run: on the GPU, fastnn.cuda.optim's twin of a fastnn.optim rule."""
        name = getattr(self.update_rule, "__name__", None)
        if self._on_gpu and optim.RULES.get(name) is self.update_rule:
            import fastnn.cuda.optim

            return fastnn.cuda.optim.RULES[name]
        return self.update_rule

    def _take(self, X, y, rows):
        """X[rows] and y[rows]: on the host, or gathered on the device (the rows checked once) for a GPU model."""
        if not self._on_gpu:
            return X[rows], y[rows]
        flat = X.reshape(X.shape[0], X.size // max(X.shape[0], 1))
        X_rows, y_rows = _gpu().take_rows((flat, y), rows)
        return X_rows.reshape((rows.size, *X.shape[1:])), y_rows

    def _upload(self, X, y):
        """X (in the dtype the model casts it to) and y (int64 when integer) on the device, for a GPU model."""
        X, y = np.asarray(X), np.asarray(y)
        dtype = getattr(self.model, "dtype", None)
        if getattr(self.model, "_casts_input", False) and dtype is not None:
            X = X.astype(dtype, copy=False)
        if y.dtype.kind in "iu":
            y = y.astype(np.int64, copy=False)
        G = _gpu()
        return G.to_device(X), G.to_device(y)

    def _split(self, name):
        """(X, y) of 'train' or 'val' on the model's side: uploaded once per train() for a GPU model."""
        if not self._on_gpu:
            return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")
        if name not in self._uploaded:
            self._uploaded[name] = self._upload(getattr(self, f"X_{name}"), getattr(self, f"y_{name}"))
        return self._uploaded[name]

    def _step(self):
        X_train, y_train = self._split("train")
        num_train = X_train.shape[0]
        batch_mask = self._random.choice(num_train, self.batch_size)
        X_batch, y_batch = self._take(X_train, y_train, batch_mask)
        if self.augment is not None:
            X_batch = self.augment(X_batch)
        loss, grads = self.model.loss(X_batch, y_batch)
        self.loss_history.append(loss)
        rule = self._rule()
        for p, w in self.model.params.items():
            next_w, next_config = rule(w, grads[p], self.optim_configs[p])
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config

    def _fused_inputs(self):
        """The training data for the fused trainer, or None where it would not compute what model.loss does."""
        m = self.model
        if type(m) is FullyConnectedNet:
            fits = m.num_layers == 2 and m.normalization is None and not m.use_dropout
            dtype = np.dtype(m.dtype)
        elif type(m) is TwoLayerNet:
            fits = True
            dtype = getattr(self.X_train, "dtype", None)
        else:
            return None
        configs = list(self.optim_configs.values())
        if not (
            fits
            and m.layers is fastnn.layers
            and self.update_rule is optim.sgd
            and self.augment is None
            and type(m.reg) in (int, float) and m.reg == 0
            and set(m.params) == {"W1", "b1", "W2", "b2"}
            and all(type(v) is np.ndarray and v.dtype == dtype for v in m.params.values())
            and dtype in (np.float32, np.float64)
            and len({c.get("learning_rate", 1e-2) for c in configs}) == 1
            and type(self.X_train) is np.ndarray
            and self.X_train.ndim >= 2
            and self.X_train.dtype.kind in "fiu"
        ):
            return None
        X = self.X_train.reshape(self.X_train.shape[0], -1)
        W1, b1, W2, b2 = (m.params[k] for k in ("W1", "b1", "W2", "b2"))
        if W1.ndim != 2 or X.shape[1] != W1.shape[0] or b1.shape != (W1.shape[1],):
            return None
        if W2.ndim != 2 or W2.shape[0] != W1.shape[1] or b2.shape != (W2.shape[1],):
            return None
        return np.ascontiguousarray(X, dtype=dtype)

    def _fused_steps(self, X, count):
        from fastnn.fused import sgd_two_layer

        num_train = X.shape[0]
        batches = np.stack([self._random.choice(num_train, self.batch_size) for _ in range(count)])
        params = self.model.params  # the Solver's own copies (train()), which the trainer updates in place
        lr = self.optim_configs["W1"].setdefault("learning_rate", 1e-2)
        for config in self.optim_configs.values():
            config.setdefault("learning_rate", lr)
        history = sgd_two_layer(params, X, self.y_train, batches, lr)
        self.loss_history.extend(history.train_loss)

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """
        Fraction of examples the model classifies right.

        Inputs:
        - X: Data, of shape (N, d_1, ..., d_k)
        - y: Labels, of shape (N,)
        - num_samples: If not None and less than N, score this many examples
          drawn with replacement, as the course does
        - batch_size: Examples scored at a time

        Returns:
        - acc: np.float64

        A model on the GPU takes X and y as host or device arrays (host ones
        are uploaded); its predictions are counted on the device.
        """
        if self._on_gpu and not (_gpu().is_device_array(X) and _gpu().is_device_array(y)):
            X, y = self._upload(X, y)
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            X, y = self._take(X, y, self._random.choice(n, num_samples))
            n = num_samples
        if self._on_gpu:
            return self._count_correct_on_gpu(X, y, n, batch_size)
        num_batches = -(-n // batch_size)
        y_pred = [np.argmax(self.model.loss(X[i * batch_size : (i + 1) * batch_size]), axis=1) for i in range(num_batches)]
        return np.mean(np.hstack(y_pred) == y) if y_pred else np.float64(0.0)

    def _count_correct_on_gpu(self, X, y, n, batch_size):
        if n == 0:
            return np.float64(0.0)
        G = _gpu()
        correct = None
        for i in range(0, n, batch_size):
            correct = G.count_correct(self.model.loss(X[i : i + batch_size]), y[i : i + batch_size], into=correct)
        return np.float64(G.correct_count(correct) / n)

    def _say(self, bar, line):
        if self.verbose:
            bar.write(line)

    def train(self):
        """
        Run the optimisation from the current epoch to num_epochs; the model
        ends with best_params (with keep_best, the default) or its last ones.
        """
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        t = self.epoch * iterations_per_epoch
        self._check_augment()
        # The Solver's updates run in place on arrays it owns, never on the caller's.
        for k in self.model.params:
            self.model.params[k] = self._owned(self.model.params[k])
        self.best_params = {k: self._owned(v) for k, v in self.best_params.items()}
        self._uploaded = {}
        train, val = self._split("train"), self._split("val")
        fused_X = self._fused_inputs()
        bar = tqdm(total=num_iterations - t, disable=not self.verbose, unit="it", desc="train")
        while t < num_iterations:
            # Run up to the next iteration after which accuracy is checked.
            end = t + 1 if t == 0 else min(num_iterations, (t // iterations_per_epoch + 1) * iterations_per_epoch)
            if fused_X is not None:
                self._fused_steps(fused_X, end - t)
            else:
                for _ in range(end - t):
                    self._step()
            for it in range(t, end):
                if it % self.print_every == 0:
                    loss = self.loss_history[len(self.loss_history) - (end - it)]
                    self._say(bar, f"(Iteration {it + 1} / {num_iterations}) loss: {loss:f}")
            bar.update(end - t)
            t = end
            epoch_end = t % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] *= self.lr_decay
            train_acc = self.check_accuracy(*train, num_samples=self.num_train_samples)
            val_acc = self.check_accuracy(*val, num_samples=self.num_val_samples)
            self.train_acc_history.append(train_acc)
            self.val_acc_history.append(val_acc)
            self._say(bar, f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")
            # The course keeps best_params empty if no check beats 0 and then
            # leaves the model without parameters; fastnn keeps the first.
            if val_acc > self.best_val_acc or not self.best_params:
                self.best_val_acc = val_acc
                self.best_params = {k: self._owned(v) for k, v in self.model.params.items()}
            if self.verbose:
                bar.set_postfix(loss=f"{self.loss_history[-1]:.3f}", train_acc=f"{train_acc:.3f}", val_acc=f"{val_acc:.3f}")
            if epoch_end:
                self._save_checkpoint(bar)
        bar.close()
        if self.best_params and self.keep_best:
            self.model.params = {k: self._owned(v) for k, v in self.best_params.items()}

    def _state(self):
        """The Solver as plain data for fastnn.checkpoint (private config keys, such as an update's owner, left out)."""
        m = self.model
        if is_own_model(m):
            model = m.checkpoint_state()
        else:
            model = {"foreign": f"{type(m).__module__}.{type(m).__qualname__}", "params": host_tree(m.params)}
        rule = getattr(self.update_rule, "__name__", None)
        if rule is None or getattr(optim, rule, None) is not self.update_rule:
            rule = None
        if self.augment is None:
            augment = None
        elif type(self.augment) is Augment:
            augment = self.augment.checkpoint_state()
        else:
            augment = {"foreign": repr(self.augment)}

        def public(config):
            return {k: v for k, v in config.items() if not k.startswith("_")}

        return {
            "model": model,
            "update_rule": rule,
            "augment": augment,
            "optim_config": public(self.optim_config),
            "optim_configs": host_tree({p: public(c) for p, c in self.optim_configs.items()}),
            "options": {k: getattr(self, k) for k in ("lr_decay", "batch_size", "num_epochs", "num_train_samples",
                                                      "num_val_samples", "print_every", "seed", "checkpoint_name",
                                                      "keep_best")},
            "epoch": self.epoch,
            "best_val_acc": self.best_val_acc,
            "best_params": host_tree(self.best_params),
            "loss_history": np.asarray(self.loss_history, np.float64),
            "train_acc_history": np.asarray(self.train_acc_history, np.float64),
            "val_acc_history": np.asarray(self.val_acc_history, np.float64),
            "random_state": self._random.get_state() if self.seed is not None else None,
        }

    def _save_checkpoint(self, bar):
        # Only at epoch ends, where a resumed run continues exactly (the
        # course also writes one after the first iteration).
        if self.checkpoint_name is None:
            return
        path = f"{self.checkpoint_name}_epoch_{self.epoch}.npz"
        self._say(bar, f'Saving checkpoint to "{path}"')
        checkpoint.save(path, self._state())
        self.last_checkpoint = path

    @classmethod
    def load_checkpoint(cls, path, data, model=None, backend=None, **kwargs):
        """
        A Solver that resumes from a checkpoint written by train().

        A Solver made with seed= resumes bit for bit (batches, subsamples and
        a fastnn Augment's draws continue where they stopped); one that
        draws from NumPy's global generator continues from that generator's
        current state.  The checkpoint_name is kept, so the resumed run goes
        on writing checkpoints.

        Inputs:
        - path: The .npz file
        - data: The same data dict as before
        - model: Needed only when the checkpoint holds a model of another
          class than fastnn's own; its params are replaced by the checkpoint's
        - backend: 'cpu' or 'cuda' to resume fastnn's own model there; by
          default it resumes where it was saved from
        - kwargs: Options to change (num_epochs to train further, verbose,
          ...); update_rule and augment are needed here when they were
          callables of one's own, which a checkpoint cannot hold

        Returns:
        - Solver whose train() continues from the checkpoint's epoch
        """
        state = checkpoint.load(path)
        expected = ("model", "update_rule", "augment", "optim_config", "optim_configs", "options", "epoch",
                    "best_val_acc", "best_params", "loss_history", "train_acc_history", "val_acc_history", "random_state")
        if not isinstance(state, dict) or any(k not in state for k in expected):
            raise checkpoint.CheckpointError(f"{os.fspath(path)}: a fastnn checkpoint, but not of a Solver")
        saved = state["model"]
        if model is None:
            if "foreign" in saved:
                raise ValueError(f"model: the checkpoint holds a {saved['foreign']}, which only its own code can "
                                 f"build; pass model= (its params are then restored)")
            if not isinstance(saved, dict):
                raise checkpoint.CheckpointError(f"{os.fspath(path)}: model expected a dict, got {type(saved).__name__}")
            try:
                model = from_checkpoint_state(saved, backend)
            except ValueError as exc:  # what does not fit names itself; the path says where it came from
                raise checkpoint.CheckpointError(f"{os.fspath(path)}: {exc}") from None
        elif backend is not None:
            raise ValueError("backend: moves fastnn's own model as it is rebuilt; a model passed as model= is used as it is")
        else:
            params = saved["params"] if "foreign" in saved else saved["attributes"]["params"]
            if is_own_model(model):
                model.check_params(params, f"{os.fspath(path)}")
            model.params = dict(params)
        _check_progress(state, path)
        options = dict(state["options"], optim_config=state["optim_config"])
        saved_name = options.get("checkpoint_name")
        if saved_name is not None and "checkpoint_name" not in kwargs:
            # The file says what its run was called, never where a resumed run
            # writes: beside the file being resumed from.
            if type(saved_name) is not str:
                raise checkpoint.CheckpointError(f"{os.fspath(path)}: checkpoint_name expected a string, got {saved_name!r:.80}")
            options["checkpoint_name"] = os.path.join(os.path.dirname(os.fspath(path)), os.path.basename(saved_name))
        if state["update_rule"] is not None:
            options["update_rule"] = state["update_rule"]
        elif "update_rule" not in kwargs:
            raise ValueError("update_rule: the checkpoint was trained with a callable rule of one's own, which a "
                             "checkpoint cannot hold; pass update_rule=")
        augment = state["augment"]
        if augment is not None and "foreign" in augment and "augment" not in kwargs:
            raise ValueError(f"augment: the checkpoint was trained with augment={augment['foreign']}, which a "
                             f"checkpoint cannot hold; pass augment= (or augment=None to drop it)")
        if augment is not None and (not isinstance(augment, dict) or "foreign" in augment and type(augment["foreign"]) is not str):
            raise checkpoint.CheckpointError(f"{os.fspath(path)}: augment expected a dict or None, got {augment!r:.80}")
        if augment is not None and "foreign" not in augment:
            try:
                options["augment"] = Augment.from_checkpoint_state(augment)
            except (KeyError, TypeError, ValueError) as exc:
                raise checkpoint.CheckpointError(f"{os.fspath(path)}: augment is not an Augment's state ({exc!r:.120})") from None
        options.update(kwargs)
        solver = cls(model, data, **options)
        solver.optim_configs = state["optim_configs"]
        solver.best_params = state["best_params"]
        solver.epoch, solver.best_val_acc = state["epoch"], state["best_val_acc"]
        for name in ("loss_history", "train_acc_history", "val_acc_history"):
            setattr(solver, name, list(state[name]))
        if state["random_state"] is not None and solver.seed == state["options"]["seed"]:
            solver._random.set_state(state["random_state"])
        return solver
