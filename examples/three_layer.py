"""The book's 3-layer toy network and softmax example, on any backend.

python examples/three_layer.py                      # NumPy, as in the book
python examples/three_layer.py --backend torch      # same code on PyTorch (or cupy, jax, ...)
"""

from __future__ import annotations

import argparse
import sys

import xpnn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help=f"one of {', '.join(xpnn.BACKENDS)} or 'auto'")
    parser.add_argument(
        "--device", default=None, help="backend device, e.g. cuda:0 for torch, device1 for array_api_strict"
    )
    args = parser.parse_args(argv)
    try:
        network = xpnn.to_backend(xpnn.init_network(), args.backend, args.device)
    except (ValueError, xpnn.BackendUnavailableError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    y = xpnn.forward(network, [1.0, 0.5])
    print(f"backend: {network.backend} on {network.device}, dtype {network.dtype}")
    print(xpnn.to_numpy(y))  # [0.31682708 0.69627909]
    a = xpnn.asarray([0.3, 2.9, 4.0], backend=network.backend, device=network.device)
    print(xpnn.to_numpy(xpnn.softmax(a)))  # [0.01821127 0.24519181 0.73659691]
    return 0


if __name__ == "__main__":
    sys.exit(main())
