"""Weights: the book's pickle without running pickle code, .npz, .safetensors, validation."""

from __future__ import annotations

import os
import pickle
import pickletools
from pathlib import Path

import numpy as np
import pytest
import reference

import xpnn


def test_the_books_pickle(real_data_dir: Path) -> None:
    net = xpnn.load_weights(real_data_dir / "weights" / "sample_weight.pkl")
    assert {k: v.shape for k, v in net.items()} == {
        "W1": (784, 50),
        "b1": (50,),
        "W2": (50, 100),
        "b2": (100,),
        "W3": (100, 10),
        "b3": (10,),
    }
    assert all(v.dtype == np.float32 for v in net.values())
    np.testing.assert_array_equal(xpnn.load_sample_network(real_data_dir, download=False)["W2"], net["W2"])


def test_a_pickle_of_arrays_written_here_loads(tmp_path: Path) -> None:
    net = reference.random_network((4, 3, 2), np.float32)
    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps(net, protocol=3))
    loaded = xpnn.load_weights(path)
    for k in net:
        np.testing.assert_array_equal(loaded[k], net[k])


class WritesAFile:
    """Unpickling this object would write a file: the classic pickle attack, made observable."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.write_text, (Path(self.target), "pwned"))


class RunsAShellCommand:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("payload", [WritesAFile, RunsAShellCommand])
@pytest.mark.parametrize("where", ["top", "inside_the_dict"])
def test_a_malicious_pickle_never_runs(tmp_path: Path, payload, where: str) -> None:
    target = tmp_path / "side-effect"
    evil = payload(str(target))
    obj = evil if where == "top" else {**reference.random_network((2, 2), np.float32), "W1": evil}
    path = tmp_path / "sample_weight.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=3))
    assert any(op.name in ("GLOBAL", "STACK_GLOBAL") for op, _, _ in pickletools.genops(path.read_bytes()))
    with pytest.raises(xpnn.DataError, match="refused to load the global"):
        xpnn.load_weights(path)
    assert not target.exists(), "the pickle's code ran"


def test_a_truncated_pickle(tmp_path: Path) -> None:
    path = tmp_path / "w.pkl"
    path.write_bytes(pickle.dumps(reference.random_network((3, 2)), protocol=3)[:50])
    with pytest.raises(xpnn.DataError, match="not a readable weights pickle"):
        xpnn.load_weights(path)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_save_and_load_round_trip(tmp_path: Path, suffix: str, backend) -> None:
    net = reference.random_network((5, 4, 3), np.float32)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    path = xpnn.save_weights(placed, tmp_path / f"net{suffix}")
    loaded = xpnn.load_weights(path)
    assert sorted(loaded) == sorted(net)
    for k in net:
        np.testing.assert_array_equal(loaded[k], net[k])
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary files are left"


def test_npz_with_object_arrays_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, W1=np.array([object()], dtype=object), b1=np.zeros(1))
    with pytest.raises(xpnn.DataError, match="pickle"):
        xpnn.load_weights(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda n: n.pop("b2"), r"missing \['b2'\]"),
        (lambda n: n.update(W2=np.ones((4, 2), np.float32)), r"W2.*\(4, 2\)"),
        (lambda n: n.update(W1=np.ones((5, 4), np.int32)), "floating arrays.*int32"),
        (lambda n: n.update(extra=np.ones(1, np.float32)), "unexpected"),
    ],
)
def test_validation_names_what_is_wrong(tmp_path: Path, change, message: str) -> None:
    net = reference.random_network((5, 4, 3), np.float32)
    change(net)
    path = tmp_path / "w.npz"
    np.savez(path, **net)
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.save_weights(net, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_unknown_formats_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no weights file"):
        xpnn.load_weights(tmp_path / "nope.npz")
    (tmp_path / "w.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="unknown weights format '.h5'"):
        xpnn.load_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match=r"writes .npz or .safetensors, not '.pkl'"):
        xpnn.save_weights(reference.random_network((2, 2)), tmp_path / "w.pkl")


def test_not_a_dict(tmp_path: Path) -> None:
    path = tmp_path / "w.pkl"
    path.write_bytes(pickle.dumps([np.zeros(2)], protocol=3))
    with pytest.raises(xpnn.DataError, match="holds a list, not a dict"):
        xpnn.load_weights(path)
