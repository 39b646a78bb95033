"""Training benchmarks (issue 10): xpnn.train against plain loops, ratios within one run.

    python benchmarks/train.py [book-ch5 adam epoch memory] [--threads 1] [--gpu]

Sections: the book's ch. 5 run against a NumPy loop written like the book's; Adam accuracy; epoch
time against PyTorch's eager loop (--gpu: against torch-CUDA); peak memory. Candidates run
round-robin, medians. MNIST from XPNN_DATA_DIR; results: benchmarks/results/train-<section>.*
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from statistics import median

import numpy as np

import xpnn

RESULTS = Path(__file__).parent / "results"
KW: dict = {"activation": "relu", "optimizer": "adam", "lr": 1e-3, "progress": False}  # the Adam runs
Fn = Callable[[], object]
A = np.ndarray


def interleaved(candidates: dict[str, Fn], rounds: int, warm_up: bool = True) -> dict[str, dict[str, float]]:
    """Median wall and CPU (process) seconds per candidate over ``rounds`` round-robin rounds."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in candidates}
    for fn in candidates.values() if warm_up else ():
        fn()
    for _ in range(rounds):
        for name, fn in candidates.items():
            time.sleep(0.05)  # let the previous candidate's thread pool stop spinning
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            samples[name].append((time.perf_counter() - t0, time.process_time() - c0))
    return {n: {"wall": median(w for w, _ in s), "cpu": median(c for _, c in s)} for n, s in samples.items()}


def timed_rows(times: dict[str, dict[str, float]], base: str, extra: Callable = lambda k: {}) -> list[dict]:
    cell = lambda k, kind: f"{times[k][kind]:.2f} ({times[k][kind] / times[base][kind]:.2f}×)"  # noqa: E731
    return [
        {"code": k, "wall s (ratio)": cell(k, "wall"), "CPU s (ratio)": cell(k, "cpu")} | extra(k)
        for k in times
    ]


def table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows])


def mnist() -> tuple[A, A, A, A]:
    try:
        load = xpnn.load_mnist
        return (*load(normalize=True, split="train"), *load(normalize=True, split="test"))  # type: ignore[return-value]
    except (xpnn.DataNotFoundError, xpnn.DataError) as e:
        raise SystemExit(f"bench: {e}\n(set XPNN_DATA_DIR to a directory with mnist/)") from e


