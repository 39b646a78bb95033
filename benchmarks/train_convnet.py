"""SimpleConvNet training (issue 20): xpnn against the book's NumPy code and PyTorch eager.

    python benchmarks/train_convnet.py [--batches K] [--rounds R] [--out DIR]      # speed
    python benchmarks/train_convnet.py --accuracy [--train-size N] [--out DIR]     # one Adam epoch

Speed: K mini-batches of 100 MNIST training images (the book's ch. 7 ``Trainer``: forward,
backward, one Adam step with lr 0.001 each) from the same ``SimpleConvNet(weight_init_std=0.01)``
weights, in the same order, for every candidate. Pairs, each ratio within one run:

- xpnn on NumPy (``xpnn.nn.train_network``, float64, the book's dtype) against the book's own
  code (``common/layers.py``'s ``Convolution``/``Pooling``/``Affine``/``Relu``/``SoftmaxWithLoss``
  through ``common/util.py``'s im2col/col2im and ``common/optimizer.py``'s ``Adam``, written out
  below); target at most 1.0 times;
- xpnn on PyTorch CPU against plain PyTorch eager (an ``nn.Sequential`` of the same layers,
  ``torch.optim.Adam``, ``F.cross_entropy``), float32; target at most 1.5 times.

Before any time counts, every candidate must give the same losses as the book's code on the
first batches (float64; PyTorch's Adam differs from the book's only in where its epsilon sits).

``--accuracy``: one Adam epoch (lr 0.001, batches of 100) of ``SimpleConvNet(weight_init_std=0.01)``
on the first N (10,000) training images, then the accuracy on the 10,000 test images, for xpnn
and for PyTorch started from xpnn's initial weights (copied), the batches in the same order;
the book's own code too. Writes ``train-convnet.{json,md}`` or ``train-convnet-accuracy.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import RESULTS, interleaved, machine, table

import xpnn

BOOK = "book's NumPy code (baseline)"
TORCH = "PyTorch eager nn.Sequential + optim.Adam (float32)"
BATCH = 100


# --- the book's code (common/util.py, common/layers.py, common/optimizer.py, ch07/simple_convnet.py)


def im2col(input_data: np.ndarray, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w))
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(
    col: np.ndarray, input_shape: tuple, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0
) -> np.ndarray:
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1))
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]
    return img[:, :, pad : H + pad, pad : W + pad]


class Convolution:
    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x: np.ndarray) -> np.ndarray:
        FN, _, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = 1 + int((H + 2 * self.pad - FH) / self.stride)
        out_w = 1 + int((W + 2 * self.pad - FW) / self.stride)
        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T
        out = np.dot(col, col_W) + self.b
        self.x, self.col, self.col_W = x, col, col_W
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        dcol = np.dot(dout, self.col_W.T)
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)


class Pooling:
    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0) -> None:
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x: np.ndarray) -> np.ndarray:
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad).reshape(
            -1, self.pool_h * self.pool_w
        )
        self.x, self.arg_max = x, np.argmax(col, axis=1)
        return np.max(col, axis=1).reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = dout.transpose(0, 2, 3, 1)
        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape((*dout.shape, pool_size))
        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


class Relu:
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout[self.mask] = 0
        return dout


class Affine:
    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = W, b

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


def softmax(x: np.ndarray) -> np.ndarray:
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


class SoftmaxWithLoss:
    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        self.t, self.y = t, softmax(x)
        batch_size = self.y.shape[0]
        return float(-np.sum(np.log(self.y[np.arange(batch_size), t] + 1e-7)) / batch_size)

    def backward(self, dout: float = 1) -> np.ndarray:
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx / batch_size


class Adam:
    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr, self.beta1, self.beta2, self.iter = lr, beta1, beta2, 0
        self.m: dict | None = None
        self.v: dict = {}

    def update(self, params: dict, grads: dict) -> None:
        if self.m is None:
            self.m, self.v = {}, {}
            for key, val in params.items():
                self.m[key] = np.zeros_like(val)
                self.v[key] = np.zeros_like(val)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


class BookSimpleConvNet:
    """ch07/simple_convnet.py, with the weights given (xpnn's draw) instead of drawn."""

    def __init__(self, params: dict) -> None:
        self.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        p = self.params
        self.layers = [
            Convolution(p["W1"], p["b1"], 1, 0),
            Relu(),
            Pooling(pool_h=2, pool_w=2, stride=2),
            Affine(p["W2"], p["b2"]),
            Relu(),
            Affine(p["W3"], p["b3"]),
        ]
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[float, dict]:
        loss = self.last_layer.forward(self.predict(x), t)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        conv, aff2, aff3 = self.layers[0], self.layers[3], self.layers[5]
        grads = {"W1": conv.dW, "b1": conv.db, "W2": aff2.dW, "b2": aff2.db, "W3": aff3.dW, "b3": aff3.db}
        return loss, grads

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 100) -> float:
        hits = sum(
            int(np.sum(np.argmax(self.predict(x[i : i + batch_size]), axis=1) == t[i : i + batch_size]))
            for i in range(0, len(x), batch_size)
        )
        return hits / len(x)


