"""Training benchmarks (issue 10): xpnn.train against plain loops, ratios within one run.

    python benchmarks/train.py                    # every section (MNIST train+test in XPNN_DATA_DIR)
    python benchmarks/train.py book-ch5 epoch     # some sections; --list names them

Sections: ``book-ch5`` (the book's ch. 5 run against a plain NumPy loop written like the
book's), ``adam`` (784-100-100-10 He/Adam accuracy), ``epoch`` (time per epoch against
PyTorch's eager loop, and on a GPU against torch-CUDA), ``memory`` (peak RSS of a training
run over the data's size). Candidates run round-robin; medians. Results: JSON and markdown in
``benchmarks/results/`` (``train-<section>``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import xpnn

RESULTS = Path(__file__).parent / "results"


def interleaved(
    candidates: dict[str, Callable[[], object]], rounds: int, warm_up: bool = True
) -> dict[str, float]:
    """Median seconds of each candidate over ``rounds`` round-robin rounds (after one warm-up call)."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values() if warm_up else ():
        fn()
    for _ in range(rounds):
        for name, fn in candidates.items():
            time.sleep(0.05)  # let the previous candidate's thread pool stop spinning
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in samples.items()}


def table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows])


def mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        x, t = xpnn.load_mnist(normalize=True, split="train")
        xt, tt = xpnn.load_mnist(normalize=True, split="test")
    except (xpnn.DataNotFoundError, xpnn.DataError) as e:
        raise SystemExit(f"bench: {e}\n(set XPNN_DATA_DIR to a directory with mnist/)") from e
    return x, t, xt, tt


# --- the book's ch. 5 loop, written as the book writes it (layers with state, in-place updates) ---


