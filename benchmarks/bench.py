"""xpnn benchmarks: ratios against baselines measured in the same process, interleaved.

    python benchmarks/bench.py toy                 # toy-network forward vs the book's NumPy code
    python benchmarks/bench.py --list              # all sections

Each section runs its candidates round-robin (so a noisy neighbour hits them alike), reports the
median per call, and its ratio to the section's baseline. Results go to ``benchmarks/results/``
as JSON and a markdown table (and a PNG where a section plots).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import xpnn
from xpnn._timing import wait

RESULTS = Path(__file__).parent / "results"
SECTIONS: dict[str, Callable[[argparse.Namespace], dict]] = {}


def section(fn: Callable[[argparse.Namespace], dict]) -> Callable[[argparse.Namespace], dict]:
    SECTIONS[fn.__name__.replace("_", "-")] = fn
    return fn


def interleaved(candidates: dict[str, Callable[[], object]], *, number: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each candidate, timed round-robin over ``rounds`` rounds."""
    for fn in candidates.values():  # warm-up: imports, caches, placement, JIT
        fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            # Let the previous candidate's thread pool (OpenBLAS, torch) stop spinning, so it does
            # not steal the 2 cores from this one: a settle pause, outside the timed region.
            time.sleep(0.05)
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
    return {name: statistics.median(s) for name, s in samples.items()}


def machine() -> dict[str, object]:
    info: dict[str, object] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            f"{p['internal_api']} {p.get('version')} ({p['num_threads']} threads)" for p in threadpool_info()
        ]
    except ImportError:
        pass
    return info


def book_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def book_forward(network: dict, x: np.ndarray) -> np.ndarray:
    """The book's ``forward`` (ch. 3.4.3), verbatim in spirit: ``np.dot`` and ``1/(1+exp(-x))``."""
    W1, W2, W3 = network["W1"], network["W2"], network["W3"]
    b1, b2, b3 = network["b1"], network["b2"], network["b3"]
    a1 = np.dot(x, W1) + b1
    z1 = book_sigmoid(a1)
    a2 = np.dot(z1, W2) + b2
    z2 = book_sigmoid(a2)
    a3 = np.dot(z2, W3) + b3
    return a3


def table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


@section
def toy(args: argparse.Namespace) -> dict:
    """The toy network's ``forward`` per call against the book's raw NumPy code."""
    net = xpnn.init_network()
    x = np.array([1.0, 0.5])
    placed = xpnn.to_backend(net, "numpy")
    times = interleaved(
        {
            "book NumPy forward (baseline)": lambda: book_forward(net, x),
            "xpnn.forward(dict, x)": lambda: xpnn.forward(net, x),
            "xpnn.forward(to_backend(dict), x)": lambda: xpnn.forward(placed, x),
        },
        number=args.number or 2000,
        rounds=args.rounds or 25,
    )
    base = times["book NumPy forward (baseline)"]
    rows = [
        {"code": k, "µs per call": f"{v * 1e6:.2f}", "ratio": f"{v / base:.2f}×"} for k, v in times.items()
    ]
    return {
        "title": "Toy network, one forward call (2-3-2-2, float64, NumPy)",
        "target": "xpnn ≤ 1.5× the book's NumPy code",
        "times_s": times,
        "markdown": table(rows, ["code", "µs per call", "ratio"]),
    }


def _mnist_or_exit() -> tuple[np.ndarray, np.ndarray, dict]:
    """The MNIST test set (uint8) and the book's weights, or a clear exit where they are absent."""
    try:
        x, t = xpnn.load_mnist(normalize=False, split="test")
        return x, t, xpnn.load_sample_network()
    except (xpnn.DataNotFoundError, xpnn.DataError) as e:
        raise SystemExit(f"bench: {e}\n(set XPNN_DATA_DIR to a directory with mnist/ and weights/)") from e


