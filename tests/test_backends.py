"""The backend registry: names, availability, errors, and what ``import xpnn`` imports."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import Case

import xpnn
from xpnn.backends import BACKENDS, TABLE, Reason, Unusable, check_backend, device_of, get_backend


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


@pytest.mark.sessions("torch", "jax", "dask")  # meaningful where those libraries are installed
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


@pytest.mark.sessions("cupy")  # on a GPU machine "auto" must pick CuPy
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


#: Where the xpnn under test lives: subprocesses import the same one.
_XPNN_ROOT = str(Path(xpnn.__file__).parents[1])


def _run(code: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


@pytest.mark.sessions("torch", "jax", "dask")  # meaningful where those libraries are installed
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


def test_import_xpnn_gives_the_documented_submodules_as_attributes() -> None:
    """``import xpnn`` alone is enough for ``xpnn.layers.Affine``, ``xpnn.optimizers.Adam``, ...
    (in a fresh interpreter, so no other import has loaded them first)."""
    result = _run(
        """
        import xpnn
        names = ("functions", "inference", "layers", "nn", "optimizers", "training")
        print([n for n in names if not hasattr(xpnn, n)], xpnn.layers.Affine.__name__)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] Affine"


#: A stand-in for CuPy (a package on PYTHONPATH, in a subprocess), failing as ``FAKE_CUPY`` says:
#: the ways a real CuPy fails on a machine without a working GPU, met through xpnn's public calls.
FAKE_CUPY = """
import os
fault = os.environ["FAKE_CUPY"]
if fault == "broken_import":
    raise ImportError("libcudart.so.12: cannot open shared object file")
from . import cuda
"""
FAKE_CUPY_CUDA = """
import os
fault = os.environ["FAKE_CUPY"]
class CUDARuntimeError(RuntimeError):
    pass
class Device:
    def __init__(self, i=0):
        if fault == "no_device":
            raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
        self.id = i
    def __repr__(self):
        return f"<CUDA Device {self.id}>"
class runtime:
    @staticmethod
    def getDeviceCount():
        if fault == "needs_somelib":
            import somelib_xpnn_never_installed  # noqa: F401
        raise CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
"""

_FIX_DRIVER = "Check the device and its driver (for NVIDIA GPUs: nvidia-smi)"
_FIX_CUPY = (
    "Install it with `pip install cupy-cuda12x` (or `cupy-cuda13x`, to match your CUDA driver;"
    " in a clone of xpnn, `pip install -e '.[cuda12]'`)"
)


@pytest.mark.parametrize(
    ("fault", "code", "reason", "fix"),
    [
        (
            "no_driver",
            "probe_failed",
            "a test computation failed (CUDARuntimeError: cudaErrorInsufficientDriver: CUDA driver version"
            " is insufficient)",
            _FIX_DRIVER,
        ),
        (
            "no_device",
            "no_device",
            "its device cannot be found (CUDARuntimeError: cudaErrorNoDevice: no CUDA-capable device is"
            " detected)",
            _FIX_DRIVER,
        ),
        (
            "broken_import",
            "import_failed",
            "cupy cannot be imported (libcudart.so.12: cannot open shared object file)",
            _FIX_CUPY,
        ),
        (
            "needs_somelib",
            "not_installed",
            "somelib_xpnn_never_installed is not installed (device <CUDA Device 0> needs it)",
            _FIX_CUPY,  # a library the table does not know: the backend's own install hint
        ),
    ],
)
def test_a_broken_cupy_says_why_and_what_to_do(tmp_path: Path, fault, code, reason, fix) -> None:
    """CuPy installed but unusable (it imports fine without a driver): the reason, its code and the fix."""
    fake = tmp_path / "cupy"
    (fake / "cuda").mkdir(parents=True)
    (fake / "__init__.py").write_text(FAKE_CUPY)
    (fake / "cuda" / "__init__.py").write_text(FAKE_CUPY_CUDA)
    result = _run(
        """
        import xpnn
        from xpnn.backends import check_backend
        try:
            xpnn.forward(xpnn.init_network(), [1.0, 0.5], backend="cupy")
        except xpnn.BackendUnavailableError as e:
            print(e)
        else:
            raise SystemExit("no error")
        print(xpnn.to_backend(xpnn.init_network(), "auto").backend)
        status = xpnn.backend_status(["cupy"])["cupy"]
        print(status.available, status.code.value, status.version, status.install is None)
        print(status.reason == check_backend("cupy", None)[1].message)
        """,
        env={"PYTHONPATH": f"{tmp_path}:{_XPNN_ROOT}", "PATH": "/usr/bin:/bin", "FAKE_CUPY": fault},
    )
    assert result.returncode == 0, result.stderr
    message, auto, status, same = result.stdout.strip().splitlines()
    assert message == (
        f"backend 'cupy' is not usable here: {reason}. {fix}, or choose another backend"
        " (`xpnn backends` lists them)."
    )
    assert auto == "numpy"
    # installed, yet unusable: no version; an install hint only when installing is the fix
    assert status == f"False {code} None {code not in ('import_failed', 'not_installed')}"
    assert same == "True"


