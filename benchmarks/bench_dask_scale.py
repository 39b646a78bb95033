"""Benchmark: Dask: 1,000,000 synthetic images made on the workers, 1 and 2 worker processes; client memory.

python benchmarks/bench.py dask-scale
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from harness import (
    mnist_or_exit,
    table,
)


def run(args: argparse.Namespace) -> dict:
    """Dask: 1,000,000 synthetic images made on the workers, 1 and 2 worker processes; client memory."""

    mnist_or_exit()
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
