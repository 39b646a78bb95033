"""Every GPU path of xpnn, once each, on the real MNIST test set: does it give the book's answer?

    python benchmarks/gpu_paths.py [--out DIR] [--dry-run]

One row per path: the book's ch. 7-8 CNNs (its trained params.pkl and deep_convnet_params.pkl on
CuPy, torch-CUDA and JAX-GPU: accuracy 0.9600 and 0.9797 and the same class as xpnn on NumPy for
every image; one Adam epoch of SimpleConvNet(weight_init_std=0.01) on 10,000 training images,
test accuracy from chance to at least 0.85), xpnn[cupy], xpnn[torch] on cuda, xpnn[jax] on the GPU, Dask with CuPy chunks,
compile(net, "onnxruntime", provider="cuda"), compile(net, "jax") on the GPU, a short training
run on CuPy and on torch-CUDA (test accuracy from chance to at least 0.85), and MLPClassifier fed CuPy arrays under
scikit-learn's Array API dispatch. The inference rows must give accuracy 0.9352 exactly (9352 of
10,000: the same count as the book's NumPy code, computed in this run). A path whose library is
missing is "skipped" with the reason; under XPNN_REQUIRE_GPU=1 a skipped CuPy or torch-CUDA row
counts as a failure. Writes gpu-paths.json and gpu-paths.md to --out and exits 1 if any row
failed.

--dry-run checks everything but the GPU itself (data, imports, this script's plan) and exits 0
only where a GPU is usable: without one it says so in one line and exits 3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # scikit-learn's Array API dispatch needs it before SciPy loads

import xpnn

Row = dict[str, object]


def _reference(net: dict, x8: np.ndarray, t: np.ndarray) -> int:
    """Correct answers of the book's own NumPy code (float32, sigmoid, argmax), counted here."""
    x = x8.astype(np.float32) / np.float32(255.0)
    a = x
    for i in (1, 2):
        a = 1.0 / (1.0 + np.exp(-(a @ net[f"W{i}"] + net[f"b{i}"])))
    y = a @ net["W3"] + net["b3"]
    return int(np.count_nonzero(np.argmax(y, axis=1) == t))


def _torch_cuda() -> str | None:
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    return None if torch.cuda.is_available() else "PyTorch has no CUDA device"


def _jax_gpu() -> str | None:
    try:
        import jax
    except ImportError:
        return "JAX is not installed"
    try:
        jax.devices("gpu")
    except RuntimeError as e:
        return f"JAX has no GPU ({str(e).splitlines()[0]})"
    return None


def _cupy() -> str | None:
    status = xpnn.backend_status()["cupy"]
    return None if status.available else status.reason


def _ort_cuda() -> str | None:
    try:
        import onnxruntime
    except ImportError:
        return "onnxruntime is not installed"
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return "this onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)"
    return None


def _needs(*checks: Callable[[], str | None]) -> str | None:
    for check in checks:
        why = check()
        if why:
            return why
    return None


#: The book's published test accuracy of its trained CNN files (issue 20), through its own code.
CONVNET_ACCURACY = {"simple_convnet": 0.96, "deep_convnet": 0.9797}

#: Where each CNN row runs: (label, backend, device, what it needs).
_GPU_PLACES = (
    ("cupy", "cupy", None, _cupy),
    ("torch cuda", "torch", "cuda", _torch_cuda),
    ("jax gpu", "jax", "gpu", _jax_gpu),
)


