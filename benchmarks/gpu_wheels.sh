#!/usr/bin/env bash
# Prepare a GPU machine without a package registry for benchmarks/gpu_checks.sh, from a machine
# with one: wheels for Python 3.12 on x86-64 Linux in ./.whl (what such a machine lacks beside
# CuPy, PyTorch, JAX, scikit-learn, pytest, hypothesis, matplotlib and onnxruntime), and a copy
# of the reference data in ./.gpudata. Both are git-ignored; carry them to the GPU machine, where
# gpu_checks.sh installs the wheels and finds the data by itself.
#
#   bash benchmarks/gpu_wheels.sh [DATA_DIR]      # DATA_DIR: default $XPNN_DATA_DIR, else ../shared/data
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${XPNN_DATA_DIR:-../shared/data}}"
rm -rf .whl && mkdir -p .whl
# One version of each, no dependencies resolved here: the list is complete for that machine image.
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform any -d .whl \
  array-api-compat array-api-strict pooch platformdirs ndonnx spox \
  dask distributed locket partd tblib zict tornado
if [ -f "$data/weights/sample_weight.pkl" ] && [ -d "$data/mnist" ]; then
  rm -rf .gpudata && mkdir -p .gpudata && cp -r "$data/mnist" "$data/weights" .gpudata/
else
  echo "gpu_wheels: no reference data at $data (mnist/ and weights/sample_weight.pkl); pass its directory" >&2
  exit 2
fi
du -sh .whl .gpudata