def book_loop(
    net: dict, x: np.ndarray, t: np.ndarray, xt: np.ndarray, tt: np.ndarray, iters: int, seed: int
) -> float:
    """ch05/train_neuralnet.py with TwoLayerNet's Affine/Relu/SoftmaxWithLoss; returns test accuracy.

    As the book: np.random.choice batches (with replacement), params[key] -= lr * grad, train and
    test accuracy every N / batch_size iterations. Not the book's extra loss() forward pass per
    iteration: xpnn records the loss from the same forward pass, so the baseline skips it too.
    """
    p = {k: v.copy() for k, v in net.items()}
    rng = np.random.default_rng(seed)
    n, batch, lr = x.shape[0], 100, 0.1

    def predict(xb: np.ndarray) -> np.ndarray:
        return np.maximum(xb @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]

    def acc(xs: np.ndarray, ts: np.ndarray) -> float:
        return float(np.sum(np.argmax(predict(xs), axis=1) == ts) / xs.shape[0])

    test_acc = 0.0
    for i in range(iters):
        mask = rng.choice(n, batch)
        xb, tb = x[mask], t[mask]
        a1 = xb @ p["W1"] + p["b1"]
        relu_mask = a1 <= 0
        z1 = a1.copy()
        z1[relu_mask] = 0
        a2 = z1 @ p["W2"] + p["b2"]
        y = np.exp(a2 - a2.max(axis=1, keepdims=True))
        y /= y.sum(axis=1, keepdims=True)
        dx = y.copy()
        dx[np.arange(batch), tb] -= 1
        dx = dx / batch
        grads = {"W2": z1.T @ dx, "b2": dx.sum(axis=0)}
        dz = dx @ p["W2"].T
        dz[relu_mask] = 0
        grads["W1"], grads["b1"] = xb.T @ dz, dz.sum(axis=0)
        for key in ("W1", "b1", "W2", "b2"):
            p[key] -= lr * grads[key]
        if (i + 1) % (n // batch) == 0 or i + 1 == iters:
            acc(x, t)
            test_acc = acc(xt, tt)
    return test_acc


def section_book_ch5(args: argparse.Namespace) -> dict:
    x, t, xt, tt = mnist()
    iters = args.iters or 10_000
    results: dict[str, float] = {}
    net32 = xpnn.random_network([784, 50, 10], weight_init=0.01, seed=0)
    net64 = xpnn.random_network([784, 50, 10], weight_init=0.01, seed=0, dtype="float64")

    def run_xpnn(net: dict, name: str) -> Callable[[], object]:
        def go() -> None:
            _, h = xpnn.train(
                net, x, t, activation="relu", lr=0.1, iters=iters, x_test=xt, t_test=tt, progress=False
            )
            results[name] = h["test_acc"][-1]

        return go

    def run_book(net: dict, name: str) -> Callable[[], object]:
        return lambda: results.__setitem__(name, book_loop(net, x, t, xt, tt, iters, 0))

    candidates = {
        "book loop, float32 (baseline)": run_book(net32, "book loop, float32 (baseline)"),
        "xpnn.train[numpy], float32": run_xpnn(net32, "xpnn.train[numpy], float32"),
        "book loop, float64 (the book's own dtype)": run_book(
            net64, "book loop, float64 (the book's own dtype)"
        ),
        "xpnn.train[numpy], float64": run_xpnn(net64, "xpnn.train[numpy], float64"),
    }
    times = interleaved(candidates, args.rounds or 3, warm_up=False)  # each run is long: no warm-up run
    base = times["book loop, float32 (baseline)"]
    rows = [
        {"code": k, "s": f"{v:.2f}", "ratio": f"{v / base:.2f}×", "test acc": f"{results[k]:.4f}"}
        for k, v in times.items()
    ]
    return {
        "title": f"The book's ch. 5 run: 784-50-10 ReLU, init 0.01, SGD 0.1, batch 100, {iters:,} iterations",
        "target": "xpnn[numpy] ≥ 0.965 test accuracy in ≤ 1.1× the plain NumPy loop",
        "times_s": times,
        "test_acc": results,
        "markdown": table(rows, ["code", "s", "ratio", "test acc"]),
    }


def section_adam(args: argparse.Namespace) -> dict:
    x, t, xt, tt = mnist()
    net = xpnn.random_network([784, 100, 100, 10], weight_init="he", seed=0)
    t0 = time.perf_counter()
    _, h = xpnn.train(
        net,
        x,
        t,
        activation="relu",
        optimizer="adam",
        lr=1e-3,
        epochs=args.epochs or 10,
        x_test=xt,
        t_test=tt,
        progress=False,
    )
    seconds = time.perf_counter() - t0
    rows = [
        {"epoch": e, "loss": f"{lo:.4f}", "train acc": f"{a:.4f}", "test acc": f"{b:.4f}"}
        for e, lo, a, b in zip(h["epoch"], h["loss"], h["train_acc"], h["test_acc"])
    ]
    return {
        "title": f"784-100-100-10 ReLU, He init, Adam 1e-3, batch 100, {len(rows)} epochs (NumPy, {seconds:.0f} s)",
        "target": "≥ 0.975 test accuracy",
        "history": h,
        "seconds": seconds,
        "markdown": table(rows, ["epoch", "loss", "train acc", "test acc"]),
    }


def torch_epoch(x: np.ndarray, t: np.ndarray, net: dict, device: str) -> Callable[[], object]:
    """PyTorch's eager loop on the same net: nn.Sequential + torch.optim.Adam, the same batches.

    Like xpnn.train, it uploads the data once, gathers each batch on the device from host-drawn
    indices, and computes the training accuracy at the end of the epoch.
    """
    import torch

    model = torch.nn.Sequential(
        torch.nn.Linear(784, 100),
        torch.nn.ReLU(),
        torch.nn.Linear(100, 100),
        torch.nn.ReLU(),
        torch.nn.Linear(100, 10),
    ).to(device)
    with torch.no_grad():
        for i, layer in enumerate(model[::2], start=1):
            layer.weight.copy_(torch.as_tensor(net[f"W{i}"].T))
            layer.bias.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    X, T = torch.as_tensor(x, device=device), torch.as_tensor(t.astype(np.int64), device=device)
    rng = np.random.default_rng(0)

    def epoch() -> object:
        order = torch.as_tensor(rng.permutation(x.shape[0]), device=device)
        for b in range(0, x.shape[0], 100):
            idx = order[b : b + 100]
            loss = torch.nn.functional.cross_entropy(model(X[idx]), T[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            hits = sum(
                int((model(X[s : s + 1024]).argmax(1) == T[s : s + 1024]).sum())
                for s in range(0, len(X), 1024)
            )
        return hits / len(X)

    return epoch


def section_epoch(args: argparse.Namespace) -> dict:
    x, t, _, _ = mnist()
    net = xpnn.random_network([784, 100, 100, 10], weight_init="he", seed=0)
    status = xpnn.backend_status()
    gpu = args.gpu
    candidates: dict[str, Callable[[], object]] = {}
    if gpu:
        torch_cuda = status["torch"].available and __import__("torch").cuda.is_available()
        if not (torch_cuda or status["cupy"].available):
            why = "skipped: --gpu needs CuPy or PyTorch with CUDA, and neither is usable here"
            if os.environ.get("XPNN_REQUIRE_GPU") == "1":
                raise SystemExit(f"bench: {why} (XPNN_REQUIRE_GPU=1)")
            print(f"bench: epoch --gpu {why}")
            return {}
        baseline = "torch eager loop, cuda (baseline)" if torch_cuda else "xpnn.train[cupy]"
        if torch_cuda:
            import torch

            candidates[baseline] = _synced(torch_epoch(x, t, net, "cuda"), torch.cuda.synchronize)
        targets = [("cupy", None)] + ([("torch", "cuda")] if torch_cuda else [])
    else:
        baseline = "torch eager loop, cpu (baseline)"
        candidates[baseline] = torch_epoch(x, t, net, "cpu")
        targets = [("numpy", None), ("torch", "cpu"), ("jax", None)]
    for name, device in targets:
        if not status[name].available:
            continue
        placed = xpnn.to_backend(net, name, device)
        X, T = xpnn.asarray(x, backend=name, device=device), xpnn.asarray(t, backend=name, device=device)

        def go(placed: xpnn.Network = placed, X: object = X, T: object = T) -> object:
            return xpnn.train(
                placed, X, T, activation="relu", optimizer="adam", lr=1e-3, epochs=1, progress=False
            )

        label = f"xpnn.train[{name}{'-' + device if device else ''}]"
        impl, dev = xpnn._backends.get_backend(name, device)
        candidates[label] = _synced(go, lambda impl=impl, dev=dev: impl.synchronize(dev)) if gpu else go
    times = interleaved(candidates, args.rounds or 3)
    base = times[baseline]
    rows = [{"code": k, "s per epoch": f"{v:.2f}", "ratio": f"{v / base:.2f}×"} for k, v in times.items()]
    where = "GPU" if gpu else "CPU"
    return {
        "title": f"One epoch of 784-100-100-10 ReLU Adam, batch 100, 60,000 images, float32, {where}",
        "target": "xpnn[numpy] ≤ 1.0×, xpnn[torch] ≤ 1.2× PyTorch's eager loop"
        if not gpu
        else "against torch-CUDA",
        "times_s": times,
        "markdown": table(rows, ["code", "s per epoch", "ratio"]),
    }


def _synced(fn: Callable[[], object], sync: Callable[[], object]) -> Callable[[], object]:
    return lambda: (fn(), sync())


MEMORY_CHILD = """
import resource, sys, numpy as np, xpnn
x, t = xpnn.load_mnist(normalize=True, split="train")
x = np.array(x)  # the data in memory, not a file mapping
name = sys.argv[1]
X, T = xpnn.asarray(x, backend=name), xpnn.asarray(t, backend=name)
net = xpnn.to_backend(xpnn.random_network([784, 100, 100, 10]), name)
xpnn.train(net, X, T, activation="relu", optimizer="adam", lr=1e-3, iters=10, progress=False)  # warm-up
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
xpnn.train(net, X, T, activation="relu", optimizer="adam", lr=1e-3, epochs=2, progress=False)
print(x.nbytes, before * 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def section_memory(args: argparse.Namespace) -> dict:
    mnist()
    rows, data = [], {}
    for name in ("numpy", "torch"):
        if not xpnn.backend_status()[name].available:
            continue
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, name], capture_output=True, text=True, check=True
        )
        nbytes, before, peak = (int(v) for v in out.stdout.split())
        data[name] = {"data_bytes": nbytes, "rss_before": before, "rss_peak": peak}
        rows.append(
            {
                "backend": name,
                "data MB": f"{nbytes / 1e6:.0f}",
                "peak RSS growth over 2 epochs, MB": f"{(peak - before) / 1e6:.1f}",
            }
        )
    return {
        "title": "Peak memory of 2 epochs of training (60,000 float32 images, 784-100-100-10), after a warm-up",
        "target": "no copy of the training set: peak ≤ data + 200 MB",
        "memory": data,
        "markdown": table(rows, ["backend", "data MB", "peak RSS growth over 2 epochs, MB"]),
    }


SECTIONS = {
    "book-ch5": section_book_ch5,
    "adam": section_adam,
    "epoch": section_epoch,
    "memory": section_memory,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sections", nargs="*", help=f"default: all of {', '.join(SECTIONS)}")
    p.add_argument("--list", action="store_true")
    p.add_argument("--rounds", type=int, default=0)
    p.add_argument("--iters", type=int, default=0, help="book-ch5 iterations (default 10,000)")
    p.add_argument("--epochs", type=int, default=0, help="adam epochs (default 10)")
    p.add_argument(
        "--gpu", action="store_true", help="epoch: xpnn[cupy], xpnn[torch-cuda] against torch-CUDA"
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--threads", type=int, default=0, help="BLAS and torch threads (default: the libraries' own)"
    )
    args = p.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        if xpnn.backend_status()["torch"].available:
            import torch

            torch.set_num_threads(args.threads)
    if args.list:
        print("\n".join(SECTIONS))
        return 0
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        p.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.sections or list(SECTIONS):
        result = SECTIONS[name](args)
        if not result:
            continue
        result["command"] = " ".join(
            ["python benchmarks/train.py", *(argv if argv is not None else sys.argv[1:])]
        )
        result["machine"] = {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "maxrss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "threads": args.threads or "default",
        }
        stem = f"train-{name}{'-gpu' if args.gpu and name == 'epoch' else ''}"
        (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1, default=str))
        md = f"### {result['title']}\n\nTarget: {result['target']}\n\n{result['markdown']}\n\n`{result['command']}`, {result['machine']['date']}\n"
        (args.out / f"{stem}.md").write_text(md)
        print(md, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
