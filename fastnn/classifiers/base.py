"""What fastnn's own models share: their checkpoint state, as plain data, and the move between CPU and GPU.

Every public model class (``TwoLayerNet``, ``FullyConnectedNet``,
``ThreeLayerConvNet``) derives from :class:`Model`, which registers it in
:data:`MODELS`; a Solver checkpoint rebuilds only these, on fastnn's own
layer modules, so loading a checkpoint never runs code named by the file.

A model's backend is its layer module: ``fastnn.cuda`` means "cuda", with
params and batchnorm running averages as device arrays; anything else is
"cpu".  Checkpoints always hold host arrays, so a GPU run's checkpoint
resumes on the CPU and the other way round.
"""

import importlib
import sys

import numpy as np

import fastnn.layers
from fastnn.validation import is_real

#: Class name -> class, of the models a checkpoint can rebuild.
MODELS = {}

#: The layer modules a model may run on.
LAYER_MODULES = ("fastnn.layers", "fastnn.reference", "fastnn.cuda")

#: The backends, by the layer module a model on them runs.
BACKENDS = {"cpu": "fastnn.layers", "cuda": "fastnn.cuda"}


def _gpu():
    """fastnn.cuda if it has been imported (no model can hold device arrays otherwise), else None."""
    return sys.modules.get("fastnn.cuda")


def host_tree(value):
    """value with every device array in its dicts, lists and tuples copied to a NumPy array."""
    if isinstance(value, dict):
        return {k: host_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(host_tree(v) for v in value)
    gpu = _gpu()
    return gpu.to_host(value) if gpu is not None and gpu.is_device_array(value) else value


def check_model_options(dtype, weight_scale, reg):
    """A model's dtype (float32 or float64), weight_scale and reg (finite numbers >= 0): TypeError or ValueError naming each."""
    try:
        kind = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if kind not in (np.float32, np.float64):
        raise TypeError(f"dtype: expected float32 or float64, got {kind}")
    for name, value in (("weight_scale", weight_scale), ("reg", reg)):
        if not is_real(value):
            raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r:.40}")
        if not 0 <= value < np.inf:
            raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")


def model_input(X, dtype, copy):
    """X (host) as an array of the model's dtype; complex, string and object data are a TypeError naming X."""
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"X: expected real numbers, got dtype {X.dtype}")
    return X.astype(dtype, copy=copy)


def check_backend(backend):
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected 'cpu' or 'cuda', got {backend!r}")
    return backend


