"""The one dtype rule: which floating dtypes xpnn computes in, and how a dtype is named.

:func:`floating_dtype` is what every entry point that takes a compute dtype applies
(``to_backend``, ``place``, ``compile``, ``export_onnx``, ``random_network``, ``train``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FLOATING_DTYPES", "dtype_name", "floating_dtype", "not_floating", "resolve_dtype"]

Array = Any


def resolve_dtype(xp: Any, dtype: Any, arrays: list[Array], device: Any) -> Any:
    """The compute dtype: ``dtype`` if given, else the arrays' own (integers: the default floating)."""
    if dtype is not None:
        return floating_dtype(xp, dtype)
    dtype = xp.result_type(*arrays)
    if not xp.isdtype(dtype, "real floating"):
        return xp.__array_namespace_info__().default_dtypes(device=device)["real floating"]
    return floating_dtype(xp, dtype)  # the one rule: longdouble weights are refused too


def dtype_name(dtype: Any) -> str:
    """The plain name of any library's dtype: ``'float32'`` for ``np.float32``, ``torch.float32``, ..."""
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).rsplit(".", 1)[-1]


#: The floating dtypes xpnn computes in: every backend and ONNX run them (bfloat16 where the
#: backend has it). ``longdouble`` (float128 on x86 Linux) runs in NumPy alone, neither on the
#: GPU backends nor in ONNX, so it is refused too.
FLOATING_DTYPES = ("float16", "float32", "float64", "bfloat16")


def floating_dtype(xp: Any, dtype: Any) -> Any:
    """``dtype`` (a dtype of ``xp``, a NumPy dtype, or a name) as a floating dtype of namespace ``xp``.

    The one dtype rule of every entry point that takes a compute dtype (``to_backend``,
    ``place``, ``compile``, ``export_onnx``, ``random_network``, and ``train`` through
    ``place``), applied to the weights' own dtype too. An integer, bool or complex dtype would
    truncate or drop part of every weight, and ``longdouble`` runs on NumPy alone, so each is
    a ``ValueError``, as is a name the namespace does not have; what is neither a dtype nor a
    name is a ``TypeError``. Another library's dtype (``np.float32`` for PyTorch, ``">f4"``)
    is looked up by its name, so the result is always the namespace's own, native-endian dtype.

    >>> floating_dtype(np, "float32")
    <class 'numpy.float32'>
    >>> floating_dtype(np, "int32")
    Traceback (most recent call last):
    ...
    ValueError: dtype must be a real floating dtype (float32, float64, float16); got int32: weights are floating, and an integer or bool dtype would truncate every weight
    """
    if isinstance(dtype, str):
        name = dtype
    else:
        try:
            name = np.dtype(dtype).name  # NumPy's (np.float32, np.dtype(">f4")), CuPy's, JAX's
        except TypeError:
            name = ""
    if not name:
        try:
            floating = bool(xp.isdtype(dtype, "real floating"))
        except Exception:  # another library's dtype object: look its name up here
            floating = None
        if floating is False:
            raise not_floating(dtype)
        name = dtype_name(dtype)
        if floating is None and not name.isidentifier():
            raise TypeError(
                "dtype must be a real floating dtype (float32, float64, float16), a dtype object or"
                f" its name; got {type(dtype).__name__} {dtype!r}"
            )
    try:  # NumPy's spellings (">f4", "double", "longdouble") name the same dtypes everywhere
        known: np.dtype | None = np.dtype(name)
    except TypeError:
        known = None  # "bfloat16", or not a dtype at all ("sum"): the namespace decides below
    if known is not None and known.name != "bfloat16":  # ml_dtypes' bfloat16 is of kind "V"
        if known.kind != "f":
            raise not_floating(known)
        if known.name not in FLOATING_DTYPES:
            raise ValueError(
                f"dtype must be a real floating dtype (float32, float64, float16); got {known.name}:"
                " xpnn computes in float16, float32 or float64 (bfloat16 where the backend has it),"
                " the dtypes every backend and ONNX run; use float64 for the most precision"
            )
        name = known.name
    found = getattr(xp, name, None)
    if found is None:
        raise ValueError(f"{xp.__name__} has no dtype {name!r}")
    try:
        floating = bool(xp.isdtype(found, "real floating"))
    except Exception:  # a name that is not a dtype there (np.sum)
        raise ValueError(f"{xp.__name__} has no dtype {name!r}") from None
    if not floating:
        raise not_floating(found)
    return found


def not_floating(dtype: Any) -> ValueError:
    name = dtype_name(dtype)
    reason = (
        "weights are real numbers, and a complex dtype would keep only part of them"
        if "complex" in name
        else "weights are floating, and an integer or bool dtype would truncate every weight"
    )
    return ValueError(
        f"dtype must be a real floating dtype (float32, float64, float16); got {name}: {reason}"
    )
