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


def test_bad_device_messages() -> None:
    """The exact messages for a device a backend does not have."""
    with pytest.raises(
        ValueError, match=r"^backend 'numpy' takes device=only the device 'cpu'; got 'cuda:0'$"
    ):
        xpnn.asarray([1.0], backend="numpy", device="cuda:0")
    with pytest.raises(
        ValueError,
        match=r"^unknown backend 'tensorflow'; known backends: numpy, cupy, torch, jax, dask, array_api_strict \(or 'auto'\)$",
    ):
        xpnn.asarray([1.0], backend="tensorflow")


def test_devices_by_name() -> None:
    """``device="cpu"`` is NumPy's one device; array-api-strict takes its devices by name."""
    xp = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    from xpnn._backends import device_of, get_backend

    assert get_backend("numpy", "cpu")[1] == "cpu"
    assert get_backend("numpy")[1] == "cpu"
    assert xpnn.to_backend(xpnn.init_network(), "numpy", device="cpu").device == "cpu"
    with pytest.raises(ValueError, match=r"^array_api_strict has no device 3$"):
        xpnn.asarray([1.0], backend="array_api_strict", device=3)
    x = xpnn.asarray([1.0, 2.0], backend="array_api_strict", device="device1")
    assert x.device == xp.Device("device1") and x.dtype == xp.float64
    assert xpnn.asarray(x, backend="array_api_strict", device="device1") is x  # already there: no copy
    y = xpnn.asarray(x, backend="array_api_strict")
    assert y.device == xp.__array_namespace_info__().default_device()
    np.testing.assert_array_equal(xpnn.to_numpy(y), [1.0, 2.0])
    assert device_of(x) == xp.Device("device1")
    assert xpnn.backend_of(x) == "array_api_strict" and xpnn.backend_of(np.zeros(1)) == "numpy"
    assert xpnn.backend_of([1.0]) is None and xpnn.backend_of(1.0) is None


def test_asarray_and_to_numpy_of_lists_and_scalars() -> None:
    """Lists and scalars become NumPy arrays (float64 for floats); a NumPy array passes through."""
    a = np.arange(3.0)
    assert xpnn.asarray(a) is a and xpnn.to_numpy(a) is a
    for value, expected in (
        ([1.0, 2.0], np.array([1.0, 2.0])),
        (3, np.array(3)),
        ([[1, 2]], np.array([[1, 2]])),
    ):
        for out in (xpnn.asarray(value), xpnn.to_numpy(value)):
            assert isinstance(out, np.ndarray) and out.dtype == expected.dtype
            np.testing.assert_array_equal(out, expected)


def test_an_unknown_array_type_is_a_type_error() -> None:
    class Tensor:
        def __array_namespace__(self, api_version=None):  # an Array API array of no known library
            return np

    with pytest.raises(
        TypeError,
        match=r"^xpnn does not know the array type test_backends\.test_an_unknown_array_type_is_a_type_error"
        r"\.<locals>\.Tensor; its backends are numpy, cupy, torch, jax, dask, array_api_strict$",
    ):
        xpnn.to_numpy(Tensor())


