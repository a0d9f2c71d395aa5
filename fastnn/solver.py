"""The cs231n Solver: minibatch training of a model with a named update rule.

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, num_epochs=20, batch_size=100)
    solver.train()

``data`` holds X_train, y_train, X_val, y_val.  After ``train()`` the model
has the parameters that scored best on the validation set
(``best_params``), and ``loss_history``, ``train_acc_history`` and
``val_acc_history`` hold the curves.  Where the model is the seed's
two-layer net trained with plain SGD (one hidden layer, no normalisation,
no dropout, no regularisation, no augmentation), each epoch runs in the
fused compiled trainer (:func:`fastnn.trainer.sgd_two_layer`).
"""

import pickle

import numpy as np
from tqdm import tqdm

from fastnn.optim import get_rule

_OPTIONS = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "print_every": 10,
    "verbose": True,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "checkpoint_name": None,
    "augment": None,
    "seed": None,
}


class Solver:
    """
    Inputs:
    - model: An object with params (a dict of arrays) and loss(X, y=None)
    - data: Dict with X_train, y_train, X_val, y_val
    - update_rule: Name in fastnn.optim (sgd, sgd_momentum, rmsprop, adam) or a callable
    - optim_config: Dict of hyper-parameters for the update rule (learning_rate, ...)
    - lr_decay: Factor applied to the learning rate after every epoch
    - batch_size, num_epochs: Minibatch size and number of passes over the data
    - print_every: Report the loss every this many iterations
    - verbose: Progress bar and reports; False for silence
    - num_train_samples, num_val_samples: Examples used to measure accuracy each
      epoch (None: all)
    - checkpoint_name: Write {checkpoint_name}_epoch_{n}.pkl after every epoch
    - augment: Optional callable X -> augmented X, applied to every batch
    - seed: Seeds the minibatch order and subsampling
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
        self.X_train, self.y_train = np.asarray(data["X_train"]), np.asarray(data["y_train"])
        self.X_val, self.y_val = np.asarray(data["X_val"]), np.asarray(data["y_val"])
        options = {**_OPTIONS, **kwargs}
        self.update_rule_name = options["update_rule"] if isinstance(options["update_rule"], str) else None
        self.update_rule = get_rule(options["update_rule"])
        self.optim_config = dict(options["optim_config"] or {})
        for name in ("lr_decay", "batch_size", "num_epochs", "print_every", "verbose", "num_train_samples",
                     "num_val_samples", "checkpoint_name", "augment"):
            setattr(self, name, options[name])
        self.rng = np.random.default_rng(options["seed"])
        self._reset()

    def _reset(self):
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {p: {**self.optim_config, "in_place": True} for p in self.model.params}

    def _step(self, batch):
        X, y = self.X_train[batch], self.y_train[batch]
        if self.augment is not None:
            X = self.augment(X)
        loss, grads = self.model.loss(X, y)
        self.loss_history.append(float(loss))
        for p, w in self.model.params.items():
            next_w, self.optim_configs[p] = self.update_rule(w, grads[p], self.optim_configs[p])
            self.model.params[p] = next_w

    def _fused_epoch_possible(self):
        m = self.model
        return (
            self.update_rule_name == "sgd"
            and self.augment is None
            and getattr(m, "num_layers", None) == 2
            and getattr(m, "normalization", True) is None
            and not getattr(m, "use_dropout", True)
            and not getattr(m, "reg", 1)
            and set(m.params) == {"W1", "b1", "W2", "b2"}
            and all(v.dtype == m.params["W1"].dtype and v.flags.c_contiguous for v in m.params.values())
        )

    def _fused_epoch(self, batches):
        from fastnn.trainer import sgd_two_layer

        lr = self.optim_configs["W1"].get("learning_rate", 1e-2)
        X = np.asarray(self.X_train, self.model.params["W1"].dtype)
        history = sgd_two_layer(self.model.params, X, self.y_train, batches, lr)
        self.loss_history.extend(history.train_loss.tolist())

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """
        Fraction of examples the model classifies right.

        Inputs:
        - X: Data, of shape (N, d_1, ..., d_k)
        - y: Labels, of shape (N,)
        - num_samples: Subsample this many examples first (None: all)
        - batch_size: Examples scored at a time

        Returns:
        - acc: Python float
        """
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            idx = self.rng.choice(n, num_samples, replace=False)
            X, y, n = X[idx], y[idx], num_samples
        predictions = [np.argmax(self.model.loss(X[i : i + batch_size]), axis=1) for i in range(0, n, batch_size)]
        return float(np.mean(np.concatenate(predictions) == y)) if n else 0.0

    def _record(self):
        train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        return train_acc, val_acc

    def train(self):
        """Run num_epochs passes; the model ends with best_params."""
        n = self.X_train.shape[0]
        per_epoch = max(n // self.batch_size, 1)
        fused = self._fused_epoch_possible()
        bar = tqdm(total=(self.num_epochs - self.epoch) * per_epoch, disable=not self.verbose, unit="it", desc="train")
        if not self.train_acc_history:
            self._record()
        while self.epoch < self.num_epochs:
            batches = self.rng.integers(0, n, (per_epoch, self.batch_size))
            if fused:
                self._fused_epoch(batches)
            else:
                for batch in batches:
                    self._step(batch)
            bar.update(per_epoch)
            self.epoch += 1
            for config in self.optim_configs.values():
                if "learning_rate" in config:
                    config["learning_rate"] *= self.lr_decay
            train_acc, val_acc = self._record()
            if self.verbose:
                bar.set_postfix(loss=f"{self.loss_history[-1]:.3f}", train_acc=f"{train_acc:.3f}", val_acc=f"{val_acc:.3f}")
            self._save_checkpoint()
        bar.close()
        self.model.params = {k: v.copy() for k, v in self.best_params.items()}

    def _state(self):
        return {
            "model": self.model,
            "update_rule": self.update_rule_name or self.update_rule,
            "optim_config": self.optim_config,
            "optim_configs": self.optim_configs,
            "lr_decay": self.lr_decay,
            "batch_size": self.batch_size,
            "num_epochs": self.num_epochs,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "best_val_acc": self.best_val_acc,
            "best_params": self.best_params,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "rng": self.rng.bit_generator.state,
        }

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        path = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
        with open(path, "wb") as f:
            pickle.dump(self._state(), f)
        self.last_checkpoint = path

    @classmethod
    def load_checkpoint(cls, path, data, **kwargs):
        """
        A Solver that resumes from a checkpoint written by train().

        Inputs:
        - path: The .pkl file
        - data: The same data dict as before
        - kwargs: Options to change (num_epochs to train further, verbose, ...)

        Returns:
        - Solver whose train() continues from the checkpoint's epoch
        """
        with open(path, "rb") as f:
            state = pickle.load(f)
        options = {k: state[k] for k in ("update_rule", "optim_config", "lr_decay", "batch_size", "num_epochs",
                                         "num_train_samples", "num_val_samples")}
        options.update(kwargs)
        solver = cls(state["model"], data, **options)
        for key in ("optim_configs", "epoch", "best_val_acc", "best_params", "loss_history", "train_acc_history", "val_acc_history"):
            setattr(solver, key, state[key])
        solver.rng.bit_generator.state = state["rng"]
        return solver
