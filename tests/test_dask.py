"""Dask: lazy inference on row-chunked arrays, through a real distributed cluster (tests-dask)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import reference
from conftest import BOOK_ACCURACY, REQUESTED

import xpnn

pytestmark = [
    pytest.mark.skipif("dask" not in REQUESTED, reason="Dask tests run in the Dask session"),
    pytest.mark.sessions("dask"),
]
da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """Two worker processes for this module; shut down, with their client, at its end."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c
    assert cluster.status.name == "closed"


@pytest.fixture(scope="module")
def problem() -> tuple[dict, np.ndarray, np.ndarray]:
    net = reference.random_network((20, 8, 4), np.float32, seed=3)
    rng = np.random.default_rng(4)
    return net, rng.integers(0, 256, (1003, 20), dtype=np.uint8), rng.integers(0, 4, 1003)


def test_books_accuracy_through_the_cluster(client, real_data_dir: Path) -> None:
    x, t = xpnn.load_mnist(normalize=False, split="test", data_dir=real_data_dir, download=False)
    net = xpnn.load_sample_network(real_data_dir, download=False)
    x_dask = da.from_array(x, chunks=(1500, 784))  # a partial last chunk: 10,000 = 6 x 1,500 + 1,000
    assert xpnn.accuracy(net, x_dask, t, normalize=True) == BOOK_ACCURACY
    on_numpy = xpnn.predict(net, x, normalize=True)
    np.testing.assert_array_equal(xpnn.to_numpy(xpnn.predict(net, x_dask, normalize=True)), on_numpy)


def test_same_predictions_as_numpy_with_a_partial_last_chunk(client, problem) -> None:
    net, x, _ = problem
    x_dask = da.from_array(x, chunks=(250, 20))  # 1003 rows: the last chunk has 3
    assert x_dask.chunks[0][-1] == 3
    np.testing.assert_array_equal(
        xpnn.to_numpy(xpnn.predict(net, x_dask, normalize=True)), xpnn.predict(net, x, normalize=True)
    )
    probabilities = xpnn.to_numpy(xpnn.predict_proba(net, x_dask, normalize=True))
    np.testing.assert_allclose(
        probabilities, reference.forward(net, x / 255.0, output=reference.softmax), atol=1e-5
    )


def test_columns_split_across_chunks_are_joined(client, problem) -> None:
    net, x, _ = problem
    x_dask = da.from_array(x, chunks=(300, 7))
    np.testing.assert_array_equal(
        xpnn.to_numpy(xpnn.predict(net, x_dask, normalize=True)), xpnn.predict(net, x, normalize=True)
    )


def test_unknown_chunk_sizes(client, problem) -> None:
    net, x, t = problem
    x_dask = da.from_array(x, chunks=(250, 20))
    keep = x_dask[:, 0] > 100
    filtered, kept = x_dask[keep], x[x[:, 0] > 100]
    assert np.isnan(filtered.shape[0])
    y = xpnn.predict(net, filtered, normalize=True)
    np.testing.assert_array_equal(xpnn.to_numpy(y), xpnn.predict(net, kept, normalize=True))
    expected = float(np.mean(xpnn.predict(net, kept, normalize=True) == t[x[:, 0] > 100]))
    assert xpnn.accuracy(net, filtered, t[x[:, 0] > 100], normalize=True) == expected
    assert np.isnan(filtered.shape[0]), "the caller's array keeps its own chunks"


def test_wrong_width_is_reported_before_any_compute(problem) -> None:
    net, x, _ = problem
    calls = []
    meta = np.empty((0, 0), dtype=x.dtype)
    x_dask = da.from_array(x[:, :19], chunks=(100, 19)).map_blocks(lambda b: calls.append(1) or b, meta=meta)
    with pytest.raises(ValueError, match=r"\(1003, 19\).*the last axis must be 20"):
        xpnn.predict(net, x_dask, normalize=True)
    assert calls == []


def test_lazy_until_asked_and_computed_once(problem) -> None:
    """No compute inside forward/predict/predict_proba; accuracy computes the graph once."""
    net, x, t = problem
    computed: list[int] = []

    def touch(block: np.ndarray) -> np.ndarray:
        computed.append(len(block))
        return block

    x_dask = da.from_array(x, chunks=(250, 20)).map_blocks(touch, meta=np.empty((0, 0), dtype=x.dtype))
    with dask.config.set(scheduler="synchronous"):
        y = xpnn.forward(net, x_dask)
        p = xpnn.predict(net, x_dask, normalize=True)
        q = xpnn.predict_proba(net, x_dask, normalize=True)
        assert computed == [], "nothing may be computed before the result is asked for"
        assert all(xpnn.backend_of(a) == "dask" for a in (y, p, q))
        xpnn.accuracy(net, x_dask, t, normalize=True)
        assert sorted(computed) == sorted(x_dask.chunks[0]), "each chunk is computed exactly once"


def test_weights_are_one_key_per_graph(problem) -> None:
    """Every chunk's task refers to the same weight keys: the weights travel once, not per chunk."""
    net, x, _ = problem
    placed = xpnn.to_backend(net, "dask")
    y = xpnn.predict(placed, da.from_array(x, chunks=(100, 20)), normalize=True)
    graph = dict(y.__dask_graph__())
    names = {w.name for w in placed.params.values()}
    weight_keys = {key for key in graph if (key[0] if isinstance(key, tuple) else key) in names}
    assert len(weight_keys) == len(placed.params)
    assert len(graph) < 30 * y.numblocks[0], "the graph grows with the chunks, not with the weights' size"


def test_dask_backend_from_host_input_chunks_by_batch_size(problem) -> None:
    net, x, _ = problem
    y = xpnn.predict(net, x, backend="dask", batch_size=400, normalize=True)
    assert xpnn.backend_of(y) == "dask" and y.chunks[0] == (400, 400, 203)
    np.testing.assert_array_equal(xpnn.to_numpy(y), xpnn.predict(net, x, normalize=True))


def test_example_on_the_real_test_set(real_data_dir: Path) -> None:
    from test_examples import run_example

    result = run_example(
        "dask_batch_inference.py",
        "--workers",
        "2",
        "--dashboard-address",
        ":0",
        "--data-dir",
        str(real_data_dir),
    )
    assert f"Accuracy:{BOOK_ACCURACY}" in result.stdout.splitlines()


def test_example_with_synthetic_images(real_data_dir: Path) -> None:
    from test_examples import run_example

    result = run_example(
        "dask_batch_inference.py",
        "--workers",
        "2",
        "--synthetic",
        "200000",
        "--chunk-rows",
        "50000",
        "--dashboard-address",
        ":0",
        "--data-dir",
        str(real_data_dir),
    )
    lines = result.stdout.splitlines()
    counts = next(line for line in lines if line.startswith("predicted classes:"))
    assert sum(ast.literal_eval(counts.split(":", 1)[1].strip())) == 200000
    rss = next(line for line in lines if line.startswith("client peak RSS:"))
    assert float(rss.split()[-2].replace(",", "")) < 200000 * 784 / 2**20, "the data never sits on the client"