def book_loop(net: dict, x: A, t: A, xt: A, tt: A, iters: int, seed: int) -> float:
    """ch05/train_neuralnet.py, TwoLayerNet.gradient's layers inlined as the book writes them (masks,
    in-place updates); not the extra loss() forward per iteration (xpnn reuses the gradient's)."""
    p = {k: v.copy() for k, v in net.items()}
    rng = np.random.default_rng(seed)
    n, batch, lr = x.shape[0], 100, 0.1

    def acc(xs: A, ts: A) -> float:
        y = np.maximum(xs @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
        return float(np.sum(np.argmax(y, axis=1) == ts) / xs.shape[0])

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
        loss = -np.sum(np.log(y[np.arange(batch), tb] + 1e-7)) / batch  # SoftmaxWithLoss.forward  # noqa: F841
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

    kw = {"activation": "relu", "lr": 0.1, "iters": iters, "progress": False, "x_test": xt, "t_test": tt}
    runs: dict[str, Fn] = {}
    for dtype in ("float32", "float64"):  # float64: the book's own (its weights come from np.random.randn)
        net = xpnn.random_network([784, 50, 10], weight_init=0.01, seed=0, dtype=dtype)
        runs[f"book loop, {dtype}"] = lambda net=net: book_loop(net, x, t, xt, tt, iters, 0)
        runs[f"xpnn.train[numpy], {dtype}"] = lambda net=net: xpnn.train(net, x, t, **kw)[1]["test_acc"][-1]
    candidates = {k: lambda k=k, fn=fn: results.__setitem__(k, fn()) for k, fn in runs.items()}
    times = interleaved(candidates, args.rounds or 3, warm_up=False)  # each run is long: no warm-up run
    rows = timed_rows(times, "book loop, float32", lambda k: {"test acc": f"{results[k]:.4f}"})
    return {
        "title": f"The book's ch. 5 run: 784-50-10 ReLU, init 0.01, SGD 0.1, batch 100, {iters:,} iterations",
        "target": "xpnn[numpy] ≥ 0.965 test accuracy in ≤ 1.1× the plain NumPy loop (float32 row)",
        "times_s": times,
        "test_acc": results,
        "markdown": table(rows, ["code", "wall s (ratio)", "CPU s (ratio)", "test acc"]),
    }


def section_adam(args: argparse.Namespace) -> dict:
    x, t, xt, tt = mnist()
    net = xpnn.random_network([784, 100, 100, 10], weight_init="he", seed=0)
    t0 = time.perf_counter()
    _, h = xpnn.train(net, x, t, epochs=args.epochs or 10, x_test=xt, t_test=tt, **KW)
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


def torch_epoch(x: A, t: A, net: dict, device: str) -> Fn:
    """PyTorch's eager loop, same net (nn.Sequential + torch.optim.Adam), from the same init each call as
    xpnn.train; data uploaded once, shuffled batches gathered on the device, train accuracy at the end."""
    import torch

    nn, rng = torch.nn, np.random.default_rng(0)
    X, T = torch.as_tensor(x, device=device), torch.as_tensor(t.astype(np.int64), device=device)

    def epoch() -> object:
        model = nn.Sequential(
            nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)
        )
        with torch.no_grad():
            for i, layer in enumerate(model.to(device)[::2], start=1):
                layer.weight.copy_(torch.as_tensor(net[f"W{i}"].T))
                layer.bias.zero_()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        order = torch.as_tensor(rng.permutation(x.shape[0]), device=device)
        for b in range(0, x.shape[0], 100):
            idx = order[b : b + 100]
            loss = torch.nn.functional.cross_entropy(model(X[idx]), T[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            hits = [
                (model(X[s : s + 1024]).argmax(1) == T[s : s + 1024]).sum() for s in range(0, len(X), 1024)
            ]
        return int(sum(hits)) / len(X)

    return epoch


def section_epoch(args: argparse.Namespace) -> dict:
    x, t, _, _ = mnist()
    net = xpnn.random_network([784, 100, 100, 10], weight_init="he", seed=0)
    status = xpnn.backend_status()
    candidates: dict[str, Fn] = {}
    if args.gpu:
        torch_cuda = status["torch"].available and __import__("torch").cuda.is_available()
        if not (torch_cuda or status["cupy"].available):  # a failure only where a GPU is required
            why = "bench: epoch --gpu skipped: it needs CuPy or PyTorch with CUDA; neither is usable here"
            return sys.exit(why) if os.environ.get("XPNN_REQUIRE_GPU") == "1" else print(why) or {}
        baseline = "torch eager loop, cuda (baseline)" if torch_cuda else "xpnn.train[cupy]"
        if torch_cuda:
            candidates[baseline] = torch_epoch(x, t, net, "cuda")
        targets = [("cupy", None)] + ([("torch", "cuda")] if torch_cuda else [])
    else:
        baseline = "torch eager loop, cpu (baseline)"
        candidates[baseline] = torch_epoch(x, t, net, "cpu")
        targets = [("numpy", None), ("torch", "cpu"), ("jax", None)]
    for name, device in targets:
        if status[name].available:
            placed = xpnn.to_backend(net, name, device)
            X, T = (xpnn.asarray(a, backend=name, device=device) for a in (x, t))
            go = lambda placed=placed, X=X, T=T: xpnn.train(placed, X, T, epochs=1, **KW)  # noqa: E731
            candidates[f"xpnn.train[{name}{'-' + device if device else ''}]"] = go
    times = interleaved(candidates, args.rounds or 3)
    rows = timed_rows(times, baseline)
    where, cpu_target = (
        "GPU" if args.gpu else "CPU",
        "xpnn[numpy] ≤ 1.0×, xpnn[torch] ≤ 1.2× PyTorch's eager loop",
    )
    return {
        "title": f"One epoch of 784-100-100-10 ReLU Adam, batch 100, 60,000 images, float32, {where}",
        "target": "against torch-CUDA" if args.gpu else cpu_target,
        "times_s": times,
        "markdown": table(rows, ["code", "wall s (ratio)", "CPU s (ratio)"]),
    }


MEMORY_CHILD = """
import sys, numpy as np, xpnn
x, t = xpnn.load_mnist(normalize=True, split="train")
x = np.array(x)  # the data in memory, not a file mapping
X, T = xpnn.asarray(x, backend=sys.argv[1]), xpnn.asarray(t, backend=sys.argv[1])
kw = {"activation": "relu", "optimizer": "adam", "lr": 1e-3, "progress": False}
net = xpnn.to_backend(xpnn.random_network([784, 100, 100, 10]), sys.argv[1])
xpnn.train(net, X, T, iters=10, **kw)  # warm-up
status = lambda key: next(int(v.split()[1]) * 1024 for v in open("/proc/self/status") if v.startswith(key))
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS: loading's peak goes
before = status("VmRSS:")
xpnn.train(net, X, T, epochs=2, **kw)
print(x.nbytes, before, status("VmHWM:"))
"""


def section_memory(args: argparse.Namespace) -> dict:
    mnist()
    rows = []
    for name in ("numpy", "torch"):
        if xpnn.backend_status()[name].available:
            out = subprocess.check_output([sys.executable, "-c", MEMORY_CHILD, name], text=True)
            nbytes, before, peak = (int(v) for v in out.split())
            growth = f"{(peak - before) / 1e6:.1f}"
            rows.append({"backend": name, "data MB": f"{nbytes / 1e6:.0f}", "peak RSS growth, MB": growth})
    return {
        "title": "Peak RSS over the RSS before 2 epochs of training (60,000 float32 images, 784-100-100-10)",
        "target": "no copy of the training set: peak ≤ data + 200 MB",
        "rows": rows,
        "markdown": table(rows, ["backend", "data MB", "peak RSS growth, MB"]),
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
    p.add_argument("--rounds", type=int, default=0, help="interleaved rounds (default: 3)")
    p.add_argument("--iters", type=int, default=0, help="book-ch5 iterations (default 10,000)")
    p.add_argument("--epochs", type=int, default=0, help="adam epochs (default 10)")
    p.add_argument("--gpu", action="store_true", help="epoch: xpnn[cupy], xpnn[torch-cuda] vs torch-CUDA")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--threads", type=int, default=0, help="BLAS and torch threads (default: theirs)")
    args = p.parse_args(argv)
    if unknown := [s for s in args.sections if s not in SECTIONS]:
        p.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        if xpnn.backend_status()["torch"].available:
            __import__("torch").set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.sections or list(SECTIONS):
        result = SECTIONS[name](args)
        if not result:
            continue
        date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        command = ["python benchmarks/train.py", *(sys.argv[1:] if argv is None else argv)]
        result["command"] = " ".join(command)
        threads = args.threads or "default"
        result["machine"] = {"python": platform.python_version(), "numpy": np.__version__, "date": date,
                             "cores": os.cpu_count(), "threads": threads}  # fmt: skip
        stem = f"train-{name}{'-gpu' if args.gpu and name == 'epoch' else ''}"
        (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1, default=str))
        md = f"### {result['title']}\n\nTarget: {result['target']}\n\n{result['markdown']}\n\n"
        md += f"`{result['command']}` on {os.cpu_count()} cores, {threads} threads, {date}\n"
        (args.out / f"{stem}.md").write_text(md)
        print(md, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
