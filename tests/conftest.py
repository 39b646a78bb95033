"""The backend fixture: every test that takes ``backend`` runs once per backend (and device).

``XPNN_TEST_BACKENDS`` (comma-separated names from ``xpnn.BACKENDS``) chooses the set; each nox
session sets it to its one backend. A backend named there that cannot be used here fails the
run at start, except a GPU backend on a machine without a GPU, which skips with the reason
unless ``XPNN_REQUIRE_GPU=1``. Without the variable, every backend is tried and the ones not
installed here skip with the reason.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np
import pytest

import xpnn
from xpnn.backends import BACKENDS, GPU_BACKENDS, TABLE, Backend, get_backend

#: Extra (backend, device) cases beyond each backend's default device.
EXTRA_DEVICES = {"array_api_strict": ["device1"]}


def _requested() -> tuple[list[str], bool]:
    env = os.environ.get("XPNN_TEST_BACKENDS", "").strip()
    if not env:
        return list(BACKENDS), False
    names = [n.strip() for n in env.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise pytest.UsageError(f"XPNN_TEST_BACKENDS names unknown backends {unknown}; known: {BACKENDS}")
    return names, True


REQUESTED, STRICT = _requested()
#: ``compile(net, "jax")`` is tested in the JAX session, and wherever ``XPNN_TEST_COMPILE_JAX=1``
#: asks for it (``nox -s mutation``, whose tests run on NumPy and array-api-strict only).
COMPILE_JAX = "jax" in REQUESTED or os.environ.get("XPNN_TEST_COMPILE_JAX") == "1"
#: ``XPNN_TEST_DEVICE`` runs every requested backend on that device instead of its default one
#: (``XPNN_TEST_BACKENDS=torch XPNN_TEST_DEVICE=cuda``: the GPU checks of PyTorch and JAX).
TEST_DEVICE = os.environ.get("XPNN_TEST_DEVICE", "").strip() or None
CASES = [(name, TEST_DEVICE) for name in REQUESTED] + [
    (name, device) for name in REQUESTED for device in EXTRA_DEVICES.get(name, []) if TEST_DEVICE is None
]


def pytest_report_header(config: pytest.Config) -> list[str]:
    status = xpnn.backend_status(REQUESTED)  # not all: importing PyTorch or JAX here starts threads
    lines = [f"xpnn backends requested: {', '.join(REQUESTED)} ({'required' if STRICT else 'if installed'})"]
    lines += [
        f"  {n}: {status[n].reason}" + (f" ({status[n].version})" if status[n].version else "")
        for n in REQUESTED
    ]
    return lines


def pytest_sessionstart(session: pytest.Session) -> None:
    """A session that asks for a backend it cannot use fails here, loudly, before any test."""
    if not STRICT:
        return
    status = xpnn.backend_status(REQUESTED)
    require_gpu = os.environ.get("XPNN_REQUIRE_GPU") == "1"
    broken = [
        f"{name}: {status[name].reason}"
        for name in REQUESTED
        if not status[name].available and (require_gpu or name not in GPU_BACKENDS)
    ]
    if broken:
        raise pytest.UsageError("requested backends are not usable here: " + "; ".join(broken))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that takes no ``backend`` runs once, in the NumPy session (any run whose backends
    include NumPy), not again in every backend's session: it computes on NumPy whatever the
    session. ``@pytest.mark.sessions("jax", ...)`` runs it in those backends' sessions too (what
    needs that backend's library installed: compile to JAX, the estimator on PyTorch inputs, a
    README block that uses Dask). Tests that take ``backend`` run in every session, per backend.
    """
    keep, dropped = [], []
    for item in items:
        named = [n for mark in item.iter_markers("sessions") for n in mark.args]
        unknown = sorted(set(named) - set(BACKENDS))
        if unknown or any(not mark.args for mark in item.iter_markers("sessions")):
            raise pytest.UsageError(
                f"{item.nodeid}: sessions names {unknown or 'no backend'}; known: {BACKENDS}"
            )
        runs = "backend" in getattr(item, "fixturenames", ()) or "numpy" in REQUESTED
        (keep if runs or set(named) & set(REQUESTED) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@dataclass(frozen=True)
class Case:
    """One backend and device under test."""

    name: str
    xp: Any
    device: Any
    impl: Backend
    device_arg: str | None = None  # what a user would pass as --device / device=, if not the default

    @property
    def cli_args(self) -> list[str]:
        """``--backend NAME [--device D]`` for the examples and the command line."""
        return ["--backend", self.name] + (["--device", self.device_arg] if self.device_arg else [])

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        """A host array (or list) on this backend and device, optionally in ``dtype`` (a NumPy dtype).

        Made with the library's own ``asarray`` (not xpnn's conversion code, which is under test).
        """
        a = np.asarray(a, dtype=dtype)
        if self.name == "jax" and a.dtype == np.float64 and not self.has_float64():
            a = a.astype(np.float32)  # what JAX does without x64, minus its warning
        return self.xp.asarray(a, device=self.device)

    def dtype(self, name: str) -> Any:
        """This namespace's dtype called ``name``, or skip where it has none on this device."""
        available = self.xp.__array_namespace_info__().dtypes(device=self.device)
        if name in available:
            return available[name]
        if name == "float16" and hasattr(self.xp, "float16"):  # not a standard dtype, but common
            return self.xp.float16
        pytest.skip(f"{self.name} has no {name} on {self.device}")

    @property
    def default_float(self) -> Any:
        return self.xp.__array_namespace_info__().default_dtypes(device=self.device)["real floating"]

    def has_float64(self) -> bool:
        return "float64" in self.xp.__array_namespace_info__().dtypes(device=self.device)


def _case_id(param: tuple[str, Any]) -> str:
    name, device = param
    return name if device is None else f"{name}-{device}"


@pytest.fixture(scope="session", params=CASES, ids=[_case_id(c) for c in CASES])
def backend(request: pytest.FixtureRequest) -> Case:
    name, device = request.param
    try:
        impl, dev = get_backend(name, device)
    except xpnn.BackendUnavailableError as e:
        if device is not None and device == TEST_DEVICE and os.environ.get("XPNN_REQUIRE_GPU") == "1":
            pytest.fail(f"XPNN_TEST_DEVICE={device} is required here (XPNN_REQUIRE_GPU=1): {e}")
        pytest.skip(str(e))  # a strict session has already failed in pytest_sessionstart
    return Case(name, importlib.import_module(TABLE[name].namespace), dev, impl, device)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "skip_backends(*names, reason): skip the test on these backends (read by the backend fixture)",
    )
    config.addinivalue_line(
        "markers",
        "sessions(*names): a test that takes no backend runs in these backends' sessions too, not"
        " only in the NumPy session (see pytest_collection_modifyitems)",
    )


