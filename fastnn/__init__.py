"""fastnn: drop-in compiled neural-network layers.

``fastnn.layers`` holds the compiled layers, ``fastnn.reference`` the NumPy
oracle with the same API, and ``fastnn.gradcheck`` numerical gradient checks.
Importing this package stays light: nothing is compiled until first use.
"""

__version__ = "0.1.0"
