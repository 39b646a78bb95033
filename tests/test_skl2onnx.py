"""skl2onnx converts pipelines that hold ``xpnn.MLPClassifier`` or ``xpnn.MLPRegressor``.

The converted graphs run in onnxruntime and answer as the estimators do. Needs scikit-learn
and the ``skl2onnx`` extra; without them these tests skip, unless ``XPNN_REQUIRE_SKLEARN=1`` or
``XPNN_REQUIRE_ONNX=1`` (set by the nox session that installs them) makes that a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import Case, tolerance
from test_export import _need as need

import xpnn

if os.environ.get("XPNN_REQUIRE_SKLEARN") == "1":
    import sklearn  # noqa: F401
else:
    pytest.importorskip("sklearn", reason="xpnn.MLPClassifier needs scikit-learn (xpnn[sklearn])")

from sklearn.datasets import load_diabetes, load_digits, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xpnn import MLPClassifier, MLPRegressor
from xpnn.estimators import register_skl2onnx


def _need(module: str):
    return need(module, "skl2onnx")


@pytest.fixture(scope="module")
def to_onnx():
    for module in ("ndonnx", "onnx", "onnxscript"):
        _need(module)
    skl2onnx = _need("skl2onnx")
    register_skl2onnx()
    register_skl2onnx()  # a second call changes nothing
    return skl2onnx.to_onnx


@pytest.fixture(scope="module")
def ort():
    return _need("onnxruntime")


def run(ort, model, X: np.ndarray) -> list:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


def fit_quietly(model, X, y):
    """``fit`` for a few epochs: the ConvergenceWarning it gives is expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


NO_ZIPMAP = {MLPClassifier: {"zipmap": False}}


def test_mnist_pipeline_gives_the_estimators_labels(to_onnx, ort, real_data_dir: Path) -> None:
    """StandardScaler -> MLPClassifier on 3,000 MNIST rows: the same labels on all 10,000 test images."""
    x, t = xpnn.load_mnist(split="train", data_dir=real_data_dir, download=False)
    x_test, _ = xpnn.load_mnist(split="test", data_dir=real_data_dir, download=False)
    x, t, x_test = np.asarray(x[:3000], np.float32), np.asarray(t[:3000]), np.asarray(x_test, np.float32)
    pipe = make_pipeline(StandardScaler(), MLPClassifier((64,), max_iter=3, random_state=0))
    fit_quietly(pipe, x, t)
    model = to_onnx(pipe, x[:1], options=NO_ZIPMAP)
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    label, proba = run(ort, model, x_test)
    expected = pipe.predict(x_test)
    assert label.dtype == np.int64 and label.shape == (10_000,)
    np.testing.assert_array_equal(label, expected)
    assert len(np.unique(expected)) == 10  # a trained network, not a constant answer
    assert proba.dtype == np.float32 and proba.shape == (10_000, 10)
    np.testing.assert_allclose(proba, pipe.predict_proba(x_test), rtol=0, atol=tolerance("float32"))


def test_string_labels_and_zipmap(to_onnx, ort, backend: Case) -> None:
    """Digits named as words: the graph's labels are the names, trained on any backend."""
    if backend.name == "dask":
        pytest.skip("training on Dask is not offered")
    words = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    data = load_digits()
    X, y = data.data.astype(np.float32), words[data.target]
    est = MLPClassifier((32,), max_iter=5, random_state=0, backend=backend.name, device=backend.device_arg)
    pipe = fit_quietly(make_pipeline(StandardScaler(), est), X, y)
    assert est.network_.backend == backend.name
    label, proba = run(ort, to_onnx(pipe, X[:1], options=NO_ZIPMAP), X)
    np.testing.assert_array_equal(label, pipe.predict(X))
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=0, atol=tolerance("float32"))
    # skl2onnx's default: the probabilities as one {label: probability} per row
    label, rows = run(ort, to_onnx(pipe, X[:1]), X[:3])
    np.testing.assert_array_equal(label, pipe.predict(X[:3]))
    assert sorted(rows[0]) == sorted(words.tolist())
    got = np.array([[row[w] for w in pipe.classes_] for row in rows])
    np.testing.assert_allclose(got, pipe.predict_proba(X[:3]), rtol=0, atol=tolerance("float32"))


