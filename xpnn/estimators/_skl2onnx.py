"""skl2onnx converters for ``xpnn.MLPClassifier`` and ``xpnn.MLPRegressor``.

:func:`register_skl2onnx` registers both estimators with skl2onnx, so that
``skl2onnx.to_onnx(pipeline, X)`` converts a pipeline that holds one. The network itself is
not written again here: it is :func:`xpnn.export.onnx_model`'s graph (xpnn's own forward,
traced on ndonnx), whose nodes and weights are copied into skl2onnx's graph under fresh names.
The classifier adds what scikit-learn's ``predict`` adds to the probabilities: ``ArgMax``, then
a ``Gather`` of the class labels (integers or strings), as skl2onnx's own converters do.

Nothing here imports skl2onnx or onnx until :func:`register_skl2onnx` is called.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._util import ACTIVATIONS

__all__ = ["register_skl2onnx"]

#: The classifier options skl2onnx's parser handles around our operator (as for its own MLPClassifier).
CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [True, False],
    "output_class_labels": [False, True],
}


def register_skl2onnx() -> None:
    """Register ``xpnn.MLPClassifier`` and ``xpnn.MLPRegressor`` with skl2onnx (call once; repeating is harmless).

    Afterwards ``skl2onnx.to_onnx(model, X)`` converts either estimator, alone or in a
    pipeline. The classifier's graph has skl2onnx's usual outputs: the labels and the
    probabilities (a ZipMap of them unless ``options={"zipmap": False}``); the regressor's
    output is ``(n_samples, n_outputs)``. The graph computes in float64 where its input is
    float64, else in float32. xpnn's graph uses ONNX opset 21: a ``target_opset`` below 21
    is refused. Needs the ``skl2onnx`` extra.

    >>> import numpy as np, xpnn
    >>> from xpnn.estimators import register_skl2onnx
    >>> from skl2onnx import to_onnx
    >>> register_skl2onnx()
    >>> clf = xpnn.MLPClassifier.from_network(xpnn.init_network(), classes=["a", "b"])
    >>> model = to_onnx(clf, np.zeros((1, 2), np.float32), options={"zipmap": False})
    >>> [o.name for o in model.graph.output]
    ['label', 'probabilities']
    """
    from ..export import require

    skl2onnx = require("skl2onnx", "register_skl2onnx", "skl2onnx")
    require("onnx", "register_skl2onnx", "skl2onnx")
    from .classifier import MLPClassifier
    from .regressor import MLPRegressor

    skl2onnx.update_registered_converter(
        MLPClassifier,
        "XpnnMLPClassifier",
        _classifier_shapes,
        _convert_classifier,
        options=CLASSIFIER_OPTIONS,
        parser=_classifier_parser(),
    )
    skl2onnx.update_registered_converter(
        MLPRegressor, "XpnnMLPRegressor", _regressor_shapes, _convert_regressor
    )


def _classifier_parser() -> Any:
    """skl2onnx's parser for classifiers, after a check that the estimator is fitted.

    skl2onnx's own parser reads ``classes_`` before any shape calculator runs: without this
    check an unfitted classifier gives its "No known ways to retrieve the number of classes".
    The parser is a private function of skl2onnx: where it is gone, None (skl2onnx's default).
    """
    try:
        from skl2onnx._parse import _parse_sklearn_classifier
    except ImportError:  # pragma: no cover - a future skl2onnx
        return None

    def parse(scope: Any, model: Any, inputs: Any, custom_parsers: Any = None) -> Any:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model, "network_")
        return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)

    return parse


# --- shapes ----------------------------------------------------------------------------------


def _float_type(input_type: Any) -> Any:
    """The output tensor type for an input type: double for double, else float."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    return DoubleTensorType if isinstance(input_type, DoubleTensorType) else FloatTensorType


def _check_input(operator: Any) -> None:
    """A fitted estimator (scikit-learn's ``NotFittedError`` otherwise) and one numeric tensor input."""
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int32TensorType,
        Int64TensorType,
    )
    from skl2onnx.common.utils import check_input_and_output_numbers, check_input_and_output_types
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(operator.raw_operator, "network_")
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=[1, 2])
    check_input_and_output_types(
        operator,
        good_input_types=[
            FloatTensorType,
            DoubleTensorType,
            Int64TensorType,
            Int32TensorType,
            BooleanTensorType,
        ],
    )


def _classes(operator: Any) -> np.ndarray:
    """The class labels the graph returns: int64 for numbers (integral floats included), else strings."""
    from skl2onnx.common.utils_classifier import get_label_classes

    classes = np.asarray(get_label_classes(operator.scope_inst, operator.raw_operator))
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        as_int = classes.astype(np.int64)
        if not np.array_equal(as_int, classes):
            raise RuntimeError(
                f"skl2onnx needs class labels that are integers or strings; this classifier has {classes!r}:"
                " fit it with integer or string labels"
            )
        return as_int
    if classes.dtype.kind in "US" or all(isinstance(c, str) for c in classes.tolist()):
        return classes.astype(str)
    raise RuntimeError(
        f"skl2onnx needs class labels that are integers or strings; this classifier has {classes!r}"
    )