@section
def mnist_load(args: argparse.Namespace) -> dict:
    """Loading the MNIST test set: from the .npy cache against decoding the .gz files again."""
    import tempfile

    from xpnn import mnist

    _mnist_or_exit()
    with tempfile.TemporaryDirectory() as empty:

        def decode() -> object:
            # An empty cache directory per call: every load decodes (and re-checks) the .gz files.
            os.environ["XPNN_CACHE_DIR"] = tempfile.mkdtemp(dir=empty)
            return mnist.load_mnist(split="test")

        cache = tempfile.mkdtemp(dir=empty)

        def cached() -> object:
            os.environ["XPNN_CACHE_DIR"] = cache
            return mnist.load_mnist(split="test")

        times = interleaved(
            {"decode .gz (baseline)": decode, "from the .npy cache": cached},
            number=args.number or 1,
            rounds=args.rounds or 15,
        )
    os.environ.pop("XPNN_CACHE_DIR", None)
    base = times["decode .gz (baseline)"]
    rows = [{"load": k, "ms": f"{v * 1e3:.1f}", "ratio": f"{v / base:.2f}×"} for k, v in times.items()]
    return {
        "title": "load_mnist(split='test'), normalized float32",
        "target": "the cache is faster than decoding",
        "times_s": times,
        "markdown": table(rows, ["load", "ms", "ratio"]),
    }


def _gpu_candidates(x8: np.ndarray, t: np.ndarray, net: dict) -> dict[str, Callable[[], object]]:
    """xpnn on cupy and torch-cuda, and PyTorch's nn.Sequential on cuda, where a GPU is usable."""
    found: dict[str, Callable[[], object]] = {}
    status = xpnn.backend_status()
    if status["cupy"].available:
        gpu = xpnn.to_backend(net, "cupy")
        found["xpnn[cupy]"] = _synced(lambda: xpnn.predict(gpu, x8, normalize=True))
    if status["torch"].available:
        import torch

        if torch.cuda.is_available():
            gpu_t = xpnn.to_backend(net, "torch", "cuda")
            found["xpnn[torch-cuda]"] = _synced(lambda: xpnn.predict(gpu_t, x8, normalize=True))
            model = _sequential(net, "cuda")
            found["torch nn.Sequential (cuda)"] = _synced(lambda: _torch_predict(model, x8, "cuda"))
    return found


def _synced(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn``, returning only once its result is computed (GPUs and JAX run asynchronously)."""
    return lambda: wait(fn())


def _sequential(net: dict, device: str) -> object:
    """The book's network as PyTorch users write it: Linear + Sigmoid layers."""
    import torch

    n = len(net) // 2
    layers: list[torch.nn.Module] = []
    for i in range(1, n + 1):
        W, b = net[f"W{i}"], net[f"b{i}"]
        linear = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.Sigmoid()] if i < n else [linear]
    return torch.nn.Sequential(*layers).to(device).eval()


def _torch_predict(model: object, x8: np.ndarray, device: str) -> object:
    """Upload uint8, normalize on the device, forward, argmax: what xpnn.predict does."""
    import torch

    with torch.inference_mode():
        x = torch.from_numpy(x8).to(device).to(torch.float32) / 255.0
        return model(x).argmax(dim=1)  # type: ignore[operator]


