"""predict, predict_proba, accuracy: batching, labels, and the book's accuracy on every backend."""

from __future__ import annotations

import warnings
from pathlib import Path

import array_api_compat
import numpy as np
import pytest
import reference
from conftest import BOOK_ACCURACY, Case, assert_close, host

import xpnn


@pytest.fixture(scope="module")
def problem() -> tuple[dict, np.ndarray, np.ndarray]:
    net = reference.random_network((12, 8, 5), np.float32, seed=7)
    rng = np.random.default_rng(8)
    x = rng.integers(0, 256, (53, 12), dtype=np.uint8)  # 53: a partial last batch for every size below
    t = rng.integers(0, 5, 53)
    return net, x, t


@pytest.mark.parametrize("batch_size", [None, 1, 10, 53, 1000])
def test_predict_matches_reference_for_every_batch_size(backend: Case, problem, batch_size) -> None:
    net, x, _ = problem
    y = xpnn.predict(
        net, x, batch_size=batch_size, backend=backend.name, device=backend.device, normalize=True
    )
    ref = reference.forward(net, x.astype(np.float32) / np.float32(255))
    assert xpnn.backend_of(y) == backend.name
    np.testing.assert_array_equal(xpnn.to_numpy(y), ref.argmax(axis=1))


def test_predict_proba(backend: Case, problem) -> None:
    net, x, _ = problem
    p = xpnn.predict_proba(net, backend.asarray(x), batch_size=20, normalize=True)
    ref = reference.forward(net, x / 255.0, output=reference.softmax)
    assert_close(p, ref, backend, dtype=backend.dtype("float32"), factor=64)


def test_accuracy_with_integer_and_one_hot_labels(backend: Case, problem) -> None:
    net, x, t = problem
    expected = float(np.mean(reference.forward(net, x / 255.0).argmax(axis=1) == t))
    for labels in (t, np.eye(5)[t], backend.asarray(t)):
        for batch_size in (None, 7):
            got = xpnn.accuracy(
                net,
                x,
                labels,
                batch_size=batch_size,
                backend=backend.name,
                device=backend.device,
                normalize=True,
            )
            assert isinstance(got, float)
            assert got == expected


def test_label_count_must_match(problem) -> None:
    net, x, t = problem
    with pytest.raises(ValueError, match=r"53 inputs but labels of shape \(52,\)"):
        xpnn.accuracy(net, x, t[:-1], normalize=True)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        xpnn.predict(net, x, batch_size=0, normalize=True)


def test_books_accuracy_per_image_and_batched(backend: Case, real_data_dir: Path) -> None:
    """Accuracy 0.9352, batched on the full test set and per image on a slice (vs the book's code)."""
    x, t = xpnn.load_mnist(split="test", data_dir=real_data_dir, download=False)
    network = xpnn.to_backend(
        xpnn.load_sample_network(real_data_dir, download=False), backend.name, backend.device
    )
    weights = network.to_numpy()
    book = reference.book_predict(weights, x)  # the book's NumPy float32 code
    assert float(np.mean(book == t)) == BOOK_ACCURACY
    x_dev, t_dev = backend.asarray(x), backend.asarray(t)
    for batch_size in (100, None):
        assert xpnn.accuracy(network, x_dev, t_dev, batch_size=batch_size) == BOOK_ACCURACY
    np.testing.assert_array_equal(xpnn.to_numpy(xpnn.predict(network, x_dev, batch_size=100)), book)
    n = 300
    per_image = xpnn.accuracy(network, x_dev[:n, ...], t_dev[:n], batch_size=1)
    assert per_image == float(np.mean(book[:n] == t[:n]))