def _classifier_shapes(operator: Any) -> None:
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType

    _check_input(operator)
    n = operator.inputs[0].get_first_dimension()
    classes = _classes(operator)
    label = StringTensorType if classes.dtype.kind == "U" else Int64TensorType
    operator.outputs[0].type = label(shape=[n])
    if len(operator.outputs) > 1:
        operator.outputs[1].type = _float_type(operator.inputs[0].type)(shape=[n, len(classes)])


def _regressor_shapes(operator: Any) -> None:
    _check_input(operator)
    n = operator.inputs[0].get_first_dimension()
    est = operator.raw_operator
    operator.outputs[0].type = _float_type(operator.inputs[0].type)(shape=[n, int(est.n_outputs_)])


# --- converters ------------------------------------------------------------------------------


def _network(scope: Any, operator: Any, container: Any, output: str, result: str | None = None) -> str:
    """Add xpnn's exported network to ``container``; returns the name of its output (``result`` if given).

    The graph is :func:`xpnn.export.onnx_model`'s, in the input's floating dtype (other inputs
    are cast to float32 first); its initializers and nodes are added under names unique in
    ``scope``, its input wired to the operator's input.
    """
    from onnx import AttributeProto, TensorProto, helper, numpy_helper

    from ..export import OPSET, onnx_model

    opset = container.target_opset_onnx
    if opset is not None and opset < OPSET:
        raise RuntimeError(
            f"xpnn's ONNX graph uses opset {OPSET}; this conversion targets opset {opset}:"
            f" convert with target_opset={OPSET} or higher (or leave target_opset out)"
        )
    est = operator.raw_operator
    source = operator.inputs[0].full_name
    elem_type = operator.inputs[0].type.to_onnx_type().tensor_type.elem_type
    dtype = "float64" if elem_type == TensorProto.DOUBLE else "float32"
    if elem_type not in (TensorProto.FLOAT, TensorProto.DOUBLE):
        cast = scope.get_unique_variable_name("xpnn_cast_input")
        container.add_node(
            "Cast", source, cast, to=TensorProto.FLOAT, name=scope.get_unique_operator_name("XpnnCast")
        )
        source = cast
    model = onnx_model(
        est.network_, activation=ACTIVATIONS[est.activation], output=output, input_dtype=dtype, dtype=dtype
    )
    graph = model.graph
    (graph_input,) = graph.input
    (graph_output,) = graph.output
    names = {graph_input.name: source}
    if result is not None:
        names[graph_output.name] = result

    def renamed(name: str) -> str:
        if name == "":  # an optional input left out
            return name
        if name not in names:
            names[name] = scope.get_unique_variable_name(f"xpnn_{name}")
        return names[name]

    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        name = renamed(tensor.name)
        container.add_initializer(
            name, tensor.data_type, list(array.shape), numpy_helper.from_array(array, name)
        )
    for node in graph.node:
        if any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for a in node.attribute):
            raise RuntimeError(  # the export's rewrite rules remove ndonnx's If guards
                f"xpnn's exported graph holds a {node.op_type} node with a subgraph, which this"
                " converter cannot copy: please report it"
            )
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(
            node.op_type,
            [renamed(i) for i in node.input],
            [renamed(o) for o in node.output],
            op_domain=node.domain,
            op_version=OPSET,
            name=scope.get_unique_operator_name(f"Xpnn{node.op_type}"),
            **attrs,
        )
    return names[graph_output.name]


def _convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto

    label = operator.outputs[0]
    proba = operator.outputs[1].full_name if len(operator.outputs) > 1 else None
    probabilities = _network(scope, operator, container, "softmax", proba)
    index = scope.get_unique_variable_name("xpnn_argmax")
    container.add_node(
        "ArgMax", probabilities, index, axis=1, keepdims=0, name=scope.get_unique_operator_name("XpnnArgMax")
    )
    classes = _classes(operator)
    classes_name = scope.get_unique_variable_name("xpnn_classes")
    if classes.dtype.kind == "U":
        container.add_initializer(
            classes_name, TensorProto.STRING, [len(classes)], [c.encode("utf-8") for c in classes.tolist()]
        )
    else:
        container.add_initializer(classes_name, TensorProto.INT64, [len(classes)], classes.tolist())
    container.add_node(
        "Gather",
        [classes_name, index],
        label.full_name,
        axis=0,
        name=scope.get_unique_operator_name("XpnnLabel"),
    )


def _convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    _network(scope, operator, container, "identity", operator.outputs[0].full_name)
