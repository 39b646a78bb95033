"""ONNX export: xpnn's forward traced on ndonnx, run back in onnxruntime, against NumPy float64.

Needs the ``onnx`` extra; without it these tests skip, unless ``XPNN_REQUIRE_ONNX=1`` (set by
the nox session that installs the extra) makes that a failure.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import reference
from conftest import tolerance

import xpnn
from xpnn.export import IR_VERSION, OPSET, export_onnx, onnx_model


def _need(module: str, extra: str = "onnx"):
    """``module``, or skip saying which extra installs it (a failure where XPNN_REQUIRE_ONNX=1)."""
    try:
        return pytest.importorskip(module, reason=f"{module} not installed (pip install 'xpnn[{extra}]')")
    except pytest.skip.Exception:
        if os.environ.get("XPNN_REQUIRE_ONNX") == "1":
            pytest.fail(f"{module} is not installed but XPNN_REQUIRE_ONNX=1")
        raise


@pytest.fixture(scope="module")
def ort():
    for module in ("ndonnx", "onnx", "onnxscript"):
        _need(module)
    return _need("onnxruntime")


def run_model(ort, model, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"input": x})
    return y


#: The exportable networks: (name, weights, hidden activation) -- book-sized ones come from data.
NETWORKS = {
    "toy": (xpnn.init_network(), "sigmoid"),
    "relu": (reference.random_network((6, 9, 4), np.float32, seed=1), "relu"),
    "4-layer": (reference.random_network((5, 8, 7, 6, 3), np.float32, seed=2), "sigmoid"),
}
HIDDEN = {"sigmoid": reference.sigmoid, "relu": reference.relu}


@functools.cache
def traced(name: str, output: str, activation: str | None = None):
    """The model of ``NETWORKS[name]``, traced once per test run (tracing takes a second or so)."""
    net, own = NETWORKS[name]
    return onnx_model(net, activation=activation or own, output=output)


#: Each network with two of the three outputs, each output twice: six traces in all.
CASES = [
    ("toy", "softmax"),
    ("toy", "identity"),
    ("relu", "softmax"),
    ("relu", "argmax"),
    ("4-layer", "identity"),
    ("4-layer", "argmax"),
]


@pytest.mark.parametrize(("name", "output"), CASES)
def test_round_trip(ort, name: str, output: str) -> None:
    """Batches of 1, 7 and 10,000 rows through onnxruntime equal the NumPy float64 reference."""
    net, activation = NETWORKS[name]
    model = traced(name, output)
    for rows in (1, 7, 10_000):
        x = np.random.default_rng(rows).standard_normal((rows, net["W1"].shape[0])).astype(np.float32)
        y = run_model(ort, model, x)
        out = reference.softmax if output == "softmax" else (lambda a: a)
        expected = reference.forward(net, x, hidden=HIDDEN[activation], output=out)
        if output == "argmax":
            assert y.dtype == np.int64 and y.shape == (rows,)
            np.testing.assert_array_equal(y, np.argmax(expected, axis=-1))
            continue
        dtype = net["W1"].dtype  # the compute dtype is the weights'
        assert y.dtype == dtype and y.shape == expected.shape
        rtol = tolerance(dtype, 64)
        np.testing.assert_allclose(y.astype(np.float64), expected, rtol=rtol, atol=rtol)


def test_empty_batch(ort) -> None:
    for name, output in CASES:
        net, _ = NETWORKS[name]
        n_in, n_out = net["W1"].shape[0], net[f"b{len(net) // 2}"].shape[0]
        y = run_model(ort, traced(name, output), np.zeros((0, n_in), np.float32))
        assert y.shape == ((0,) if output == "argmax" else (0, n_out))


def test_model_is_valid_named_and_described(ort, tmp_path: Path) -> None:
    import onnx

    net, _ = NETWORKS["relu"]
    path = tmp_path / "net.onnx"
    returned = export_onnx(net, path, activation="relu", output="argmax")
    model = onnx.load(path)
    assert model == returned
    onnx.checker.check_model(model, full_check=True)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "input" and out.name == "label"
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 6
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["xpnn.sizes"] == "6,9,4"
    assert meta["xpnn.activation"] == "relu" and meta["xpnn.output"] == "argmax"
    assert {o.domain: o.version for o in model.opset_import}[""] <= onnx.defs.onnx_opset_version()
    ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # this onnxruntime loads it


def test_a_relu_network_exports_with_its_own_activation(ort, tmp_path: Path) -> None:
    """A Network placed with ReLU exports as ReLU (graph, metadata, numbers); a contradiction is refused."""
    import onnx

    weights, _ = NETWORKS["relu"]
    net = xpnn.to_backend(weights, activation="relu")
    path = tmp_path / "relu.onnx"
    export_onnx(net, path, output="identity")
    model = onnx.load(path)
    assert {p.key: p.value for p in model.metadata_props}["xpnn.activation"] == "relu"
    assert "Relu" in [n.op_type for n in model.graph.node]
    x = np.random.default_rng(0).standard_normal((7, 6)).astype(np.float32)
    expected = reference.forward(weights, x, hidden=reference.relu)
    assert not np.allclose(expected, reference.forward(weights, x, hidden=reference.sigmoid))
    rtol = tolerance("float32", 64)
    np.testing.assert_allclose(run_model(ort, model, x).astype(np.float64), expected, rtol=rtol, atol=rtol)
    with pytest.raises(ValueError, match="own activation is 'relu'.*got activation='sigmoid'"):
        export_onnx(net, tmp_path / "other.onnx", activation="sigmoid")
    assert not (tmp_path / "other.onnx").exists()


def test_activation_and_output_names_are_case_insensitive(ort) -> None:
    """``activation="ReLU"`` and ``output="Identity"`` export as ``relu`` and ``identity``, as ``forward`` reads them."""
    weights, _ = NETWORKS["relu"]
    x = np.random.default_rng(0).standard_normal((7, 6)).astype(np.float32)
    expected = reference.forward(weights, x, hidden=reference.relu)
    rtol = tolerance("float32", 64)
    for net, activation in [
        (weights, "ReLU"),
        (xpnn.to_backend(weights, activation="ReLU"), None),
        (xpnn.to_backend(weights, activation="relu"), "RELU"),
    ]:
        model = onnx_model(net, activation=activation, output="Identity")
        meta = {p.key: p.value for p in model.metadata_props}
        assert (meta["xpnn.activation"], meta["xpnn.output"]) == ("relu", "identity")
        np.testing.assert_allclose(
            run_model(ort, model, x).astype(np.float64), expected, rtol=rtol, atol=rtol
        )


def test_export_path_missing_parents_and_directories(ort, tmp_path: Path) -> None:
    """Missing parent directories are created; a directory is refused by name; no temporary file is left."""
    import onnx

    nested = tmp_path / "a" / "b" / "toy.onnx"
    export_onnx(xpnn.init_network(), nested)
    assert onnx.load(nested).graph.input[0].name == "input"
    target = tmp_path / "dir.onnx"
    target.mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        export_onnx(xpnn.init_network(), target)
    assert caught.value.filename == str(target) and caught.value.errno == errno.EISDIR
    assert caught.value.strerror == "is a directory: name the .onnx file to write"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "dir.onnx"]
    assert [p.name for p in nested.parent.iterdir()] == ["toy.onnx"]


def test_graph_is_lean(ort) -> None:
    """A sigmoid network's logits are MatMul, Add and Sigmoid only: no guards, no tanh spelling.

    Traced afresh (not from the cache): mutation testing runs a mutant of the rewrite rules
    against the tests that reached them when it recorded coverage, and a cached model reaches
    nothing.
    """
    trace = traced.__wrapped__
    ops = [n.op_type for n in trace("4-layer", "identity").graph.node]
    assert ops == ["MatMul", "Add", "Sigmoid"] * 3 + ["MatMul", "Add"]
    relu_ops = [n.op_type for n in trace("4-layer", "argmax", "relu").graph.node]
    assert relu_ops == ["MatMul", "Add", "Relu"] * 3 + ["MatMul", "Add", "ArgMax"]
    softmax_ops = [n.op_type for n in trace("toy", "softmax").graph.node]
    assert not {"If", "IsNaN", "Where"} & set(softmax_ops), softmax_ops
    assert softmax_ops[-4:] == ["Sub", "Exp", "ReduceSum", "Div"]


def test_softmax_without_its_guards_keeps_nan_and_inf_rows(ort) -> None:
    """Dropping ndonnx's NaN guard changes no output: a NaN row is NaN, a huge row still sums to 1."""
    net, _ = NETWORKS["toy"]
    x = np.array([[1.0, 0.5], [np.nan, 1.0], [1e30, -1e30], [np.inf, 0.0]], np.float32)
    y = run_model(ort, traced("toy", "softmax"), x)
    assert np.isnan(y[1]).all() and not np.isnan(y[[0, 2, 3]]).any()
    with np.errstate(invalid="ignore", over="ignore"):
        expected = reference.forward(net, x, output=reference.softmax)
    np.testing.assert_allclose(y[[0, 2, 3]], expected[[0, 2, 3]], rtol=tolerance("float64", 64))


