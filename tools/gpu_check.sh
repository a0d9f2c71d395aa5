#!/usr/bin/env bash
# One run on a GPU machine: install fastnn, run the CUDA tests on the GPU,
# then print the GPU side-by-side table (every GPU kernel against PyTorch,
# the seed's loop per step and the default recipe per epoch against its
# PyTorch twin) and train the default recipe on the GPU through the Solver.
#
# The GPU image already has numba, numba-cuda, PyTorch and CuPy, and cannot
# download; wheels for anything missing can be carried in .whl/ (see the
# device tool's notes).  fastnn itself works around numba-cuda 0.30.4's use
# of np.row_stack, which NumPy 2.5 removed (kernels/cuda/__init__.py).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"

if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
python3 -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -2
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/device.txt"
python3 -c "import numpy, numba, numba_cuda; print('numpy', numpy.__version__, 'numba', numba.__version__, 'numba-cuda', numba_cuda.__version__)" | tee -a "$out/device.txt"

python3 -m pytest -q tests/test_cuda.py tests/test_cuda_training.py tests/test_cuda_model.py tests/test_cuda_budget.py tests/test_catalog.py tests/test_torch.py tests/test_cuda_compiles.py 2>&1 | tee "$out/cuda_tests.txt"
python3 -m fastnn bench --backend cuda --repeats 7 2>&1 | tee "$out/gpu_bench.txt"
python3 -m fastnn train --seed-recipe --backend cuda --compare --iters 2000 --dtype float32 --no-progress 2>&1 | tee "$out/gpu_train.txt"
python3 -m fastnn train --backend cuda --no-progress --metrics "$out/gpu_recipe.json" 2>&1 | tee "$out/gpu_recipe.txt"
