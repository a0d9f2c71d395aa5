import os

from hypothesis import settings

# The first call of a kernel compiles it (or loads it from Numba's cache),
# which can exceed hypothesis' default 200 ms deadline.  CI runs a fixed
# sequence of examples so that its result does not depend on chance; local
# runs explore new ones each time.
settings.register_profile("fastnn", deadline=None, max_examples=60, derandomize=bool(os.environ.get("CI")))
settings.register_profile("thorough", deadline=None, max_examples=3000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fastnn"))
