"""The benchmark script runs from a fresh clone and writes its JSON, markdown and plot.

Only that it runs and what it writes are tested here: speed is read from its output, never
asserted in a unit test.
"""

from __future__ import annotations

import importlib.util
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


def _train_convnet(tmp_path: Path, real_data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            str(BENCH.parent / "train_convnet.py"),
            *args,
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ, XPNN_DATA_DIR=str(real_data_dir)),
    )


def test_train_convnet_benchmark_times_each_pair_after_checking_its_losses(
    tmp_path: Path, real_data_dir: Path
) -> None:
    """benchmarks/train_convnet.py (issue 20), on one mini-batch: every candidate's loss is the
    book's before it is timed, and each xpnn row has its ratio to its peer."""
    result = _train_convnet(tmp_path, real_data_dir, "--batches", "1", "--rounds", "1")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "train-convnet.json").read_text())
    expected = {"xpnn[numpy] train_network (float64)": "book's NumPy code (baseline)"}
    torch_here = importlib.util.find_spec("torch") is not None
    if torch_here:
        expected["xpnn[torch] train_network (float32)"] = "PyTorch eager nn.Sequential + optim.Adam (float32)"
    assert data["pairs"] == expected
    assert set(data["times_s"]) == {*expected, *expected.values()}
    assert all(t > 0 for t in data["times_s"].values())
    book = data["first_losses"]["book's NumPy code (baseline)"]
    assert 2.0 < book < 2.5  # ln 10 at the start, from weights of std 0.01
    assert all(abs(v - book) <= 1e-4 * book for v in data["first_losses"].values())
    assert "× book's NumPy code (baseline)" in (tmp_path / "train-convnet.md").read_text()


def test_train_convnet_accuracy_mode_trains_each_candidate_once(tmp_path: Path, real_data_dir: Path) -> None:
    args = ("--accuracy", "--train-size", "100", "--test-size", "100", "--book")
    result = _train_convnet(tmp_path, real_data_dir, *args)
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "train-convnet-accuracy.json").read_text())["rows"]
    names = ["xpnn[numpy] (float32)", "book's NumPy code (float64, same init)"]
    if importlib.util.find_spec("torch") is not None:
        names[1:1] = ["PyTorch eager (float32, same init)", "xpnn[torch] (float32)"]
    assert [r["code"] for r in rows] == names
    assert all(0.0 <= r["test acc"] <= 1.0 and 2.0 < r["loss"] < 2.5 for r in rows)
    xpnn_numpy, book = rows[0], rows[-1]  # one batch from the same weights: the same loss
    assert abs(xpnn_numpy["loss"] - book["loss"]) < 1e-4
    assert "| xpnn[numpy] (float32) |" in (tmp_path / "train-convnet-accuracy.md").read_text()


def test_train_convnet_benchmark_refuses_a_bad_count(tmp_path: Path) -> None:
    result = _train_convnet(tmp_path, tmp_path, "--batches", "0")
    assert result.returncode == 2 and "--batches must be a positive integer; got 0" in result.stderr
