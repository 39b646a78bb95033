"""The one input check of every entry point: real numbers only, book readers' slips named.

``forward``, ``predict``, ``predict_proba``, ``accuracy``, ``train``, ``loss``, ``gradient`` and
the activation functions all take their input through :func:`as_input` (dtype and the
``load_mnist`` pair), and the networks' width check names :func:`image_shape_hint`.
:func:`warn_if_unscaled` is the cheap look for raw pixels (0..255) that inference and training
make once per call. Nothing here imports a backend library.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .backends import to_numpy
from .backends.compat import array_namespace, is_array_api_obj, is_dask_array, is_torch_array
from .errors import UnscaledInputWarning, warn

__all__ = [
    "UnscaledInputWarning",
    "as_input",
    "check_real",
    "class_labels",
    "image_shape_hint",
    "warn_if_unscaled",
]

Array = Any

#: What to do about an input dtype that is not real numbers, by NumPy dtype kind.
_ADVICE = {
    "c": "xpnn does not drop the imaginary part for you: pass x.real (or abs(x)) if that is what you mean",
    "U": "text, not numbers: parse it first, e.g. np.asarray(x, dtype=np.float32)",
    "S": "bytes, not numbers: parse them first, e.g. np.asarray(x, dtype=np.float32)",
    "O": (
        "Python objects (None values, or rows of different lengths?): make a numeric array first,"
        " e.g. np.asarray(x, dtype=np.float32)"
    ),
}


def _is_real(x: Array) -> bool:
    dtype = x.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":  # NumPy, CuPy, Dask, JAX: no call needed
        return True
    try:  # torch and array-api-strict dtypes, JAX's bfloat16 (a NumPy dtype of kind "V")
        return bool(array_namespace(x).isdtype(dtype, ("bool", "integral", "real floating")))
    except (TypeError, ValueError):  # NumPy's isdtype on strings, objects, datetimes
        return False


def check_real(x: Array, what: str = "input") -> None:
    """Raise ``TypeError`` naming ``x``'s dtype and what to do unless it is bool, integer or real floating."""
    if _is_real(x):
        return
    dtype = x.dtype
    kind = dtype.kind if isinstance(dtype, np.dtype) else ("c" if "complex" in str(dtype) else "")
    advice = _ADVICE.get(kind, "convert it to numbers first, e.g. x.astype(np.float32)")
    raise TypeError(f"{what} must be real numbers (bool, integer or floating); got dtype {dtype}: {advice}")