def _convnet_rows(x8: np.ndarray, t: np.ndarray, xtr: np.ndarray, ttr: np.ndarray) -> list:
    """The ch. 7-8 CNN paths (issue 20) on each GPU backend: the book's trained files give the
    book's accuracy and the same classes as xpnn on NumPy image by image ("same"), and one
    Adam epoch of SimpleConvNet(weight_init_std=0.01) on 10,000 training images learns ("training")."""
    x4 = x8.reshape(-1, 1, 28, 28)
    cached: dict[str, tuple[object, np.ndarray]] = {}

    def book(name: str) -> tuple[object, np.ndarray]:  # the file, and NumPy's classes for it
        if name not in cached:
            net = xpnn.load_sample_network(name=name, download=False)
            cached[name] = (net, xpnn.to_numpy(xpnn.predict(net, x4, normalize=True)))
        return cached[name]

    def same(name: str, backend: str, device: str | None) -> Callable[[], float]:
        def run() -> float:
            net, classes = book(name)
            placed = xpnn.to_backend(net, backend, device)
            got = xpnn.to_numpy(xpnn.predict(placed, x4, normalize=True))
            if not np.array_equal(got, classes):
                raise AssertionError(f"{int(np.sum(got != classes))} images classed unlike xpnn[numpy]")
            accuracy = xpnn.accuracy(placed, x4, t, normalize=True)
            if accuracy != CONVNET_ACCURACY[name]:
                raise AssertionError(f"accuracy {accuracy}, the book's code {CONVNET_ACCURACY[name]}")
            return accuracy

        return run

    def trained(backend: str, device: str | None) -> Callable[[], tuple[float, float]]:
        def run() -> tuple[float, float]:
            start = xpnn.SimpleConvNet(
                weight_init_std=0.01, seed=0, dtype="float32", backend=backend, device=device
            )
            before = xpnn.accuracy(start, x4, t, normalize=True)
            net, _ = _train_cnn(start, xtr[:10_000].reshape(-1, 1, 28, 28), ttr[:10_000])
            return before, xpnn.accuracy(net, x4, t, normalize=True)

        return run

    rows = []
    for label, backend, device, need in _GPU_PLACES:
        for name in CONVNET_ACCURACY:
            rows.append(
                (f"{name} {label}", "same", lambda need=need: _needs(need), same(name, backend, device))
            )
        rows.append(
            (
                f"train simple_convnet {label}",
                "training",
                lambda need=need: _needs(need),
                trained(backend, device),
            )
        )
    return rows


def _train_cnn(net: object, x8: np.ndarray, t: np.ndarray) -> tuple[object, dict]:
    """The one call that trains a CNN here: one epoch of Adam (lr 0.001), batches of 100."""
    return xpnn.nn.train_network(
        net, x8, t, optimizer="adam", lr=0.001, batch_size=100, epochs=1, normalize=True
    )