@pytest.mark.sessions("torch")
def test_a_cpu_only_pytorch_asked_for_a_gpu() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    if torch.backends.cuda.is_built():
        pytest.skip("this PyTorch is a CUDA build")
    with pytest.raises(xpnn.BackendUnavailableError) as caught:
        xpnn.asarray([1.0], backend="torch", device="cuda")
    assert str(caught.value) == (
        "backend 'torch' is not usable here: a test computation failed (AssertionError: Torch not compiled"
        " with CUDA enabled). This PyTorch is a CPU-only build: install a CUDA build"
        " (https://pytorch.org/get-started/locally/), or choose another backend (`xpnn backends` lists them)."
    )
    assert check_backend("torch", "cuda")[1].code is Reason.CPU_ONLY_BUILD
    assert check_backend("torch", "cpu") == (torch.device("cpu"), None)


def _cupy_installed() -> bool:
    return importlib.util.find_spec("cupy") is not None


@pytest.mark.skipif(_cupy_installed(), reason="CuPy is installed here")
def test_a_backend_not_installed() -> None:
    assert check_backend("cupy", None) == (
        None,
        Unusable(Reason.NOT_INSTALLED, "cupy is not installed", "cupy"),
    )
    with pytest.raises(xpnn.BackendUnavailableError) as caught:
        xpnn.asarray([1.0], backend="cupy")
    assert str(caught.value) == (
        f"backend 'cupy' is not usable here: cupy is not installed. {_FIX_CUPY}, or choose another"
        " backend (`xpnn backends` lists them)."
    )
    assert xpnn.to_backend(xpnn.init_network(), "auto").backend == "numpy"
    status = xpnn.backend_status(["cupy"])["cupy"]
    assert (status.available, status.code, status.version) == (False, Reason.NOT_INSTALLED, None)
    assert status.install == TABLE["cupy"].install


@pytest.mark.skipif(_cupy_installed(), reason="CuPy is installed here: Dask's GPU chunks may be usable")
@pytest.mark.sessions("dask")
def test_each_device_is_probed_on_its_own() -> None:
    """Dask's ``"gpu"`` device needs CuPy (another library than Dask's own); its ``"cpu"`` stays usable."""
    pytest.importorskip("dask.array", reason="dask not installed")
    assert check_backend("dask", "cpu") == ("cpu", None)
    reason = "cupy is not installed (device 'gpu' needs it)"
    assert check_backend("dask", "gpu") == (None, Unusable(Reason.NOT_INSTALLED, reason, "cupy"))
    with pytest.raises(xpnn.BackendUnavailableError) as caught:
        xpnn.asarray([1.0], backend="dask", device="gpu")
    assert str(caught.value) == (
        f"backend 'dask' is not usable here: {reason}. {_FIX_CUPY}, or choose another backend"
        " (`xpnn backends` lists them)."
    )
    assert xpnn.backend_status(["dask"])["dask"].available  # the status is of the default device


def test_missing_backend_error_says_how_to_install() -> None:
    status = xpnn.backend_status()["cupy"]
    if status.available:
        pytest.skip("CuPy is usable here")
    fix = r"`pip install cupy-cuda12x`" if status.code is Reason.NOT_INSTALLED else "driver"
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


@pytest.mark.sessions("torch", "array_api_strict")
def test_devices_by_name() -> None:
    """``device="cpu"`` is NumPy's one device; array-api-strict takes its devices by name."""
    xp = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    from xpnn.backends import get_backend

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


