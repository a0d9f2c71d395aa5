"""The gradient checks' earlier import path, kept for code written against fastnn 0.1.

They live in :mod:`fastnn.gradient_check`, cs231n's path.
"""

from fastnn.gradient_check import *  # noqa: F401,F403
from fastnn.gradient_check import __all__  # noqa: F401
