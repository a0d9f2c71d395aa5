"""fastnn: drop-in compiled neural-network layers.

The cs231n module map: replace ``cs231n.`` with ``fastnn.`` in the imports.

| cs231n | fastnn |
|---|---|
| cs231n.layers | fastnn.layers (compiled) |
| cs231n.layer_utils | fastnn.layer_utils |
| cs231n.optim | fastnn.optim |
| cs231n.solver | fastnn.solver |
| cs231n.gradient_check | fastnn.gradient_check |
| cs231n.classifiers.fc_net | fastnn.classifiers.fc_net |

``fastnn.reference`` is the NumPy oracle with the API of ``fastnn.layers``.
Importing this package stays light: nothing is compiled until first use.
"""

__version__ = "0.1.0"
