"""``compile(net, "jax")``: ``jax.jit`` of xpnn's forward, the weights placed once on a device."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..functions import HIDDEN_ACTIVATIONS, OUTPUT_FUNCTIONS, network_activation, resolve_activation
from ..network import to_backend
from ..nn.dense import dense_pairs, run_layers
from ._common import check_activation, check_finite_weights, require

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
        from ..nn.sequential import is_layer_network

        jax = require("jax", "compile(net, 'jax')", "jax")
        self.exact_shapes = int(exact_shapes)
        self.compiles = 0
        self._shapes: set[tuple[int, ...]] = set()
        placed: Any
        if is_layer_network(net):  # the layers' own forward; convolutions are jax.lax's
            check_activation(None, activation)
            placed = net.to_backend("jax", device, dtype=dtype)
            self._args: Any = {**placed.params, **placed.state}
            if not allow_nonfinite:
                check_finite_weights(self._args.items(), placed.xp, "compile")
            self.activation: str | None = None
            self.n_in: int | tuple[int, ...] = tuple(placed.n_in)
            self.n_out = int(placed.n_out)
            #: As the network's own: a convolution's intermediate values grow with the batch.
            self.default_batch_rows: int | None = placed.default_batch_rows

            def forward(arrays: Any, x: Array) -> Array:
                self.compiles += 1  # runs when jax traces: once per compiled shape
                return placed.replace(arrays).forward(x)

        else:
            activation = network_activation(net, activation)
            placed = to_backend(net, "jax", device, dtype=dtype, activation=activation)
            if not allow_nonfinite:
                check_finite_weights(placed.params.items(), placed.xp, "compile")
            self._args = placed.params
            self.activation = activation
            self.n_in = placed.n_in
            self.n_out = placed.n_out
            self.default_batch_rows = None
            hidden, layers, xp = HIDDEN_ACTIVATIONS[activation], placed.layers, placed.xp

            def forward(arrays: Any, x: Array) -> Array:  # the other branch's signature
                self.compiles += 1  # runs when jax traces: once per compiled shape
                # The book's loop over the layers' pairs, plain sigmoid: XLA fuses it whole.
                return run_layers(dense_pairs(layers, arrays), x, hidden, OUTPUT_FUNCTIONS["identity"], xp)

        self._placed = placed
        self.device = placed.device
        self.xp = placed.xp
        self.dtype = placed.dtype
        self._forward = jax.jit(forward)

    def __repr__(self) -> str:
        if self.activation is None:
            kinds = "-".join(layer.kind for layer in self._placed.layers)
            return f"JaxNetwork({kinds}, input_shape={self.n_in}, dtype={self.dtype}, device={self.device!r})"
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
        shape = self.n_in if isinstance(self.n_in, tuple) else (self.n_in,)
        single = len(x.shape) == len(shape)
        if single:
            x = xp.reshape(x, (1, *shape))
        rows = int(x.shape[0])
        size = rows
        if (rows,) not in self._shapes:
            if len(self._shapes) >= self.exact_shapes:
                size = _bucket(rows)
            self._shapes.add((size,))
        if size != rows:
            x = xp.concat([x, xp.zeros((size - rows, *shape), dtype=x.dtype, device=self.device)], axis=0)
        y = self._forward(self._args, x)
        y = out(y if size == rows else y[:rows, ...], xp)
        return y[0, ...] if single else y
