"""Batch inference of the book's MNIST network on a GPU: throughput, honestly measured.

    XPNN_DATA_DIR=../shared/data python examples/gpu_batch_inference.py                  # CuPy
    python examples/gpu_batch_inference.py --backend torch --device cuda --dtype bfloat16
    python examples/gpu_batch_inference.py --backend numpy --n-images 100000              # CPU
    python examples/gpu_batch_inference.py --n-images 1000000 --sweep 1000,10000,100000

The input stays a host uint8 array (the test set, tiled up to --n-images); each batch is
uploaded as bytes, normalized on the device and computed, and only the predicted classes come
back. Timings exclude a warm-up, wait for the device (synchronize) before reading the clock,
and report the host-to-device copy apart from the compute.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import xpnn
from xpnn._timing import describe_device, synchronize, timed
from xpnn.backends import get_backend

REDUCED = ("float16", "bfloat16")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cupy", help="cupy (default), torch, jax, numpy, ...")
    parser.add_argument("--device", default=None, help="device, e.g. 0 for cupy, cuda:0 for torch")
    parser.add_argument("--batch-size", type=int, default=10_000, help="images per batch (default 10,000)")
    parser.add_argument("--n-images", type=int, default=10_000, help="tile the test set up to N images")
    parser.add_argument("--dtype", default="float32", choices=("float32", *REDUCED), help="compute dtype")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument(
        "--sweep", default="", help="comma-separated batch sizes to time, e.g. 100,1000,10000"
    )
    parser.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR, else per-user)"
    )
    args = parser.parse_args(argv)
    try:
        if args.n_images < 1 or args.batch_size < 1 or args.repeat < 1:
            raise ValueError("--n-images, --batch-size and --repeat must be positive")
        sweep = [int(b) for b in args.sweep.split(",") if b.strip()]
        if args.device is not None and args.device.isdigit():
            args.device = int(args.device)
        impl, dev = get_backend(args.backend, args.device)
        if args.dtype in REDUCED and impl.name in ("numpy", "array_api_strict", "dask"):
            raise ValueError(
                f"--dtype {args.dtype} is for GPU backends; {impl.name} computes in float32 or float64"
            )
        x_test, t_test = xpnn.load_mnist(normalize=False, split="test", data_dir=args.data_dir)
        network = xpnn.to_backend(xpnn.load_sample_network(args.data_dir), impl.name, dev, dtype=args.dtype)
    except xpnn.BackendUnavailableError as e:
        reason = " ".join(str(e).split()).rstrip(".")
        print(f"error: {reason}. Without a GPU, run with --backend numpy.", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2

    reps = -(-args.n_images // len(x_test))
    x = np.tile(x_test, (reps, 1))[: args.n_images]  # host uint8, as data usually arrives
    t = np.tile(t_test, reps)[: args.n_images]
    synchronize(dev)

    def predict(batch_size: int) -> object:
        return xpnn.predict(network, x, batch_size=batch_size, normalize=True)

    print(f"device: {impl.name} {describe_device(impl.name, dev)}, dtype {network.dtype}")
    print(
        f"images: {len(x):,} (the 10,000 test images tiled), {x.nbytes / 2**20:,.0f} MiB of uint8 on the host"
    )
    predict(args.batch_size)  # warm-up: kernels, JIT compilation, memory pools
    accuracy = float(np.mean(xpnn.to_numpy(predict(args.batch_size)) == t))
    print(f"accuracy: {accuracy:.4f}")

    seconds, _ = timed(lambda: predict(args.batch_size), args.repeat)
    chunk = x[: args.batch_size]
    upload, on_device = timed(lambda: xpnn.asarray(chunk, backend=impl.name, device=dev), args.repeat)
    compute, _ = timed(lambda: xpnn.predict(network, on_device, normalize=True), args.repeat)
    batches = -(-len(x) // args.batch_size)
    print(
        f"throughput: {len(x) / seconds:,.0f} images/s ({seconds * 1e3:,.1f} ms for {len(x):,} images, batch {args.batch_size:,})"
    )
    if impl.name in ("numpy", "array_api_strict", "dask"):
        print(
            f"per batch of {len(chunk):,}: compute {compute * 1e3:.3f} ms (a host backend: no copy to a device)"
        )
    else:
        print(
            f"per batch of {len(chunk):,}: host->device {upload * 1e3:.3f} ms ({chunk.nbytes / upload / 1e9:.2f} GB/s),"
            f" compute {compute * 1e3:.3f} ms; x {batches} batches = {batches * upload * 1e3:,.1f} ms copy"
            f" + {batches * compute * 1e3:,.1f} ms compute (copies and compute do not overlap)"
        )
    if sweep:
        print("\n| batch size | ms | images/s |\n|---:|---:|---:|")
        for b in sweep:
            predict(b)
            s, _ = timed(lambda b=b: predict(b), args.repeat)
            print(f"| {b:,} | {s * 1e3:,.1f} | {len(x) / s:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
