#!/usr/bin/env bash
# Every GPU check of xpnn in one run, for a machine with an NVIDIA GPU and CuPy (and PyTorch)
# already installed, possibly without a package registry:
#
#   bash benchmarks/gpu_checks.sh --dry-run     # what would run, and is this machine ready? (no GPU: exit 3)
#   bash benchmarks/gpu_checks.sh [OUT_DIR]     # run it all; logs and results in OUT_DIR
#
# In order: every GPU path once on the real test set, accuracy 0.9352 exactly on each
# (benchmarks/gpu_paths.py: the book's ch. 7-8 CNN files on CuPy, torch-CUDA and JAX-GPU at
# 0.9600 and 0.9797 with xpnn[numpy]'s classes image by image, one Adam epoch of SimpleConvNet on
# each; CuPy, torch-CUDA, JAX-GPU, Dask with CuPy chunks, compiled
# onnxruntime-CUDA and jax, training on CuPy and torch-CUDA, MLPClassifier with CuPy input); the
# whole test suite on CuPy, on PyTorch's cuda device and on JAX's GPU (XPNN_REQUIRE_GPU=1: a
# missing GPU fails); the GPU batch inference example (1M images with a batch sweep, float16,
# bfloat16); the GPU benchmark sections (xpnn[cupy] against PyTorch-CUDA nn.Sequential, copy and
# compute apart, the fraction of the roofline); training's epoch time on CuPy and torch-CUDA
# against PyTorch's eager loop; MLPClassifier's fit on the GPU; compiled inference on the GPU.
# Logs and benchmark results go to OUT_DIR (default: benchmarks/results-gpu); commit them with the
# device name and date they contain.
#
# Data: XPNN_DATA_DIR must hold mnist/ (all four files) and weights/ (sample_weight.pkl, params.pkl,
# deep_convnet_params.pkl); where it
# is unset and ./.gpudata exists (a copy of ../shared/data carried to the GPU machine), that is
# used. Packages the GPU machine lacks travel as wheels: `bash benchmarks/gpu_wheels.sh` here
# fills ./.whl, and this script installs them into /tmp/site when ./.whl exists.
set -uo pipefail
cd "$(dirname "$0")/.."
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
out="${1:-benchmarks/results-gpu}"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu_checks: installing the wheels in .whl failed" >&2; exit 2; }
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # xpnn from this checkout, for scripts too
[ -z "${XPNN_DATA_DIR:-}" ] && [ -d .gpudata ] && export XPNN_DATA_DIR="$PWD/.gpudata"
missing=$(python3 - <<'PY'
import importlib.util as u
need = ["numpy", "array_api_compat", "pooch", "platformdirs", "pytest", "hypothesis"]
print(" ".join(n for n in need if u.find_spec(n) is None))
PY
)
if [ -n "$missing" ]; then
  echo "gpu_checks: missing Python packages: $missing (run bash benchmarks/gpu_wheels.sh on a machine with a registry, carry .whl)" >&2
  exit 2
fi
if [ "$dry" = 1 ]; then
  echo "gpu_checks --dry-run: data in ${XPNN_DATA_DIR:-<XPNN_DATA_DIR unset>}, results would go to $out"
  python3 benchmarks/gpu_paths.py --dry-run
  exit $?
fi
if ! python3 -c "import sys, xpnn; s = xpnn.backend_status()['cupy']; print(s.reason); sys.exit(0 if s.available else 1)" >/tmp/xpnn-cupy-status 2>&1; then
  echo "gpu_checks: no usable GPU here (CuPy: $(tail -n 1 /tmp/xpnn-cupy-status)); nothing was run" >&2
  exit 3