@pytest.mark.parametrize(
    "labels",
    [np.array([3, 7, 9]), np.array([-1.0, 0.0, 2.0]), np.array([False, True]), np.array(["no", "yes"])],
)
def test_label_kinds(to_onnx, ort, labels: np.ndarray) -> None:
    """Integers, integral floats and bools become int64 labels (as skl2onnx's own), strings stay strings."""
    X, codes = make_blobs(200, n_features=4, centers=len(labels), random_state=0)
    X = X.astype(np.float32)
    clf = fit_quietly(MLPClassifier((8,), max_iter=20, random_state=0), X, labels[codes])
    label, proba = run(ort, to_onnx(clf, X[:1], options=NO_ZIPMAP), X)
    expected = clf.predict(X)
    if labels.dtype.kind in "biuf":
        assert label.dtype == np.int64
        expected = expected.astype(np.int64)
    np.testing.assert_array_equal(label, expected)
    assert proba.shape == (200, len(labels))  # a softmax over every class, also for two
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=tolerance("float32"))


def test_skl2onnx_classifier_options(to_onnx, ort) -> None:
    """``nocl``: class indices for labels; ``output_class_labels``: the labels as a third output."""
    X, codes = make_blobs(60, n_features=3, centers=3, random_state=0)
    X = X.astype(np.float32)
    clf = fit_quietly(MLPClassifier((5,), max_iter=5, random_state=0), X, np.array(["a", "b", "c"])[codes])
    index, _ = run(ort, to_onnx(clf, X[:1], options={MLPClassifier: {"zipmap": False, "nocl": True}}), X)
    np.testing.assert_array_equal(index, np.searchsorted(clf.classes_, clf.predict(X)))
    options = {MLPClassifier: {"zipmap": False, "output_class_labels": True}}
    label, _, classes = run(ort, to_onnx(clf, X[:1], options=options), X)
    np.testing.assert_array_equal(label, clf.predict(X))
    np.testing.assert_array_equal(classes, clf.classes_)


def test_fractional_float_labels_are_refused(to_onnx) -> None:
    """``fit`` and ``from_network`` refuse them too; ``classes_`` set by hand is refused with a reason."""
    clf = MLPClassifier.from_network(xpnn.init_network(), classes=[0, 1])
    clf.classes_ = np.array([0.5, 1.5])
    with pytest.raises(RuntimeError, match="integers or strings"):
        to_onnx(clf, np.zeros((1, 2), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regressor_pipeline_on_diabetes(to_onnx, ort, dtype) -> None:
    """The graph computes in its input's dtype and gives ``(n, n_outputs)``: one output, then two."""
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(dtype)
    for target in (y, np.stack([y, -0.5 * y], axis=1)):
        est = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.05, max_iter=30, random_state=0)
        pipe = fit_quietly(make_pipeline(StandardScaler(), est), X, target)
        (out,) = run(ort, to_onnx(pipe, X[:1]), X)
        expected = pipe.predict(X).reshape(len(X), -1)
        assert out.dtype == dtype and out.shape == expected.shape
        scale = float(np.max(np.abs(expected)))
        np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance(np.dtype(dtype).name) * scale)


def test_integer_input_is_cast_to_float32(to_onnx, ort) -> None:
    X, codes = make_blobs(100, n_features=3, centers=3, random_state=1)
    X = np.round(X * 10.0).astype(np.int64)
    clf = fit_quietly(MLPClassifier((8,), max_iter=20, random_state=0), X.astype(np.float32), codes)
    model = to_onnx(clf, X[:1], options=NO_ZIPMAP)
    (cast,) = [n for n in model.graph.node if n.op_type == "Cast"]
    assert cast.name.startswith("XpnnCast") and cast.output[0].startswith("xpnn_cast_input")
    label, proba = run(ort, model, X)
    np.testing.assert_array_equal(label, clf.predict(X.astype(np.float32)))
    assert proba.dtype == np.float32


