"""The book's convolutional networks (issue 20): SimpleConvNet and DeepConvNet on every backend.

The specification is the book's own trained files and results (../shared/data/README.md):
``ch07/params.pkl`` in SimpleConvNet gives 0.9600 on the 10,000 MNIST test images and
``ch08/deep_convnet_params.pkl`` in DeepConvNet gives 0.9797.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import reference_nn as ref
from conftest import Case, assert_close, host

import xpnn
from xpnn.nn import Convolution, Dropout, Pooling, Sequential

#: The book's results with its own code (../shared/data/README.md): the specification.
BOOK_CONVNET_ACCURACY = {"simple_convnet": 0.9600, "deep_convnet": 0.9797}
FILES = {"simple_convnet": "params.pkl", "deep_convnet": "deep_convnet_params.pkl"}
REFERENCE = {"simple_convnet": ref.simple_convnet, "deep_convnet": ref.deep_convnet}


@pytest.fixture(scope="session")
def convnet_data_dir(real_data_dir: Path) -> Path:
    """``real_data_dir`` when it also holds the book's two trained CNN files; else skip."""
    missing = [f for f in FILES.values() if not (real_data_dir / "weights" / f).is_file()]
    if missing:
        why = f"{real_data_dir}/weights lacks {missing}"
        if os.environ.get("XPNN_REQUIRE_DATA") == "1":
            pytest.fail(why + " and XPNN_REQUIRE_DATA=1")
        pytest.skip(why)
    return real_data_dir


