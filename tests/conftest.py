from hypothesis import settings

# The first call of a kernel compiles it (or loads it from Numba's cache),
# which can exceed hypothesis' default 200 ms deadline.
settings.register_profile("fastnn", deadline=None, max_examples=60)
settings.load_profile("fastnn")
