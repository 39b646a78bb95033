"""The book's MNIST network on a Dask cluster: the same xpnn calls, chunk by chunk, on every worker.

    XPNN_DATA_DIR=../shared/data python examples/dask_batch_inference.py --workers 2
    python examples/dask_batch_inference.py --workers 2 --synthetic 2000000
    python examples/dask_batch_inference.py --scheduler tcp://10.0.0.5:8786 --synthetic 100000000
    python examples/dask_batch_inference.py --cuda --synthetic 10000000    # every GPU, via dask-cuda

Without --scheduler it starts a distributed.LocalCluster of --workers processes. The MNIST test
set gives the accuracy; --synthetic N generates N uint8 images on the workers instead, so the
data never passes through this process, and only 10 class counts come back.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import numpy as np

import xpnn
from xpnn._timing import peak_rss_mib
from xpnn.backends import missing_extra  # the one wording xpnn uses for a missing extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=3.0,
        help="seconds to wait for --scheduler to answer (default 3)",
    )
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    parser.add_argument("--synthetic", type=int, default=0, help="N synthetic images made on the workers")
    parser.add_argument("--chunk-rows", type=int, default=100_000, help="images per chunk (default 100,000)")
    parser.add_argument("--cuda", action="store_true", help="dask-cuda's LocalCUDACluster and CuPy chunks")
    parser.add_argument(
        "--dashboard-address", default=":8787", help="local cluster's dashboard (':0' for any free port)"
    )
    parser.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR, else per-user)"
    )
    args = parser.parse_args(argv)
    try:
        import dask.array as da
        from distributed import Client, LocalCluster
    except ImportError:
        print(f"error: {missing_extra('dask_batch_inference.py', 'dask')}", file=sys.stderr)
        return 2
    if args.workers < 1 or args.chunk_rows < 1 or args.synthetic < 0 or not args.connect_timeout > 0:
        print(
            "error: --workers, --chunk-rows and --connect-timeout must be positive, --synthetic not negative",
            file=sys.stderr,
        )
        return 2
    device = "gpu" if args.cuda else "cpu"
    try:
        network = xpnn.to_backend(xpnn.load_sample_network(args.data_dir), "dask", device)
        if not args.synthetic:
            x_host, t_host = xpnn.load_mnist(normalize=False, split="test", data_dir=args.data_dir)
    except (ValueError, FileNotFoundError, xpnn.BackendUnavailableError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2

    with contextlib.ExitStack() as stack:
        if args.scheduler:
            try:
                client = stack.enter_context(Client(args.scheduler, timeout=args.connect_timeout))
            except (OSError, ValueError) as e:  # nothing listening, or not an address
                print(
                    f"error: cannot reach a Dask scheduler at {args.scheduler!r}: {e}. Is it running,"
                    " and is the address (e.g. tcp://HOST:8786) right? Without --scheduler, a local"
                    " cluster is started.",
                    file=sys.stderr,
                )
                return 2
        elif args.cuda:
            try:
                from dask_cuda import LocalCUDACluster
            except ImportError:
                print("error: --cuda needs dask-cuda: pip install dask-cuda", file=sys.stderr)
                return 2
            cluster = LocalCUDACluster(dashboard_address=args.dashboard_address)
            client = stack.enter_context(Client(stack.enter_context(cluster)))
        else:
            cluster = LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=args.dashboard_address,
            )
            client = stack.enter_context(Client(stack.enter_context(cluster)))
        workers = len(client.scheduler_info()["workers"])
        print(f"cluster: {workers} workers, dashboard {client.dashboard_link}")

        if args.synthetic:
            # Made where they are used: each worker draws its own chunks.
            x = da.random.default_rng(0).integers(
                0, 256, (args.synthetic, 784), dtype=np.uint8, chunks=(args.chunk_rows, 784)
            )
            n = args.synthetic
            start = time.perf_counter()
            predicted = xpnn.predict(network, x, normalize=True)  # lazy
            counts = da.bincount(predicted, minlength=10).compute()
            seconds = time.perf_counter() - start
            print(f"images: {n:,} synthetic, {x.nbytes / 2**30:,.2f} GiB, made on the workers")
            print(f"predicted classes: {xpnn.to_numpy(counts).tolist()}")
        else:
            x = da.from_array(x_host, chunks=(min(args.chunk_rows, len(x_host)), 784))
            n = len(x_host)
            start = time.perf_counter()
            accuracy = xpnn.accuracy(network, x, t_host, normalize=True)
            seconds = time.perf_counter() - start
            print(f"images: {n:,} MNIST test images")
            print(f"Accuracy:{accuracy}")
        print(f"throughput: {n / seconds:,.0f} images/s ({seconds:,.2f} s on {workers} workers)")
        print(f"client peak RSS: {peak_rss_mib():,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
