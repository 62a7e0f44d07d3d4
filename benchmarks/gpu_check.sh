#!/usr/bin/env bash
# GPU checks and figures for the torch backend, in one short run on a CUDA machine.
#
#   bash benchmarks/gpu_check.sh OUTDIR
#
# Runs the torch tests on the GPU (tests/test_torch_backend.py, tests/test_trunk.py:
# the device-parametrized ones: same coefficients as NumPy for every
# estimator x penalty, extreme logits, every solver, float32, the shared trunk),
# then benchmarks/torch_gradient.py on the GPU (float32 and float64, 200k and 2M
# rows), then `sigmax compare digits` with every fit on the GPU. Wheels missing
# from the machine (array-api-compat) can be put in .whl/ beforehand.
set -euo pipefail
out=${1:?usage: gpu_check.sh OUTDIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps .whl/*.whl
fi
export PYTHONPATH=src MPLBACKEND=Agg
nvidia-smi -L | tee "$out/gpu.txt"
python3 -m pytest tests/test_torch_backend.py tests/test_trunk.py -q -p no:cacheprovider \
  2>&1 | tail -15 | tee "$out/tests.txt" || true  # report failures, measure anyway
for rows in 200000 2000000; do
  for dtype in float32 float64; do
    python3 benchmarks/torch_gradient.py --device cuda --dtype "$dtype" --rows "$rows" \
      --out "$out/torch_gradient-cuda-$dtype-$rows.json" >/dev/null
  done
done
python3 -c 'import sys; from sigmax.cli import main; sys.argv = ["sigmax", "compare", "digits",
  "--backend", "torch", "--device", "cuda", "--quick", "--no-plots", "-o", sys.argv[1]]; main()' \
  /tmp/sigmax-gpu-compare 2>&1 | tail -25 | tee "$out/compare.txt"
cp /tmp/sigmax-gpu-compare/results.json "$out/compare-results.json"