def test_options_are_checked(ort) -> None:
    net = xpnn.init_network()
    with pytest.raises(
        ValueError,
        match=r"^unknown activation 'swish'; choose one of \['identity', 'relu', 'sigmoid', 'tanh'\]$",
    ):
        onnx_model(net, activation="swish")
    with pytest.raises(
        ValueError, match=r"^unknown output 'max'; choose one of \['softmax', 'identity', 'argmax'\]$"
    ):
        onnx_model(net, output="max")
    with pytest.raises(
        ValueError,
        match=r"^unknown input_dtype 'int7'; choose one of \['float32', 'float64', 'float16', 'uint8'\]$",
    ):
        onnx_model(net, input_dtype="int7")
    with pytest.raises(ValueError, match="W1..Wn"):
        onnx_model({"W1": net["W1"]})


@pytest.mark.parametrize(
    ("module", "named"),
    [
        ("ndonnx", "ndonnx"),
        ("onnx", "onnx"),
        ("onnxscript.optimizer", "onnxscript"),
        ("onnxscript.rewriter", "onnxscript"),
        ("onnxscript.rewriter.pattern", "onnxscript"),
    ],
)
def test_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, module: str, named: str) -> None:
    """The message names the missing package (not its submodule) and the pip command."""
    if module != "ndonnx":
        for present in ("ndonnx", "onnx", "onnxscript.optimizer", "onnxscript.rewriter.pattern"):
            _need(present)  # imported before the one under test is made to fail
    monkeypatch.delitem(sys.modules, "xpnn.export._rules", raising=False)  # the rules are made again
    monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    with pytest.raises(xpnn.BackendUnavailableError) as caught:
        onnx_model(xpnn.init_network())
    assert str(caught.value) == (
        "ONNX export needs the `onnx` extra: pip install 'xpnn[onnx]' (in a clone: pip install -e '.[onnx]');"
        f" {named} cannot be imported here (import of {module} halted; None in sys.modules)"
    )


