"""What the ch. 6 examples share: their flags, MNIST, the book's iteration loop, the figure.

The loop is the book's: each iteration draws ``batch_size`` training images with replacement
(``np.random.choice``), takes ``net.loss_and_gradient`` and one optimizer step. Each example
ends with one ``result: NAME KEY=VALUE`` line per curve it draws.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import xpnn
from xpnn.backends import missing_extra  # the one wording xpnn uses for a missing extra


def parser(doc: str, iters: int, out: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--iters", type=int, default=iters, help=f"training iterations (default {iters})")
    p.add_argument("--out", default=out, help=f"the PNG to write (default {out})")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batches")
    p.add_argument("--backend", default="numpy", help="numpy, torch, jax, cupy, array_api_strict")
    p.add_argument("--device", default=None, help="backend device, e.g. cuda:0")
    p.add_argument("--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR, else per-user)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    return p


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, or exit 2 with one line naming the plot extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        sys.exit(f"error: {missing_extra('this example', 'plot')}; {e}")
    return plt


def mnist(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, t_train, x_test, t_test)``: flat images scaled to [0, 1], as host NumPy."""
    if args.iters < 1:
        sys.exit(f"error: --iters must be >= 1; got {args.iters}")
    where = {"data_dir": args.data_dir, "download": not args.no_download}
    try:
        x_train, t_train = xpnn.load_mnist(normalize=True, split="train", **where)
        x_test, t_test = xpnn.load_mnist(normalize=True, split="test", **where)
    except (ValueError, OSError) as e:
        sys.exit(f"error: {' '.join(str(e).split())}")
    return x_train, t_train, x_test, t_test


def place(net: Any, args: argparse.Namespace) -> Any:
    try:
        return xpnn.to_backend(net, args.backend, args.device)
    except (ValueError, ImportError, xpnn.BackendUnavailableError) as e:
        sys.exit(f"error: {' '.join(str(e).split())}")


def train(
    net: Any,
    optimizer: Any,
    x: np.ndarray,
    t: np.ndarray,
    *,
    iters: int,
    batch_size: int,
    rng: np.random.Generator,
    every: int = 0,
    on_eval: Callable[[int, Any], object] | None = None,
) -> tuple[Any, list[float]]:
    """The book's loop: ``iters`` steps on random mini-batches; the loss of each step.

    ``on_eval(i, net)`` runs after step ``i`` when ``i % every == 0`` (and before step 1).
    """
    params = net.params
    state = optimizer.init(params)
    losses: list[float] = []
    if on_eval is not None:
        on_eval(0, net)
    for i in range(1, iters + 1):
        idx = rng.choice(x.shape[0], batch_size)
        xb = net.prepare_input(x[idx])
        tb = xpnn.asarray(t[idx], backend=net.backend, device=net.device)
        loss, grads, new_state = net.loss_and_gradient(xb, tb, rng=rng)
        params, state = optimizer.update(params, grads, state)
        net = net.replace({**params, **new_state})
        losses.append(float(loss))
        if on_eval is not None and every and i % every == 0:
            on_eval(i, net)
    return net, losses


def smooth(values: list[float], width: int = 19) -> np.ndarray:
    """The book's ``smooth_curve`` in spirit: a moving average (shorter at the ends)."""
    v = np.asarray(values, dtype=float)
    if v.size < 3:
        return v
    w = min(width, v.size)
    kernel = np.ones(w) / w
    padded = np.concatenate([np.full(w // 2, v[0]), v, np.full(w - 1 - w // 2, v[-1])])
    return np.convolve(padded, kernel, mode="valid")
