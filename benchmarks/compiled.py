"""Compiled inference (issue 11): xpnn, plain and compiled, against the fastest code people write.

    python benchmarks/compiled.py [--rounds N] [--out DIR]

The 10,000 MNIST test images (float32, already divided by 255) through the book's network, class
indices out. Peers are what a user would write by hand: NumPy, the bare matmul chain (no
activations: a floor, not a network), onnxruntime with a Gemm + Sigmoid graph built by hand
(here, in the benchmark only, as a peer), ``jax.jit`` and PyTorch's ``nn.Sequential`` on the
CPU. Candidates are xpnn on NumPy, PyTorch and JAX, and each ``xpnn.compile`` target. All run
round-robin in one process; each row's ratio is to the best peer (the matmul chain is a floor,
not a peer). Writes ``compiled.json``, ``compiled.md`` and ``compiled.png`` to the results folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import RESULTS, book_forward, interleaved, machine, mnist_or_exit, sequential, table

import xpnn

FLOOR = "bare matmul chain (no activations)"
#: compile("jax")'s target: a plain jax.jit of the very function it compiles (not a peer).
SAME = "plain jax.jit of xpnn's run_layers (logits)"


def same_function_jit(placed: object, x: object) -> Callable[[], object]:
    """``jax.jit`` of ``run_layers`` itself, at the one exact shape: what compile("jax") wraps."""
    import jax

    from xpnn.functions import HIDDEN_ACTIVATIONS, OUTPUT_FUNCTIONS
    from xpnn.nn.dense import dense_pairs, run_layers

    hidden, out, xp = HIDDEN_ACTIVATIONS["sigmoid"], OUTPUT_FUNCTIONS["identity"], placed.xp  # type: ignore[attr-defined]
    forward = jax.jit(lambda layers, a: run_layers(layers, a, hidden, out, xp))
    layers = dense_pairs(placed.layers, placed.params)  # type: ignore[attr-defined]
    return lambda: jax.block_until_ready(forward(layers, x))


def hand_built_onnx(net: dict) -> object:
    """The peer a user builds by hand: Gemm + Sigmoid per layer, in an onnxruntime session."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    n = len(net) // 2
    nodes, inits, cur = [], [], "x"
    for i in range(1, n + 1):
        inits += [
            numpy_helper.from_array(net[f"W{i}"], f"W{i}"),
            numpy_helper.from_array(net[f"b{i}"], f"b{i}"),
        ]
        nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"b{i}"], [f"a{i}"]))
        cur = f"a{i}"
        if i < n:
            nodes.append(helper.make_node("Sigmoid", [cur], [f"z{i}"]))
            cur = f"z{i}"
    graph = helper.make_graph(
        nodes,
        "hand",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", net["W1"].shape[0]])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, ["N", net[f"W{n}"].shape[1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def jax_peer(net: dict) -> tuple[Callable[[object], object], object]:
    """The peer a JAX user writes: jnp code for the book's forward, argmax included, under jax.jit."""
    import jax
    import jax.numpy as jnp

    n = len(net) // 2
    params = [(jnp.asarray(net[f"W{i}"]), jnp.asarray(net[f"b{i}"])) for i in range(1, n + 1)]

    @jax.jit
    def predict(params: list, x: object) -> object:
        for W, b in params[:-1]:
            x = jax.nn.sigmoid(x @ W + b)
        W, b = params[-1]
        return jnp.argmax(x @ W + b, axis=1)

    return predict, params


def gpu_rows(net: dict, x: np.ndarray) -> dict[str, Callable[[], object]]:
    """The compiled targets on a GPU, where usable; each one that is not says why and is left out."""
    rows: dict[str, Callable[[], object]] = {}
    try:
        cuda = xpnn.compile(net, "onnxruntime", provider="cuda")
        rows["xpnn.compile(net, 'onnxruntime', provider='cuda'): predict"] = lambda: xpnn.predict(cuda, x)
    except xpnn.BackendUnavailableError as e:
        print(f"skipped: compile(net, 'onnxruntime', provider='cuda'): {e}", flush=True)
    try:
        import jax

        gpus = jax.devices("gpu")
        on_gpu = xpnn.compile(net, "jax", device=gpus[0])
        rows["xpnn.compile(net, 'jax', device=gpu): predict"] = lambda: jax.block_until_ready(
            xpnn.predict(on_gpu, x)
        )
    except (ImportError, RuntimeError, xpnn.BackendUnavailableError) as e:
        print(f"skipped: compile(net, 'jax') on a GPU: {type(e).__name__}: {e}", flush=True)
    return rows


def candidates(net: dict, x: np.ndarray) -> tuple[dict[str, Callable[[], object]], set[str]]:
    """Every usable row, and which of them are peers."""
    W1, W2, W3 = net["W1"], net["W2"], net["W3"]
    rows: dict[str, Callable[[], object]] = {
        "hand-written NumPy": lambda: np.argmax(book_forward(net, x), axis=1),
        FLOOR: lambda: x @ W1 @ W2 @ W3,
    }
    peers = {"hand-written NumPy"}
    status = xpnn.backend_status()
    onnx_ok = all(__import__("importlib").util.find_spec(m) for m in ("ndonnx", "onnxruntime", "onnxscript"))
    if onnx_ok:
        session = hand_built_onnx(net)
        rows["onnxruntime, hand-built Gemm + Sigmoid graph"] = lambda: np.argmax(
            session.run(None, {"x": x})[0], 1
        )
        peers.add("onnxruntime, hand-built Gemm + Sigmoid graph")
    if status["jax"].available:
        import jax

        predict, params = jax_peer(net)
        rows["jax.jit, hand-written jnp"] = lambda: jax.block_until_ready(predict(params, x))
        peers.add("jax.jit, hand-written jnp")
    if status["torch"].available:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        model = sequential(net, "cpu")

        def torch_predict() -> object:
            with torch.inference_mode():
                return model(torch.from_numpy(x)).argmax(dim=1)  # type: ignore[operator]

        rows["PyTorch CPU nn.Sequential"] = torch_predict
        peers.add("PyTorch CPU nn.Sequential")
    on_numpy = xpnn.to_backend(net, "numpy")
    rows["xpnn[numpy] predict"] = lambda: xpnn.predict(on_numpy, x)
    if status["torch"].available:
        on_torch = xpnn.to_backend(net, "torch", "cpu")
        rows["xpnn[torch] predict"] = lambda: xpnn.predict(on_torch, x)
    if status["jax"].available:
        import jax

        on_jax = xpnn.to_backend(net, "jax")
        rows["xpnn[jax] predict"] = lambda: jax.block_until_ready(xpnn.predict(on_jax, x))
        compiled_jax = xpnn.compile(net, "jax")
        rows["xpnn.compile(net, 'jax'): predict"] = lambda: jax.block_until_ready(
            xpnn.predict(compiled_jax, x)
        )
        ready = compiled_jax.prepare_input(x)
        rows["xpnn.compile(net, 'jax'): run (logits)"] = lambda: jax.block_until_ready(
            compiled_jax.run(ready)
        )
        rows[SAME] = same_function_jit(on_jax, ready)
    if onnx_ok:
        compiled_ort = xpnn.compile(net, "onnxruntime")
        rows["xpnn.compile(net, 'onnxruntime'): predict"] = lambda: xpnn.predict(compiled_ort, x)
    return rows, peers


def plot(times: dict[str, float], peers: set[str], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = sorted(times, key=times.__getitem__, reverse=True)
    colors = [
        "tab:gray" if n == FLOOR else "tab:blue" if n in peers else "tab:green" if n == SAME else "tab:orange"
        for n in names
    ]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(names) + 1.2))
    ax.barh(names, [times[n] * 1e3 for n in names], color=colors)
    ax.set_xlabel("ms for 10,000 MNIST images (median; lower is better)")
    ax.set_title("Peers (blue), xpnn (orange), jax.jit of the same function (green), floor (gray)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default: 15)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write JSON, markdown and PNG")
    parser.add_argument("--gpu", action="store_true", help="add the compiled targets on a GPU, where usable")
    args = parser.parse_args(argv)
    x8, _, net = mnist_or_exit()
    x = x8.astype(np.float32) / np.float32(255)
    rows, peers = candidates(net, x)
    if args.gpu:
        rows.update(gpu_rows(net, x))
    reference = np.argmax(book_forward(net, x), axis=1)
    for name, fn in rows.items():  # every row must give the book's classes before its time counts
        if name != FLOOR and "logits" not in name:  # the logits rows are checked through predict
            assert np.array_equal(xpnn.to_numpy(fn()), reference), f"{name} disagrees with the book's code"
    times = interleaved(rows, number=1, rounds=args.rounds)
    best_peer = min(peers, key=times.__getitem__)
    best = times[best_peer]
    table_rows = [
        {
            "code": name,
            "kind": "floor"
            if name == FLOOR
            else "peer"
            if name in peers
            else "same fn"
            if name == SAME
            else "xpnn",
            "ms": f"{t * 1e3:.2f}",
            "vs best peer": f"{t / best:.2f}×",
        }
        for name, t in sorted(times.items(), key=lambda item: item[1])
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    png = plot(times, peers, args.out / "compiled.png")
    info = machine()
    command = "python benchmarks/compiled.py" + (" --gpu" if args.gpu else "")
    md = (
        "### Compiled inference: 10,000 MNIST images (float32), book's network, class indices\n\n"
        "Target: compile(net, 'onnxruntime') ≤ 1.05× the hand-built onnxruntime graph; compile(net, 'jax')"
        " ≤ 1.0× plain jax.jit; xpnn's fastest CPU path is the best row\n\n"
        f"{table(table_rows, ['code', 'kind', 'ms', 'vs best peer'])}\n\n"
        f"Best peer: {best_peer}. Medians of {args.rounds} interleaved rounds."
        + (f" Plot: {png.name}." if png else "")
        + f"\n\n`{command}` on {info['cores']} cores, {info.get('blas', '')}, {info['date']}\n"
    )
    result = {"title": "compiled", "times_s": times, "peers": sorted(peers), "best_peer": best_peer}
    result |= {"machine": info, "command": command, "markdown": md}
    (args.out / "compiled.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "compiled.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