def test_import_xpnn_imports_no_onnx_stack() -> None:
    code = """
        import sys, xpnn
        xpnn.export_onnx  # a lazy name: resolving it imports none of the libraries
        print(sorted(m for m in ("ndonnx", "onnx", "onnxruntime", "onnxscript", "jax") if m in sys.modules))
        """
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_books_network_uint8_argmax_on_the_test_set(ort, real_data_dir: Path) -> None:
    """Raw MNIST bytes in, labels out: the same predictions as ``xpnn.predict`` on all 10,000 images."""
    x, t = xpnn.load_mnist(normalize=False, split="test", data_dir=real_data_dir, download=False)
    net = xpnn.load_sample_network(real_data_dir, download=False)
    labels = run_model(ort, onnx_model(net, output="argmax", input_dtype="uint8", normalize=True), x)
    np.testing.assert_array_equal(labels, xpnn.predict(net, x, normalize=True))
    assert float(np.mean(labels == t)) == 0.9352
    proba = run_model(ort, onnx_model(net, input_dtype="uint8", normalize=True), x)
    expected = reference.forward(net, x / 255.0, output=reference.softmax)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, expected, rtol=tolerance("float32", 64), atol=tolerance("float32", 64))


def _describe(model) -> dict:
    """What a user of the model file sees: its names, dtypes, shapes, metadata and labels."""
    import onnx

    def value(v):
        t = v.type.tensor_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name
        return v.name, dtype, [d.dim_param or d.dim_value for d in t.shape.dim]

    return {
        "inputs": [value(v) for v in model.graph.input],
        "outputs": [value(v) for v in model.graph.output],
        "metadata": {p.key: p.value for p in model.metadata_props},
        "producer": (model.producer_name, model.producer_version),
        "graph": model.graph.name,
        "doc": model.doc_string,
        "opset": [(o.domain, o.version) for o in model.opset_import],
        "ir_version": model.ir_version,
    }


def test_defaults_describe_the_model(ort, tmp_path: Path) -> None:
    """``export_onnx(net, path)``: float32 input, softmax probabilities, not normalized, opset 21."""
    import onnx

    returned = export_onnx(xpnn.init_network(), tmp_path / "toy.onnx")
    assert _describe(onnx_model(xpnn.init_network())) == _describe(returned)  # the same defaults
    assert (
        _describe(onnx.load(tmp_path / "toy.onnx"))
        == _describe(returned)
        == {
            "inputs": [("input", "float32", ["batch", 2])],
            "outputs": [("probabilities", "float64", ["batch", 2])],  # the toy network's weights are float64
            "metadata": {
                "xpnn.sizes": "2,3,2,2",
                "xpnn.activation": "sigmoid",
                "xpnn.output": "softmax",
                "xpnn.input_dtype": "float32",
                "xpnn.normalize": "false",
                "xpnn.dtype": "float64",
            },
            "producer": ("xpnn", xpnn.__version__),
            "graph": "xpnn_mlp_2_3_2_2",
            "doc": "xpnn network 2-3-2-2: sigmoid hidden layers, softmax output; input 'input' (batch, 2) float32",
            "opset": [("", OPSET)],
            "ir_version": IR_VERSION,
        }
    )
    assert (OPSET, IR_VERSION) == (21, 10)


