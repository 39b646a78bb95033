"""What inference needs of a network: :class:`Runnable`, the protocol a placed network
(:class:`xpnn.Network`, :class:`xpnn.Sequential`) and a compiled one offer."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Runnable"]

Array = Any


@runtime_checkable
class Runnable(Protocol):
    """What inference needs of a network: where it lives, its widths, and a way to run a batch.

    :class:`Network` (from :func:`to_backend`) is one; a compiled network (onnxruntime, a
    ``jax.jit`` function) is another. :func:`xpnn.predict`, :func:`xpnn.predict_proba` and
    :func:`xpnn.accuracy` use nothing else, so anything that offers these attributes and
    methods runs through them, batching and label checks included.

    - ``backend``: the backend's name (one of ``xpnn.BACKENDS``); ``device``: its device
      object; ``xp``: the Array API namespace of its arrays.
    - ``n_in``, ``n_out``: the input width and the number of outputs (classes); ``n_in`` is
      the shape of one input (a tuple, ``(1, 28, 28)``) for a :class:`xpnn.Sequential`.
    - ``activation``: the hidden activation it was made with (a name), or None for the
      caller's choice (``"sigmoid"``, the book's, unless a call names another).
    - ``default_batch_rows``: rows per batch when a call gives no ``batch_size`` (None: one batch).
    - ``prepare_input(x, normalize=False)``: ``x`` on its backend and device, in its compute
      dtype, width checked (``ValueError``); ``normalize=True`` divides by 255 there.
    - ``run(x, activation=None, output="identity")``: the network's output for a batch ``x``
      that ``prepare_input`` made; ``activation=None`` means the network's own.

    >>> import xpnn
    >>> isinstance(xpnn.to_backend(xpnn.init_network()), Runnable)
    True
    """

    @property
    def backend(self) -> str: ...

    @property
    def device(self) -> Any: ...

    @property
    def xp(self) -> Any: ...

    @property
    def n_in(self) -> int | tuple[int, ...]: ...

    @property
    def n_out(self) -> int: ...

    @property
    def activation(self) -> str | None: ...

    @property
    def default_batch_rows(self) -> int | None: ...

    def prepare_input(self, x: Any, *, normalize: bool = False) -> Array: ...

    def run(self, x: Array, *, activation: Any = None, output: Any = "identity") -> Array: ...
