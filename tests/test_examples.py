"""The examples run as a user runs them, on each backend under test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import reference
from conftest import BOOK_ACCURACY, Case, tolerance

import xpnn

EXAMPLES = Path(__file__).parent.parent / "examples"


def run_example(
    name: str, *args: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def parse_array(line: str) -> np.ndarray:
    return np.array([float(v) for v in line.strip("[] \n").split()])


def test_three_layer_example(backend: Case) -> None:
    out = run_example("three_layer.py", *backend.cli_args).stdout.splitlines()
    net = xpnn.to_backend(xpnn.init_network(), backend.name)
    rtol = tolerance(net.dtype)
    atol = 5e-9  # NumPy prints 8 decimals
    expected = reference.forward(xpnn.init_network(), np.array([1.0, 0.5]))
    np.testing.assert_allclose(parse_array(out[1]), expected, rtol=rtol, atol=atol)
    np.testing.assert_allclose(
        parse_array(out[2]), reference.softmax(np.array([0.3, 2.9, 4.0])), rtol=rtol, atol=atol
    )


def test_three_layer_example_unusable_backend_is_one_clear_line() -> None:
    result = run_example("three_layer.py", "--backend", "no-such-backend", check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown backend 'no-such-backend'" in result.stderr


def test_mnist_inference_example(backend: Case, real_data_dir) -> None:
    out = run_example(
        "mnist_inference.py", *backend.cli_args, "--data-dir", str(real_data_dir), "--no-download"
    )
    lines = out.stdout.splitlines()
    assert lines[:2] == [f"Accuracy:{BOOK_ACCURACY}"] * 2
    assert lines[2].split() == ["X", "W1", "W2", "W3", "->", "Y"]
    assert lines[3].split() == [
        "100",
        "x",
        "784",
        "784",
        "x",
        "50",
        "50",
        "x",
        "100",
        "100",
        "x",
        "10",
        "->",
        "100",
        "x",
        "10",
    ]


def test_mnist_inference_example_without_data(tmp_path) -> None:
    result = run_example("mnist_inference.py", "--data-dir", str(tmp_path), "--no-download", check=False)
    assert result.returncode == 2
    assert (
        result.stderr.count("\n") == 1
        and "t10k-images-idx3-ubyte.gz" in result.stderr
        and str(tmp_path) in result.stderr
    )


def test_show_digits_writes_a_png_grid(real_data_dir, tmp_path) -> None:
    from PIL import Image

    out = tmp_path / "digits.png"
    result = run_example(
        "show_digits.py",
        "--data-dir",
        str(real_data_dir),
        "--out",
        str(out),
        "--count",
        "20",
        "--no-download",
    )
    assert "wrote" in result.stdout and "20 digits" in result.stdout
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 500 and image.height > 200
        pixels = np.asarray(image.convert("RGB")).astype(int)
    reds = (pixels[..., 0] > 200) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    wrong = int(result.stdout.split(", ")[1].split()[0])
    assert (reds.sum() > 0) == (wrong > 0), "misclassified digits are framed in red"


def test_gpu_batch_inference_example_on_a_cpu(real_data_dir) -> None:
    result = run_example(
        "gpu_batch_inference.py",
        "--backend",
        "numpy",
        "--n-images",
        "30000",
        "--batch-size",
        "5000",
        "--repeat",
        "1",
        "--sweep",
        "1000,5000",
        "--data-dir",
        str(real_data_dir),
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("device: numpy")
    assert f"accuracy: {BOOK_ACCURACY:.4f}" in lines, "the tiled test set keeps the test set's accuracy"
    assert any(line.startswith("throughput:") and "images/s" in line for line in lines)
    assert lines[-2].startswith("| 1,000 |") and lines[-1].startswith("| 5,000 |")


def test_gpu_batch_inference_example_without_a_gpu_is_one_line(tmp_path) -> None:
    if xpnn.backend_status()["cupy"].available:
        pytest.skip("CuPy is usable here")
    result = run_example("gpu_batch_inference.py", "--data-dir", str(tmp_path), check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--backend numpy" in result.stderr


def test_gpu_batch_inference_reduced_dtype_on_cpu_is_refused(tmp_path) -> None:
    result = run_example(
        "gpu_batch_inference.py",
        "--backend",
        "numpy",
        "--dtype",
        "float16",
        "--data-dir",
        str(tmp_path),
        check=False,
    )
    assert result.returncode == 2 and "for GPU backends" in result.stderr