@pytest.fixture(autouse=True)
def _skip_marked_backends(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.skip_backends("dask", reason=...)``: the backend-specific skips, in one place."""
    marks = list(request.node.iter_markers("skip_backends"))
    if not marks:
        return
    for mark in marks:
        unknown = [n for n in mark.args if n not in BACKENDS]
        if unknown:  # a misspelt name would silently skip nothing
            pytest.fail(f"skip_backends names unknown backends {unknown}; known: {BACKENDS}", pytrace=False)
        if not mark.args:
            pytest.fail(f"skip_backends names no backend; name some of {BACKENDS}", pytrace=False)
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or "backend" not in callspec.params:
        pytest.fail("skip_backends marks a test that takes no backend: it would skip nothing", pytrace=False)
    name = callspec.params["backend"][0]
    for mark in marks:
        if name in mark.args:
            pytest.skip(f"{name}: {mark.kwargs.get('reason', 'not on this backend')}")


@pytest.fixture
def xp(backend: Case) -> Any:
    return backend.xp


def tolerance(dtype: Any, factor: float = 16.0) -> float:
    """A relative tolerance of ``factor`` machine epsilons of ``dtype`` (given by its name)."""
    return factor * float(np.finfo(np.dtype(str(dtype).rsplit(".", 1)[-1])).eps)


#: array-api-compat's own test of each backend's namespace (not xpnn's, which is under test).
NAMESPACE_TESTS = {
    "numpy": array_api_compat.is_numpy_namespace,
    "cupy": array_api_compat.is_cupy_namespace,
    "torch": array_api_compat.is_torch_namespace,
    "jax": array_api_compat.is_jax_namespace,
    "dask": array_api_compat.is_dask_namespace,
    "array_api_strict": array_api_compat.is_array_api_strict_namespace,
}


def host(actual: Any, case: Case) -> np.ndarray:
    """``actual`` as host NumPy, with the library's own calls (not xpnn's ``to_numpy``)."""
    if TABLE[case.name].lazy:  # Dask
        actual = actual.compute()
    if type(actual).__module__.startswith("cupy"):
        return actual.get()
    if case.name == "torch":
        return actual.detach().cpu().numpy()
    if case.name == "array_api_strict":
        return np.asarray(actual.to_device(case.xp.__array_namespace_info__().default_device()))
    return np.asarray(actual)


def assert_close(
    actual: Any, expected: np.ndarray, case: Case, *, dtype: Any = None, factor: float = 16.0
) -> None:
    """``actual`` is an array of ``case``'s namespace, on its device, of ``dtype``, close to ``expected``.

    Namespace, device and dtype are always checked: ``dtype=None`` means any real floating dtype
    of that namespace. ``expected`` is a NumPy float64 reference; the tolerance comes from
    ``actual``'s dtype.
    """
    xp = array_api_compat.array_namespace(actual)
    assert NAMESPACE_TESTS[case.name](xp), f"result is a {type(actual)}, not a {case.name} array"
    assert array_api_compat.device(actual) == case.device, (
        f"on {array_api_compat.device(actual)}, not {case.device}"
    )
    if dtype is None:
        assert xp.isdtype(actual.dtype, "real floating"), f"dtype {actual.dtype} is not real floating"
    else:
        assert actual.dtype == dtype, f"dtype {actual.dtype}, expected {dtype}"
    assert tuple(actual.shape) == expected.shape
    rtol = tolerance(actual.dtype, factor)
    np.testing.assert_allclose(host(actual, case).astype(np.float64), expected, rtol=rtol, atol=rtol)


# --- data --------------------------------------------------------------------------------------

#: The book's published result for its network on the 10,000 MNIST test images (ch. 3.6.2),
#: also stated in ../shared/data/README.md. It is the specification the real-data tests check.
BOOK_ACCURACY = 0.9352


#: The real data, named by ``XPNN_DATA_DIR`` when the test run starts. Only the tests that ask
#: for it (the ``real_data_dir`` fixture) get it: every other test runs as on a new user's
#: machine, with no data directory set (see ``_a_new_users_machine``).
REAL_DATA_DIR = os.environ.get("XPNN_DATA_DIR") or None

#: Where the test session sends plain HTTP(S) requests: a port on this machine where nothing
#: listens, so that a test that would download from the internet fails at once, here as on a
#: machine without a network. The tests' own server on 127.0.0.1 is reached directly.
REFUSING_PROXY = "http://127.0.0.1:9"


#: Under ``nox -s mutation`` mutmut calls each function through its trampoline, whose frame is
#: the first outside xpnn on the way out: there a warning names that file, not the test's line.
#: (mutmut sets MUTANT_UNDER_TEST in every run of its copy, to "" for its clean run.)
_TRAMPOLINE = os.path.join("mutmut", "mutation", "trampoline.py")


def names_the_caller(warning: Any, caller: str) -> bool:
    """Whether ``warning`` (a recorded one) names a line of ``caller``, the test's ``__file__``."""
    if "MUTANT_UNDER_TEST" in os.environ and warning.filename.endswith(_TRAMPOLINE):
        return True
    return bool(warning.filename == caller)


