"""DeepConvNet inference (issue 20): xpnn against the book's NumPy im2col code and PyTorch's nn.Sequential.

    python benchmarks/convnet.py [--images N] [--rounds R] [--out DIR]

The book's ch. 8 DeepConvNet (He-initialized from seed 0: the timing does not depend on the
weights) on the first N MNIST test images (float64, the book's dtype), class indices out, in
batches of xpnn's default batch size for every candidate. Pairs, each ratio within one run:

- xpnn on NumPy (the generic im2col code, NumPy's patches one sliding-window view) against the
  book's own NumPy code (``common/util.py``'s im2col with its loop of slice assignments,
  ``Convolution``/``Pooling`` forward as in ``common/layers.py``), written out below;
- xpnn on PyTorch CPU (delegating to ``conv2d``/``max_pool2d``) against a plain
  ``torch.nn.Sequential`` of the same layers with the same weights (target at most 1.5 times), in float64
  and in float32;
- ``xpnn.compile(net, "onnxruntime")`` (the graph of ``export_onnx``, float32: onnxruntime's CPU
  ``Conv`` is float32 only) against the float32 ``torch.nn.Sequential`` (target at most 1.2 times).

``--only compiled`` times just that last pair (the book's code takes about a minute on 10,000
images); its classes are checked against the float32 PyTorch model's.

Every candidate must give the same classes as the book's code before its time counts. Writes
``convnet.json`` and ``convnet.md`` to the results folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import RESULTS, interleaved, machine, table

import xpnn

BASELINE = "book's NumPy im2col code (baseline)"
_IM2COL = sys.modules["xpnn.nn.im2col"]  # the module (xpnn.nn.im2col is also the function)


def generic(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` with the delegation off: xpnn's generic im2col code, to show what delegating buys."""

    def run() -> object:
        _IM2COL.DELEGATE = False
        try:
            return fn()
        finally:
            _IM2COL.DELEGATE = True

    return run


def book_im2col(
    input_data: np.ndarray, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0
) -> np.ndarray:
    """The book's ``common/util.py`` im2col, as printed."""
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


def book_conv(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    FN, _, FH, FW = W.shape
    N, _, H, Wd = x.shape
    out_h, out_w = 1 + (H + 2 * pad - FH) // stride, 1 + (Wd + 2 * pad - FW) // stride
    out = book_im2col(x, FH, FW, stride, pad) @ W.reshape(FN, -1).T + b
    return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)


def book_pool(x: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    N, C, H, W = x.shape
    out_h, out_w = 1 + (H - size) // stride, 1 + (W - size) // stride
    col = book_im2col(x, size, size, stride, 0).reshape(-1, size * size)
    return np.max(col, axis=1).reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)


def book_deep_convnet(p: dict, x: np.ndarray, pads: list[int]) -> np.ndarray:
    """The book's DeepConvNet.predict(train_flg=False): dropout multiplies by 0.5."""
    for i in range(1, 7):
        x = np.maximum(book_conv(x, p[f"W{i}"], p[f"b{i}"], 1, pads[i - 1]), 0)
        if i % 2 == 0:
            x = book_pool(x)
    x = np.maximum(x.reshape(x.shape[0], -1) @ p["W7"] + p["b7"], 0) * 0.5
    return (x @ p["W8"] + p["b8"]) * 0.5


def torch_sequential(p: dict, pads: list[int], dtype: object) -> object:
    """DeepConvNet as a PyTorch user writes it, with the same weights (the book's dropout folded in)."""
    import torch
    from torch import nn

    def conv(i: int) -> nn.Conv2d:
        W = p[f"W{i}"]
        layer = nn.Conv2d(W.shape[1], W.shape[0], W.shape[2], padding=pads[i - 1])
        layer.weight.data, layer.bias.data = torch.from_numpy(W.copy()), torch.from_numpy(p[f"b{i}"].copy())
        return layer

    def linear(i: int, scale: float) -> nn.Linear:
        W = p[f"W{i}"]
        layer = nn.Linear(*W.shape)
        layer.weight.data = torch.from_numpy(W.T * scale)
        layer.bias.data = torch.from_numpy(p[f"b{i}"].copy())
        return layer

    layers: list[nn.Module] = []
    for i in range(1, 7):
        layers += [conv(i), nn.ReLU()] + ([nn.MaxPool2d(2)] if i % 2 == 0 else [])
    layers += [nn.Flatten(), linear(7, 1.0), nn.ReLU(), linear(8, 0.5)]  # dropout's 0.5 into W8
    return nn.Sequential(*layers).to(dtype).eval()


def batched(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, rows: int) -> Callable[[], np.ndarray]:
    return lambda: np.concatenate([fn(x[i : i + rows]) for i in range(0, len(x), rows)])


COMPILED = "xpnn.compile onnxruntime (float32)"
TORCH32 = "torch nn.Sequential (float32)"


