"""The book's ch. 6 batch normalization test (ch06/batch_norm_test.py) in xpnn.

    XPNN_DATA_DIR=../shared/data python examples/ch6_batch_norm.py
    python examples/ch6_batch_norm.py --scales 1,0.1,0.01,0.001 --out batch_norm.png

Two 784-100-100-100-100-100-10 ReLU ``MultiLayerNetExtend`` networks, one with batch
normalization and one without, learn the first 1,000 MNIST training images by SGD (learning
rate 0.01, mini-batches of 100) from weights of the same standard deviation, for each scale of
``--scales``; it prints the train accuracy of both every epoch (10 iterations) and draws one
panel per scale (the book's Figure 6-18 draws 16 scales, from 1 to 0.0001). The book trains
20 epochs (``--iters 200``, the default).
"""

from __future__ import annotations

import math

import numpy as np
from ch6_common import mnist, parser, place, pyplot, train

import xpnn
from xpnn.backends import to_numpy
from xpnn.optimizers import get_optimizer

TRAIN_SIZE, BATCH = 1000, 100


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, 200, "ch6_batch_norm.png")
    p.add_argument("--scales", default="1,0.1,0.01,0.001", help="weight standard deviations, comma-separated")
    args = p.parse_args(argv)
    try:
        scales = [float(s) for s in args.scales.split(",")]
    except ValueError:
        p.error(f"--scales takes numbers separated by commas; got {args.scales!r}")
    plt = pyplot()
    x_train, t_train, _, _ = mnist(args)
    x_train, t_train = x_train[:TRAIN_SIZE], t_train[:TRAIN_SIZE]
    epoch = TRAIN_SIZE // BATCH
    cols = min(len(scales), 2)
    fig, axes = plt.subplots(
        math.ceil(len(scales) / cols),
        cols,
        figsize=(4 * cols, 3 * math.ceil(len(scales) / cols)),
        squeeze=False,
    )
    results = []
    for k, std in enumerate(scales):
        print(f"============== {k + 1}/{len(scales)}: weight_init_std={std:g} ==============")
        curves = {}
        for label, bn in (("Batch Normalization", True), ("Normal(without BatchNorm)", False)):
            net = xpnn.MultiLayerNetExtend(
                784, [100] * 5, 10, weight_init_std=std, use_batchnorm=bn, seed=args.seed
            )
            accs: list[float] = []

            def record(i: int, net: xpnn.Sequential, accs: list[float] = accs) -> None:
                # the book's accuracy: argmax of the scores, NaN scores (a diverged net) included
                y = to_numpy(net.forward(net.prepare_input(x_train)))
                accs.append(float(np.mean(np.argmax(y, axis=1) == t_train)))

            # a large scale makes the plain net overflow to NaN (as in the book): no NumPy warnings
            with np.errstate(over="ignore", invalid="ignore"):
                train(
                    place(net, args), get_optimizer("sgd", lr=0.01), x_train, t_train,
                    iters=args.iters, batch_size=BATCH, rng=np.random.default_rng(args.seed),
                    every=epoch, on_eval=record,
                )  # fmt: skip
            curves[label] = accs
        for e, (a, b) in enumerate(zip(*curves.values())):
            print(f"epoch:{e} | {a:.4f} - {b:.4f}")
        ax = axes.flat[k]
        for (label, accs), style in zip(curves.items(), ("-", "--")):
            ax.plot(np.arange(len(accs)), accs, style, label=label)
        ax.set(title=f"W:{std:g}", ylim=(0, 1.0), xlabel="epochs", ylabel="accuracy")
        bn_acc, plain_acc = (v[-1] for v in curves.values())
        results.append((std, bn_acc, plain_acc))
    for ax in list(axes.flat)[len(scales) :]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(args.out, dpi=70)
    for std, bn_acc, plain_acc in results:
        print(f"result: W={std:g} batchnorm_train_acc={bn_acc:.4f} plain_train_acc={plain_acc:.4f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