@pytest.fixture(autouse=True)
def _a_new_users_machine(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs as on a fresh machine: nothing of the user's data, cache or network.

    No ``XPNN_DATA_DIR``; the per-user data and cache directories (platformdirs: the XDG
    variables on Linux) and ``XPNN_CACHE_DIR`` are empty directories of the test's own; downloads
    from anywhere but the tests' local server are refused. A test that needs the real files
    takes ``real_data_dir`` and passes it on explicitly (``data_dir=``, ``--data-dir``).
    """
    monkeypatch.delenv("XPNN_DATA_DIR", raising=False)
    home = tmp_path_factory.mktemp("home")
    for variable, name in [("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")]:
        monkeypatch.setenv(variable, str(home / name))
    monkeypatch.setenv("XPNN_CACHE_DIR", str(tmp_path_factory.mktemp("xpnn-cache")))
    for variable in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(variable, REFUSING_PROXY)
    for variable in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(variable, "127.0.0.1,localhost")


@pytest.fixture(scope="session")
def real_data_dir() -> Any:
    """The ``XPNN_DATA_DIR`` of the test run when it holds the MNIST test files and the book's weights.

    Skips with the reason where they are absent; ``XPNN_REQUIRE_DATA=1`` (set by CI) makes
    that a failure instead.
    """
    from pathlib import Path

    env = REAL_DATA_DIR
    needed = [
        "mnist/t10k-images-idx3-ubyte.gz",
        "mnist/t10k-labels-idx1-ubyte.gz",
        "weights/sample_weight.pkl",
    ]
    missing = needed if not env else [n for n in needed if not (Path(env) / n).is_file()]
    if missing:
        why = f"real MNIST data not found ({'XPNN_DATA_DIR is not set' if not env else f'{env} lacks {missing}'})"
        if os.environ.get("XPNN_REQUIRE_DATA") == "1":
            pytest.fail(why + " and XPNN_REQUIRE_DATA=1")
        pytest.skip(why + "; set XPNN_DATA_DIR to a directory with mnist/ and weights/")
    return Path(env)  # type: ignore[arg-type]


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The training steps taken: a refusal must come before the first one."""
    taken: list[int] = []
    real = xpnn.Sequential.loss_and_gradient

    def counted(*args, **kwargs):
        taken.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(xpnn.Sequential, "loss_and_gradient", counted)
    return taken
