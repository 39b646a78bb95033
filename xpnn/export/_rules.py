"""The rewrite rules that make a traced graph lean: each replaces what the Array API spelling of
a formula traces to by the single ONNX operator with the same meaning, or drops a guard ndonnx
puts around ``matmul`` and ``max``; each says why it keeps the meaning.

Importing this module imports onnxscript (the traced export imports it on first use).
"""

from __future__ import annotations

import math
from typing import Any

from ._common import require

pattern = require("onnxscript.rewriter.pattern", "ONNX export")
Rule: Any = pattern.RewriteRuleClassBase

__all__ = ["RULES"]


def _scalar(value: Any, expected: float) -> bool:
    """Whether ``value`` (an onnx_ir Value) is a constant holding the one number ``expected``."""
    const = getattr(value, "const_value", None)
    if const is None:
        return False
    array = const.numpy()
    value = float(array.reshape(-1)[0]) if array.size == 1 else None
    if value is None:
        return False
    return math.isnan(value) if math.isnan(expected) else math.isclose(value, expected, rel_tol=0.0)


def _tests_for_nan(value: Any, x: Any) -> bool:
    """Whether ``value`` is ndonnx's ``any(isnan(x))``: an If on ``size(isnan(x)) == 0``."""
    chain = [value.producer()]
    for op_type in ("If", "Equal", "Size", "IsNaN"):
        node = chain[-1]
        if node is None or node.op_type != op_type:
            return False
        chain.append(node.inputs[0].producer() if op_type != "IsNaN" else None)
    return chain[-2].inputs[0] is x


def _else_branch(node: Any) -> list[Any] | None:
    """The nodes of ``node``'s else branch (an ``If`` node), or None."""
    branch = node.attributes.get("else_branch")
    return None if branch is None or branch.value is None else list(branch.value)


def _guarded_matmul(node: Any) -> Any:
    """The one MatMul in ``node``'s else branch (an ``If`` node), or None."""
    graph = _else_branch(node)
    if graph is None or len(graph) != 1:
        return None
    (inner,) = graph
    return inner if inner.op_type == "MatMul" and inner.domain in ("", "ai.onnx") else None


class SigmoidFromTanh(Rule):
    """``tanh(x * 0.5) * 0.5 + 0.5`` (xpnn's overflow-free sigmoid) is ``Sigmoid(x)``."""

    def pattern(self, op: Any, x: Any, h1: Any, h2: Any, h3: Any) -> Any:
        return op.Add(op.Mul(op.Tanh(op.Mul(x, h1)), h2), h3)

    def check(self, context: Any, x: Any, h1: Any, h2: Any, h3: Any, **_: Any) -> Any:
        ok = all(_scalar(h, 0.5) for h in (h1, h2, h3))
        return pattern.MatchResult() if ok else pattern.MatchResult().fail("not the halves of a sigmoid")

    def rewrite(self, op: Any, x: Any, **_: Any) -> Any:
        return op.Sigmoid(x)


class ReluFromMaximum(Rule):
    """``maximum(x, zeros_like(x))`` (xpnn's relu) is ``Relu(x)``."""

    def pattern(self, op: Any, x: Any, zero: Any) -> Any:
        return op.Max(x, op.Expand(zero, op.Shape(x)))

    def check(self, context: Any, x: Any, zero: Any, **_: Any) -> Any:
        return pattern.MatchResult() if _scalar(zero, 0.0) else pattern.MatchResult().fail("not zero")

    def rewrite(self, op: Any, x: Any, **_: Any) -> Any:
        return op.Relu(x)


