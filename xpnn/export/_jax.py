"""``compile(net, "jax")``: ``jax.jit`` of xpnn's forward, the weights placed once on a device."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..functions import HIDDEN_ACTIVATIONS, OUTPUT_FUNCTIONS, network_activation, resolve_activation
from ..network import run_layers, to_backend
from ._common import check_activation, check_finite_weights, named_layers, require

__all__ = ["JaxNetwork"]

Array = Any


def _bucket(rows: int) -> int:
    """The smallest of 1..8 and ``2**k * (1, 1.25, 1.5, 1.75)`` that holds ``rows``."""
    if rows <= 8:
        return max(rows, 1)
    power = 1 << (rows - 1).bit_length() - 1  # the largest power of two below rows
    for quarter in (5, 6, 7, 8):
        size = power * quarter // 4
        if size >= rows:
            return size
    return power * 2  # unreachable: 8 quarters is the next power of two


class JaxNetwork:
    """A network compiled with ``jax.jit``: made by ``xpnn.compile(net, "jax")``.

    ``compiles`` counts the times the forward has been traced and compiled.
    """

    backend = "jax"

    def __init__(
        self,
        net: Mapping[str, Array],
        *,
        activation: str | None = None,
        device: Any = None,
        dtype: Any = None,
        exact_shapes: int = 2,
        allow_nonfinite: bool = False,
    ):
        from ..nn.sequential import Sequential

        if isinstance(net, Sequential):
            raise ValueError(
                "compile(net, 'jax') takes a ch. 3 network (W1..Wn, b1..bn); a layer network runs on JAX"
                " as it is: xpnn.to_backend(net, 'jax') (its convolutions are jax.lax's), or compile it"
                " with 'onnxruntime'"
            )
        activation = network_activation(net, activation)
        jax = require("jax", "compile(net, 'jax')", "jax")
        placed = to_backend(net, "jax", device, dtype=dtype, activation=activation)
        if not allow_nonfinite:
            check_finite_weights(named_layers(placed.layers), placed.xp, "compile")
        self._placed = placed
        self.device = placed.device
        self.xp = placed.xp
        self.dtype = placed.dtype
        self.n_in = placed.n_in
        self.n_out = int(placed.layers[-1][0].shape[1])
        self.activation = activation
        self.default_batch_rows: int | None = None
        self.exact_shapes = int(exact_shapes)
        self.compiles = 0
        self._shapes: set[tuple[int, ...]] = set()
        hidden = HIDDEN_ACTIVATIONS[activation]
        xp = self.xp

        def forward(layers: Any, x: Array) -> Array:
            self.compiles += 1  # runs when jax traces: once per compiled shape
            return run_layers(layers, x, hidden, OUTPUT_FUNCTIONS["identity"], xp)

        self._forward = jax.jit(forward)

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self._placed.sizes))
        return (
            f"JaxNetwork({sizes}, dtype={self.dtype}, activation={self.activation!r}, device={self.device!r})"
        )

    def prepare_input(self, x: Any, *, normalize: bool = False) -> Array:
        """``x`` on the device, in the compute dtype, width checked; ``normalize`` divides by 255."""
        return self._placed.prepare_input(x, normalize=normalize)

    def run(self, x: Array, *, activation: Any = None, output: Any = "identity") -> Array:
        """The network's output for a batch (or one input) from :meth:`prepare_input`."""
        check_activation(self.activation, activation)
        out = resolve_activation(output, OUTPUT_FUNCTIONS, "output")
        xp = self.xp
        single = len(x.shape) == 1
        if single:
            x = xp.reshape(x, (1, self.n_in))
        rows = int(x.shape[0])
        size = rows
        if (rows,) not in self._shapes:
            if len(self._shapes) >= self.exact_shapes:
                size = _bucket(rows)
            self._shapes.add((size,))
        if size != rows:
            x = xp.concat([x, xp.zeros((size - rows, self.n_in), dtype=x.dtype, device=self.device)], axis=0)
        y = self._forward(self._placed.layers, x)
        y = out(y if size == rows else y[:rows, ...], xp)
        return y[0, ...] if single else y
