"""The ``xpnn`` command: output, and one clear line with exit status 2 for user errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BOOK_ACCURACY, Case

import xpnn


def xpnn_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "xpnn.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_backends_lists_every_backend_with_a_reason() -> None:
    result = xpnn_cli("backends")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(xpnn.BACKENDS)
    for line in lines:
        name, usable, *reason = line.split()
        assert usable in ("yes", "no") and reason
        assert (usable == "yes") == xpnn.backend_status()[name].available


def test_mnist_prints_the_books_accuracy(backend: Case, real_data_dir: Path) -> None:
    result = xpnn_cli("mnist", *backend.cli_args, "--data-dir", str(real_data_dir), "--no-download")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first == f"Accuracy:{BOOK_ACCURACY}"
    assert "10000 images in" in second and "images/s" in second


def test_missing_data_is_one_line_and_status_2(tmp_path: Path) -> None:
    result = xpnn_cli("mnist", "--data-dir", str(tmp_path), "--no-download")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "t10k-images-idx3-ubyte.gz" in result.stderr and str(tmp_path) in result.stderr


@pytest.mark.parametrize(
    "args, message", [(["--backend", "tensorflow"], "unknown backend"), (["--batch-size", "0"], "batch_size")]
)
def test_bad_arguments_are_one_line(args: list[str], message: str, real_data_dir: Path) -> None:
    result = xpnn_cli("mnist", *args, "--data-dir", str(real_data_dir), "--no-download")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_unusable_backend_is_one_line(tmp_path: Path) -> None:
    if xpnn.backend_status()["cupy"].available:
        pytest.skip("CuPy is usable here")
    result = xpnn_cli("mnist", "--backend", "cupy", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("xpnn: error: backend 'cupy' is not usable here")
    assert result.stderr.count("\n") == 1