@pytest.mark.parametrize("activation", ["logistic", "tanh"])
def test_the_graph_is_xpnns_export(to_onnx, activation: str) -> None:
    """The estimator's graph holds the nodes of ``xpnn.export.onnx_model``, in order: nothing re-written."""
    from xpnn.export import onnx_model

    X, codes = make_blobs(50, n_features=3, centers=3, random_state=0)
    X = X.astype(np.float32)
    clf = fit_quietly(MLPClassifier((5, 4), activation=activation, max_iter=2, random_state=0), X, codes)
    ops = [n.op_type for n in to_onnx(clf, X[:1], options=NO_ZIPMAP).graph.node]
    exported = [n.op_type for n in onnx_model(clf.network_, output="softmax").graph.node]
    assert ops == [*exported, "ArgMax", "Gather"]


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_an_unfitted_estimator_is_refused(to_onnx, estimator) -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted yet"):
        to_onnx(estimator(), np.zeros((1, 2), np.float32))


def test_registering_installs_the_classifiers_parser(to_onnx, monkeypatch) -> None:
    """The parser checks that the classifier is fitted before skl2onnx reads its classes."""
    from skl2onnx._parse import sklearn_parsers_map
    from sklearn.exceptions import NotFittedError

    monkeypatch.delitem(sklearn_parsers_map, MLPClassifier, raising=False)
    register_skl2onnx()
    assert MLPClassifier in sklearn_parsers_map
    with pytest.raises(NotFittedError, match="not fitted yet"):
        to_onnx(MLPClassifier(), np.zeros((1, 2), np.float32))


def test_a_node_with_a_subgraph_is_refused(to_onnx, monkeypatch) -> None:
    """xpnn's rewrite rules leave no If node; were one left, the converter says so."""
    import onnx

    import xpnn.export

    export = xpnn.export.onnx_model

    def with_if(*args, **kwargs):
        model = export(*args, **kwargs)
        branch = onnx.helper.make_graph([], "branch", [], [])
        model.graph.node.append(
            onnx.helper.make_node("If", ["cond"], ["out"], then_branch=branch, else_branch=branch)
        )
        return model

    monkeypatch.setattr(xpnn.export, "onnx_model", with_if)
    clf = MLPClassifier.from_network(xpnn.init_network(), classes=[0, 1])
    with pytest.raises(
        RuntimeError, match="holds a If node with a subgraph, which this converter cannot copy"
    ):
        to_onnx(clf, np.zeros((1, 2), np.float32))


def test_an_opset_below_xpnns_is_refused(to_onnx) -> None:
    X, y = load_diabetes(return_X_y=True)
    reg = fit_quietly(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0), X, y)
    with pytest.raises(RuntimeError, match=r"opset 21.*target_opset=21"):
        to_onnx(reg, X[:1], target_opset=18)


def test_without_skl2onnx_the_error_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # what an absent package looks like to import
    with pytest.raises(xpnn.BackendUnavailableError, match=r"pip install 'xpnn\[skl2onnx\]'"):
        register_skl2onnx()


def test_without_onnx_the_error_names_the_skl2onnx_extra(to_onnx, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(
        xpnn.BackendUnavailableError, match=r"register_skl2onnx.*pip install 'xpnn\[skl2onnx\]'"
    ):
        register_skl2onnx()


def test_importing_the_estimators_imports_no_onnx() -> None:
    code = (
        "import sys, xpnn, xpnn.estimators; xpnn.MLPClassifier;"
        " print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('onnx', 'skl2onnx', 'ndonnx', 'onnxruntime', 'onnxscript')))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(xpnn.__file__).parents[1]), *sys.path]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"
