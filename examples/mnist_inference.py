"""The book's MNIST inference (ch. 3.6: neuralnet_mnist.py and neuralnet_mnist_batch.py), on any backend.

    XPNN_DATA_DIR=../shared/data python examples/mnist_inference.py
    python examples/mnist_inference.py --backend torch --data-dir ~/mnist --weights my.npz

Loads the MNIST test set and the book's weights (downloading what is missing, unless
--no-download), then classifies the 10,000 test images one at a time and in batches of 100,
printing the book's Accuracy:0.9352 for each, labelled, and the batch's shape table.
"""

from __future__ import annotations

import argparse
import sys

import xpnn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help=f"one of {', '.join(xpnn.BACKENDS)} or 'auto'")
    parser.add_argument("--device", default=None, help="backend device, e.g. cuda:0")
    parser.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR, else per-user)"
    )
    parser.add_argument(
        "--weights", default=None, help="weights file (.pkl, .npz, .safetensors); default: the book's"
    )
    parser.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading missing files"
    )
    args = parser.parse_args(argv)
    download = not args.no_download
    try:
        # get_data(): the test set, normalized, flattened, as in the book; placed on the backend
        x, t = xpnn.load_mnist(
            normalize=True,
            flatten=True,
            one_hot_label=False,
            split="test",
            data_dir=args.data_dir,
            download=download,
            backend=args.backend,
            device=args.device,
        )
        # init_network(): the book's pretrained weights, uploaded once
        weights = (
            xpnn.load_weights(args.weights)
            if args.weights
            else xpnn.load_sample_network(args.data_dir, download=download)
        )
        network = xpnn.to_backend(weights, args.backend, args.device)
    except (ValueError, FileNotFoundError, ImportError, xpnn.BackendUnavailableError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2

    # neuralnet_mnist.py: one image at a time
    print("Accuracy:" + str(xpnn.accuracy(network, x, t, batch_size=1)) + " (one image at a time)")
    # neuralnet_mnist_batch.py: batches of 100
    batch_size = 100
    print(
        "Accuracy:" + str(xpnn.accuracy(network, x, t, batch_size=batch_size)) + f" (batches of {batch_size})"
    )
    print(xpnn.format_shape_trace(xpnn.shape_trace(network, x[0:batch_size, ...])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