@section
def mnist_infer(args: argparse.Namespace) -> dict:
    """The 10k MNIST test set through the book's network: the book's code, NumPy, xpnn, PyTorch."""
    x8, t, net = _mnist_or_exit()
    x = x8.astype(np.float32) / np.float32(255)
    W1, W2, W3 = net["W1"], net["W2"], net["W3"]
    placed = xpnn.to_backend(net, "numpy")

    def book_batches(batch_size: int) -> np.ndarray:
        return np.concatenate(
            [
                np.argmax(book_forward(net, x[i : i + batch_size]), axis=1)
                for i in range(0, len(x), batch_size)
            ]
        )

    a1, a2 = x @ W1, (x @ W1) @ W2  # activations of the hidden layers' shapes, (10k, 50) and (10k, 100)
    candidates: dict[str, Callable[[], object]] = {
        "book per-image loop": lambda: book_batches(1),
        "book batch-100": lambda: book_batches(100),
        "hand-written NumPy, one 10k batch (baseline)": lambda: np.argmax(book_forward(net, x), axis=1),
        "bare matmul chain": lambda: x @ W1 @ W2 @ W3,
        "the tanh calls alone (1.5M elements)": lambda: (np.tanh(a1), np.tanh(a2)),
        "xpnn[numpy] predict(x float32)": lambda: xpnn.predict(placed, x),
        "xpnn[numpy] predict(x uint8, normalize=True)": lambda: xpnn.predict(placed, x8, normalize=True),
    }
    status = xpnn.backend_status()
    if status["torch"].available:
        import torch

        on_torch = xpnn.to_backend(net, "torch", "cpu")
        candidates["xpnn[torch] predict(x uint8, normalize=True)"] = lambda: xpnn.predict(
            on_torch, x8, normalize=True
        )
        model = _sequential(net, "cpu")
        candidates["torch nn.Sequential (cpu)"] = lambda: _torch_predict(model, x8, "cpu")
        torch.set_num_threads(os.cpu_count() or 1)
    if status["jax"].available:
        on_jax = xpnn.to_backend(net, "jax")
        candidates["xpnn[jax] predict(x uint8, normalize=True)"] = _synced(
            lambda: xpnn.predict(on_jax, x8, normalize=True)
        )
    candidates.update(_gpu_candidates(x8, t, net))
    # every candidate must agree with the book before its time means anything
    reference = np.asarray(book_batches(100))
    for name, fn in candidates.items():
        if name not in ("bare matmul chain", "the tanh calls alone (1.5M elements)"):
            assert np.array_equal(xpnn.to_numpy(fn()), reference), f"{name} disagrees with the book's code"
    times = interleaved(candidates, number=args.number or 1, rounds=args.rounds or 15)
    base, chain = times["hand-written NumPy, one 10k batch (baseline)"], times["bare matmul chain"]
    rows = [
        {
            "code": k,
            "ms": f"{v * 1e3:.1f}",
            "images/s": f"{len(x) / v:,.0f}",
            "ratio": f"{v / base:.2f}×",
            "vs matmul chain": f"{v / chain:.2f}×",
        }
        for k, v in times.items()
    ]
    return {
        "title": "MNIST test set (10,000 images), book's network: medians, ratio to hand-written NumPy",
        "target": "xpnn[numpy] ≤ 1.0× hand-written NumPy, ≤ 1.5× the bare matmul chain",
        "times_s": times,
        "markdown": table(rows, ["code", "ms", "images/s", "ratio", "vs matmul chain"]),
    }


@section
def batch_sweep(args: argparse.Namespace) -> dict:
    """Images/s against batch size, per backend (the 10k test set, uint8 in, classes out); a PNG plot."""
    x8, _, net = _mnist_or_exit()
    sizes = [10, 100, 1000, 10_000]
    backends = [b for b in ("numpy", "torch", "jax", "cupy") if xpnn.backend_status()[b].available]
    candidates: dict[str, Callable[[], object]] = {}
    for name in backends:
        placed = xpnn.to_backend(net, name)
        for size in sizes:
            fn = lambda placed=placed, size=size: xpnn.predict(placed, x8, batch_size=size, normalize=True)  # noqa: E731
            candidates[f"{name}|{size}"] = _synced(fn)
    times = interleaved(candidates, number=args.number or 1, rounds=args.rounds or 5)
    rates = {k: len(x8) / v for k, v in times.items()}
    rows = [
        {"batch size": f"{size:,}", **{b: f"{rates[f'{b}|{size}']:,.0f}" for b in backends}} for size in sizes
    ]
    plot = _plot_sweep(rates, backends, sizes, args.out / "batch-sweep.png")
    return {
        "title": "Images/s against batch size (10,000 MNIST test images, uint8 in, normalized on the device)",
        "target": "(a picture of where batching stops paying)",
        "times_s": times,
        "markdown": table(rows, ["batch size", *backends])
        + f"\n\n![images/s against batch size]({plot.name})",
    }


