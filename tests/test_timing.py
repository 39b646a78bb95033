"""xpnn._timing: what the command, the examples and the benchmarks time and print with."""

from __future__ import annotations

import resource
import statistics

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
    from xpnn._compat import device

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
