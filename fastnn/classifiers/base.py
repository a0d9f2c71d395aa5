"""What fastnn's own models share: their checkpoint state, as plain data.

Every public model class (``TwoLayerNet``, ``FullyConnectedNet``,
``ThreeLayerConvNet``) derives from :class:`Model`, which registers it in
:data:`MODELS`; a Solver checkpoint rebuilds only these, on fastnn's own
layer modules, so loading a checkpoint never runs code named by the file.
"""

import importlib

import numpy as np

#: Class name -> class, of the models a checkpoint can rebuild.
MODELS = {}

#: The layer modules a model may run on.
LAYER_MODULES = ("fastnn.layers", "fastnn.reference")


class Model:
    """A model with ``params``, ``layers`` (a layer module) and ``dtype``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            MODELS[cls.__name__] = cls

    def checkpoint_state(self):
        """
        The model as plain data for fastnn.checkpoint: its class, layer
        module, dtype and attributes (params, reg, dropout_param, bn_params
        with the running averages, ...), arrays and JSON values only.
        """
        attributes = {k: v for k, v in vars(self).items() if k not in ("layers", "dtype")}
        return {"class": type(self).__name__, "layers": self.layers.__name__, "dtype": np.dtype(self.dtype).name,
                "attributes": attributes}


def is_own_model(model):
    """True for an instance of exactly one of fastnn's model classes (not a subclass of one's own)."""
    return MODELS.get(type(model).__name__) is type(model)


def from_checkpoint_state(state):
    """The model that checkpoint_state() described; only fastnn's own classes and layer modules."""
    import fastnn.classifiers  # noqa: F401  (registers every model class)

    if state.get("class") not in MODELS or state.get("layers") not in LAYER_MODULES:
        raise ValueError(
            f"model: a checkpoint can rebuild {sorted(MODELS)} on {list(LAYER_MODULES)}, "
            f"got {state.get('class')!r} on {state.get('layers')!r}"
        )
    model = object.__new__(MODELS[state["class"]])
    vars(model).update(state["attributes"])
    model.layers = importlib.import_module(state["layers"])
    model.dtype = np.dtype(state["dtype"]).type
    return model