def plan(net: dict, x8: np.ndarray, t: np.ndarray, xtr: np.ndarray, ttr: np.ndarray) -> list:
    """``(name, kind, needs, run)``: kind "accuracy" must match the book; "training" must improve."""

    def acc(**kw: object) -> Callable[[], float]:
        return lambda: xpnn.accuracy(net, x8, t, normalize=True, **kw)

    def compiled(target: str, **options: object) -> Callable[[], float]:
        return lambda: xpnn.accuracy(xpnn.compile(net, target, **options), x8, t, normalize=True)

    def trained(backend: str, device: str | None) -> Callable[[], tuple[float, float]]:
        def run() -> tuple[float, float]:
            start = xpnn.random_network((784, 50, 10), seed=0)
            xs, ts = xtr[:10_000].astype(np.float32) / np.float32(255.0), ttr[:10_000]
            before = xpnn.accuracy(start, xs, ts, activation="relu", backend=backend, device=device)
            net2, _ = xpnn.train(
                start,
                xs,
                ts,
                activation="relu",
                optimizer="adam",
                lr=1e-3,
                epochs=2,
                backend=backend,
                device=device,
                progress=False,
            )
            return before, xpnn.accuracy(net2, x8, t, normalize=True)

        return run

    def estimator() -> float:
        import warnings

        import cupy
        import sklearn
        from sklearn.exceptions import ConvergenceWarning

        with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # two epochs, on purpose
            clf = xpnn.MLPClassifier(hidden_layer_sizes=(100,), max_iter=2, random_state=0)
            clf.fit(cupy.asarray(xtr[:20_000].astype(np.float32) / 255.0), cupy.asarray(ttr[:20_000]))
            score = clf.score(cupy.asarray(x8.astype(np.float32) / 255.0), cupy.asarray(t))
        return float(score)

    return [
        *_convnet_rows(x8, t, xtr, ttr),
        ("xpnn[cupy] accuracy", "accuracy", lambda: _needs(_cupy), acc(backend="cupy")),
        (
            "xpnn[torch] cuda accuracy",
            "accuracy",
            lambda: _needs(_torch_cuda),
            acc(backend="torch", device="cuda"),
        ),
        ("xpnn[jax] gpu accuracy", "accuracy", lambda: _needs(_jax_gpu), acc(backend="jax", device="gpu")),
        (
            "Dask, CuPy chunks",
            "accuracy",
            lambda: _needs(_cupy),
            acc(backend="dask", device="gpu", batch_size=1000),
        ),
        (
            "compile onnxruntime cuda",
            "accuracy",
            lambda: _needs(_ort_cuda),
            compiled("onnxruntime", provider="cuda"),
        ),
        ("compile jax gpu", "accuracy", lambda: _needs(_jax_gpu), compiled("jax", device="gpu")),
        ("train on cupy", "training", lambda: _needs(_cupy), trained("cupy", None)),
        ("train on torch cuda", "training", lambda: _needs(_torch_cuda), trained("torch", "cuda")),
        ("MLPClassifier, CuPy input", "score", lambda: _needs(_cupy), estimator),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results-gpu")
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    try:
        x8, t = xpnn.load_mnist(normalize=False, split="test", download=False)
        xtr, ttr = xpnn.load_mnist(normalize=False, split="train", download=False)
        net = xpnn.load_sample_network(download=False)
        for name in CONVNET_ACCURACY:  # the book's ch. 7-8 files: checked here, loaded when their row runs
            xpnn.load_sample_network(name=name, download=False)
    except (xpnn.DataError, FileNotFoundError) as e:
        print(f"gpu_paths: the MNIST files and the book's weights are needed: {' '.join(str(e).split())}")
        return 2
    rows = plan(net, x8, t, xtr, ttr)
    if args.dry_run:
        for name, kind, needs, _ in rows:
            why = needs()
            print(f"{name:28} {kind:9} {'ready' if why is None else 'skipped: ' + why}")
        why = _cupy()
        if why:
            print(f"gpu_paths: no usable GPU here ({why}); run this on a machine with an NVIDIA GPU")
            return 3
        return 0
    book = _reference(net, x8, t) / len(t)
    require = os.environ.get("XPNN_REQUIRE_GPU") == "1"
    results: list[Row] = []
    for name, kind, needs, run in rows:
        why = needs()
        row: Row = {"path": name, "kind": kind}
        if why is not None:
            row.update(
                status="failed"
                if require
                and (name.startswith(("xpnn[cupy]", "xpnn[torch]")) or name.endswith(("cupy", "torch cuda")))
                else "skipped",
                why=why,
            )
        else:
            start = time.perf_counter()
            try:
                value = run()
            except Exception as e:  # a GPU path that breaks is a result to report, not a crash
                row.update(
                    status="failed",
                    why=f"{type(e).__name__}: {' '.join(str(e).split())[:300]}",
                    traceback=traceback.format_exc(),
                )
            else:
                row["seconds"] = round(time.perf_counter() - start, 3)
                if kind == "accuracy":
                    row.update(value=value, status="ok" if value == book else "failed")
                elif kind == "same":  # the row raised unless it matched; the value is the accuracy
                    row.update(value=value, status="ok")
                elif kind == "training":
                    before, after = value
                    row.update(
                        value=after, before=before, status="ok" if after >= 0.85 > before else "failed"
                    )
                else:
                    row.update(value=value, status="ok" if value >= 0.9 else "failed")
        results.append(row)
        print(f"{name:28} {row['status']:8} {row.get('value', '')} {row.get('why', '')}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu-paths.json").write_text(json.dumps({"book_accuracy": book, "rows": results}, indent=1))
    lines = ["| path | status | value | note |", "|---|---|---|---|"]
    lines += [f"| {r['path']} | {r['status']} | {r.get('value', '')} | {r.get('why', '')} |" for r in results]
    (out / "gpu-paths.md").write_text(
        f"Book's NumPy code in this run: accuracy {book}\n\n" + "\n".join(lines) + "\n"
    )
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