def test_uint8_normalized_argmax_on_a_toy_network(ort) -> None:
    """Raw bytes in, divided by 255 in the graph, labels out; the model says so."""
    net, _ = NETWORKS["relu"]
    model = onnx_model(net, activation="relu", output="argmax", input_dtype="uint8", normalize=True)
    description = _describe(model)
    assert description["inputs"] == [("input", "uint8", ["batch", 6])]
    assert description["outputs"] == [("label", "int64", ["batch"])]
    assert description["graph"] == "xpnn_mlp_6_9_4"
    assert description["doc"] == (
        "xpnn network 6-9-4: relu hidden layers, argmax output; input 'input' (batch, 6) uint8,"
        " divided by 255 in the graph"
    )
    assert {k: v for k, v in description["metadata"].items() if k != "xpnn.sizes"} == {
        "xpnn.activation": "relu",
        "xpnn.output": "argmax",
        "xpnn.input_dtype": "uint8",
        "xpnn.normalize": "true",
        "xpnn.dtype": "float32",
    }
    x = np.random.default_rng(3).integers(0, 256, (64, 6)).astype(np.uint8)
    expected = reference.forward(net, x / 255.0, hidden=reference.relu)
    labels = run_model(ort, model, x)
    assert labels.dtype == np.int64 and labels.shape == (64,)
    assert not np.array_equal(
        np.argmax(expected, axis=-1), np.argmax(reference.forward(net, x * 1.0), axis=-1)
    )
    np.testing.assert_array_equal(labels, np.argmax(expected, axis=-1))
    logits = onnx_model(net, activation="relu", output="identity", input_dtype="uint8", normalize=True)
    rtol = tolerance("float32", 64)
    np.testing.assert_allclose(run_model(ort, logits, x), expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("input_dtype", ["float64", "float16", "uint8"])
def test_input_dtype_is_cast_to_the_weights_dtype(ort, input_dtype: str) -> None:
    """A float32 network takes float64, float16 or (unnormalized) uint8 input and computes in float32."""
    net = reference.random_network((3, 4, 2), np.float32, seed=7)
    model = onnx_model(net, output="identity", input_dtype=input_dtype)
    assert _describe(model)["inputs"] == [("input", input_dtype, ["batch", 3])]
    assert _describe(model)["metadata"]["xpnn.normalize"] == "false"
    rng = np.random.default_rng(8)
    x = (rng.integers(0, 4, (5, 3)) if input_dtype == "uint8" else rng.standard_normal((5, 3))).astype(
        input_dtype
    )
    y = run_model(ort, model, x)
    assert y.dtype == np.float32 and y.shape == (5, 2)
    expected = reference.forward(net, x.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(y, expected, rtol=tolerance("float32", 64), atol=tolerance("float32", 64))


@pytest.mark.parametrize(
    ("dtypes", "compute"),
    [
        (("int64", "int64"), "float64"),
        (("float32", "float64"), "float64"),
        (("float16", "float16"), "float16"),
    ],
)
def test_compute_dtype_is_the_weights_floating_dtype(ort, dtypes, compute: str) -> None:
    """Integer weights compute in float64, mixed ones in their common dtype (as ``to_backend``)."""
    net = reference.random_network((2, 3, 2), seed=9)
    net = {
        k: (np.round(v * 4) if dtypes[0] == "int64" else v).astype(dtypes[k[0] == "b"])
        for k, v in net.items()
    }
    model = onnx_model(net, output="identity", input_dtype=compute)
    assert _describe(model)["metadata"]["xpnn.dtype"] == compute
    x = np.random.default_rng(10).standard_normal((4, 2)).astype(compute)
    y = run_model(ort, model, x)
    assert y.dtype == np.dtype(compute)
    expected = reference.forward(net, x.astype(np.float64))
    np.testing.assert_allclose(y, expected, rtol=tolerance(compute, 64), atol=tolerance(compute, 64))


def _softmax_of(x, y, nan_where=None):
    """``exp(x - max(y)) / sum(...)``: xpnn's softmax when ``y`` is ``x``; NaN where ``nan_where``."""
    import ndonnx as ndx

    m = ndx.max(y, axis=-1, keepdims=True)
    if nan_where is not None:
        m = ndx.where(nan_where, ndx.asarray(np.array(np.nan, dtype=np.float32)), m)
    e = ndx.exp(x - m)
    return e / ndx.sum(e, axis=-1, keepdims=True)


#: Graphs traced from small formulas, and the ops the lean graph must have: each rewrite rule fires
#: on its exact pattern only (near misses keep their own ops, and so their meaning).
LEAN_CASES = {
    "sigmoid": (lambda ndx, x: ndx.tanh(x * 0.5) * 0.5 + 0.5, "float32", ["Sigmoid"]),
    "tanh(x/4)": (lambda ndx, x: ndx.tanh(x * 0.25) * 0.5 + 0.5, "float32", ["Mul", "Tanh", "Mul", "Add"]),
    "tanh/4": (lambda ndx, x: ndx.tanh(x * 0.5) * 0.25 + 0.5, "float32", ["Mul", "Tanh", "Mul", "Add"]),
    "+1/4": (lambda ndx, x: ndx.tanh(x * 0.5) * 0.5 + 0.25, "float32", ["Mul", "Tanh", "Mul", "Add"]),
    "+vector": (
        lambda ndx, x: ndx.tanh(x * 0.5) * 0.5 + ndx.asarray(np.array([0.5, 0.5, 0.7], np.float32)),
        "float32",
        ["Mul", "Tanh", "Mul", "Add"],
    ),
    "almost a half": (
        lambda ndx, x: ndx.tanh(x * (0.5 + 2.0**-40)) * 0.5 + 0.5,
        "float64",
        ["Mul", "Tanh", "Mul", "Add"],
    ),
    "tanh(x*x)": (lambda ndx, x: ndx.tanh(x * x) * 0.5 + 0.5, "float32", ["Mul", "Tanh", "Mul", "Add"]),
    "relu": (lambda ndx, x: ndx.maximum(x, ndx.zeros_like(x)), "float32", ["Relu"]),
    "maximum(x, 1/2)": (
        lambda ndx, x: ndx.maximum(x, ndx.full_like(x, 0.5)),
        "float32",
        ["Shape", "Expand", "Max"],
    ),
    "softmax": (
        lambda ndx, x: _softmax_of(x, x),
        "float32",
        ["Unsqueeze", "ReduceMax", "Squeeze", "Sub", "Exp", "ReduceSum", "Div"],
    ),
    "exp(x - max(2x)) normalized": (
        lambda ndx, x: _softmax_of(x, x * 2.0),
        "float32",
        [
            "Mul",
            "IsNaN",
            "Size",
            "Equal",
            "If",
            "Unsqueeze",
            "ReduceMax",
            "Squeeze",
            "Where",
            "Sub",
            "Exp",
            "ReduceSum",
            "Div",
        ],
    ),
    "exp(x - where(isnan(x), nan, max(x))) normalized": (
        lambda ndx, x: _softmax_of(x, x, nan_where=ndx.isnan(x)),
        "float32",
        [
            "IsNaN",
            "Size",
            "Equal",
            "If",
            "Unsqueeze",
            "ReduceMax",
            "Squeeze",
            "Where",
            "Where",
            "Sub",
            "Exp",
            "ReduceSum",
            "Div",
        ],
    ),
    "exp(x - max(x))": (
        lambda ndx, x: ndx.exp(x - ndx.max(x, axis=-1, keepdims=True)),
        "float32",
        ["IsNaN", "Size", "Equal", "If", "Unsqueeze", "ReduceMax", "Squeeze", "Where", "Sub", "Exp"],
    ),
}


@pytest.mark.parametrize("name", list(LEAN_CASES))
def test_rewrite_rules_fire_on_their_pattern_only(ort, name: str) -> None:
    """The lean graph has the expected ops and computes what the traced graph computes."""
    import ndonnx as ndx

    from xpnn.export._trace import lean as _lean

    formula, dtype, ops = LEAN_CASES[name]
    x = ndx.argument(shape=("batch", 3), dtype=getattr(ndx, dtype))
    traced_model = ndx.build({"input": x}, {"y": formula(ndx, x)})
    lean = _lean(traced_model)
    assert [n.op_type for n in lean.graph.node] == ops
    data = np.random.default_rng(11).standard_normal((5, 3)).astype(dtype)
    rtol = tolerance(dtype, 64)
    np.testing.assert_allclose(
        run_model(ort, lean, data), run_model(ort, traced_model, data), rtol=rtol, atol=rtol
    )


# --- issue 24: what cannot be exported is refused before anything is traced or written ----------


def _refusal(call) -> str:
    with pytest.raises(ValueError) as e:
        call()
    return str(e.value)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused_unless_allowed(ort, tmp_path: Path, value: float) -> None:
    """export_onnx wrote NaN weights into a model whose every output was NaN."""
    net = {k: v.copy() for k, v in reference.random_network((3, 4, 2), np.float32, seed=3).items()}
    net["W2"][2, 1] = value
    net["b1"][0] = value
    path = tmp_path / "bad.onnx"
    assert _refusal(lambda: export_onnx(net, path)) == (
        "weight b1 holds 1 non-finite value(s) (NaN or infinity; the first at index (0,)): every output"
        " of the exported model would be NaN or meaningless. Fix the weights, or pass"
        " allow_nonfinite=True to export them anyway"
    )
    assert not path.exists() and list(tmp_path.iterdir()) == []
    net["b1"][0] = 0.0
    assert "weight W2 holds 1 non-finite value(s) (NaN or infinity; the first at index (2, 1))" in _refusal(
        lambda: onnx_model(net)
    )
    model = export_onnx(net, path, allow_nonfinite=True, output="identity")  # the escape, as load_weights
    y = run_model(ort, model, np.ones((2, 3), np.float32))
    assert not np.isfinite(y[:, 1]).any()


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "bool", np.int64])
def test_a_non_floating_dtype_is_refused(ort, tmp_path: Path, dtype) -> None:
    message = (
        f"dtype must be a real floating dtype (float32, float64, float16); got {np.dtype(dtype).name}:"
        " weights are floating, and an integer or bool dtype would truncate every weight"
    )
    assert _refusal(lambda: export_onnx(xpnn.init_network(), tmp_path / "a.onnx", dtype=dtype)) == message
    assert list(tmp_path.iterdir()) == []


