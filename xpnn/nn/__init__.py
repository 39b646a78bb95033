"""Layer networks (the book's ch. 7-8): layers as data, a layer sequence, the book's CNNs.

Design, for this package and for the migration of the ch. 3-6 networks onto it:

- A **layer** (:mod:`xpnn.nn.layers`) is a frozen dataclass holding configuration only
  (``Convolution(index=1, stride=1, pad=0)``); the arrays live in one dict of book names
  (``W1``, ``b1``, ``gamma1``, ``running_mean1``). ``forward(params, x, *, train, rng)``
  returns ``(y, cache)`` and ``backward(params, cache, dy)`` returns ``(dx, grads)``: pure
  functions, no in-place writes, Array API only, so NumPy, CuPy, PyTorch, JAX and
  array-api-strict run the same code. :data:`LAYERS` maps a name to its class; a new layer is
  one class and one row there.
- :func:`forward_layers` / :func:`backward_layers` chain them; :class:`Sequential` places a
  list of layers and the dict of arrays on a backend once and is a
  :class:`xpnn.runnable.Runnable`, so ``xpnn.predict``, ``predict_proba`` and ``accuracy``
  (all batching, Dask included) take it unchanged. Its ``n_in`` is the input shape (a tuple).
- :class:`SimpleConvNet` and :class:`DeepConvNet` are Sequential networks built with the
  book's constructors; ``xpnn.load_sample_network(name=...)`` loads the book's trained files.
- Migrating the MLP later: the ch. 3 ``Network`` of ``W1..Wn, b1..bn`` is
  ``Sequential([Affine(1), Sigmoid(), Affine(2), Sigmoid(), Affine(3)], net, input_shape=(784,))``
  (its ``n_in`` then becomes ``(784,)``; inference accepts both); ``layers.loss_and_gradient``
  becomes :meth:`Sequential.loss_and_gradient`, and ``train`` loops over
  ``loss_and_gradient`` + an optimizer on ``Sequential.params`` exactly as it does on the dict.
  :func:`xpnn.nn.train_network` is that loop for these networks already.
"""

from .convnet import DeepConvNet, SimpleConvNet
from .im2col import col2im, im2col
from .layers import (
    LAYERS,
    ActivationLayer,
    Affine,
    BatchNormalization,
    Convolution,
    Dropout,
    Identity,
    Layer,
    Pooling,
    Relu,
    Sigmoid,
    Tanh,
    activation_layer,
    layer_from_spec,
)
from .multilayer import MultiLayerNet, MultiLayerNetExtend
from .sequential import Sequential, backward_layers, forward_layers
from .training import train_network

__all__ = [
    "LAYERS",
    "ActivationLayer",
    "Affine",
    "BatchNormalization",
    "Convolution",
    "DeepConvNet",
    "Dropout",
    "Identity",
    "Layer",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "Pooling",
    "Relu",
    "Sequential",
    "Sigmoid",
    "SimpleConvNet",
    "Tanh",
    "activation_layer",
    "backward_layers",
    "col2im",
    "forward_layers",
    "im2col",
    "layer_from_spec",
    "train_network",
]
