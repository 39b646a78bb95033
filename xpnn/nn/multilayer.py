"""The book's ch. 6 fully connected networks: ``MultiLayerNet`` and ``MultiLayerNetExtend``.

Both are :class:`~xpnn.nn.Sequential` networks built with the book's constructor arguments,
defaults and parameter names (``W1, b1, ..., gamma1, beta1``), so ``xpnn.predict``,
``accuracy``, ``to_backend`` and :func:`xpnn.nn.train_network` take them. Weight decay is the
book's: ``0.5 * lambda * sum(W**2)`` over every weight matrix is added to the loss and
``lambda * W`` to each weight's gradient. New weights are drawn as the book draws them
(``std * randn``) from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .layers import Affine, BatchNormalization, Dropout, Layer, activation_layer
from .sequential import Sequential

__all__ = ["MultiLayerNet", "MultiLayerNetExtend"]

Array = Any

#: The book's MultiLayerNet takes these two of :data:`xpnn.functions.ACTIVATIONS`.
_BOOK_ACTIVATIONS = ("relu", "sigmoid")


def _sizes(input_size: int, hidden_size_list: Sequence[int], output_size: int) -> list[int]:
    sizes = [input_size, *list(hidden_size_list), output_size]
    bad = [s for s in sizes if type(s) is not int or s < 1]
    if bad:
        raise ValueError(
            f"input_size, every hidden size and output_size are ints >= 1; got {sizes} ({bad} do not fit)"
        )
    return sizes


def init_std(weight_init_std: str | float, fan_in: int) -> float:
    """The book's weight scale: ``'relu'``/``'he'`` ``sqrt(2/n)``, ``'sigmoid'``/``'xavier'``
    ``sqrt(1/n)`` for ``n = fan_in`` inputs per neuron, or the number given."""
    if isinstance(weight_init_std, str):
        name = weight_init_std.lower()
        if name in ("relu", "he"):
            return math.sqrt(2.0 / fan_in)
        if name in ("sigmoid", "xavier"):
            return math.sqrt(1.0 / fan_in)
        raise ValueError(
            f"weight_init_std is 'relu' or 'he' (sqrt(2/n)), 'sigmoid' or 'xavier' (sqrt(1/n)),"
            f" or a positive number; got {weight_init_std!r}"
        )
    std = float(weight_init_std)
    if not (math.isfinite(std) and std >= 0.0):
        raise ValueError(f"weight_init_std must be a finite number >= 0; got {weight_init_std!r}")
    return std


def draw(
    shapes: Mapping[str, tuple[int, ...]], scales: Mapping[str, float], seed: Any
) -> dict[str, np.ndarray]:
    """The book's new arrays, key by key in the order of ``shapes``: ``scale * randn(shape)`` for
    each key of ``scales`` (the weights, drawn one after another from
    ``numpy.random.default_rng(seed)``), ones for ``gamma{i}``, zeros for the rest (biases,
    ``beta{i}``, the running statistics: the book's starting values); all float64."""
    rng = np.random.default_rng(seed)

    def one(key: str, shape: tuple[int, ...]) -> np.ndarray:
        if key in scales:
            return scales[key] * rng.standard_normal(shape)
        return np.ones(shape) if key.startswith("gamma") else np.zeros(shape)

    return {k: one(k, shape) for k, shape in shapes.items()}


def _hidden(
    n_hidden: int, act: Layer, *, batchnorm: bool = False, dropout: float | None = None
) -> list[Layer]:
    """(affine - [batch norm] - activation - [dropout]) per hidden layer, then the last affine."""
    layers: list[Layer] = []
    for i in range(1, n_hidden + 1):
        layers += [Affine(i), *([BatchNormalization(i)] if batchnorm else []), act]
        layers += [Dropout(dropout)] if dropout is not None else []
    return [*layers, Affine(n_hidden + 1)]


class MultiLayerNet(Sequential):
    """The book's ch. 6 ``MultiLayerNet``: (affine - activation) per hidden layer, then affine.

    ``activation`` is ``'relu'`` or ``'sigmoid'``; ``weight_init_std`` ``'relu'``/``'he'``,
    ``'sigmoid'``/``'xavier'`` or a number; ``weight_decay_lambda`` the L2 weight decay of the
    loss and gradient. ``params`` (a dict ``W1, b1, ...``) replaces the draw. The network is
    placed on ``backend``/``device`` in ``dtype`` (float64, the book's).

    >>> net = MultiLayerNet(784, [100, 100], 10, seed=0)
    >>> [k for k in net.params], net.params["W2"].shape
    (['W1', 'b1', 'W2', 'b2', 'W3', 'b3'], (100, 100))
    """

    #: What :meth:`to_backend` carries over besides the layers and arrays.
    _book_attributes: tuple[str, ...] = ("weight_decay_lambda",)

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: str | float = "relu",
        weight_decay_lambda: float = 0,
        *,
        seed: Any = None,
        params: Mapping[str, Any] | None = None,
        dtype: Any = "float64",
        backend: str = "numpy",
        device: Any = None,
    ) -> None:
        sizes = _sizes(input_size, hidden_size_list, output_size)
        if not (isinstance(activation, str) and activation.lower() in _BOOK_ACTIVATIONS):
            raise ValueError(f"activation is 'relu' or 'sigmoid' (the book's); got {activation!r}")
        lam = float(weight_decay_lambda)
        if not (math.isfinite(lam) and lam >= 0.0):
            raise ValueError(f"weight_decay_lambda must be a finite number >= 0; got {weight_decay_lambda!r}")
        layers = self._book_layers(len(sizes) - 2, activation_layer(activation))
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in layers:  # W{i}, b{i}; gamma{i}, beta{i} and the running statistics: width i
            i = getattr(layer, "index", 0)
            for k in (*layer.param_names(), *layer.state_names()):
                shapes[k] = (sizes[i - 1], sizes[i]) if k[0] == "W" else (sizes[i],)
        if params is None:
            scales = {k: init_std(weight_init_std, shape[0]) for k, shape in shapes.items() if k[0] == "W"}
            params = draw(shapes, scales, seed)
        self.weight_decay_lambda = lam
        super().__init__(layers, params, input_shape=(sizes[0],), backend=backend, device=device, dtype=dtype)

    def _book_layers(self, n_hidden: int, act: Layer) -> list[Layer]:
        """The layers of ``n_hidden`` hidden layers of activation ``act`` (the extension adds its own)."""
        return _hidden(n_hidden, act)

    def loss(
        self,
        x: Array,
        t: Array,
        *,
        loss: str = "cross_entropy",
        weight_decay: float | None = None,
        sample_weight: Array = None,
        train: bool = False,
        rng: Any = None,
    ) -> Array:
        """The book's loss: :meth:`Sequential.loss` with the network's own weight decay
        (``weight_decay=None``: ``weight_decay_lambda``)."""
        lam = self.weight_decay_lambda if weight_decay is None else weight_decay
        return super().loss(
            x, t, loss=loss, weight_decay=lam, sample_weight=sample_weight, train=train, rng=rng
        )

    def loss_and_gradient(
        self,
        x: Array,
        t: Array,
        *,
        loss: str = "cross_entropy",
        weight_decay: float | None = None,
        sample_weight: Array = None,
        rng: Any = None,
    ) -> tuple[Array, dict[str, Array], dict[str, Array]]:
        """:meth:`Sequential.loss_and_gradient` with the book's weight decay, ``weight_decay_lambda``
        unless ``weight_decay`` is given: ``0.5 * lambda * sum(W**2)`` in the loss, ``lambda * W``
        in each weight's gradient."""
        lam = self.weight_decay_lambda if weight_decay is None else weight_decay
        return super().loss_and_gradient(
            x, t, loss=loss, weight_decay=lam, sample_weight=sample_weight, rng=rng
        )

    def to_backend(self, backend: str = "numpy", device: Any = None, *, dtype: Any = None) -> Sequential:
        new = super().to_backend(backend, device, dtype=dtype)
        for name in self._book_attributes:
            setattr(new, name, getattr(self, name))
        return new