@pytest.mark.skip_backends("dask", reason="Dask streams by chunks; see the Dask tests")
def test_streaming_uploads_one_batch_at_a_time(
    backend: Case, problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host array much larger than a batch goes up batch by batch, never whole."""
    net, x, _ = problem
    big = np.tile(x, (20, 1))  # 1060 rows
    sizes: list[int] = []
    original = type(backend.impl).from_host

    def recording(self, a, device):
        sizes.append(a.shape[0] if a.ndim == 2 else 1)
        return original(self, a, device)

    placed = xpnn.to_backend(net, backend.name, backend.device)
    monkeypatch.setattr(type(backend.impl), "from_host", recording)
    y = xpnn.predict(placed, big, batch_size=100, normalize=True)
    assert xpnn.to_numpy(y).shape == (1060,)
    if backend.name != "numpy":  # NumPy uses host memory as it is: nothing to upload
        assert max(sizes) == 100 and sum(sizes) == 1060


def test_default_batches_equal_one_batch(problem) -> None:
    net, x, _ = problem
    big = np.tile(x, (30, 1))  # more rows than NumPy's default batch
    one_batch = xpnn.predict(net, big, batch_size=len(big), normalize=True)
    np.testing.assert_array_equal(xpnn.predict(net, big, normalize=True), one_batch)


def test_progress_bar(problem, capsys: pytest.CaptureFixture[str]) -> None:
    net, x, _ = problem
    xpnn.predict(net, x, batch_size=10, progress=True, normalize=True)
    assert "6/6" in capsys.readouterr().err


@pytest.mark.skip_backends("numpy", "dask", "array_api_strict", reason="no float16/bfloat16 compute path")
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_reduced_precision(backend: Case, problem, dtype: str) -> None:
    net, x, _ = problem
    if not hasattr(backend.xp, dtype):
        pytest.skip(f"{backend.name} has no {dtype} compute path")
    placed = xpnn.to_backend(net, backend.name, backend.device, dtype=dtype)
    assert placed.dtype == getattr(backend.xp, dtype)
    y = xpnn.forward(placed, x / 255.0)
    assert y.dtype == placed.dtype
    eps = {"float16": 2**-10, "bfloat16": 2**-7}[dtype]
    np.testing.assert_allclose(
        xpnn.to_numpy(backend.xp.astype(y, backend.xp.float32)),
        reference.forward(net, x / 255.0),
        atol=32 * eps,
    )


def test_activation_and_placement_of_every_call(backend: Case) -> None:
    """activation= reaches the network in predict, predict_proba and accuracy; results live where asked."""
    net = reference.random_network((6, 5, 4, 3), np.float32, seed=12)
    x = np.random.default_rng(13).standard_normal((40, 6)).astype(np.float32)
    where = {"backend": backend.name, "device": backend.device}
    relu = reference.forward(net, x, hidden=reference.relu, output=reference.softmax)
    sigmoid = reference.forward(net, x, output=reference.softmax)
    assert np.mean(relu.argmax(axis=1) != sigmoid.argmax(axis=1)) > 0.1  # the two really differ
    for activation, expected in (("relu", relu), (None, sigmoid), ("sigmoid", sigmoid)):
        kw = {**where, "activation": activation, "batch_size": 16}
        y = xpnn.predict(net, x, **kw)
        assert array_api_compat.device(y) == backend.device
        np.testing.assert_array_equal(host(y, backend), expected.argmax(axis=1))
        p = xpnn.predict_proba(net, x, **kw)
        assert_close(p, expected, backend, dtype=backend.dtype("float32"), factor=64)
        assert xpnn.accuracy(net, x, expected.argmax(axis=1), **kw) == 1.0


def test_no_progress_bar_unless_asked(problem, capsys: pytest.CaptureFixture[str]) -> None:
    net, x, t = problem
    xpnn.predict(net, x, batch_size=10, normalize=True)
    xpnn.predict_proba(net, x, batch_size=10, normalize=True)
    xpnn.accuracy(net, x, t, batch_size=10, normalize=True)
    assert capsys.readouterr().err == ""


def test_raw_mnist_bytes_warn_and_normalize_false_is_heard(real_data_dir: Path) -> None:
    """Issue 25.3: the sample network on raw bytes scores lower, silently; now it warns, once."""
    x, t = xpnn.load_mnist(split="test", normalize=False, data_dir=real_data_dir, download=False)
    net = xpnn.load_sample_network(real_data_dir, download=False)
    x, t = x[:2000], t[:2000]
    with pytest.warns(xpnn.UnscaledInputWarning, match=r"normalize=True") as caught:
        raw = xpnn.accuracy(net, x, t)
    assert len(caught) == 1
    assert xpnn.accuracy(net, x, t, normalize=False) == raw  # said, and silent
    assert xpnn.accuracy(net, x, t, normalize=True) > raw


def test_a_tensor_that_requires_grad_gives_no_torch_warning(backend: Case) -> None:
    """Attack finding 13: the raw-pixel look took float() of a tensor that requires grad (torch warned)."""
    if backend.name != "torch":
        pytest.skip("only torch tensors require grad")
    import torch

    net = reference.random_network((4, 3, 2), np.float32, seed=2)
    x = np.random.default_rng(3).random((5, 4)).astype(np.float32)
    always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)  # torch warns once per process otherwise
    try:
        tensor = torch.tensor(x, requires_grad=True, device=backend.device)
        y = xpnn.predict(net, tensor)  # normalize not given: the raw-pixel look runs (max only)
        np.testing.assert_array_equal(host(y, backend), reference.forward(net, x).argmax(axis=1))
        raw = torch.tensor(x * 300.0, requires_grad=True, device=backend.device)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            xpnn.predict(net, raw)  # max and min looked at: xpnn's own warning, and no torch one
        assert [w.category for w in caught] == [xpnn.UnscaledInputWarning], [str(w.message) for w in caught]
    finally:
        torch.set_warn_always(always)