def test_status_is_name_usable_reason_and_the_version_of_a_usable_library() -> None:
    assert xpnn.backend_status(["numpy"]) == {
        "numpy": xpnn.BackendStatus("numpy", True, "usable", np.__version__)
    }
    for status in xpnn.backend_status().values():  # the code is there exactly when it is unusable
        assert (status.code is None) == status.available
        assert (status.install is not None) == (status.code is not None and status.code.needs_install)


def test_lazy_public_names_resolve_and_a_misspelt_name_is_an_attribute_error() -> None:
    from xpnn import export

    assert (xpnn.compile, xpnn.export_onnx) == (export.compile, export.export_onnx)
    with pytest.raises(AttributeError, match=r"^module 'xpnn' has no attribute 'complie'$"):
        xpnn.complie  # noqa: B018
    assert not hasattr(xpnn, "complie")


@pytest.mark.sessions("dask")
def test_device_of_a_dask_array() -> None:
    da = pytest.importorskip("dask.array", reason="dask not installed")

    x = da.from_array(np.ones((4, 2)), chunks=2)
    assert device_of(x) == "cpu" and xpnn.backend_of(x) == "dask"


def test_capabilities_are_on_the_rows() -> None:
    """Dask is lazy and does not train; its chunks are NumPy arrays on its ``"cpu"`` device."""
    lazy = [name for name, row in TABLE.items() if row.lazy]
    assert lazy == [name for name, row in TABLE.items() if not row.trainable] == ["dask"]
    assert [name for name, row in TABLE.items() if row.cpu_batches] == ["numpy", "torch"]
    if xpnn.backend_status(["dask"])["dask"].available:
        impl, dev = get_backend("dask")
        chunks, chunk_device = impl.arrays_on(dev)
        assert (chunks.name, chunk_device) == ("numpy", "cpu")
        with pytest.raises(ValueError, match="does not train on Dask"):
            xpnn.train(xpnn.init_network(), np.ones((2, 2)), np.eye(2), backend="dask")
    numpy, dev = get_backend("numpy")
    assert numpy.arrays_on(dev) == (numpy, "cpu")


def test_skip_backends_refuses_an_unknown_name(tmp_path: Path) -> None:
    """A misspelt name in ``skip_backends``, no name, or the mark on a test that takes no backend
    would silently skip nothing: the test fails instead."""
    (tmp_path / "conftest.py").write_text((Path(__file__).parent / "conftest.py").read_text())
    (tmp_path / "test_marks.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.skip_backends("nmupy", reason="a typo")
            def test_misspelt(backend):
                pass

            @pytest.mark.skip_backends("numpy", reason="not on NumPy")
            def test_skipped(backend):
                pass

            def test_runs(backend):
                pass

            @pytest.mark.skip_backends("numpy", reason="takes no backend")
            def test_no_backend():
                pass

            @pytest.mark.skip_backends(reason="no name")
            def test_no_name(backend):
                pass
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q", "test_marks.py"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": _XPNN_ROOT,
            "XPNN_TEST_BACKENDS": "numpy",
        },
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "1 passed, 1 skipped, 3 errors" in out, out
    assert "ERROR at setup of test_misspelt[numpy]" in out, out
    assert "ERROR at setup of test_no_name[numpy]" in out, out
    assert "skip_backends names no backend; name some of" in out, out
    assert "ERROR at setup of test_no_backend " in out, out
    assert "skip_backends marks a test that takes no backend: it would skip nothing" in out, out
    known = "('numpy', 'cupy', 'torch', 'jax', 'dask', 'array_api_strict')"
    assert f"skip_backends names unknown backends ['nmupy']; known: {known}" in out, out
    assert "numpy: not on NumPy" in out, out


def _run_marks(tmp_path: Path, backends: str, source: str) -> subprocess.CompletedProcess[str]:
    """pytest with the project's conftest on a test file of ``source``, in one backend's session."""
    (tmp_path / "conftest.py").write_text((Path(__file__).parent / "conftest.py").read_text())
    (tmp_path / "test_marks.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "test_marks.py"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": _XPNN_ROOT, "XPNN_TEST_BACKENDS": backends},
    )


