"""The downloader, against a local HTTP server on 127.0.0.1 (there is no internet here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from idx import sha256, tiny_mnist
from local_http import serve

import xpnn
from xpnn import mnist
from xpnn._data import RemoteFile, fetch


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict]]:
    """(base URL, directory of served files, their arrays): a server on 127.0.0.1, for this module."""
    root = tmp_path_factory.mktemp("served")
    arrays = tiny_mnist(root, n=5)
    with serve(root) as server:
        yield server.base, root, arrays


def remote(served, name: str, *kinds: str) -> RemoteFile:
    base, root, _ = served
    return RemoteFile(name, sha256(root / name), [f"{base}/{kind}/" for kind in kinds])


def test_downloads_from_the_first_good_mirror(served, tmp_path: Path) -> None:
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "forbidden", "html", "truncated", "good")
    path = fetch(r, tmp_path)
    assert path == tmp_path / r.name
    assert sha256(path) == r.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == [r.name], "no temporary or bad files are left"


def test_all_mirrors_failing_lists_what_was_tried(served, tmp_path: Path) -> None:
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "forbidden", "html", "truncated")
    with pytest.raises(xpnn.DataNotFoundError) as e:
        fetch(r, tmp_path)
    message = str(e.value)
    tried = [line.strip() for line in message.splitlines() if line.startswith("  http://127.0.0.1")]
    assert [t.split("/")[3] for t in tried] == ["forbidden", "html", "truncated"]
    assert "403" in message
    assert message.count("SHA-256 does not match") == 2  # the HTML page and the truncated file
    assert list(tmp_path.iterdir()) == [], "a failed download leaves nothing behind"


def test_download_false_never_touches_the_network(served, tmp_path: Path) -> None:
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    with pytest.raises(xpnn.DataNotFoundError, match=f"not in {tmp_path}"):
        fetch(r, tmp_path, download=False)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_location_gives_a_clear_error(served, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    with pytest.raises(xpnn.DataNotFoundError, match="cannot be downloaded into"):
        fetch(r, blocker / "mnist")


def test_load_mnist_downloads_what_is_missing(
    served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root, arrays = served
    files = {
        key: (RemoteFile(r.name, sha256(root / r.name), [f"{base}/html/", f"{base}/good/"]), (5, *shape[1:]))
        for key, (r, shape) in mnist.MNIST_FILES.items()
    }
    monkeypatch.setattr(mnist, "MNIST_FILES", files)
    _, (x_test, t_test) = xpnn.load_mnist(normalize=False, data_dir=tmp_path)
    np.testing.assert_array_equal(x_test.reshape(5, 28, 28), arrays["t10k-images"])
    np.testing.assert_array_equal(t_test, arrays["t10k-labels"])
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(r.name for r, _ in files.values())


def test_fetch_sample_weights_pins_the_hash(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The weights' download goes through the same checked path: a wrong file is refused."""
    from xpnn import weights

    base, _, _ = served
    monkeypatch.setattr(
        weights,
        "SAMPLE_WEIGHTS",
        RemoteFile("sample_weight.pkl", weights.SAMPLE_WEIGHTS.sha256, [f"{base}/html/"]),
    )
    with pytest.raises(xpnn.DataNotFoundError, match="SHA-256 does not match"):
        xpnn.fetch_sample_weights(tmp_path)
    assert not (tmp_path / "weights" / "sample_weight.pkl").exists()