class Model:
    """A model with ``params``, ``layers`` (a layer module) and ``dtype``."""

    #: The backends the model's loss runs on.
    backends = ("cpu",)

    @property
    def backend(self):
        """'cuda' when the model runs on fastnn.cuda (its arrays on the GPU), else 'cpu'."""
        return "cuda" if self.layers.__name__ == BACKENDS["cuda"] else "cpu"

    def to(self, backend):
        """
        Move the model to a backend, 'cpu' (fastnn.layers) or 'cuda'
        (fastnn.cuda): params and batchnorm running averages are copied to
        the GPU or back, and the layer module changes.  Returns the model.

        Raises ImportError where fastnn.cuda cannot run, and ValueError for
        a model whose class has no GPU path or which runs on another layer
        module (fastnn.reference) that a move would discard.
        """
        check_backend(backend)
        if backend == self.backend:
            return self
        if backend not in self.backends:
            raise ValueError(f"backend: {type(self).__name__} runs on {' and '.join(self.backends)} only, got {backend!r}")
        if self.layers is not fastnn.layers and backend == "cuda":
            raise ValueError(f"backend: this model runs on {self.layers.__name__}, which has no GPU twin; "
                             "only a model on fastnn.layers moves to 'cuda'")
        if backend == "cuda":
            import fastnn.cuda as gpu

            move, self.layers = (lambda a: gpu.to_device(a) if type(a) is np.ndarray else a), gpu
        else:
            move, self.layers = host_tree, fastnn.layers
        self.params = {k: move(v) for k, v in self.params.items()}
        for bn_param in getattr(self, "bn_params", []):
            for key in ("running_mean", "running_var"):
                if key in bn_param:
                    bn_param[key] = move(bn_param[key])
        return self

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            MODELS[cls.__name__] = cls

    def param_shapes(self):
        """The shape every parameter must have, from the model's own structure (each class says)."""
        raise NotImplementedError

    def check_params(self, params, source):
        """
        Raise ValueError naming ``source`` unless ``params`` fit this model:
        the same names, the shapes :meth:`param_shapes` gives, float arrays of
        the model's dtype (host or device).
        """
        if not isinstance(params, dict):
            raise ValueError(f"{source}: expected a dict of parameters, got {type(params).__name__}")
        expected = self.param_shapes()
        if set(params) != set(expected):
            raise ValueError(f"{source}: parameters {sorted(params)} do not fit this {type(self).__name__}, "
                             f"which has {sorted(expected)}")
        for name, shape in expected.items():
            value = params[name]
            if getattr(value, "shape", None) != shape or np.dtype(getattr(value, "dtype", object)) != np.dtype(self.dtype):
                raise ValueError(f"{source}: {name} expected an array of shape {shape} and dtype {np.dtype(self.dtype).name}, "
                                 f"got {type(value).__name__} of shape {getattr(value, 'shape', None)} and dtype {getattr(value, 'dtype', None)}")

    def checkpoint_state(self):
        """
        The model as plain data for fastnn.checkpoint: its class, layer
        module, dtype and attributes (params, reg, dropout_param, bn_params
        with the running averages, ...), arrays and JSON values only.
        """
        attributes = host_tree({k: v for k, v in vars(self).items() if k not in ("layers", "dtype")})
        return {"class": type(self).__name__, "layers": self.layers.__name__, "dtype": np.dtype(self.dtype).name,
                "attributes": attributes}


def is_own_model(model):
    """True for an instance of exactly one of fastnn's model classes (not a subclass of one's own)."""
    return MODELS.get(type(model).__name__) is type(model)


def from_checkpoint_state(state, backend=None):
    """
    The model that checkpoint_state() described; only fastnn's own classes
    and layer modules.  backend ('cpu' or 'cuda') moves it there; by
    default it goes back to the backend it was saved from.
    """
    import fastnn.classifiers  # noqa: F401  (registers every model class)

    if state.get("class") not in MODELS or state.get("layers") not in LAYER_MODULES:
        raise ValueError(
            f"model: a checkpoint can rebuild {sorted(MODELS)} on {list(LAYER_MODULES)}, "
            f"got {state.get('class')!r} on {state.get('layers')!r}"
        )
    model = object.__new__(MODELS[state["class"]])
    attributes = state.get("attributes")
    if not isinstance(attributes, dict) or "params" not in attributes:
        raise ValueError("model: the checkpoint's model has no attributes with params")
    reg = attributes.get("reg", 0.0)
    if type(reg) not in (int, float) or not np.isfinite(reg) or reg < 0:
        raise ValueError(f"model: reg expected a finite non-negative number, got {reg!r}")
    vars(model).update(attributes)
    if state.get("dtype") not in ("float32", "float64"):
        raise ValueError(f"model: dtype expected float32 or float64, got {state.get('dtype')!r}")
    model.dtype = np.dtype(state["dtype"]).type
    model.check_params(model.params, "model")
    saved_backend = "cuda" if state["layers"] == BACKENDS["cuda"] else "cpu"
    # The file holds host arrays: a GPU model is rebuilt on the CPU, then moved.
    model.layers = fastnn.layers if saved_backend == "cuda" else importlib.import_module(state["layers"])
    target = check_backend(backend) if backend is not None else saved_backend
    try:
        return model.to(target)
    except ImportError as exc:
        raise ImportError(f"{exc}; this checkpoint was saved from a GPU run, and backend='cpu' resumes it on the CPU") from exc
