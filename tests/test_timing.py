"""xpnn._timing: what the command, the examples and the benchmarks time and print with."""

from __future__ import annotations

import io
import resource
import statistics
import sys
import types

import numpy as np
import pytest
from conftest import Case

from xpnn import _timing


class _FakeCupyDevice:
    """Stands in for ``cupy.cuda.Device``: only its module name and ``synchronize`` matter."""

    __module__ = "cupy.cuda.device"

    def __init__(self) -> None:
        self.synchronized = 0

    def synchronize(self) -> None:
        self.synchronized += 1


def test_synchronize_waits_on_a_cupy_device_and_ignores_the_cpu() -> None:
    gpu = _FakeCupyDevice()
    _timing.synchronize(gpu)
    assert gpu.synchronized == 1
    _timing.synchronize("cpu")  # NumPy's device: nothing to wait for, no error


class _FakeTorchDevice:
    """Stands in for ``torch.device``: its module name and ``type`` are what ``synchronize`` reads."""

    __module__ = "torch"

    def __init__(self, kind: str) -> None:
        self.type = kind


def test_synchronize_waits_on_a_cuda_torch_device_only(monkeypatch: pytest.MonkeyPatch) -> None:
    synchronized: list[object] = []
    fake_torch = types.SimpleNamespace(cuda=types.SimpleNamespace(synchronize=synchronized.append))
    monkeypatch.setitem(sys.modules, "torch", fake_torch)  # what `import torch` inside finds
    gpu = _FakeTorchDevice("cuda")
    _timing.synchronize(gpu)
    assert synchronized == [gpu]  # that device, not the current one
    _timing.synchronize(_FakeTorchDevice("cpu"))  # a CPU tensor: nothing queued
    _timing.synchronize(types.SimpleNamespace(type="cuda"))  # "cuda", but not PyTorch's device
    assert synchronized == [gpu]


class _FakeArray:
    def __init__(self, device: str) -> None:
        self.device = device
        self.blocked = 0

    def block_until_ready(self) -> _FakeArray:
        self.blocked += 1
        return self


@pytest.mark.parametrize("kind", ["jax", "cupy", "torch"])
def test_wait_blocks_a_jax_array_and_synchronizes_a_gpu_arrays_device(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    synchronized: list[object] = []
    monkeypatch.setattr(_timing, "synchronize", synchronized.append)
    for test in ("is_jax_array", "is_cupy_array", "is_torch_array"):
        is_kind = test == f"is_{kind}_array"
        monkeypatch.setattr(_timing, test, lambda a, is_kind=is_kind: is_kind and isinstance(a, _FakeArray))
    x = _FakeArray("cuda:1")
    assert _timing.wait(x) is x
    assert (x.blocked, synchronized) == ((1, []) if kind == "jax" else (0, ["cuda:1"]))
    other = object()
    assert _timing.wait(other) is other and synchronized == ([] if kind == "jax" else ["cuda:1"])


def test_wait_returns_the_array_itself(backend: Case) -> None:
    x = backend.asarray(np.arange(6.0, dtype=np.float32))
    assert _timing.wait(x) is x


def test_timed_is_the_median_of_the_runs_and_returns_the_last_result(monkeypatch: pytest.MonkeyPatch) -> None:
    # three runs taking 3, 1 and 2 clock units: the median is 2, not the mean or the last
    ticks = iter([10.0, 13.0, 20.0, 21.0, 30.0, 32.0])
    monkeypatch.setattr(_timing.time, "perf_counter", lambda: next(ticks))
    calls = []
    seconds, result = _timing.timed(lambda: calls.append(len(calls)) or len(calls), repeat=3)
    assert (seconds, result, calls) == (2.0, 3, [0, 1, 2])
    assert seconds == statistics.median([3.0, 1.0, 2.0])


def test_timed_runs_once_by_default() -> None:
    calls = []
    seconds, result = _timing.timed(lambda: calls.append(1) or "done")
    assert (result, calls) == ("done", [1]) and seconds >= 0.0


def test_describe_device(backend: Case) -> None:
    from xpnn.backends.compat import device

    dev = device(backend.asarray(np.zeros(2, dtype=np.float32)))
    described = _timing.describe_device(backend.name, dev)
    if backend.name == "cupy" or getattr(dev, "type", None) == "cuda":
        assert described.startswith("cuda:") and described.endswith(")"), described  # with the GPU's name
    else:
        assert described == str(dev)


def test_peak_rss_is_this_process_in_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    grown = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB touched: the peak is at least that
    peak = _timing.peak_rss_mib()
    assert peak >= 64 and peak == pytest.approx(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rel=0.1
    )
    del grown

    def no_proc(*args: object, **kwargs: object) -> None:
        raise OSError("no /proc here")

    monkeypatch.setattr(_timing, "open", no_proc, raising=False)  # as on macOS: getrusage instead
    assert _timing.peak_rss_mib() == pytest.approx(peak, rel=0.1)


_PROC_STATUS = "Name:\tpython\nVmPeak:\t  999999 kB\nVmHWM:\t  204800 kB\nVmRSS:\t    1024 kB\n"


@pytest.mark.parametrize(
    "platform, proc, ru_maxrss, mib",
    [
        ("linux", True, 3 * 1024, 200.0),  # VmHWM (kB), not VmPeak or VmRSS
        ("linux", False, 3 * 1024, 3.0),  # no /proc: getrusage, in kB on Linux
        ("darwin", False, 3 * 2**20, 3.0),  # getrusage in bytes on macOS
    ],
)
def test_peak_rss_reads_vmhwm_else_getrusage_in_its_units(
    platform: str, proc: bool, ru_maxrss: int, mib: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_open(path: str, *args: object, **kwargs: object) -> io.StringIO:
        if proc and path == "/proc/self/status":
            return io.StringIO(_PROC_STATUS)
        raise FileNotFoundError(2, "No such file or directory", path)

    monkeypatch.setattr(_timing, "open", fake_open, raising=False)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(resource, "getrusage", lambda who: types.SimpleNamespace(ru_maxrss=ru_maxrss))
    assert _timing.peak_rss_mib() == mib
