"""The book's ch. 6 weight-initialization comparison (ch06/weight_init_compare.py) in xpnn.

    XPNN_DATA_DIR=../shared/data python examples/ch6_weight_init.py
    python examples/ch6_weight_init.py --iters 2000 --out weight_init.png

Three 784-100-100-100-100-10 ReLU ``MultiLayerNet`` networks learn MNIST by SGD (learning rate
0.01, mini-batches of 128), their weights drawn with standard deviation 0.01, Xavier's
``sqrt(1/n)`` and He's ``sqrt(2/n)``. Every 100 iterations it prints each one's loss, as the
book does; the figure is the book's Figure 6-15. The book runs 2,000 iterations; the default
here is 500.
"""

from __future__ import annotations

import numpy as np
from ch6_common import mnist, parser, place, pyplot, smooth, train

import xpnn
from xpnn.optimizers import get_optimizer

INITS = {"std=0.01": 0.01, "Xavier": "sigmoid", "He": "he"}


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, 500, "ch6_weight_init.png").parse_args(argv)
    plt = pyplot()
    x_train, t_train, _, _ = mnist(args)
    losses = {}
    for name, std in INITS.items():
        net = xpnn.MultiLayerNet(784, [100, 100, 100, 100], 10, weight_init_std=std, seed=args.seed)
        rng = np.random.default_rng(args.seed)  # the same batches for each network
        _, losses[name] = train(
            place(net, args), get_optimizer("sgd", lr=0.01), x_train, t_train,
            iters=args.iters, batch_size=128, rng=rng,
        )  # fmt: skip
    for i in range(0, args.iters, 100):
        print(f"===========iteration:{i}===========")
        for name, values in losses.items():
            print(f"{name}:{values[i]:.4f}")
    fig, ax = plt.subplots(figsize=(6, 4))
    for (name, values), marker in zip(losses.items(), "osD"):
        every = max(1, args.iters // 10)
        ax.plot(np.arange(1, args.iters + 1), smooth(values), marker=marker, markevery=every, label=name)
    ax.set(xlabel="iterations", ylabel="loss", ylim=(0, 2.5))
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
