"""save_weights / load_weights for layer networks (xpnn.Sequential): the architecture travels with
the arrays, and the recorded architecture is hostile data like the rest of the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import host

import xpnn
from xpnn.nn import Affine, BatchNormalization, Dropout, Relu, Sigmoid

CONV = {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1}


def _with_running_stats(net: xpnn.Sequential) -> xpnn.Sequential:
    """``net`` with batch-norm running statistics that are not the initial zeros and ones."""
    rng = np.random.default_rng(7)
    state = {k: v for k, v in net.to_numpy().items() if k.startswith("running_")}
    new = {
        k: rng.normal(size=v.shape) if "mean" in k else rng.uniform(0.5, 2.0, size=v.shape)
        for k, v in state.items()
    }
    return net.replace(new)


def _plain_sequential() -> xpnn.Sequential:
    rng = np.random.default_rng(3)
    params = {
        "W1": rng.normal(size=(6, 5)),
        "b1": rng.normal(size=5),
        "gamma2": rng.uniform(0.5, 1.5, size=5),
        "beta2": rng.normal(size=5),
        "running_mean2": rng.normal(size=5),
        "running_var2": rng.uniform(0.5, 2.0, size=5),
        "W3": rng.normal(size=(5, 3)),
        "b3": rng.normal(size=3),
    }
    layers = [Affine(1), BatchNormalization(2, momentum=0.8), Sigmoid(), Dropout(0.25), Affine(3)]
    return xpnn.Sequential(layers, params, input_shape=(6,))


#: name -> (a network of that class, the shape of one input)
NETWORKS: dict[str, tuple[Callable[[], xpnn.Sequential], tuple[int, ...]]] = {
    "SimpleConvNet": (
        lambda: xpnn.SimpleConvNet((1, 8, 8), conv_param=CONV, hidden_size=6, output_size=4, seed=0),
        (1, 8, 8),
    ),
    "DeepConvNet": (lambda: xpnn.DeepConvNet((1, 12, 12), hidden_size=8, output_size=4, seed=1), (1, 12, 12)),
    "MultiLayerNet": (lambda: xpnn.MultiLayerNet(6, [5, 4], 3, activation="sigmoid", seed=2), (6,)),
    "MultiLayerNetExtend": (
        lambda: _with_running_stats(
            xpnn.MultiLayerNetExtend(
                6, [5, 4], 3, use_dropout=True, dropout_ration=0.3, use_batchnorm=True, seed=3
            )
        ),
        (6,),
    ),
    "Sequential": (_plain_sequential, (6,)),
}


def _logits(net: xpnn.Sequential, x: np.ndarray) -> Any:
    return net.run(net.prepare_input(x))  # the logits, as inference computes them (Dask included)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_a_layer_network_comes_back_predicting_identically(
    name: str, suffix: str, tmp_path: Path, backend: Any
) -> None:
    make, shape = NETWORKS[name]
    original = make()
    placed = original.to_backend(backend.name, backend.device)
    path = xpnn.save_weights(placed, tmp_path / f"net{suffix}")
    loaded = xpnn.load_weights(path)

    assert type(loaded) is xpnn.Sequential and loaded.backend == "numpy"
    assert loaded.spec() == original.spec() and loaded.n_in == original.n_in == shape
    arrays, expected = loaded.to_numpy(), placed.to_numpy()  # as saved (JAX may hold float32)
    assert sorted(arrays) == sorted(expected)
    for k in expected:  # parameters and batch-norm running statistics, bit for bit
        assert arrays[k].dtype == expected[k].dtype
        np.testing.assert_array_equal(arrays[k], expected[k], err_msg=k)
    if name in ("MultiLayerNetExtend", "Sequential"):
        assert any(k.startswith("running_var") and not np.all(arrays[k] == 1.0) for k in arrays)

    again = loaded.to_backend(backend.name, backend.device)
    x = np.random.default_rng(5).random((4, *shape))
    np.testing.assert_array_equal(host(_logits(again, x), backend), host(_logits(placed, x), backend))
    np.testing.assert_array_equal(
        host(xpnn.predict(again, x, normalize=False), backend),
        host(xpnn.predict(placed, x, normalize=False), backend),
    )
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary files are left"


def test_a_layer_network_takes_no_activation_and_only_known_suffixes(tmp_path: Path) -> None:
    net = _plain_sequential()
    with pytest.raises(ValueError, match="does not apply to a layer network"):
        xpnn.save_weights(net, tmp_path / "net.npz", activation="relu")
    with pytest.raises(ValueError, match=r"writes \.npz or \.safetensors"):
        xpnn.save_weights(net, tmp_path / "net.pkl")
    assert not list(tmp_path.iterdir())


def test_load_params_gives_a_layer_networks_arrays(tmp_path: Path) -> None:
    net = _plain_sequential()
    params = xpnn.load_params(xpnn.save_weights(net, tmp_path / "net.npz"))
    assert sorted(params) == sorted(net.to_numpy())


# --- the recorded architecture is hostile data ---------------------------------------------------


def _arrays() -> dict[str, np.ndarray]:
    return _plain_sequential().to_numpy()


def _record(**changes: Any) -> dict[str, Any]:
    net = _plain_sequential()
    fields = {"format": 1, "network": "sequential", "input_shape": [6], "layers": net.spec()}
    fields.update(changes)
    return fields


def _layers(**changes: Any) -> list[dict[str, Any]]:
    """The plain network's layers, with the entries of ``changes`` (position -> layer) replaced."""
    layers: list[Any] = _plain_sequential().spec()
    for i, layer in changes.items():
        layers[int(i[1:])] = layer
    return layers