fi
mkdir -p "$out"
export PYTHONUNBUFFERED=1 XPNN_REQUIRE_GPU=1 XPNN_REQUIRE_DATA=1 SCIPY_ARRAY_API=1
status=0
run() {  # run NAME CMD...: log to $out/NAME.log, remember a failure, go on
  local name=$1
  shift
  echo "== $name: $*"
  "$@" >"$out/$name.log" 2>&1 || { status=1; echo "   FAILED (see $out/$name.log)"; }
  tail -n 5 "$out/$name.log"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$out/device.txt" 2>&1
python3 -m xpnn.cli backends >>"$out/device.txt" 2>&1
run gpu-paths python3 benchmarks/gpu_paths.py --out "$out"
run tests-cupy env XPNN_TEST_BACKENDS=cupy python3 -m pytest -q -p no:cacheprovider tests
run tests-torch-cuda env XPNN_TEST_BACKENDS=torch XPNN_TEST_DEVICE=cuda python3 -m pytest -q -p no:cacheprovider tests
run tests-jax-gpu env XPNN_TEST_BACKENDS=jax XPNN_TEST_DEVICE=gpu python3 -m pytest -q -p no:cacheprovider tests
run example-cupy python3 examples/gpu_batch_inference.py --n-images 1000000 --sweep 1000,10000,100000
run example-cupy-fp16 python3 examples/gpu_batch_inference.py --n-images 1000000 --dtype float16
run example-torch-bf16 python3 examples/gpu_batch_inference.py --backend torch --device cuda --n-images 1000000 --dtype bfloat16
run bench python3 benchmarks/bench.py gpu mnist-infer batch-sweep --out "$out"
# xpnn.MLPClassifier (scikit-learn estimator): fit on MNIST with CuPy and torch-CUDA against
# scikit-learn's MLPClassifier on the CPU and xpnn[numpy]; scikit-learn's Array API checks with
# CuPy and torch-CUDA inputs. Needs scikit-learn (and SciPy >= 1.14) on the GPU machine.
if python3 -c "import sys, xpnn; sys.exit(0 if xpnn.backend_status()['cupy'].available else 1)" 2>/dev/null; then
  run sklearn-fit python3 benchmarks/sklearn_fit.py --backends numpy,cupy,torch:cuda --out "$out"
  run sklearn-checks-gpu env SCIPY_ARRAY_API=1 XPNN_REQUIRE_SKLEARN=1 python3 -m pytest -q -p no:cacheprovider \
    tests/test_estimator.py -k "sklearn_estimator_check and (cupy or cuda)"
else
  echo "== sklearn-fit, sklearn-checks-gpu: skipped (no usable GPU: CuPy cannot run here)"
fi
# Training (issue 10; needs the MNIST training files too): one epoch of 784-100-100-10 Adam on
# xpnn[cupy] and xpnn[torch-cuda] against PyTorch's eager loop on cuda; the book's ch. 5 example on CuPy.
if python3 -c "import sys, xpnn; sys.exit(0 if xpnn.backend_status()['cupy'].available else 1)" 2>/dev/null; then
  run bench-train python3 benchmarks/train.py epoch --gpu --out "$out"
  run example-train-cupy python3 examples/train_mnist.py --backend cupy --plot "$out/train_mnist_cupy.png"
else
  echo "== bench-train, example-train-cupy: skipped (no usable GPU: CuPy cannot run here)"
fi
# The book's ch. 7-8 CNNs (issue 20): `xpnn mnist --network` on each GPU backend, `xpnn train
# --network simple_convnet` and the ch. 7 example for one epoch on 10,000 images, and SimpleConvNet
# training speed on the GPU against PyTorch eager (benchmarks/train_convnet.py --gpu).
if python3 -c "import sys, xpnn; sys.exit(0 if xpnn.backend_status()['cupy'].available else 1)" 2>/dev/null; then
  for net in simple_convnet deep_convnet; do
    run "cli-$net-cupy" python3 -m xpnn.cli mnist --network "$net" --backend cupy --no-download
    run "cli-$net-torch-cuda" python3 -m xpnn.cli mnist --network "$net" --backend torch --device cuda --no-download
  done
  run cli-train-convnet-torch-cuda python3 -m xpnn.cli train --network simple_convnet --backend torch --device cuda \
    --epochs 1 --train-size 10000 --no-download
  run example-train-convnet-cupy python3 examples/train_convnet.py --backend cupy --epochs 1 --train-size 10000 \
    --no-download --out "$out/train_convnet_cupy.png"
  run bench-train-convnet python3 benchmarks/train_convnet.py --gpu --batches 100 --out "$out"
else
  echo "== cli-*-convnet, example-train-convnet-cupy, bench-train-convnet: skipped (no usable GPU: CuPy cannot run here)"
fi
# compile(net, "onnxruntime", provider="cuda") and compile(net, "jax") on the GPU (issue 11); each
# that cannot run here (no onnxruntime-gpu, a CPU-only jax) prints "skipped: <why>" in the log.
run compiled python3 benchmarks/compiled.py --gpu --out "$out"
grep -h '^skipped:' "$out/compiled.log" 2>/dev/null
exit $status