class UnguardedMatmul(Rule):
    """ndonnx's ``If(size(x) * size(W) == 0)`` around each ``MatMul(x, W)`` is the MatMul.

    ndonnx guards every matmul against an onnxruntime bug with zero-size inputs; the
    onnxruntime versions that ``xpnn[onnx]`` installs multiply an empty batch correctly
    (``tests/test_export.py`` runs a batch of 0 rows), and the guard hides the MatMul from
    onnxruntime's fusion with the bias Add that follows.
    """

    def pattern(self, op: Any, x: Any, n: Any, zero: Any) -> Any:
        return op.If(op.Equal(op.Mul(op.Size(x), n), zero), _outputs=["guarded"])

    def check(self, context: Any, x: Any, zero: Any, guarded: Any, **_: Any) -> Any:
        result = pattern.MatchResult()
        if not _scalar(zero, 0.0):
            return result.fail("not a test for zero size")
        matmul = _guarded_matmul(guarded.producer())
        if matmul is None or matmul.inputs[0] is not x:
            return result.fail("the else branch is not one MatMul of x")
        return result

    def rewrite(self, op: Any, x: Any, guarded: Any, **_: Any) -> Any:
        matmul = _guarded_matmul(guarded.producer())
        return op.MatMul(x, matmul.inputs[1])


class SoftmaxWithoutNanGuard(Rule):
    """``exp(x - where(any(isnan(x)), nan, max(x)))`` normalized is ``exp(x - max(x))`` normalized.

    ndonnx makes ``max`` return NaN for a row that holds a NaN; in a softmax that row is
    NaN either way (the NaN's ``exp`` reaches the row's sum), so the guard changes nothing.
    """

    def pattern(self, op: Any, x: Any, any_nan: Any, nan: Any, m: Any, axes: Any) -> Any:
        e = op.Exp(op.Sub(x, op.Where(any_nan, nan, m)))
        return op.Div(e, op.ReduceSum(e, axes, _outputs=["total"]))

    def check(self, context: Any, x: Any, any_nan: Any, nan: Any, total: Any, **_: Any) -> Any:
        result = pattern.MatchResult()
        keepdims = total.producer().attributes.get("keepdims")
        if not _scalar(nan, math.nan) or not _tests_for_nan(any_nan, x):
            return result.fail("not ndonnx's NaN guard")
        if keepdims is None or keepdims.value != 1:
            return result.fail("not a softmax's sum")
        return result

    def rewrite(self, op: Any, x: Any, m: Any, axes: Any, **_: Any) -> Any:
        e = op.Exp(op.Sub(x, m))
        return op.Div(e, op.ReduceSum(e, axes, keepdims=1))


class UnguardedReduction(Rule):
    """ndonnx's ``If(size(x) == 0)`` around ``max(x)`` is its else branch, run inline.

    The then branch fills an empty result with ``-inf``; onnxruntime reduces an empty batch
    to an empty result by itself (``tests/test_export.py`` runs a batch of 0 rows).
    """

    def pattern(self, op: Any, x: Any, zero: Any) -> Any:
        return op.If(op.Equal(op.Size(x), zero), _outputs=["guarded"])

    def check(self, context: Any, x: Any, zero: Any, guarded: Any, **_: Any) -> Any:
        result = pattern.MatchResult()
        branch = _else_branch(guarded.producer()) or []
        if not _scalar(zero, 0.0) or [n.op_type for n in branch] != ["Unsqueeze", "ReduceMax", "Squeeze"]:
            return result.fail("not a guarded max")
        unsqueeze, reduce, squeeze = branch
        if unsqueeze.inputs[0] is not x or reduce.inputs[0] is not unsqueeze.outputs[0]:
            return result.fail("the branch does not reduce x")
        if squeeze.inputs[0] is not reduce.outputs[0]:
            return result.fail("the branch does not reduce x")
        return result

    def rewrite(self, op: Any, x: Any, guarded: Any, **_: Any) -> Any:
        unsqueeze, reduce, squeeze = _else_branch(guarded.producer()) or []
        attrs = {name: attr.value for name, attr in reduce.attributes.items()}
        u = op.Unsqueeze(x, unsqueeze.inputs[1])
        return op.Squeeze(op.ReduceMax(u, reduce.inputs[1], **attrs), squeeze.inputs[1])


#: The rule set that :func:`xpnn.export._trace.lean` applies.
RULES = pattern.RewriteRuleSet(
    [
        SigmoidFromTanh.rule(),
        ReluFromMaximum.rule(),
        UnguardedMatmul.rule(),
        SoftmaxWithoutNanGuard.rule(),
        UnguardedReduction.rule(),
    ]
)