def _load_mnist_slip(x: Any, what: str) -> str | None:
    """Why ``x`` looks like ``load_mnist()``'s result, or a pair of it, given as input; else None."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        return None
    if all(isinstance(p, (tuple, list)) and len(p) == 2 and all(hasattr(a, "shape") for a in p) for p in x):
        return f"{what} is load_mnist()'s whole result, two (images, labels) pairs, not an array of inputs"
    if not all(hasattr(a, "shape") for a in x):
        return None
    images, labels = (tuple(a.shape) for a in x)
    if len(images) >= 2 and len(labels) in (1, 2) and images[:1] == labels[:1] and images != labels:
        return (
            f"{what} is a pair (images of shape {images}, labels of shape {labels}), not an array of inputs"
        )
    return None


def as_input(x: Any, what: str = "input") -> Array:
    """``x`` as an array of real numbers: arrays as they are, lists and scalars as NumPy arrays.

    Raises ``TypeError`` for strings, objects and complex numbers (see :func:`check_real`) and
    for ``load_mnist()``'s pairs given where an array of inputs belongs.
    """
    if type(x) is np.ndarray and x.dtype.kind in "biuf":  # the per-image loop's row: nothing to check
        return x
    slip = _load_mnist_slip(x, what)
    if slip is not None:
        raise TypeError(
            f"{slip}: load_mnist returns two pairs: (x_train, t_train), (x_test, t_test) = xpnn.load_mnist()"
        )
    if not is_array_api_obj(x):
        try:
            x = np.asarray(x)
        except ValueError as e:  # NumPy's "inhomogeneous shape"
            raise ValueError(
                f"{what} is not an array of numbers: {e} Give an array (N, n_in), one row per input"
            ) from e
    check_real(x, what)
    return x


def image_shape_hint(shape: tuple[Any, ...], n_in: int) -> str:
    """What to do when images of ``shape`` meet a network that takes flat rows of ``n_in``; else ``""``."""
    shape = tuple(shape)
    if len(shape) >= 3 and math.prod(shape[1:]) == n_in:
        return (
            f": the network takes flat rows (N, {n_in}); flatten the images with x.reshape(len(x), -1),"
            " or load them flat with xpnn.load_mnist(flatten=True)"
        )
    if len(shape) >= 2 and math.prod(shape) == n_in:
        return f": the network takes flat rows; flatten this one image with x.reshape(-1) (shape ({n_in},))"
    return ""


def warn_if_unscaled(x: Array, advice: str, *, what: str = "input") -> bool:
    """Warn (:class:`UnscaledInputWarning`) if ``x`` looks like raw pixels; True if it did.

    Raw means integers above 1 (``uint8`` images, 0..255), or floats above 1 and none below 0
    (standardized data, with negative values, is not pixels). The look is one reduction
    (``max``) where ``x`` lives and one number to the host; only floats above 1 take a second
    (``min``). A Dask array is not computed for it: there an integer dtype alone warns.
    Booleans and empty arrays never warn.
    ``advice`` says what to do, after the finding.
    """
    dtype = x.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return False
    if is_torch_array(x):
        x = x.detach()  # float() of a tensor that requires grad warns; only a look is taken here
    xp = array_namespace(x)
    if xp.isdtype(dtype, "bool"):
        return False
    integral = xp.isdtype(dtype, "integral")
    if any(n == 0 for n in x.shape):  # Dask's unknown sizes are NaN
        return False
    if is_dask_array(x):
        if not integral:
            return False
        found = f"{what} is a Dask array of {dtype} (integers: raw pixels, 0..255?)"
    else:
        top = float(xp.max(x))
        if not top > 1.0 or (not integral and float(xp.min(x)) < 0.0):  # min: only when max > 1
            return False
        found = f"{what} of dtype {dtype} holds values up to {top:g}" + (
            "" if integral else " and none below 0"
        )
    warn(
        f"{found}, but the network takes pixels in [0, 1], as load_mnist(normalize=True) gives them;"
        f" raw pixels cost accuracy without an error. {advice}",
        UnscaledInputWarning,
    )
    return True


def class_labels(t: Any, n: int, n_out: int, *, name: str = "labels") -> Array:
    """Labels ``t`` as class indices ``(n,)`` in ``[0, n_out)``, where ``t`` lives; else an error saying why.

    The one label check of ``accuracy``, ``loss``, ``gradient`` and ``train`` (before its first
    step). ``t`` holds integer labels ``(n,)`` (integral floats too) or one-hot rows
    ``(n, n_out)`` of exactly one 1 and the rest 0 (bool, integer or floating); soft rows
    (``[0.5, 0.5]``), NaN, a column ``(n, 1)`` or a wrong count are a ``ValueError``, a dtype
    that is not numbers (or bool class indices) a ``TypeError``. The values are judged by a
    few reductions where ``t`` lives; only an error brings the bad row home to name it.
    """
    if not is_array_api_obj(t):
        t = np.asarray(t)
    shape = tuple(t.shape)
    where = f"{name} of shape {shape} and dtype {str(t.dtype).rsplit('.', 1)[-1]}"  # torch.int64: int64
    xp = array_namespace(t)
    real = _is_real(t) and not (len(shape) != 2 and xp.isdtype(t.dtype, "bool"))
    if not real:
        raise TypeError(
            f"{where}: labels must be integer class indices (or one-hot rows of 0 and 1):"
            " convert them, e.g. t.astype(int)"
        )
    if len(shape) == 2 and shape[1] == 1 and n_out != 1:
        raise ValueError(f"{where}: give one label per input as a 1-D array (t.ravel()), not a column")
    if len(shape) not in (1, 2) or shape[0] != n:
        raise ValueError(f"{n} inputs but {where}: give one label (N,) or one-hot row (N, {n_out}) per input")
    index = xp.int32  # n_out < 2**31; JAX without x64 has no int64
    if len(shape) == 2:
        if shape[1] != n_out:
            raise ValueError(f"{where}: one-hot rows must have the network's {n_out} outputs")
        rows = t if not xp.isdtype(t.dtype, "bool") else xp.astype(t, xp.int8)
        ones = xp.count_nonzero(rows == 1, axis=1)
        ok = xp.all((rows == 0) | (rows == 1), axis=1) & (ones == 1)
        if n and not bool(xp.all(ok)):
            row = int(np.argmin(to_numpy(ok)))
            raise ValueError(
                f"{where}: row {row} is not one-hot (exactly one 1, the rest 0): {to_numpy(t[row, ...])}"
            )
        return xp.astype(xp.argmax(rows, axis=1), index)
    if xp.isdtype(t.dtype, "real floating"):
        ok = (t >= 0.0) & (t < float(n_out)) & (t == xp.floor(t))  # NaN fails every comparison
    else:
        ok = (t >= 0) & (t < n_out)
    if n and not bool(xp.all(ok)):
        i = int(np.argmin(to_numpy(ok)))
        value = to_numpy(t[i, ...]).item()
        raise ValueError(f"{where}: label {value!r} at index {i} is not a class index in [0, {n_out})")
    return t if t.dtype == index else xp.astype(t, index)
