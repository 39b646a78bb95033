"""The book's ch. 6 optimizer comparison (ch06/optimizer_compare_mnist.py) in xpnn.

    XPNN_DATA_DIR=../shared/data python examples/ch6_optimizers.py
    python examples/ch6_optimizers.py --iters 2000 --out optimizers.png

A 784-100-100-100-100-10 ReLU ``MultiLayerNet`` (He initialization) learns MNIST with SGD,
Momentum, AdaGrad and Adam at the book's learning rates (0.01, 0.01, 0.01, 0.001), from the
same initial weights and the same mini-batches of 128. Every 100 iterations it prints each
optimizer's loss, as the book does; the figure is the book's Figure 6-9 (the loss per
iteration, smoothed). The book runs 2,000 iterations; the default here is 500.
"""

from __future__ import annotations

import numpy as np
from ch6_common import mnist, parser, place, pyplot, smooth, train

import xpnn
from xpnn.optimizers import get_optimizer

OPTIMIZERS = {
    "SGD": ("sgd", 0.01),
    "Momentum": ("momentum", 0.01),
    "AdaGrad": ("adagrad", 0.01),
    "Adam": ("adam", 0.001),
}


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, 500, "ch6_optimizers.png").parse_args(argv)
    plt = pyplot()
    x_train, t_train, _, _ = mnist(args)
    # network = MultiLayerNet(input_size=784, hidden_size_list=[100, 100, 100, 100], output_size=10)
    net0 = place(xpnn.MultiLayerNet(784, [100, 100, 100, 100], 10, seed=args.seed), args)
    losses = {}
    for name, (opt, lr) in OPTIMIZERS.items():
        rng = np.random.default_rng(args.seed)  # the same batches for each optimizer
        _, losses[name] = train(
            net0, get_optimizer(opt, lr=lr), x_train, t_train,
            iters=args.iters, batch_size=128, rng=rng,
        )  # fmt: skip
    for i in range(0, args.iters, 100):
        print(f"===========iteration:{i}===========")
        for name, values in losses.items():
            print(f"{name}:{values[i]:.4f}")
    fig, ax = plt.subplots(figsize=(6, 4))
    for (name, values), marker in zip(losses.items(), "osD^"):
        ax.plot(
            np.arange(1, args.iters + 1),
            smooth(values),
            marker=marker,
            markevery=max(1, args.iters // 10),
            label=name,
        )
    ax.set(xlabel="iterations", ylabel="loss", ylim=(0, 1))
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    tail = max(1, args.iters // 10)
    for name, values in losses.items():  # the mean loss of the last tenth of the iterations
        print(f"result: {name} final_loss={np.mean(values[-tail:]):.4f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
