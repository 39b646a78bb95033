"""The examples run as a user runs them, on each backend under test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import reference
from conftest import Case, tolerance

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