def book_epoch(init: dict, x: np.ndarray, t: np.ndarray, order: np.ndarray) -> tuple[BookSimpleConvNet, list]:
    """The book's Trainer steps over ``order``: float64 images in [0, 1], Adam lr 0.001."""
    net, opt, losses = BookSimpleConvNet(init), Adam(lr=0.001), []
    for start in range(0, len(order), BATCH):
        idx = order[start : start + BATCH]
        loss, grads = net.gradient(x[idx], t[idx])
        opt.update(net.params, grads)  # in place: the layers hold the same arrays
        losses.append(loss)
    return net, losses


# --- xpnn and PyTorch ----------------------------------------------------------------------------


def xpnn_epoch(net: Any, x8: np.ndarray, t: np.ndarray, seed: int) -> tuple[Any, dict]:
    """The one call that trains xpnn's network: one epoch of the book's Trainer loop."""
    return xpnn.nn.train_network(
        net, x8, t, optimizer="adam", lr=0.001, batch_size=BATCH, epochs=1, seed=seed, normalize=True
    )


def torch_model(init: dict, dtype: Any, device: str = "cpu") -> Any:
    """SimpleConvNet as a PyTorch user writes it, started from the same weights."""
    import torch
    from torch import nn

    conv, fc1, fc2 = nn.Conv2d(1, 30, 5), nn.Linear(4320, 100), nn.Linear(100, 10)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.asarray(init["W1"])))
        conv.bias.copy_(torch.from_numpy(np.asarray(init["b1"])))
        for layer, i in ((fc1, 2), (fc2, 3)):
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(np.asarray(init[f"W{i}"]).T)))
            layer.bias.copy_(torch.from_numpy(np.asarray(init[f"b{i}"])))
    model = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(), fc1, nn.ReLU(), fc2)
    return model.to(device=device, dtype=dtype)


def torch_epoch(
    init: dict, x8: np.ndarray, t: np.ndarray, order: np.ndarray, dtype: Any, device: str = "cpu"
) -> tuple[Any, list]:
    """PyTorch eager: the same batches, torch.optim.Adam(lr=0.001), F.cross_entropy."""
    import torch
    import torch.nn.functional as F  # noqa: N812 (as PyTorch users write it)

    model = torch_model(init, dtype, device)
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    xt = torch.from_numpy(x8).to(device=device, dtype=dtype) / 255.0  # the data on the device once
    tt = torch.from_numpy(t.astype(np.int64)).to(device)
    ot = torch.from_numpy(order).to(device)
    losses = []
    for start in range(0, len(order), BATCH):
        idx = ot[start : start + BATCH]
        opt.zero_grad()
        loss = F.cross_entropy(model(xt[idx]), tt[idx])
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return model, [float(v) for v in losses]


