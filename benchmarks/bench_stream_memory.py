"""Benchmark: peak RSS of a streamed predict of 1,000,000 synthetic uint8 images, batch 10,000 (NumPy).

python benchmarks/bench.py stream-memory
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from harness import (
    mnist_or_exit,
    table,
)

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


def run(args: argparse.Namespace) -> dict:
    """Peak RSS of a streamed predict of 1,000,000 synthetic uint8 images, batch 10,000 (NumPy)."""

    mnist_or_exit()
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
