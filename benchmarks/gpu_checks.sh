#!/usr/bin/env bash
# Every GPU check of xpnn in one run, for a machine with an NVIDIA GPU and CuPy (and PyTorch)
# already installed, possibly without a package registry:
#
#   bash benchmarks/gpu_checks.sh [OUT_DIR]
#
# It runs the whole test suite on CuPy (XPNN_REQUIRE_GPU=1: a missing GPU fails), the GPU batch
# inference example (float32 at 1M images with a batch sweep, then float16 and bfloat16 on
# torch), the benchmark sections that compare xpnn[cupy] with PyTorch on cuda, and training's
# epoch time on xpnn[cupy] and xpnn[torch-cuda] against torch-CUDA. Logs and
# benchmark results go to OUT_DIR (default: benchmarks/results-gpu); commit them with the
# device name and date they contain. XPNN_DATA_DIR must point at the MNIST test files and
# the book's weights.
#
# Packages the GPU machine lacks (array-api-compat, pooch, platformdirs, pytest, hypothesis,
# matplotlib, ...) can travel as wheels: see README.md, "Running the GPU checks".
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-benchmarks/results-gpu}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 XPNN_REQUIRE_GPU=1 XPNN_REQUIRE_DATA=1
status=0
run() {  # run NAME CMD...: log to $out/NAME.log, remember a failure, go on
  local name=$1
  shift
  echo "== $name: $*"
  "$@" >"$out/$name.log" 2>&1 || { status=1; echo "   FAILED (see $out/$name.log)"; }
  tail -n 5 "$out/$name.log"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$out/device.txt" 2>&1
python -m xpnn.cli backends >>"$out/device.txt" 2>&1
run tests-cupy env XPNN_TEST_BACKENDS=cupy python -m pytest -q -p no:cacheprovider tests
run example-cupy python examples/gpu_batch_inference.py --n-images 1000000 --sweep 1000,10000,100000
run example-cupy-fp16 python examples/gpu_batch_inference.py --n-images 1000000 --dtype float16
run example-torch-bf16 python examples/gpu_batch_inference.py --backend torch --device cuda --n-images 1000000 --dtype bfloat16
run bench python benchmarks/bench.py gpu mnist-infer batch-sweep --out "$out"
# xpnn.MLPClassifier (scikit-learn estimator): fit on MNIST with CuPy and torch-CUDA against
# scikit-learn's MLPClassifier on the CPU and xpnn[numpy]; scikit-learn's Array API checks with
# CuPy and torch-CUDA inputs. Needs scikit-learn (and SciPy >= 1.14) on the GPU machine.
if python -c "import sys, xpnn; sys.exit(0 if xpnn.backend_status()['cupy'].available else 1)" 2>/dev/null; then
  run sklearn-fit python benchmarks/sklearn_fit.py --backends numpy,cupy,torch:cuda --out "$out"
  run sklearn-checks-gpu env SCIPY_ARRAY_API=1 XPNN_REQUIRE_SKLEARN=1 python -m pytest -q -p no:cacheprovider \
    tests/test_estimator.py -k "sklearn_estimator_check and (cupy or cuda)"
else
  echo "== sklearn-fit, sklearn-checks-gpu: skipped (no usable GPU: CuPy cannot run here)"
fi
# Training (issue 10; needs the MNIST training files too): one epoch of 784-100-100-10 Adam on
# xpnn[cupy] and xpnn[torch-cuda] against PyTorch's eager loop on cuda; the book's ch. 5 example on CuPy.
if python -c "import sys, xpnn; sys.exit(0 if xpnn.backend_status()['cupy'].available else 1)" 2>/dev/null; then
  run bench-train python benchmarks/train.py epoch --gpu --out "$out"
  run example-train-cupy python examples/train_mnist.py --backend cupy --plot "$out/train_mnist_cupy.png"
else
  echo "== bench-train, example-train-cupy: skipped (no usable GPU: CuPy cannot run here)"
fi
# compile(net, "onnxruntime", provider="cuda") and compile(net, "jax") on the GPU (issue 11); each
# that cannot run here (no onnxruntime-gpu, a CPU-only jax) prints "skipped: <why>" in the log.
run compiled python benchmarks/compiled.py --gpu --out "$out"
grep -h '^skipped:' "$out/compiled.log" 2>/dev/null
exit $status