def candidates(x8: np.ndarray) -> tuple[dict[str, Callable[[], object]], dict[str, str]]:
    """The rows to time, and for each xpnn row the peer its ratio is to."""
    net = xpnn.DeepConvNet(seed=0)
    p = net.to_numpy()
    pads = [1, 1, 1, 2, 1, 1]  # the book's conv_param_1 .. conv_param_6
    rows = net.default_batch_rows
    x = x8.astype(np.float64) / 255.0
    found: dict[str, Callable[[], object]] = {
        BASELINE: batched(lambda b: np.argmax(book_deep_convnet(p, b, pads), axis=1), x, rows),
        "xpnn[numpy] predict": lambda: xpnn.predict(net, x8, normalize=True),
    }
    found["xpnn[numpy] predict, generic im2col"] = generic(found["xpnn[numpy] predict"])
    pairs = {"xpnn[numpy] predict": BASELINE, "xpnn[numpy] predict, generic im2col": BASELINE}
    if xpnn.backend_status()["torch"].available:
        import torch

        for dtype in ("float64", "float32"):
            placed = xpnn.to_backend(net, "torch", "cpu", dtype=dtype)
            model = torch_sequential(p, pads, getattr(torch, dtype))
            tdtype = getattr(torch, dtype)

            def plain(model: object = model, tdtype: object = tdtype) -> object:
                with torch.inference_mode():
                    xt = torch.from_numpy(x8).to(tdtype) / 255.0
                    return torch.cat([model(xt[i : i + rows]).argmax(dim=1) for i in range(0, len(xt), rows)])

            peer = f"torch nn.Sequential ({dtype})"
            found[peer] = plain
            found[f"xpnn[torch] predict ({dtype})"] = lambda placed=placed: xpnn.predict(
                placed, x8, normalize=True
            )
            pairs[f"xpnn[torch] predict ({dtype})"] = peer
            if dtype == "float64":
                found["xpnn[torch] predict (float64), generic im2col"] = generic(
                    found[f"xpnn[torch] predict ({dtype})"]
                )
                pairs["xpnn[torch] predict (float64), generic im2col"] = peer
    if importlib.util.find_spec("onnxruntime") and TORCH32 in found:
        fast = xpnn.compile(net, "onnxruntime")
        found[COMPILED] = lambda: xpnn.predict(fast, x8, normalize=True, batch_size=rows)
        pairs[COMPILED] = TORCH32
    return found, pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="MNIST test images (default: 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default: 5)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write JSON and markdown")
    parser.add_argument("--only", choices=["compiled"], help="time only compiled onnxruntime against torch")
    args = parser.parse_args(argv)
    try:
        x8, _ = xpnn.load_mnist(normalize=False, flatten=False, split="test")
    except (xpnn.DataNotFoundError, xpnn.DataError) as e:
        raise SystemExit(f"bench: {e}\n(set XPNN_DATA_DIR to a directory with mnist/)") from e
    x8 = x8[: args.images]
    rows, pairs = candidates(x8)
    if args.only == "compiled":
        if COMPILED not in rows:
            raise SystemExit("bench: --only compiled needs torch and onnxruntime")
        rows = {name: rows[name] for name in (TORCH32, COMPILED)}
        pairs = {COMPILED: TORCH32}
        reference = xpnn.to_numpy(rows[TORCH32]())
        assert np.array_equal(rows[COMPILED](), reference), "onnxruntime disagrees with torch (float32)"
    else:
        reference = np.asarray(rows[BASELINE]())
    for name, fn in rows.items():  # the same classes as the book's code, or the time means nothing
        if "float32" not in name:
            assert np.array_equal(xpnn.to_numpy(fn()), reference), f"{name} disagrees with the book's code"
    times = interleaved(rows, number=1, rounds=args.rounds)
    table_rows = [
        {
            "code": name,
            "ms": f"{t * 1e3:.0f}",
            "images/s": f"{len(x8) / t:,.0f}",
            "ratio": f"{t / times[pairs[name]]:.2f}× {pairs[name]}" if name in pairs else "peer",
        }
        for name, t in times.items()
    ]
    info = machine()
    command = f"python benchmarks/convnet.py --images {args.images} --rounds {args.rounds}"
    command += " --only compiled" if args.only else ""
    md = (
        f"### DeepConvNet inference: {len(x8):,} MNIST images, class indices\n\n"
        "Target: xpnn[torch] ≤ 1.5× torch nn.Sequential of the same layers and weights;"
        " xpnn[numpy] ≤ 1.0× the book's NumPy im2col code; compiled onnxruntime ≤ 1.2× torch (float32)\n\n"
        f"{table(table_rows, ['code', 'ms', 'images/s', 'ratio'])}\n\n"
        f"Medians of {args.rounds} interleaved rounds, batches of {xpnn.DeepConvNet(seed=0).default_batch_rows}"
        " images (float64 unless named)."
        f"\n\n`{command}` on {info['cores']} cores, {info.get('blas', '')}, {info['date']}\n"
    )
    result = {"title": "convnet", "times_s": times, "pairs": pairs, "images": len(x8)}
    result |= {"machine": info, "command": command, "markdown": md}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "convnet.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "convnet.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