SESSIONS_SOURCE = """
    import pytest

    def test_free():
        pass

    @pytest.mark.sessions("array_api_strict")
    def test_marked():
        pass

    def test_per_backend(backend):
        pass
"""


@pytest.mark.sessions("array_api_strict")
@pytest.mark.parametrize(
    ("backends", "ran"),
    [
        ("numpy", ["test_free", "test_marked", "test_per_backend[numpy]"]),
        ("array_api_strict", ["test_marked", "test_per_backend[array_api_strict]"]),
        ("numpy,array_api_strict", ["test_free", "test_marked", "test_per_backend[numpy]"]),
    ],
)
def test_a_test_without_a_backend_runs_in_the_numpy_session_and_where_marked(
    tmp_path: Path, backends: str, ran: list[str]
) -> None:
    """A test that takes no backend runs once, where NumPy is under test, and in the sessions its
    ``sessions`` mark names; a test that takes ``backend`` runs in every session."""
    if "array_api_strict" in backends and importlib.util.find_spec("array_api_strict") is None:
        pytest.skip("array-api-strict is not installed: this case runs in the tests-array_api_strict session")
    result = _run_marks(tmp_path, backends, SESSIONS_SOURCE)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = sorted(line.split("::")[1] for line in result.stdout.splitlines() if line.startswith("PASSED"))
    assert all(name in passed for name in ran), result.stdout
    assert ("test_free" in passed) == ("numpy" in backends.split(","))


def test_a_sessions_mark_with_an_unknown_name_or_none_stops_the_run(tmp_path: Path) -> None:
    """A misspelt name would silently keep a test out of the session it belongs to."""
    for mark, named in (('"jaxx"', "['jaxx']"), ("", "no backend")):
        result = _run_marks(
            tmp_path, "numpy", f"import pytest\n\n@pytest.mark.sessions({mark})\ndef test_it():\n    pass\n"
        )
        assert result.returncode == 4, result.stdout + result.stderr  # a usage error: nothing ran
        assert f"test_marks.py::test_it: sessions names {named}; known:" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("fault", "reason", "fix"),
    [
        (
            RuntimeError("the device is lost"),
            "a test computation failed (RuntimeError: the device is lost)",
            _FIX_DRIVER,
        ),
        (
            ImportError("no somelib", name="somelib_xpnn_never_installed"),
            "somelib_xpnn_never_installed is not installed (device {device!r} needs it)",
            "Install it with " + TABLE["array_api_strict"].install,  # unknown to the table: the backend's own
        ),
    ],
    ids=["probe-failed", "unknown-library"],
)
def test_a_failing_probe_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, fault, reason: str, fix: str
) -> None:
    """A backend whose test computation fails: the reason, then the fix for that kind of failure."""
    pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    from xpnn.backends import REGISTRY, probe

    def broken(device: object) -> None:
        raise fault

    monkeypatch.setattr(probe, "_PROBED", {})
    monkeypatch.setattr(REGISTRY["array_api_strict"], "probe", broken)
    device = REGISTRY["array_api_strict"].resolve_device(None)
    with pytest.raises(xpnn.BackendUnavailableError) as caught:
        get_backend("array_api_strict")
    assert str(caught.value) == (
        f"backend 'array_api_strict' is not usable here: {reason.format(device=device)}. {fix},"
        " or choose another backend (`xpnn backends` lists them)."
    )


def test_status_of_a_library_without_a_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """A usable backend whose module has no ``__version__`` is listed with version None."""
    strict = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    monkeypatch.delattr(strict, "__version__")
    status = xpnn.backend_status(["array_api_strict"])["array_api_strict"]
    assert (status.available, status.version) == (True, None)


@pytest.mark.sessions("dask")
def test_device_of_a_dask_array_on_the_gpu() -> None:
    """Dask arrays of CuPy chunks are on ``"gpu"`` (only where CuPy has a GPU)."""
    pytest.importorskip("dask.array", reason="dask not installed")
    if check_backend("dask", "gpu")[1] is not None:
        pytest.skip("Dask's GPU chunks need CuPy and a GPU")
    x = xpnn.asarray(np.ones((4, 2)), backend="dask", device="gpu")
    assert device_of(x) == "gpu" and xpnn.backend_of(x) == "dask"