def _write(
    tmp_path: Path, suffix: str, record: str | bytes, arrays: dict[str, np.ndarray] | None = None
) -> Path:
    arrays = _arrays() if arrays is None else arrays
    path = tmp_path / f"hostile{suffix}"
    text = record if isinstance(record, str) else record.decode("latin1")
    if suffix == ".npz":
        raw = record if isinstance(record, bytes) else record.encode()
        np.savez(path, **arrays, __xpnn__=np.frombuffer(raw, dtype=np.uint8))
    else:
        import safetensors.numpy

        safetensors.numpy.save_file(arrays, path, metadata={"xpnn": text})
    return path


HOSTILE: list[tuple[str, Any, str]] = [
    # unknown or misspelt layer types, and types that are not strings
    (
        "unknown type",
        _record(layers=_layers(l2={"type": "Eval"})),
        r"layer 3 has type 'Eval'; xpnn knows the layer types",
    ),
    (
        "type not a string",
        _record(layers=_layers(l2={"type": ["Sigmoid"]})),
        r"layer 3 has type \['Sigmoid'\]",
    ),
    ("no type", _record(layers=_layers(l2={})), r"layer 3 has type None"),
    ("class attribute as type", _record(layers=_layers(l2={"type": "__class__"})), "has type '__class__'"),
    # keys a layer does not have, or lacks
    (
        "extra key",
        _record(layers=_layers(l2={"type": "Sigmoid", "code": "import os"})),
        r"\(Sigmoid\) has unknown keys \['code'\]",
    ),
    (
        "kind as a key",
        _record(layers=_layers(l0={"type": "Affine", "index": 1, "kind": "Relu"})),
        r"unknown keys \['kind'\]",
    ),
    ("missing key", _record(layers=_layers(l0={"type": "Affine"})), r"layer 1 \(Affine\) has no index"),
    # values: ints and floats only, in range
    (
        "index as text",
        _record(layers=_layers(l0={"type": "Affine", "index": "1"})),
        r"has index '1'; an int from 1 to",
    ),
    ("index a bool", _record(layers=_layers(l0={"type": "Affine", "index": True})), "has index True; an int"),
    ("index a float", _record(layers=_layers(l0={"type": "Affine", "index": 1.0})), "has index 1.0; an int"),
    ("index zero", _record(layers=_layers(l0={"type": "Affine", "index": 0})), "has index 0; an int from 1"),
    (
        "index huge",
        _record(layers=_layers(l0={"type": "Affine", "index": 10**12})),
        "an int from 1 to 999,999,999",
    ),
    (
        "momentum over 1",
        _record(layers=_layers(l1={"type": "BatchNormalization", "index": 2, "momentum": 2.0})),
        "has momentum 2.0; a number from 0.0 to 1.0",
    ),
    (
        "momentum text",
        _record(layers=_layers(l1={"type": "BatchNormalization", "index": 2, "momentum": "0.9"})),
        "has momentum '0.9'",
    ),
    (
        "ratio NaN",
        '{"format": 1, "network": "sequential", "input_shape": [6], "layers": [{"type": "Affine", "index": 1}, {"type": "BatchNormalization", "index": 2, "momentum": 0.8}, {"type": "Sigmoid"}, {"type": "Dropout", "ratio": NaN}, {"type": "Affine", "index": 3}]}',
        "has ratio nan; a number",
    ),
    ("ratio infinite", _record(layers=_layers(l3={"type": "Dropout", "ratio": 1e400})), "has ratio inf"),
    ("ratio negative", _record(layers=_layers(l3={"type": "Dropout", "ratio": -0.5})), "has ratio -0.5"),
    # sizes
    (
        "huge input shape",
        _record(input_shape=[1 << 20, 1 << 20]),
        r"has input_shape \[1048576, 1048576\]; a list of 1 to 8 positive ints",
    ),
    ("zero input size", _record(input_shape=[0]), r"has input_shape \[0\]"),
    ("too many input dims", _record(input_shape=[1] * 9), "has input_shape"),
    ("too many layers", _record(layers=[{"type": "Relu"}] * 1001), "a list of 1 to 1,000 layer objects"),
    ("no layers", _record(layers=[]), r"has layers \[\]; a list of 1 to"),
    ("huge record", _record(layers=[{"type": "Relu"}] * 4000), "over 65,536"),
    # nesting
    ("layers an object", _record(layers={"type": "Relu"}), r"has layers \{'type': 'Relu'\}; a list"),
    ("layers text", _record(layers="Affine-Sigmoid-Affine"), "has layers 'Affine-Sigmoid-Affine'; a list"),
    (
        "a layer a list",
        _record(layers=_layers(l2=["Sigmoid"])),
        r"layer 3 is \['Sigmoid'\]; a layer is a JSON object",
    ),
    (
        "nested value",
        _record(layers=_layers(l0={"type": "Affine", "index": [1]})),
        r"has index \[1\]; an int",
    ),
    ("nested input shape", _record(input_shape=[[6]]), r"has input_shape \[\[6\]\]"),
    (
        "deep nesting",
        '{"format": 1, "network": "sequential", "layers": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "over 65,536",
    ),
    (
        "deep nesting, short",
        '{"format": 1, "network": "sequential", "input_shape": [6], "layers": '
        + "[" * 30_000
        + "]" * 30_000
        + "}",
        "not JSON",
    ),
    # the record itself
    ("not JSON", b'{"format": 1, "network": "sequential", "layers": [', "not JSON"),
    ("not UTF-8", b'{"format": 1, "network": "\xff"}', "not UTF-8|not JSON"),
    ("unknown field", _record(exec="print(1)"), r"has unknown fields \['exec'\]"),
    ("mixed kinds", _record(activation="relu"), r"has unknown fields \['activation'\]"),
    ("another network", _record(network="pickle"), "has network 'pickle'; 'sequential' expected"),
    ("newer format", _record(format=2), "format 2: it was written by a newer xpnn"),
    ("no input shape", {k: v for k, v in _record().items() if k != "input_shape"}, "has no input_shape"),
]


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize(("case", "record", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_record_is_refused_with_a_clear_message(
    case: str, record: Any, message: str, suffix: str, tmp_path: Path
) -> None:
    if case == "not UTF-8" and suffix == ".safetensors":
        pytest.skip("safetensors metadata is JSON text: it cannot hold bytes that are not UTF-8")
    text = record if isinstance(record, (str, bytes)) else json.dumps(record)
    path = _write(tmp_path, suffix, text)
    with pytest.raises(xpnn.DataError, match=message) as e:
        xpnn.load_weights(path)
    assert str(path) in str(e.value)
    assert len(str(e.value)) < 600, "the message quotes the file only in short"


def test_the_plain_record_written_by_hand_loads(tmp_path: Path) -> None:
    """The hostile cases above are changes of a record that loads: this is it."""
    for suffix in (".npz", ".safetensors"):
        loaded = xpnn.load_weights(_write(tmp_path, suffix, json.dumps(_record())))
        assert loaded.spec() == _plain_sequential().spec()


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_a_record_of_the_largest_size_loads_and_one_byte_more_is_refused(tmp_path: Path, suffix: str) -> None:
    limit = 65_536  # the size limit of a record, as its message names it
    text = json.dumps(_record())
    at_limit = text[:-1] + " " * (limit - len(text)) + "}"  # JSON's whitespace, up to the limit
    assert xpnn.load_weights(_write(tmp_path, suffix, at_limit)).spec() == _plain_sequential().spec()
    with pytest.raises(xpnn.DataError, match="is 65,537 bytes, over 65,536"):
        xpnn.load_weights(_write(tmp_path, suffix, at_limit[:-1] + " }"))


MISMATCH: list[tuple[str, Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]], dict[str, Any], str]] = [
    (
        "an array missing",
        lambda a: {k: v for k, v in a.items() if k != "running_var2"},
        {},
        r"missing \['running_var2'\]",
    ),
    ("an array too many", lambda a: {**a, "W9": np.zeros((2, 2))}, {}, r"unexpected \['W9'\]"),
    (
        "a layer too many",
        lambda a: a,
        {"layers": [*_layers(), {"type": "Affine", "index": 4}]},
        r"missing \['W4', 'b4'\]",
    ),
    ("a layer too few", lambda a: a, {"layers": _layers()[:-1]}, r"unexpected \['W3', 'b3'\]"),
    (
        "the same layer twice",
        lambda a: a,
        {"layers": [*_layers(), {"type": "Affine", "index": 3}]},
        r"read \['W3', 'b3'\] twice",
    ),
    ("another input shape", lambda a: a, {"input_shape": [7]}, "the arrays do not fit the recorded layers"),
    (
        "a wrong array shape",
        lambda a: {**a, "gamma2": np.ones(4)},
        {},
        "the arrays do not fit the recorded layers",
    ),
    (
        "no classifier",
        lambda a: a,
        {"layers": [{"type": "Relu"}], "input_shape": [2, 3]},
        r"unexpected|outputs of shape \(2, 3\)",
    ),
    (
        "no classifier, no arrays",
        lambda a: {},
        {"layers": [{"type": "Relu"}], "input_shape": [2, 3]},
        r": the recorded layers give outputs of shape \(2, 3\); a classifier ends in \(n,\)$",
    ),
    (
        "conv layer on a vector",
        lambda a: a,
        {"layers": [{"type": "Convolution", "index": 1, "stride": 1, "pad": 0}, *_layers()[1:]]},
        "do not fit the recorded layers",
    ),
]


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize(("case", "arrays", "changes", "message"), MISMATCH, ids=[m[0] for m in MISMATCH])
def test_a_record_and_arrays_that_disagree_are_refused(
    case: str,
    arrays: Callable[..., dict[str, np.ndarray]],
    changes: dict[str, Any],
    message: str,
    suffix: str,
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, suffix, json.dumps(_record(**changes)), arrays(_arrays()))
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)


