"""The benchmark script runs from a fresh clone and writes its JSON, markdown and plot.

Only that it runs and what it writes are tested here: speed is read from its output, never
asserted in a unit test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REQUESTED

BENCH = Path(__file__).parent.parent / "benchmarks" / "bench.py"
pytestmark = pytest.mark.skipif(REQUESTED[:1] != ["numpy"], reason="runs once, in the NumPy session")


def bench(*args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run bench.py; ``data_dir`` is handed to it as ``XPNN_DATA_DIR`` (the tests run with none)."""
    env = dict(os.environ, **({"XPNN_DATA_DIR": str(data_dir)} if data_dir else {}))
    return subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=600, check=False, env=env
    )


def test_toy_section_writes_json_and_markdown(tmp_path: Path) -> None:
    result = bench("toy", "--rounds", "2", "--number", "50", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "toy.json").read_text())
    assert set(data["times_s"]) >= {"book NumPy forward (baseline)", "xpnn.forward(dict, x)"}
    assert all(t > 0 for t in data["times_s"].values())
    assert "| code |" in (tmp_path / "toy.md").read_text()


def test_batch_sweep_writes_a_plot(tmp_path: Path, real_data_dir: Path) -> None:
    result = bench("batch-sweep", "--rounds", "1", "--out", str(tmp_path), data_dir=real_data_dir)
    assert result.returncode == 0, result.stderr
    png = (tmp_path / "batch-sweep.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_unknown_section() -> None:
    result = bench("nope")
    assert result.returncode == 2 and "unknown sections" in result.stderr


def test_compiled_benchmark_writes_its_table_and_plot(tmp_path: Path, real_data_dir: Path) -> None:
    """benchmarks/compiled.py (issue 11): every row agrees with the book before it is timed."""
    from test_export import _need

    _need("onnxruntime")
    _need("ndonnx")
    script = BENCH.parent / "compiled.py"
    result = subprocess.run(
        [sys.executable, str(script), "--rounds", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ, XPNN_DATA_DIR=str(real_data_dir)),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "compiled.json").read_text())
    assert "onnxruntime, hand-built Gemm + Sigmoid graph" in data["peers"]
    assert "xpnn.compile(net, 'onnxruntime'): predict" in data["times_s"]
    assert "vs best peer" in (tmp_path / "compiled.md").read_text()
    assert (tmp_path / "compiled.png").read_bytes().startswith(b"\x89PNG")
