"""The backend registry: names, availability, errors, and what ``import xpnn`` imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import Case

import xpnn
from xpnn._backend_names import BACKENDS


def test_the_one_list() -> None:
    assert xpnn.BACKENDS == BACKENDS
    assert set(xpnn.backend_status()) == set(BACKENDS)


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known backends: numpy, cupy, torch, jax, dask, array_api_strict"):
        xpnn.forward(xpnn.init_network(), [1.0, 0.5], backend="tensorflow")


def test_status_gives_a_reason_for_every_unusable_backend() -> None:
    for status in xpnn.backend_status().values():
        assert status.reason
        assert status.available == (status.reason == "usable")
    assert "numpy" in xpnn.available_backends()


def test_status_of_named_backends_imports_only_those() -> None:
    result = _run(
        """
        import sys, xpnn
        status = xpnn.backend_status(["numpy", "array_api_strict"])
        assert list(status) == ["numpy", "array_api_strict"], status
        print(sorted(m for m in ("torch", "jax", "dask", "cupy") if m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert xpnn.backend_status(["numpy"])["numpy"] == xpnn.backend_status()["numpy"]
    with pytest.raises(ValueError, match="^unknown backend 'tensorflow': choose from numpy, cupy, torch"):
        xpnn.backend_status(["numpy", "tensorflow"])


def test_auto_picks_cupy_only_when_usable() -> None:
    placed = xpnn.to_backend(xpnn.init_network(), "auto")
    expected = "cupy" if xpnn.backend_status()["cupy"].available else "numpy"
    assert placed.backend == expected


def test_to_numpy_from_every_backend(backend: Case) -> None:
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    back = xpnn.to_numpy(backend.asarray(x))
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, x)


def test_bad_device_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="only the device 'cpu'"):
        xpnn.to_backend(xpnn.init_network(), "numpy", device="cuda:0")


def _run(code: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def test_import_xpnn_imports_no_gpu_stack() -> None:
    result = _run(
        """
        import sys, xpnn
        xpnn.forward(xpnn.init_network(), [1.0, 0.5])
        print(sorted(m for m in ("cupy", "torch", "jax", "dask") if m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cupy_without_a_driver_fails_with_the_reason(tmp_path: Path) -> None:
    """CuPy imports fine where there is no driver; the probe's test computation must catch it."""
    fake = tmp_path / "cupy"
    (fake / "cuda").mkdir(parents=True)
    (fake / "__init__.py").write_text("from . import cuda\n")
    (fake / "cuda" / "__init__.py").write_text(
        textwrap.dedent(
            """
            class CUDARuntimeError(RuntimeError):
                pass
            class Device:
                def __init__(self, i=0):
                    self.id = i
            class runtime:
                @staticmethod
                def getDeviceCount():
                    raise CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
            """
        )
    )
    result = _run(
        """
        import xpnn
        try:
            xpnn.forward(xpnn.init_network(), [1.0, 0.5], backend="cupy")
        except xpnn.BackendUnavailableError as e:
            print(e)
        else:
            raise SystemExit("no error")
        print(xpnn.to_backend(xpnn.init_network(), "auto").backend)
        """,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    message, auto = result.stdout.strip().splitlines()
    assert "backend 'cupy' is not usable here" in message
    assert "cudaErrorInsufficientDriver" in message and "nvidia-smi" in message
    assert auto == "numpy"


def test_missing_backend_error_says_how_to_install() -> None:
    status = xpnn.backend_status()["cupy"]
    if status.available:
        pytest.skip("CuPy is usable here")
    fix = r"`pip install cupy-cuda12x`" if "not installed" in status.reason else "driver"
    with pytest.raises(xpnn.BackendUnavailableError, match=rf"not usable here: .*{fix}"):
        xpnn.forward(xpnn.init_network(), [1.0, 0.5], backend="cupy")
