#!/usr/bin/env bash
# The GPU checks of issue 16 in one short script, for a session lent a CUDA machine. On the device tool's machine
# (python3 there holds a CUDA torch, numpy, scipy, click, rich, matplotlib and pytest; jacstab runs from src/):
#   run(command="bash benchmarks/gpu_check.sh", timeout_s=420)
# 1. tests/test_gpu.py: the CPU numbers on the GPU, and synchronisations (torch.cuda sync debug mode) that do not
#    grow with depth; 2. bench_core.py on cuda, float32, n = 1024-4096, L = 100: ratios to the GEMM chain on the same
#    GPU (issue 16's targets: curve <= 3x, norm <= 2x). Output goes to OUTDIR (default: $OUT, else ./gpu_check).
set -uo pipefail
out="${1:-${OUT:-gpu_check}}"
py="${PYTHON:-python3}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$out"
"$py" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name())" \
    2>&1 | tee "$out/device.txt" || exit 2
"$py" -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tee "$out/test_gpu.txt"
"$py" benchmarks/bench_core.py --device cuda --dtypes float32 --sizes 1024 2048 4096 --depths 100 \
    --autograd-max-n 0 --jacrev-max-n 1024 --topk-width 0 --logsv 0 0 --power --repeats 5 \
    --json "$out/bench_core_cuda.json" 2>&1 | tee "$out/bench_core_cuda.txt"