@pytest.mark.parametrize(
    ("where", "error", "reason", "fix"),
    [
        (
            "resolve_device",
            RuntimeError("cudaErrorNoDevice"),
            "its device cannot be found (RuntimeError: cudaErrorNoDevice)",
            "Check the device and its driver (for NVIDIA GPUs: nvidia-smi)",
        ),
        (
            "resolve_device",
            ImportError("libcudart.so.12: cannot open shared object file"),
            "array_api_strict cannot be imported (libcudart.so.12: cannot open shared object file)",
            "Install it with `pip install array-api-strict` (in a clone of xpnn, `pip install -e '.[strict]'`)",
        ),
        (
            "probe",
            AssertionError("Torch not compiled with CUDA enabled"),
            "a test computation failed (AssertionError: Torch not compiled with CUDA enabled)",
            "This PyTorch is a CPU-only build: install a CUDA build (https://pytorch.org/get-started/locally/)",
        ),
        (
            "probe",
            ImportError("No module named 'cupy.cuda'", name="cupy.cuda"),
            "cupy is not installed (device array_api_strict.Device('CPU_DEVICE') needs it)",
            "Install it with `pip install cupy-cuda12x` (or `cupy-cuda13x`, to match your CUDA driver;"
            " in a clone of xpnn, `pip install -e '.[cuda12]'`)",
        ),
        (
            "probe",
            ImportError("No module named 'somelib'", name="somelib"),
            "somelib is not installed (device array_api_strict.Device('CPU_DEVICE') needs it)",
            "Install it with `pip install array-api-strict` (in a clone of xpnn, `pip install -e '.[strict]'`)",
        ),
    ],
)
def test_unusable_backend_says_why_and_what_to_do(
    monkeypatch: pytest.MonkeyPatch, where, error, reason, fix
) -> None:
    """Each way a backend fails gives its reason and the matching fix (faults injected into an adapter)."""
    pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    from xpnn import _backends

    def fail(*args):
        raise error

    monkeypatch.setattr(_backends, "_PROBED", {})  # not the session's cached probes
    monkeypatch.setattr(_backends._REGISTRY["array_api_strict"], where, fail)
    with pytest.raises(xpnn.BackendUnavailableError) as caught:
        xpnn.asarray([1.0], backend="array_api_strict")
    assert str(caught.value) == (
        f"backend 'array_api_strict' is not usable here: {reason}. {fix}, or choose another backend"
        " (`xpnn backends` lists them)."
    )
    assert _backends.check_backend("array_api_strict", None) == (None, reason)


def test_a_backend_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from xpnn import _backends

    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    monkeypatch.setattr(_backends.importlib.util, "find_spec", lambda name: None)
    assert _backends.check_backend("cupy", None) == (None, "cupy is not installed")
    with pytest.raises(xpnn.BackendUnavailableError) as caught:
        xpnn.asarray([1.0], backend="cupy")
    assert str(caught.value).startswith(
        "backend 'cupy' is not usable here: cupy is not installed. Install it with `pip install cupy-cuda12x`"
    )
    assert xpnn.to_backend(xpnn.init_network(), "auto").backend == "numpy"


def test_status_is_name_usable_reason_and_the_version_of_a_usable_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from xpnn import _status

    assert xpnn.backend_status(["numpy"]) == {
        "numpy": xpnn.BackendStatus("numpy", True, "usable", np.__version__)
    }
    # installed and imported, yet unusable (as CuPy without a GPU driver): the reason, no version
    monkeypatch.setattr(_status, "check_backend", lambda name, device: (None, f"{name} has no device here"))
    assert xpnn.backend_status(["numpy"]) == {
        "numpy": xpnn.BackendStatus("numpy", False, "numpy has no device here", None)
    }


def test_lazy_public_names_resolve_and_a_misspelt_name_is_an_attribute_error() -> None:
    from xpnn import export

    assert (xpnn.compile, xpnn.export_onnx) == (export.compile, export.export_onnx)
    with pytest.raises(AttributeError, match=r"^module 'xpnn' has no attribute 'complie'$"):
        xpnn.complie  # noqa: B018
    assert not hasattr(xpnn, "complie")


def test_the_probe_computes_on_the_device_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """A device whose test computation fails is unusable; the library's other devices stay usable."""
    xp = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")

    from xpnn import _backends

    adapter = _backends._REGISTRY["array_api_strict"]
    upload = adapter.from_host

    def from_host(x, device):
        if device == xp.Device("device1"):
            raise RuntimeError("device1 is broken")
        return upload(x, device)

    monkeypatch.setattr(_backends, "_PROBED", {})
    monkeypatch.setattr(adapter, "from_host", from_host)
    assert _backends.check_backend("array_api_strict", None)[1] is None
    reason = "a test computation failed (RuntimeError: device1 is broken)"
    assert _backends.check_backend("array_api_strict", "device1") == (None, reason)
    with pytest.raises(
        xpnn.BackendUnavailableError, match=r"^backend 'array_api_strict' is not usable here: a test"
    ):
        xpnn.asarray([1.0], backend="array_api_strict", device="device1")


def test_device_of_a_dask_array() -> None:
    da = pytest.importorskip("dask.array", reason="dask not installed")
    from xpnn._backends import device_of

    x = da.from_array(np.ones((4, 2)), chunks=2)
    assert device_of(x) == "cpu" and xpnn.backend_of(x) == "dask"