@pytest.fixture(scope="session")
def mnist_test(real_data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return xpnn.load_mnist(
        normalize=False, flatten=False, split="test", data_dir=real_data_dir, download=False
    )


#: Images DeepConvNet runs on where its 10,000 take over 40 s on CI's 2 cores (the generic im2col
#: code on array-api-strict's second device; Dask's scheduling around NumPy chunks).
SLICE = 1000


def _sliced(backend: Case, name: str) -> bool:
    """Whether ``backend`` runs DeepConvNet on :data:`SLICE` images against NumPy's predictions.

    array-api-strict's default device and every other backend run all 10,000 images: the
    generic code is proven on the full set once, the second device on a slice of it.
    """
    second_strict_device = backend.name == "array_api_strict" and backend.device_arg is not None
    return name == "deep_convnet" and (second_strict_device or backend.name == "dask")


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_books_trained_convnets_give_the_books_accuracy(
    backend: Case, convnet_data_dir: Path, mnist_test: tuple, name: str
) -> None:
    x, t = mnist_test
    numpy_net = xpnn.load_sample_network(convnet_data_dir, name=name, download=False)
    net = xpnn.to_backend(numpy_net, backend.name, backend.device)
    if _sliced(backend, name):  # NumPy's predictions give the book's accuracy on all 10,000
        expected = xpnn.to_numpy(xpnn.predict(numpy_net, x[:SLICE], normalize=True))
        got = xpnn.to_numpy(xpnn.predict(net, x[:SLICE], normalize=True))
        np.testing.assert_array_equal(got, expected)
        return
    assert xpnn.accuracy(net, x, t, normalize=True) == BOOK_CONVNET_ACCURACY[name]


@pytest.mark.parametrize("name", sorted(FILES))
def test_predictions_image_by_image_equal_a_numpy_float64_reference(
    backend: Case, convnet_data_dir: Path, mnist_test: tuple, name: str
) -> None:
    x, _ = mnist_test
    x = x[:10]
    numpy_net = xpnn.load_sample_network(convnet_data_dir, name=name, download=False)
    net = xpnn.to_backend(numpy_net, backend.name, backend.device)
    logits = REFERENCE[name](numpy_net.to_numpy(), x.astype(np.float64) / 255.0)
    for i in range(len(x)):
        assert int(host(xpnn.predict(net, x[i], normalize=True), backend)) == int(np.argmax(logits[i]))
    proba = xpnn.predict_proba(net, x, normalize=True)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert_close(proba, e / e.sum(axis=1, keepdims=True), backend, factor=256)


def test_random_convnets_match_the_reference_with_stride_and_pad(backend: Case) -> None:
    net = xpnn.SimpleConvNet(
        (2, 11, 11), {"filter_num": 4, "filter_size": 3, "pad": 2, "stride": 2}, 7, 5, 0.5, seed=1
    )
    x = np.random.default_rng(2).standard_normal((6, 2, 11, 11))
    placed = xpnn.to_backend(net, backend.name, backend.device)
    y = placed.run(placed.prepare_input(x))
    assert_close(y, ref.simple_convnet(net.to_numpy(), x, stride=2, pad=2), backend, factor=64)
    deep = xpnn.DeepConvNet(seed=3)
    x = np.random.default_rng(4).random((3, 1, 28, 28))
    placed = xpnn.to_backend(deep, backend.name, backend.device)
    assert_close(
        placed.run(placed.prepare_input(x)), ref.deep_convnet(deep.to_numpy(), x), backend, factor=256
    )


def test_the_constructors_take_the_books_arguments_and_defaults() -> None:
    net = xpnn.SimpleConvNet(seed=0)
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {
        "W1": (30, 1, 5, 5),
        "b1": (30,),
        "W2": (4320, 100),
        "b2": (100,),
        "W3": (100, 10),
        "b3": (10,),
    }
    assert net.params["W1"].dtype == np.float64 and net.n_in == (1, 28, 28) and net.n_out == 10
    assert np.std(net.params["W2"]) == pytest.approx(0.01, rel=0.01)
    assert not np.any(net.params["b2"])
    np.testing.assert_array_equal(xpnn.SimpleConvNet(seed=0).params["W2"], net.params["W2"])
    assert isinstance(net.layers[0], Convolution) and net.layers[0].stride == 1 and net.layers[0].pad == 0
    assert net.layers[2] == Pooling(2, 2, stride=2)
    deep = xpnn.DeepConvNet(seed=0)
    assert [tuple(deep.params[f"W{i}"].shape) for i in range(1, 9)] == [
        (16, 1, 3, 3), (16, 16, 3, 3), (32, 16, 3, 3), (32, 32, 3, 3), (64, 32, 3, 3), (64, 64, 3, 3), (1024, 50), (50, 10)
    ]  # fmt: skip
    assert [layer.pad for layer in deep.layers if isinstance(layer, Convolution)] == list(ref.DEEP_PADS)
    assert [layer for layer in deep.layers if isinstance(layer, Dropout)] == [Dropout(0.5), Dropout(0.5)]
    assert np.std(deep.params["W2"]) == pytest.approx(np.sqrt(2.0 / 144), rel=0.05)  # He, as the book
    assert xpnn.SimpleConvNet(dtype="float32", seed=0).params["W1"].dtype == np.float32
    with pytest.raises(ValueError, match=r"conv_param needs the keys .* missing \['stride'\]"):
        xpnn.SimpleConvNet(conv_param={"filter_num": 3, "filter_size": 3, "pad": 0})
    with pytest.raises(ValueError, match="input_dim is"):
        xpnn.SimpleConvNet(input_dim=(28, 28))


@pytest.mark.parametrize("key", ["filter_num", "filter_size", "stride"])
def test_a_zero_filter_count_size_or_stride_is_refused(key: str) -> None:
    conv = {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1} | {key: 0}
    with pytest.raises(ValueError, match=rf"filter_num, filter_size and stride are ints >= 1.*'{key}': 0"):
        xpnn.SimpleConvNet((1, 8, 8), conv, 4, 3, seed=0)
    assert xpnn.SimpleConvNet((1, 8, 8), conv | {key: 1, "pad": 0}, 4, 3, seed=0).layers[0].pad == 0


def test_the_constructors_pass_device_and_dtype_on() -> None:
    strict = pytest.importorskip("array_api_strict")
    net = xpnn.SimpleConvNet(
        (1, 8, 8), {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1}, 4, 3, seed=0,
        backend="array_api_strict", device="device1",
    )  # fmt: skip
    assert net.device == strict.Device("device1")
    assert all(array.device == strict.Device("device1") for array in net.params.values())
    deep = xpnn.DeepConvNet(dtype="float32", seed=0)
    assert deep.dtype == np.float32 and all(v.dtype == np.float32 for v in deep.params.values())


def test_to_backend_places_every_array_once(backend: Case) -> None:
    net = xpnn.SimpleConvNet(
        (1, 8, 8), {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1}, 4, 3, seed=0
    )
    placed = xpnn.to_backend(net, backend.name, backend.device)
    assert isinstance(placed, xpnn.SimpleConvNet) and placed.backend == backend.name
    if backend.name != "dask":  # Dask's chunks run on NumPy arrays
        for array in placed.params.values():
            assert host(array, backend).shape == tuple(array.shape)
            assert type(array) is type(backend.asarray(np.zeros(1)))
    x = np.random.default_rng(0).random((5, 1, 8, 8))
    expected = xpnn.predict_proba(net, x)
    assert_close(xpnn.predict_proba(placed, x), expected, backend, factor=64)
    assert (
        xpnn.to_numpy(xpnn.predict(net, x, backend=backend.name, device=backend.device)).tolist()
        == np.argmax(expected, 1).tolist()
    )


def test_to_numpy_of_a_layer_network_is_its_dict_of_host_arrays(backend: Case) -> None:
    """``xpnn.to_numpy(net)`` gave a 0-d object array for a layer network; now its arrays, state
    (batch norm's running statistics) included, from which the network is made again."""
    net = xpnn.MultiLayerNetExtend(6, [5, 4], 3, use_batchnorm=True, seed=0)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    host_arrays = xpnn.to_numpy(placed)
    assert type(host_arrays) is dict and host_arrays.keys() == net.to_numpy().keys()
    assert {"W1", "gamma1", "running_mean1", "running_var2", "b3"} <= host_arrays.keys()
    for key, value in net.to_numpy().items():  # float32 where the backend has no float64 (JAX)
        assert type(host_arrays[key]) is np.ndarray and host_arrays[key].dtype.kind == "f"
        np.testing.assert_array_equal(host_arrays[key], value.astype(host_arrays[key].dtype))
    conv = xpnn.SimpleConvNet(
        (1, 8, 8), {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1}, 4, 3, seed=1
    )
    again = xpnn.SimpleConvNet(
        (1, 8, 8),
        {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1},
        4,
        3,
        params=xpnn.to_numpy(xpnn.to_backend(conv, backend.name, backend.device)),
    )
    x = np.random.default_rng(2).random((3, 1, 8, 8))
    placed_again = xpnn.to_backend(again, backend.name, backend.device)
    assert_close(xpnn.predict_proba(placed_again, x), xpnn.predict_proba(conv, x), backend, factor=64)


def test_deep_convnet_inference_peaks_under_one_gigabyte() -> None:
    net = xpnn.DeepConvNet(seed=0)
    rows = net.default_batch_rows
    x = np.random.default_rng(0).random((2 * rows + 1, 1, 28, 28))
    tracemalloc.start()
    try:
        xpnn.predict(net, x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 30, f"{peak / 2**20:.0f} MiB at {rows} rows per batch"


def test_load_sample_network_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown sample network 'lenet'"):
        xpnn.load_sample_network(tmp_path, name="lenet", download=False)
    with pytest.raises(xpnn.DataNotFoundError, match="params.pkl"):
        xpnn.load_sample_network(tmp_path, name="simple_convnet", download=False)
    with pytest.raises(xpnn.DataNotFoundError, match=r"Downloading is off \(--no-download, download=False\)"):
        xpnn.fetch_sample_convnet("simple_convnet", tmp_path, download=False)
    with pytest.raises(
        xpnn.DataNotFoundError, match=r"by hand from \S+/ch08/ into DIR/weights/deep_convnet_params\.pkl and"
    ):
        xpnn.fetch_sample_convnet("deep_convnet", tmp_path, download=False)  # not sample_weight.pkl's place
    with pytest.raises(ValueError, match="unknown sample network 'lenet'"):
        xpnn.fetch_sample_convnet("lenet", tmp_path)
    (tmp_path / "params.pkl").write_bytes(b"")  # in the data directory itself, not in weights/
    misplaced = re.escape(f"{tmp_path} holds params.pkl itself: it belongs in {tmp_path / 'weights'}.")
    with pytest.raises(xpnn.DataNotFoundError, match=misplaced):
        xpnn.load_sample_network(tmp_path, name="simple_convnet")
    with pytest.raises(xpnn.DataNotFoundError, match=misplaced):
        xpnn.fetch_sample_convnet("simple_convnet", tmp_path)
    (tmp_path / "params.pkl").unlink()
    (tmp_path / "weights").mkdir()
    wrong = {"W1": np.zeros((30, 1, 3, 3)), "b1": np.zeros(30), "W2": np.zeros((4320, 100))}
    wrong |= {"b2": np.zeros(100), "W3": np.zeros((100, 10)), "b3": np.zeros(10)}
    (tmp_path / "weights" / "params.pkl").write_bytes(pickle.dumps(wrong, protocol=4))
    # Not the book's file: its pinned SHA-256 is checked on every load, before its shapes.
    with pytest.raises(xpnn.DataError, match=r"params.pkl differs from the book's ch07/params.pkl"):
        xpnn.load_sample_network(tmp_path, name="simple_convnet", download=False)
    with pytest.raises(ValueError, match="W2 of shape"):
        xpnn.SimpleConvNet(params=wrong)


def test_load_params_reads_four_dimensional_weights_that_load_weights_refuses(tmp_path: Path) -> None:
    params = {"W1": np.random.default_rng(0).standard_normal((3, 2, 5, 5)), "b1": np.arange(3.0)}
    path = tmp_path / "conv.pkl"
    path.write_bytes(pickle.dumps(params, protocol=4))
    loaded = xpnn.load_params(path)
    assert sorted(loaded) == ["W1", "b1"]
    np.testing.assert_array_equal(loaded["W1"], params["W1"])
    with pytest.raises(xpnn.DataError):
        xpnn.load_weights(path)
    params["W1"][0, 0, 0, 0] = np.nan
    path.write_bytes(pickle.dumps(params, protocol=4))
    with pytest.raises(xpnn.DataError, match=r"W1\[0, 0, 0, 0\] is nan"):
        xpnn.load_params(path)


def test_the_books_files_load_and_say_what_they_are(convnet_data_dir: Path) -> None:
    simple = xpnn.load_sample_network(convnet_data_dir, name="simple_convnet", download=False)
    deep = xpnn.load_sample_network(convnet_data_dir, name="deep_convnet", download=False)
    assert isinstance(simple, xpnn.SimpleConvNet) and isinstance(deep, xpnn.DeepConvNet)
    assert simple.params["W1"].shape == (30, 1, 5, 5) and simple.params["W1"].dtype == np.float64
    assert repr(simple).startswith(
        "SimpleConvNet(Convolution-Relu-Pooling-Affine-Relu-Affine, input_shape=(1, 28, 28)"
    )
    assert isinstance(xpnn.load_sample_network(convnet_data_dir, download=False), dict)  # ch. 3, as before
    for name, file in FILES.items():
        path = xpnn.fetch_sample_convnet(name, convnet_data_dir, download=False)
        assert path == convnet_data_dir / "weights" / file


def test_flat_images_are_refused_with_the_fix() -> None:
    net = xpnn.SimpleConvNet(seed=0)
    with pytest.raises(ValueError, match=r"flat images: load_mnist\(flatten=False\)"):
        xpnn.predict(net, np.zeros((2, 784)))
    with pytest.raises(ValueError, match=r"takes one input \(1, 28, 28\) or a batch"):
        xpnn.predict(net, np.zeros((2, 1, 27, 28)))


def test_a_sequential_spec_rebuilds_the_network() -> None:
    net = xpnn.DeepConvNet(seed=5)
    again = Sequential(net.spec(), net.to_numpy(), input_shape=net.n_in)
    x = np.random.default_rng(0).random((2, 1, 28, 28))
    np.testing.assert_array_equal(xpnn.predict_proba(again, x), xpnn.predict_proba(net, x))


def _stripes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images of a horizontal (class 0) or vertical (class 1) bar at a random place, plus noise."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    x = rng.random((n, 1, 8, 8)) * 0.2
    where = rng.integers(0, 8, n)
    for i in range(n):  # a test fixture on the host: assignment is fine here
        if t[i]:
            x[i, 0, :, where[i]] += 1.0
        else:
            x[i, 0, where[i], :] += 1.0
    return x, t


def test_train_network_learns_with_adam(backend: Case) -> None:
    if backend.name == "dask":
        pytest.skip("training does not run on Dask by design")
    x, t = _stripes(200, 0)
    x_test, t_test = _stripes(100, 1)
    conv = {"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1}
    net = xpnn.to_backend(
        xpnn.SimpleConvNet((1, 8, 8), conv, 16, 2, 0.1, seed=0), backend.name, backend.device
    )
    before = xpnn.accuracy(net, x_test, t_test, normalize=False)
    trained, history = xpnn.nn.train_network(
        net, x, t, optimizer="adam", lr=0.01, batch_size=20, epochs=3, seed=0, x_test=x_test, t_test=t_test
    )
    assert history["epoch"] == [1, 2, 3] and history["loss"][-1] < history["loss"][0]
    assert history["test_acc"][-1] >= 0.95 > before + 0.2
    assert xpnn.accuracy(net, x_test, t_test, normalize=False) == before  # the network given is unchanged
    assert type(trained) is xpnn.SimpleConvNet and trained.backend == backend.name


@pytest.mark.sessions("dask")  # its last check needs Dask installed
def test_train_network_carries_batch_normalization_statistics() -> None:
    from xpnn.nn import Affine, BatchNormalization, Relu

    rng = np.random.default_rng(0)
    layers = [Affine(1), BatchNormalization(2), Relu(), Affine(3)]
    p = {
        "W1": rng.standard_normal((64, 6)) * 0.1,
        "b1": np.zeros(6),
        "gamma2": np.ones(6),
        "beta2": np.zeros(6),
    }
    p |= {
        "running_mean2": np.zeros(6),
        "running_var2": np.zeros(6),
        "W3": rng.standard_normal((6, 2)),
        "b3": np.zeros(2),
    }
    net = Sequential(layers, p, input_shape=(1, 8, 8))
    x, t = _stripes(40, 2)
    trained, _ = xpnn.nn.train_network(net, x, t, batch_size=40, epochs=1, lr=0.0)
    h = x.reshape(40, -1) @ p["W1"]  # lr=0: the weights stay, the statistics move once
    np.testing.assert_allclose(trained.state["running_mean2"], 0.1 * h.mean(0), rtol=1e-12)
    np.testing.assert_allclose(trained.state["running_var2"], 0.1 * h.var(0), rtol=1e-12)
    if importlib.util.find_spec("dask") is not None:  # the refusal needs Dask to make a Dask network
        with pytest.raises(ValueError, match="xpnn does not train on Dask"):
            xpnn.nn.train_network(xpnn.to_backend(net, "dask"), x, t)


def _cli(*args: str) -> tuple[int, str, str]:
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from xpnn import cli

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = cli.main(list(args))
    return status, out.getvalue(), err.getvalue()


def test_cli_mnist_network_prints_the_books_accuracy(convnet_data_dir: Path) -> None:
    status, out, _ = _cli(
        "mnist", "--network", "simple_convnet", "--data-dir", str(convnet_data_dir), "--no-download",
        "--batch-size", "1000",
    )  # fmt: skip
    assert status == 0
    assert out.splitlines()[0] == "Accuracy:0.96"
    assert "on numpy cpu, simple_convnet, batch size 1000" in out


def test_cli_mnist_network_refusals(tmp_path: Path) -> None:
    status, _, err = _cli("mnist", "--network", "deep_convnet", "--activation", "relu")
    assert status != 0 and "leave out --weights, --compile and --activation" in err
    status, out, err = _cli(
        "mnist", "--network", "deep_convnet", "--data-dir", str(tmp_path), "--no-download"
    )
    assert status != 0 and out == "" and "weights/deep_convnet_params.pkl" in err
    assert list(tmp_path.iterdir()) == []


def test_to_backend_of_a_layer_network_refuses_an_activation() -> None:
    with pytest.raises(ValueError, match="activations are its layers: leave out activation="):
        xpnn.to_backend(xpnn.SimpleConvNet(seed=0), "numpy", activation="relu")
    assert xpnn.to_backend(xpnn.SimpleConvNet(seed=0), dtype="float32").dtype == np.float32


@pytest.mark.sessions("dask")
def test_one_image_and_a_dask_batch_run_through_inference() -> None:
    net = xpnn.SimpleConvNet(
        (1, 10, 10), {"filter_num": 3, "filter_size": 3, "pad": 0, "stride": 1}, 8, 4, 0.5, seed=2
    )
    x = np.random.default_rng(1).random((7, 1, 10, 10))
    expected = np.argmax(ref.simple_convnet(net.to_numpy(), x), axis=1)
    assert int(xpnn.predict(net, x[3])) == expected[3]
    assert xpnn.predict(net, x[3]).shape == ()
    assert xpnn.accuracy(net, x[3], expected[3]) == 1.0
    assert xpnn.accuracy(net, x, expected) == 1.0
    assert xpnn.predict(net, x[:0]).shape == (0,)
    da = pytest.importorskip("dask.array")
    lazy = xpnn.predict(xpnn.to_backend(net, "dask"), da.from_array(x, chunks=(3, 1, 10, 10)))
    assert xpnn.to_numpy(lazy).tolist() == expected.tolist()
    assert (
        xpnn.accuracy(xpnn.to_backend(net, "dask"), da.from_array(x, chunks=(2, 1, 5, 10)), expected) == 1.0
    )


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_books_file_is_downloaded_through_the_pinned_hash(
    convnet_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    import hashlib

    from local_http import serve

    from xpnn.io import RemoteFile
    from xpnn.io import samples as weights

    pinned = weights.SAMPLE_CONVNETS[name]
    chapter = "ch07" if name == "simple_convnet" else "ch08"
    book = "https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master"
    assert pinned.urls() == [f"{book}/{chapter}/{FILES[name]}"]
    assert (
        pinned.sha256 == hashlib.sha256((convnet_data_dir / "weights" / FILES[name]).read_bytes()).hexdigest()
    )
    with serve(convnet_data_dir / "weights") as server:
        only_html = {name: RemoteFile(pinned.name, pinned.sha256, [f"{server.base}/html/"])}
        monkeypatch.setattr(weights, "SAMPLE_CONVNETS", only_html)
        with pytest.raises(xpnn.DataNotFoundError, match="SHA-256 does not match"):
            xpnn.load_sample_network(tmp_path, name=name)
        assert not (tmp_path / "weights" / FILES[name]).exists()
        mirrors = [f"{server.base}/html/", f"{server.base}/good/"]
        monkeypatch.setattr(
            weights, "SAMPLE_CONVNETS", {name: RemoteFile(pinned.name, pinned.sha256, mirrors)}
        )
        net = xpnn.load_sample_network(tmp_path, name=name)
        fetched = xpnn.fetch_sample_convnet(name, tmp_path / "again")  # downloads by default
    assert fetched == tmp_path / "again" / "weights" / FILES[name]
    assert fetched.read_bytes() == (convnet_data_dir / "weights" / FILES[name]).read_bytes()
    assert (tmp_path / "weights" / FILES[name]).read_bytes() == (
        convnet_data_dir / "weights" / FILES[name]
    ).read_bytes()
    assert type(net).__name__ == {"simple_convnet": "SimpleConvNet", "deep_convnet": "DeepConvNet"}[name]
