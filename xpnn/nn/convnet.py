"""The book's convolutional networks: ``SimpleConvNet`` (ch. 7) and ``DeepConvNet`` (ch. 8).

Both are :class:`~xpnn.nn.Sequential` networks built with the book's constructor arguments and
defaults, and its parameter names (``W1, b1, ...``), so the book's trained files
(``ch07/params.pkl``, ``ch08/deep_convnet_params.pkl``) load into them as they are
(:func:`xpnn.load_sample_network`). New weights are drawn as the book draws them, from
``numpy.random.default_rng(seed)`` (``draw`` of :mod:`xpnn.nn.multilayer`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .im2col import out_size
from .layers import Affine, Convolution, Dropout, Layer, Pooling, Relu
from .multilayer import draw
from .sequential import Sequential

__all__ = ["DeepConvNet", "SimpleConvNet"]

Array = Any

_CONV_KEYS = ("filter_num", "filter_size", "pad", "stride")


def _conv_param(param: Mapping[str, int] | None, default: Mapping[str, int], name: str) -> dict[str, int]:
    merged = dict(default) if param is None else dict(param)
    missing = [k for k in _CONV_KEYS if k not in merged]
    extra = sorted(set(merged) - set(_CONV_KEYS))
    if missing or extra:
        raise ValueError(f"{name} needs the keys {list(_CONV_KEYS)}; missing {missing}, unexpected {extra}")
    bad = {k: v for k, v in merged.items() if type(v) is not int or v < (0 if k == "pad" else 1)}
    if bad:
        raise ValueError(
            f"{name}: filter_num, filter_size and stride are ints >= 1, pad an int >= 0; got {bad}"
        )
    return merged


def _input_dim(input_dim: Sequence[int]) -> tuple[int, int, int]:
    dims = tuple(input_dim)
    if len(dims) != 3 or not all(type(d) is int and d >= 1 for d in dims):
        raise ValueError(f"input_dim is (channels, height, width), three ints >= 1; got {input_dim!r}")
    return dims[0], dims[1], dims[2]


class SimpleConvNet(Sequential):
    """The book's ch. 7 ``SimpleConvNet``: conv - relu - pool - affine - relu - affine.

    Arguments as the book's: ``conv_param`` (``filter_num`` 30, ``filter_size`` 5, ``pad`` 0,
    ``stride`` 1), a 2x2 max-pool of stride 2, ``hidden_size`` 100, ``output_size`` 10, weights
    drawn with standard deviation ``weight_init_std`` from ``numpy.random.default_rng(seed)``.
    ``params`` (a dict ``W1..W3, b1..b3``, e.g. the book's ``params.pkl``) replaces the draw.
    The network is placed on ``backend``/``device`` in ``dtype`` (float64, the book's).

    >>> net = SimpleConvNet(seed=0)
    >>> net.params["W1"].shape, net.params["W2"].shape, net.n_out
    ((30, 1, 5, 5), (4320, 100), 10)
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        conv_param: Mapping[str, int] | None = None,
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: float = 0.01,
        *,
        seed: Any = None,
        params: Mapping[str, Any] | None = None,
        dtype: Any = "float64",
        backend: str = "numpy",
        device: Any = None,
    ) -> None:
        dims = _input_dim(input_dim)
        conv = _conv_param(
            conv_param, {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}, "conv_param"
        )
        fn, fs = conv["filter_num"], conv["filter_size"]
        oh, ow = (out_size(d, fs, conv["stride"], conv["pad"]) for d in dims[1:])
        pooled = fn * out_size(oh, 2, 2, 0) * out_size(ow, 2, 2, 0)
        shapes = {
            "W1": (fn, dims[0], fs, fs),
            "b1": (fn,),
            "W2": (pooled, hidden_size),
            "b2": (hidden_size,),
            "W3": (hidden_size, output_size),
            "b3": (output_size,),
        }
        std = float(weight_init_std)
        layers: list[Layer] = [
            Convolution(1, stride=conv["stride"], pad=conv["pad"]),
            Relu(),
            Pooling(2, 2, stride=2),
            Affine(2),
            Relu(),
            Affine(3),
        ]
        arrays = draw(shapes, {"W1": std, "W2": std, "W3": std}, seed) if params is None else params
        super().__init__(layers, arrays, input_shape=dims, backend=backend, device=device, dtype=dtype)


_DEEP_DEFAULTS = (
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
)


class DeepConvNet(Sequential):
    """The book's ch. 8 ``DeepConvNet``: three times (conv - relu - conv - relu - pool), then
    affine - relu - dropout - affine - dropout.

    Arguments as the book's (``conv_param_1`` .. ``conv_param_6``, ``hidden_size`` 50,
    ``output_size`` 10); weights are drawn with He's scale ``sqrt(2 / inputs per neuron)``.
    Dropout (ratio 0.5) is the book's: at inference it multiplies by 0.5, so the book's
    ``deep_convnet_params.pkl`` gives its published accuracy. ``params`` replaces the draw.

    >>> net = DeepConvNet(seed=0)
    >>> net.params["W7"].shape, len(net.params)
    ((1024, 50), 16)
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        conv_param_1: Mapping[str, int] | None = None,
        conv_param_2: Mapping[str, int] | None = None,
        conv_param_3: Mapping[str, int] | None = None,
        conv_param_4: Mapping[str, int] | None = None,
        conv_param_5: Mapping[str, int] | None = None,
        conv_param_6: Mapping[str, int] | None = None,
        hidden_size: int = 50,
        output_size: int = 10,
        *,
        seed: Any = None,
        params: Mapping[str, Any] | None = None,
        dtype: Any = "float64",
        backend: str = "numpy",
        device: Any = None,
    ) -> None:
        dims = _input_dim(input_dim)
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6)
        convs = [
            _conv_param(p, d, f"conv_param_{i}") for i, (p, d) in enumerate(zip(given, _DEEP_DEFAULTS), 1)
        ]
        layers: list[Layer] = []
        shapes: dict[str, tuple[int, ...]] = {}
        scales: dict[str, float] = {}
        channels, h, w = dims
        for i, conv in enumerate(convs, start=1):
            fn, fs = conv["filter_num"], conv["filter_size"]
            shapes[f"W{i}"], shapes[f"b{i}"] = (fn, channels, fs, fs), (fn,)
            scales[f"W{i}"] = math.sqrt(2.0 / (channels * fs * fs))
            layers += [Convolution(i, stride=conv["stride"], pad=conv["pad"]), Relu()]
            h, w = out_size(h, fs, conv["stride"], conv["pad"]), out_size(w, fs, conv["stride"], conv["pad"])
            channels = fn
            if i % 2 == 0:
                layers.append(Pooling(2, 2, stride=2))
                h, w = out_size(h, 2, 2, 0), out_size(w, 2, 2, 0)
        flat = channels * h * w
        shapes.update({"W7": (flat, hidden_size), "b7": (hidden_size,), "W8": (hidden_size, output_size)})
        shapes["b8"] = (output_size,)
        scales.update({"W7": math.sqrt(2.0 / flat), "W8": math.sqrt(2.0 / hidden_size)})
        layers += [Affine(7), Relu(), Dropout(0.5), Affine(8), Dropout(0.5)]
        arrays = draw(shapes, scales, seed) if params is None else params
        super().__init__(layers, arrays, input_shape=dims, backend=backend, device=device, dtype=dtype)
