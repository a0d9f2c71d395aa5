"""The digits training job behind ``fastnn train``, on scikit-learn's bundled 8x8 digits.

| module | what |
|---|---|
| ``data.py`` | the 70/30 split, nothing downloaded |
| ``seed.py`` | the seed notebook's experiment (:class:`SeedRecipe`) and its single ``engines(backend)`` table |
| ``recipe.py`` | the default recipe (:data:`RECIPE`, a :class:`DefaultRecipe`): two ConvNets and two batchnorm nets trained by the Solver, and the scikit-learn baselines |
| ``torch_loops.py`` | the seed's loop in PyTorch, for comparisons |
"""