def test_the_record_is_checked_before_any_member_is_inflated(tmp_path: Path) -> None:
    """A damaged member is only found when it is read: a hostile record is refused before that."""
    arrays = {"W1": np.random.default_rng(0).normal(size=(1000, 3)), "b1": np.zeros(3)}

    def damaged(name: str, layers: list[dict[str, Any]]) -> Path:
        record = {"format": 1, "network": "sequential", "input_shape": [1000], "layers": layers}
        path = _write(tmp_path / name, ".npz", json.dumps(record), arrays)
        data = bytearray(path.read_bytes())
        at = data.find(arrays["W1"].tobytes())
        data[at + 20_000] ^= 0xFF  # far past the header: the CRC fails only once W1 is read
        path.write_bytes(bytes(data))
        return path

    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    with pytest.raises(xpnn.DataError, match="not a readable .npz"):
        xpnn.load_weights(damaged("good", [{"type": "Affine", "index": 1}]))
    with pytest.raises(xpnn.DataError, match="has type 'Eval'"):
        xpnn.load_weights(damaged("bad", [{"type": "Eval"}]))


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([Affine(1), Relu(), Dropout(float("nan")), Affine(2)], "^this network's layers cannot be written"),
        (
            [Affine(1), Relu(), Dropout(1.5), Affine(2)],
            r"^this network cannot be saved: save_weights: the xpnn record of the network \(the network"
            r" to save\), layer 3 \(Dropout\) has ratio 1\.5; ",
        ),
    ],
    ids=["nan", "over one"],
)
def test_save_refuses_what_load_would_refuse(layers: list[Any], message: str, tmp_path: Path) -> None:
    params = {"W1": np.ones((3, 2)), "b1": np.zeros(2), "W2": np.ones((2, 2)), "b2": np.zeros(2)}
    net = xpnn.Sequential(layers, params, input_shape=(3,))
    with pytest.raises(ValueError, match=message):
        xpnn.save_weights(net, tmp_path / "net.npz")
    assert not list(tmp_path.iterdir())