def torch_accuracy(model: Any, x8: np.ndarray, t: np.ndarray, dtype: Any) -> float:
    import torch

    with torch.inference_mode():
        xt = torch.from_numpy(x8).to(dtype) / 255.0
        hits = sum(
            int((model(xt[i : i + 1000]).argmax(1).numpy() == t[i : i + 1000]).sum())
            for i in range(0, len(t), 1000)
        )
    return hits / len(t)


def _train_images() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        x8, t = xpnn.load_mnist(normalize=False, flatten=False, split="train")
        x8_test, t_test = xpnn.load_mnist(normalize=False, flatten=False, split="test")
    except (xpnn.DataNotFoundError, xpnn.DataError) as e:
        raise SystemExit(f"bench: {e}\n(set XPNN_DATA_DIR to a directory with mnist/)") from e
    return x8, t, x8_test, t_test


def _first_losses(x8: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """The mean loss of one epoch over ``x8`` (two batches) of every candidate, float64, same weights."""
    init = xpnn.SimpleConvNet(seed=0).to_numpy()
    order = np.random.default_rng(0).permutation(len(x8))  # train_network's order for seed 0
    found = {BOOK: float(np.mean(book_epoch(init, x8.astype(np.float64) / 255.0, t, order)[1]))}
    found["xpnn[numpy]"] = xpnn_epoch(xpnn.SimpleConvNet(seed=0), x8, t, seed=0)[1]["loss"][0]
    if xpnn.backend_status()["torch"].available:
        import torch

        found["PyTorch eager (float64)"] = float(np.mean(torch_epoch(init, x8, t, order, torch.float64)[1]))
        on_torch = xpnn.SimpleConvNet(seed=0, backend="torch")
        found["xpnn[torch] (float64)"] = xpnn_epoch(on_torch, x8, t, seed=0)[1]["loss"][0]
    return found


def speed(args: argparse.Namespace) -> tuple[dict, str]:
    x8, t, _, _ = _train_images()
    n = args.batches * BATCH
    x8, t = x8[:n], t[:n]
    order = np.random.default_rng(0).permutation(n)  # train_network's order for seed 0
    xf = x8.astype(np.float64) / 255.0
    first = _first_losses(x8[: 2 * BATCH], t[: 2 * BATCH])  # two batches (or all there are)
    for name, value in first.items():  # the same losses as the book's code, or the time means nothing
        assert abs(value - first[BOOK]) <= 1e-4 * first[BOOK], f"{name} loses {value}, the book {first[BOOK]}"
    init64 = xpnn.SimpleConvNet(seed=0)
    init = init64.to_numpy()
    if args.gpu:
        return _gpu_speed(args, x8, t, order, init, first)
    rows: dict[str, Callable[[], object]] = {
        BOOK: lambda: book_epoch(init, xf, t, order),
        "xpnn[numpy] train_network (float64)": lambda: xpnn_epoch(init64, x8, t, seed=0),
    }
    pairs = {"xpnn[numpy] train_network (float64)": BOOK}
    if xpnn.backend_status()["torch"].available:
        import torch

        on_torch = xpnn.SimpleConvNet(seed=0, dtype="float32", backend="torch")
        rows[TORCH] = lambda: torch_epoch(init, x8, t, order, torch.float32)
        rows["xpnn[torch] train_network (float32)"] = lambda: xpnn_epoch(on_torch, x8, t, seed=0)
        pairs["xpnn[torch] train_network (float32)"] = TORCH
    times = interleaved(rows, number=1, rounds=args.rounds)
    table_rows = [
        {
            "code": name,
            "s": f"{s:.2f}",
            "ms/batch": f"{s * 1e3 / args.batches:.1f}",
            "ratio": f"{s / times[pairs[name]]:.2f}× {pairs[name]}" if name in pairs else "peer",
        }
        for name, s in times.items()
    ]
    info = machine()
    command = f"python benchmarks/train_convnet.py --batches {args.batches} --rounds {args.rounds}"
    md = (
        f"### SimpleConvNet training: {args.batches} Adam mini-batches of {BATCH} MNIST images\n\n"
        "Target: xpnn[numpy] ≤ 1.0× the book's code; xpnn[torch] ≤ 1.5× PyTorch eager\n\n"
        f"{table(table_rows, ['code', 's', 'ms/batch', 'ratio'])}\n\n"
        f"Medians of {args.rounds} interleaved rounds; every candidate's first losses checked against the"
        " book's code first.\n\n"
        f"`{command}` on {info['cores']} cores, {info.get('blas', '')}, {info['date']}\n"
    )
    result = {"title": "train-convnet", "times_s": times, "pairs": pairs, "batches": args.batches,
              "first_losses": first, "machine": info}  # fmt: skip
    return result, md


def _gpu_speed(
    args: argparse.Namespace, x8: np.ndarray, t: np.ndarray, order: np.ndarray, init: dict, first: dict
) -> tuple[dict, str]:
    """``--gpu``: xpnn[torch] on cuda and xpnn[cupy] against PyTorch eager on cuda, float32."""
    import torch

    peer = "PyTorch eager nn.Sequential + optim.Adam (cuda, float32)"
    rows: dict[str, Callable[[], object]] = {
        peer: lambda: torch_epoch(init, x8, t, order, torch.float32, "cuda")
    }
    on_torch = xpnn.SimpleConvNet(params=init, dtype="float32", backend="torch", device="cuda")
    rows["xpnn[torch] cuda train_network (float32)"] = lambda: xpnn_epoch(on_torch, x8, t, seed=0)
    if xpnn.backend_status()["cupy"].available:
        on_cupy = xpnn.SimpleConvNet(params=init, dtype="float32", backend="cupy")
        rows["xpnn[cupy] train_network (float32)"] = lambda: xpnn_epoch(on_cupy, x8, t, seed=0)
    pairs = {name: peer for name in rows if name != peer}
    times = interleaved(rows, number=1, rounds=args.rounds)  # each returns host floats: synchronized
    table_rows = [
        {"code": name, "s": f"{s:.3f}", "ms/batch": f"{s * 1e3 / args.batches:.2f}",
         "ratio": f"{s / times[pairs[name]]:.2f}× {pairs[name]}" if name in pairs else "peer"}
        for name, s in times.items()
    ]  # fmt: skip
    info = machine()
    md = (
        f"### SimpleConvNet training on the GPU: {args.batches} Adam mini-batches of {BATCH} MNIST images\n\n"
        "Target: xpnn ≤ 1.5× PyTorch eager\n\n"
        f"{table(table_rows, ['code', 's', 'ms/batch', 'ratio'])}\n\n"
        f"Medians of {args.rounds} interleaved rounds.\n\n"
        f"`python benchmarks/train_convnet.py --gpu --batches {args.batches} --rounds {args.rounds}`"
        f" on {torch.cuda.get_device_name()}, {info['date']}\n"
    )
    result = {"title": "train-convnet-gpu", "times_s": times, "pairs": pairs, "batches": args.batches,
              "first_losses": first, "machine": info}  # fmt: skip
    return result, md


def accuracy(args: argparse.Namespace) -> tuple[dict, str]:
    x8, t, x8_test, t_test = _train_images()
    x8, t = x8[: args.train_size], t[: args.train_size]
    x8_test, t_test = x8_test[: args.test_size], t_test[: args.test_size]
    order = np.random.default_rng(0).permutation(len(x8))  # train_network's order for seed 0
    rows = []
    net0 = xpnn.SimpleConvNet(weight_init_std=0.01, seed=0, dtype="float32")
    init = net0.to_numpy()
    start = time.perf_counter()
    net, history = xpnn_epoch(net0, x8, t, seed=0)
    acc = xpnn.accuracy(net, x8_test, t_test, normalize=True)
    rows.append({"code": "xpnn[numpy] (float32)", "loss": history["loss"][0], "test acc": acc,
                 "s": time.perf_counter() - start})  # fmt: skip
    if xpnn.backend_status()["torch"].available:
        import torch

        start = time.perf_counter()
        model, losses = torch_epoch(init, x8, t, order, torch.float32)
        rows.append({"code": "PyTorch eager (float32, same init)", "loss": float(np.mean(losses)),
                     "test acc": torch_accuracy(model, x8_test, t_test, torch.float32),
                     "s": time.perf_counter() - start})  # fmt: skip
        start = time.perf_counter()
        placed = xpnn.SimpleConvNet(params=init, dtype="float32", backend="torch")
        net, history = xpnn_epoch(placed, x8, t, seed=0)
        rows.append({"code": "xpnn[torch] (float32)", "loss": history["loss"][0],
                     "test acc": xpnn.accuracy(net, x8_test, t_test, normalize=True),
                     "s": time.perf_counter() - start})  # fmt: skip
    if args.book:
        start = time.perf_counter()
        book, losses = book_epoch(init, x8.astype(np.float64) / 255.0, t, order)
        rows.append({"code": "book's NumPy code (float64, same init)", "loss": float(np.mean(losses)),
                     "test acc": book.accuracy(x8_test.astype(np.float64) / 255.0, t_test),
                     "s": time.perf_counter() - start})  # fmt: skip
    for row in rows:
        print(f"{row['code']:40} loss {row['loss']:.4f} test acc {row['test acc']:.4f} ({row['s']:.1f} s)")
    info = machine()
    command = (
        f"python benchmarks/train_convnet.py --accuracy --train-size {args.train_size} --test-size {args.test_size}"
        + (" --book" if args.book else "")
    )
    shown = [
        {**r, "loss": f"{r['loss']:.4f}", "test acc": f"{r['test acc']:.4f}", "s": f"{r['s']:.1f}"}
        for r in rows
    ]
    md = (
        f"### One Adam epoch of SimpleConvNet(weight_init_std=0.01) on the first {len(x8):,} training images\n\n"
        "Target: xpnn reaches the test accuracy PyTorch reaches with the same architecture, init and"
        " optimizer (about 0.89)\n\n"
        f"{table(shown, ['code', 'loss', 'test acc', 's'])}\n\n"
        "Lr 0.001, batches of 100 in the same order; loss: the mean mini-batch loss of the epoch; test acc"
        f" on the first {len(t_test):,} test images. PyTorch's Adam puts its epsilon (1e-8) after the bias correction, the"
        " book's (1e-7) before.\n\n"
        f"`{command}` on {info['cores']} cores, {info['date']}\n"
    )
    return {"title": "train-convnet-accuracy", "rows": rows, "train_size": len(x8), "machine": info}, md


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="mini-batches timed (default: 20)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3)")
    parser.add_argument(
        "--gpu", action="store_true", help="speed on CUDA: xpnn[cupy], xpnn[torch] vs PyTorch"
    )
    parser.add_argument("--accuracy", action="store_true", help="one Adam epoch: test accuracy, not speed")
    parser.add_argument("--train-size", type=int, default=10_000, help="--accuracy: training images")
    parser.add_argument("--test-size", type=int, default=10_000, help="--accuracy: test images")
    parser.add_argument("--book", action="store_true", help="--accuracy: the book's own code too")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write JSON and markdown")
    args = parser.parse_args(argv)
    for flag, value in (
        ("--batches", args.batches),
        ("--rounds", args.rounds),
        ("--train-size", args.train_size),
    ):
        if value < 1:
            parser.error(f"{flag} must be a positive integer; got {value}")
    result, md = accuracy(args) if args.accuracy else speed(args)
    args.out.mkdir(parents=True, exist_ok=True)
    name = result["title"]
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{name}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