def _plot_sweep(rates: dict[str, float], backends: list[str], sizes: list[int], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=110)
    ax = fig.add_subplot()
    for b in backends:
        ax.plot(sizes, [rates[f"{b}|{s}"] for s in sizes], marker="o", label=f"xpnn[{b}]")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("images/s")
    ax.set_title(f"xpnn.predict, 10k MNIST images, {os.cpu_count()} CPU cores", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path


STREAM = """
import json, sys
import numpy as np, xpnn

def peak_rss():
    # VmHWM: this process's peak resident set (ru_maxrss would carry the parent's peak over exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

n, batch = int(sys.argv[1]), int(sys.argv[2])
net = xpnn.to_backend(xpnn.load_sample_network(), "numpy")
xpnn.predict(net, np.zeros((10, 784), np.uint8), normalize=True)
before = peak_rss()
x = np.empty((n, 784), np.uint8)
rng = np.random.default_rng(0)
for i in range(0, n, 100_000):
    x[i : i + 100_000] = rng.integers(0, 256, x[i : i + 100_000].shape, dtype=np.uint8)
with_input = peak_rss()
pred = xpnn.predict(net, x, batch_size=batch, normalize=True)
peak = peak_rss()
print(json.dumps({"before": before, "input": x.nbytes, "with_input": with_input, "peak": peak, "n": len(pred)}))
"""


@section
def stream_memory(args: argparse.Namespace) -> dict:
    """Peak RSS of a streamed predict of 1,000,000 synthetic uint8 images, batch 10,000 (NumPy)."""
    import subprocess

    _mnist_or_exit()
    n, batch = 1_000_000, 10_000
    out = subprocess.run(
        [sys.executable, "-c", STREAM, str(n), str(batch)], capture_output=True, text=True, check=True
    )
    m = json.loads(out.stdout)
    over = m["peak"] - m["before"] - m["input"]
    mib = 2**20
    rows = [
        {"measure": "input array (uint8)", "MiB": f"{m['input'] / mib:,.0f}"},
        {
            "measure": "RSS before the input (Python, NumPy, xpnn, weights)",
            "MiB": f"{m['before'] / mib:,.0f}",
        },
        {"measure": "peak RSS during predict", "MiB": f"{m['peak'] / mib:,.0f}"},
        {"measure": "peak above the input and the baseline", "MiB": f"{over / mib:,.0f}"},
    ]
    return {
        "title": f"Streamed predict of {n:,} images, batch {batch:,}, NumPy: memory",
        "target": "peak RSS ≤ input + 256 MB (above the interpreter's baseline)",
        "measurements_bytes": m,
        "met": over <= 256e6,
        "markdown": table(rows, ["measure", "MiB"]),
    }


@section
def dask_scale(args: argparse.Namespace) -> dict:
    """Dask: 1,000,000 synthetic images made on the workers, 1 and 2 worker processes; client memory."""
    import subprocess

    _mnist_or_exit()
    example = Path(__file__).parent.parent / "examples" / "dask_batch_inference.py"
    n = 1_000_000
    rows, seconds = [], {}
    for workers in (1, 2):
        out = subprocess.run(
            [
                sys.executable,
                str(example),
                "--workers",
                str(workers),
                "--synthetic",
                str(n),
                "--dashboard-address",
                ":0",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        fields = {
            line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out.splitlines() if ":" in line
        }
        rate = float(fields["throughput"].split()[0].replace(",", ""))
        seconds[f"{workers} workers"] = n / rate
        rows.append(
            {"workers": workers, "images/s": f"{rate:,.0f}", "client peak RSS": fields["client peak RSS"]}
        )
    base = seconds["1 workers"]
    for row, s in zip(rows, seconds.values()):
        row["speed-up"] = f"{base / s:.2f}×"
    return {
        "title": f"Dask LocalCluster, {n:,} synthetic uint8 images (747 MiB) made on the workers, chunks of 100,000",
        "target": "throughput grows with workers; the client holds none of the data",
        "times_s": seconds,
        "markdown": table(rows, ["workers", "images/s", "speed-up", "client peak RSS"]),
    }


#: fp32 peak of the H200 (SXM), without tensor cores: the roofline the GPU section reports against.
H200_FP32_FLOPS = 67e12


@section
def gpu(args: argparse.Namespace) -> dict:
    """GPU: 1,000,000 host uint8 images streamed in batches: xpnn[cupy], xpnn[torch-cuda], nn.Sequential."""
    x8, _, net = _mnist_or_exit()
    n, batch = 1_000_000, 100_000
    x = np.tile(x8, (n // len(x8), 1))
    flops = 2 * n * sum(int(net[f"W{i}"].size) for i in range(1, 4))
    candidates: dict[str, Callable[[], object]] = {}
    status = xpnn.backend_status()
    if status["cupy"].available:
        on_cupy = xpnn.to_backend(net, "cupy")
        candidates["xpnn[cupy]"] = _synced(lambda: xpnn.predict(on_cupy, x, batch_size=batch, normalize=True))
    if status["torch"].available:
        import torch

        if torch.cuda.is_available():
            on_torch = xpnn.to_backend(net, "torch", "cuda")
            candidates["xpnn[torch-cuda]"] = _synced(
                lambda: xpnn.predict(on_torch, x, batch_size=batch, normalize=True)
            )
            model = _sequential(net, "cuda")
            candidates["torch nn.Sequential (cuda, baseline)"] = _synced(
                lambda: torch.cat(
                    [_torch_predict(model, x[i : i + batch], "cuda") for i in range(0, n, batch)]
                )
            )
    if not candidates:
        why = "; ".join(f"{b}: {status[b].reason}" for b in ("cupy", "torch"))
        return {"title": "GPU", "target": "-", "markdown": f"No GPU usable here ({why}).", "times_s": {}}
    reference = np.asarray(book_forward(net, x8.astype(np.float32) / np.float32(255)).argmax(axis=1))
    for name, fn in candidates.items():
        assert np.array_equal(xpnn.to_numpy(fn())[: len(x8)], reference), (
            f"{name} disagrees with the book's code"
        )
    times = interleaved(candidates, number=args.number or 1, rounds=args.rounds or 7)
    base = times.get("torch nn.Sequential (cuda, baseline)", next(iter(times.values())))
    rows = [
        {
            "code": k,
            "ms": f"{v * 1e3:.1f}",
            "images/s": f"{n / v:,.0f}",
            "throughput vs baseline": f"{base / v:.2f}×",
            "fp32 roofline": f"{flops / v / H200_FP32_FLOPS:.1%}",
        }
        for k, v in times.items()
    ]
    return {
        "title": f"{n:,} MNIST images (host uint8, batches of {batch:,}) on the GPU, float32, transfers included",
        "target": "xpnn[cupy] ≥ 1.0× nn.Sequential on cuda in throughput",
        "times_s": times,
        "markdown": table(rows, ["code", "ms", "images/s", "throughput vs baseline", "fp32 roofline"]),
    }


def update_readme(results: Path) -> int:
    """Replace each ``<!-- name -->`` ... ``<!-- /name -->`` block of benchmarks/README.md with results/name.md."""
    import re

    readme = Path(__file__).parent / "README.md"
    text = readme.read_text()
    for md in sorted(results.glob("*.md")):
        name = md.stem
        body = md.read_text().replace("](batch-sweep.png)", "](results/batch-sweep.png)")
        pattern = re.compile(rf"(<!-- {re.escape(name)} -->\n).*?(<!-- /{re.escape(name)} -->)", re.S)
        text, count = pattern.subn(lambda m, body=body: m.group(1) + body + m.group(2), text)
        print(f"{name}: {'updated' if count else 'no block in benchmarks/README.md'}")
    readme.write_text(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="xpnn benchmarks (ratios within one run)")
    parser.add_argument("sections", nargs="*", help=f"sections to run (default: all): {', '.join(SECTIONS)}")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--number", type=int, default=0, help="calls per timing (default: per section)")
    parser.add_argument("--rounds", type=int, default=0, help="interleaved rounds (default: per section)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write JSON, markdown and PNG")
    parser.add_argument(
        "--readme",
        action="store_true",
        help="copy the results' tables into benchmarks/README.md's <!-- name --> blocks and exit",
    )
    args = parser.parse_args(argv)
    if args.readme:
        return update_readme(args.out)
    if args.list:
        for name, fn in SECTIONS.items():
            print(f"{name:14} {fn.__doc__.splitlines()[0] if fn.__doc__ else ''}")
        return 0
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine()
    for name in args.sections or list(SECTIONS):
        print(f"## {name}", flush=True)
        result = SECTIONS[name](args)
        result["machine"] = info
        result["command"] = f"python benchmarks/bench.py {name}"
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        md = f"### {result['title']}\n\nTarget: {result['target']}\n\n{result['markdown']}\n\n"
        md += f"`{result['command']}` on {info['cores']} cores, {info.get('blas', '')}, {info['date']}\n"
        (args.out / f"{name}.md").write_text(md)
        print(md, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