class MultiLayerNetExtend(MultiLayerNet):
    """The book's ch. 6 ``MultiLayerNetExtend``: :class:`MultiLayerNet` with batch normalization
    (``use_batchnorm``: ``gamma{i}``, ``beta{i}`` after each hidden affine) and dropout
    (``use_dropout``, ratio ``dropout_ration``, the book's spelling) after each activation.

    Dropout is the book's (inference multiplies by ``1 - ratio``); in training its masks come
    from the ``rng`` given to :meth:`loss_and_gradient` (:func:`xpnn.nn.train_network` passes
    its generator).

    >>> net = MultiLayerNetExtend(784, [50], 10, use_batchnorm=True, seed=0)
    >>> sorted(net.params)
    ['W1', 'W2', 'b1', 'b2', 'beta1', 'gamma1']
    """

    _book_attributes = (*MultiLayerNet._book_attributes, "use_dropout", "dropout_ration", "use_batchnorm")

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: str | float = "relu",
        weight_decay_lambda: float = 0,
        use_dropout: bool = False,
        dropout_ration: float = 0.5,
        use_batchnorm: bool = False,
        *,
        seed: Any = None,
        params: Mapping[str, Any] | None = None,
        dtype: Any = "float64",
        backend: str = "numpy",
        device: Any = None,
    ) -> None:
        self.use_dropout, self.dropout_ration, self.use_batchnorm = (
            bool(use_dropout),
            dropout_ration,
            bool(use_batchnorm),
        )
        super().__init__(
            input_size, hidden_size_list, output_size, activation, weight_init_std, weight_decay_lambda,
            seed=seed, params=params, dtype=dtype, backend=backend, device=device,
        )  # fmt: skip

    def _book_layers(self, n_hidden: int, act: Layer) -> list[Layer]:
        ratio = float(self.dropout_ration)
        if self.use_dropout and not 0.0 <= ratio < 1.0:
            raise ValueError(
                f"dropout_ration is the share of values dropped, in [0, 1); got {self.dropout_ration!r}"
            )
        return _hidden(
            n_hidden, act, batchnorm=self.use_batchnorm, dropout=ratio if self.use_dropout else None
        )