def test_dtype_chooses_the_compute_dtype(ort) -> None:
    net = reference.random_network((3, 4, 2), np.float64, seed=4)
    model = onnx_model(net, output="identity", dtype="float16", input_dtype="float16")
    assert _describe(model)["metadata"]["xpnn.dtype"] == "float16"
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float16)
    y = run_model(ort, model, x)
    assert y.dtype == np.float16
    expected = reference.forward(net, x.astype(np.float64))
    np.testing.assert_allclose(y, expected, rtol=tolerance("float16", 64), atol=tolerance("float16", 64))


def _declared(rows: int, cols: int, dtype: str) -> dict[str, np.ndarray]:
    """A network whose W1 declares rows x cols weights and occupies one: a broadcast view."""
    return {
        "W1": np.broadcast_to(np.zeros((), dtype), (rows, cols)),
        "b1": np.broadcast_to(np.zeros((), dtype), (cols,)),
        "W2": np.broadcast_to(np.zeros((), dtype), (cols, 2)),
        "b2": np.zeros(2, dtype),
    }


HALF = "export it with dtype='float16' (half the size), or "


@pytest.mark.parametrize(
    ("rows", "dtype", "compute", "hint"),
    [
        (32768, "float32", "float32", HALF),
        (131072, "float16", "float16", ""),
        (32768, "int8", "float64", HALF),
    ],
    ids=["float32", "float16", "int8-as-float64"],
)
def test_a_network_over_onnx_2gb_is_refused_from_its_declared_size(
    ort, tmp_path: Path, rows: int, dtype: str, compute: str, hint: str
) -> None:
    """A 2 GB network took 10.5 GB and 51 s before an exception; now the declared sizes decide."""
    import tracemalloc

    net = _declared(rows, 16388, dtype)  # declared sizes; almost nothing is allocated
    count = sum(v.size for v in net.values())
    size = count * np.dtype(compute).itemsize
    assert size > 2**31  # over protobuf's limit
    tracemalloc.start()
    try:
        message = _refusal(lambda: export_onnx(net, tmp_path / "big.onnx"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == (
        f"this network's {count:,} weights take {size:,} bytes in {compute}, more than the"
        f" 2,147,483,647 bytes (2 GiB) an ONNX model can hold (protobuf's limit on one message):"
        f" {hint}save it with xpnn.save_weights instead"
    )
    assert peak < 1 << 20, f"{peak:,} bytes allocated before refusing"
    assert list(tmp_path.iterdir()) == []
    assert "2 GiB" in _refusal(lambda: xpnn.compile(net, "onnxruntime"))


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="longdouble is float64 here")
def test_the_one_dtype_rule_refuses_longdouble(ort, tmp_path: Path) -> None:
    """Attack finding 11: 'longdouble' passed the rule, then ndonnx failed; '>f4' was refused."""
    message = (
        "dtype must be a real floating dtype (float32, float64, float16); got float128: xpnn computes in"
        " float16, float32 or float64 (bfloat16 where the backend has it), the dtypes every backend and"
        " ONNX run; use float64 for the most precision"
    )
    net = xpnn.init_network()
    path = tmp_path / "a.onnx"
    for dtype in ("longdouble", np.longdouble):
        assert _refusal(lambda dtype=dtype: export_onnx(net, path, dtype=dtype)) == message
    wide = {k: v.astype(np.longdouble) for k, v in net.items()}
    assert _refusal(lambda: export_onnx(wide, path)) == message
    assert list(tmp_path.iterdir()) == []
    assert onnx_model(net, dtype=">f4").metadata_props[-1].value == "float32"


def test_complex_weights_are_refused(ort, tmp_path: Path) -> None:
    """Attack finding 6: complex weights were exported with their imaginary part dropped."""
    net = {**xpnn.init_network(), "W2": xpnn.init_network()["W2"] * (1 + 1j)}
    with pytest.raises(TypeError, match=r"^weight W2 must be real numbers .*got dtype complex128"):
        export_onnx(net, tmp_path / "a.onnx")
    assert list(tmp_path.iterdir()) == []


# --- issue 20: a layer network (the book's CNNs, ch. 6 nets) written from its layers ------------


def _layer_reference(net: xpnn.Sequential, x: np.ndarray) -> np.ndarray:
    """The network's logits in NumPy float64, layer by layer from its spec (tests/reference_nn.py)."""
    import reference_nn as ref

    p = {k: np.asarray(v, np.float64) for k, v in net.to_numpy().items()}
    h = np.asarray(x, np.float64)
    for spec in net.spec():
        kind, i = spec["type"], spec.get("index")
        if kind == "Convolution":
            h = ref.conv(h, p[f"W{i}"], p[f"b{i}"], spec["stride"], spec["pad"])
        elif kind == "Pooling":
            h = ref.pool(h, spec["pool_h"], spec["pool_w"], spec["stride"], spec["pad"])
        elif kind == "Affine":
            h = ref.affine(h, p[f"W{i}"], p[f"b{i}"])
        elif kind == "BatchNormalization":  # the book's: per value, 10e-7 added to the variance
            flat = h.reshape(len(h), -1)
            flat = (flat - p[f"running_mean{i}"]) / np.sqrt(p[f"running_var{i}"] + 10e-7)
            h = (p[f"gamma{i}"] * flat + p[f"beta{i}"]).reshape(h.shape)
        elif kind == "Dropout":  # the book's inference: scaled by 1 - ratio
            h = h * (1.0 - spec["ratio"])
        else:
            h = {"Relu": reference.relu, "Sigmoid": reference.sigmoid}[kind](h)
    return h


def _with_statistics(net: xpnn.Sequential, seed: int) -> xpnn.Sequential:
    """``net`` with random running means and variances (the book's start at 0: too easy a test)."""
    rng = np.random.default_rng(seed)
    state = {
        k: rng.standard_normal(v.shape) if "mean" in k else rng.uniform(0.5, 2.0, v.shape)
        for k, v in net.to_numpy().items()
        if k.startswith("running")
    }
    return net.replace(state)


def _padded_conv_net() -> xpnn.Sequential:
    """Conv (pad 1) - batch norm on the conv output - max-pool padded with zeros - sigmoid - affine - dropout."""
    from xpnn.nn import Affine, BatchNormalization, Convolution, Dropout, Pooling, Sigmoid

    rng = np.random.default_rng(7)
    d = 2 * 5 * 5  # 2 filters on a 5x5 output
    params = {
        "W1": rng.standard_normal((2, 1, 3, 3)),
        "b1": rng.standard_normal(2) - 2.0,  # mostly negative: the zero padding of the pool matters
        "gamma1": rng.uniform(0.5, 1.5, d),
        "beta1": rng.standard_normal(d) - 3.0,
        "running_mean1": rng.standard_normal(d),
        "running_var1": rng.uniform(0.5, 2.0, d),
        "W2": rng.standard_normal((2 * 3 * 3, 4)),
        "b2": rng.standard_normal(4),
    }
    layers = [
        Convolution(1, stride=1, pad=1),
        BatchNormalization(1),
        Pooling(2, 2, stride=2, pad=1),
        Sigmoid(),
        Affine(2),
        Dropout(0.3),
    ]
    return xpnn.Sequential(layers, params, input_shape=(1, 5, 5))


#: Small members of every layer network class, made on first use.
LAYER_NETWORKS = {
    "SimpleConvNet": lambda: xpnn.SimpleConvNet(
        input_dim=(1, 10, 10),
        conv_param={"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 2},
        hidden_size=6,
        weight_init_std=0.5,
        seed=0,
    ),
    "DeepConvNet": lambda: xpnn.DeepConvNet(seed=1),
    "MultiLayerNet": lambda: xpnn.MultiLayerNet(6, [5, 4], 3, activation="sigmoid", seed=2),
    "MultiLayerNetExtend": lambda: _with_statistics(
        xpnn.MultiLayerNetExtend(6, [5, 4], 3, use_dropout=True, use_batchnorm=True, seed=3), 4
    ),
    "padded conv, batch norm": _padded_conv_net,
}
#: The ONNX operators a layer network's graph may hold.
LAYER_OPS = {
    "Cast", "Div", "Conv", "MaxPool", "Pad", "Flatten", "Gemm", "Relu", "Sigmoid",
    "BatchNormalization", "Reshape", "Mul", "Softmax", "ArgMax",
}  # fmt: skip


@pytest.mark.parametrize("name", list(LAYER_NETWORKS))
def test_layer_networks_export_a_few_nodes_per_layer_and_compute_the_reference(ort, name: str) -> None:
    """Each network class: onnxruntime's logits, probabilities and labels equal the NumPy float64
    reference within the compute dtype's tolerance, from a graph of at most 3 nodes per layer."""
    net = LAYER_NETWORKS[name]()
    has_conv = len(net.n_in) == 3
    x = np.random.default_rng(5).standard_normal((6, *net.n_in)).astype(np.float32)
    expected = _layer_reference(net, x)
    compute = "float32" if has_conv else "float64"  # onnxruntime's CPU Conv is float32 only
    rtol = tolerance(compute, 256)
    for output, out in (("identity", lambda a: a), ("softmax", reference.softmax)):
        model = onnx_model(net, output=output)
        ops = [n.op_type for n in model.graph.node]
        assert set(ops) <= LAYER_OPS and len(ops) <= 3 * len(net.layers) + 2, ops
        assert ops[-1] == ("Softmax" if output == "softmax" else ops[-1])
        y = run_model(ort, model, x)
        assert str(y.dtype) == compute and y.shape == (6, net.n_out)
        np.testing.assert_allclose(y, out(expected), rtol=rtol, atol=rtol * np.abs(expected).max())
        meta = {p.key: p.value for p in model.metadata_props}
        assert json.loads(meta["xpnn.layers"]) == net.spec()
        assert (meta["xpnn.dtype"], meta["xpnn.output"]) == (compute, output)
    names = {i.name for i in model.graph.initializer}
    assert set(net.params) <= names  # the weights as initializers, by their own names
    labels = run_model(ort, onnx_model(net, output="argmax"), x)
    np.testing.assert_array_equal(labels, np.argmax(expected, axis=1))
    empty = run_model(ort, model, np.zeros((0, *net.n_in), np.float32))
    assert empty.shape == (0, net.n_out)


def test_a_layer_network_takes_raw_bytes_and_refuses_what_it_cannot_export(ort, tmp_path: Path) -> None:
    net = LAYER_NETWORKS["SimpleConvNet"]()
    x8 = np.random.default_rng(6).integers(0, 256, (4, 1, 10, 10), dtype=np.uint8)
    model = export_onnx(net, tmp_path / "cnn.onnx", input_dtype="uint8", normalize=True, output="identity")
    expected = _layer_reference(net, x8 / 255.0)
    rtol = tolerance("float32", 256)
    got = run_model(ort, model, x8)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())
    assert "divided by 255 in the graph" in model.doc_string
    assert (tmp_path / "cnn.onnx").read_bytes() == model.SerializeToString()
    # float64 on request: a valid model (for runtimes with a float64 Conv)
    assert onnx_model(net, dtype="float64").metadata_props[-1].value == "float64"
    with pytest.raises(ValueError, match=r"^activation='relu' does not apply to a layer network"):
        export_onnx(net, tmp_path / "a.onnx", activation="relu")
    bad = net.replace({"W2": xpnn.asarray(np.where(np.eye(*net.params["W2"].shape) > 0, np.nan, 1.0))})
    with pytest.raises(
        ValueError, match=r"^weight W2 holds 6 non-finite value\(s\) .*the first at index \(0, 0\)"
    ):
        export_onnx(bad, tmp_path / "a.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cnn.onnx"]
    run_model(ort, onnx_model(bad, allow_nonfinite=True), x8.astype(np.float32))


def test_to_numpy_of_a_compiled_network_says_what_to_do(ort) -> None:
    compiled = xpnn.compile(xpnn.random_network([4, 3], seed=0), "onnxruntime")
    with pytest.raises(TypeError, match=r"compiled network \(OnnxRuntimeNetwork\) holds no arrays"):
        xpnn.to_numpy(compiled)
