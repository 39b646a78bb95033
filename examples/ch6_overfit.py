"""The book's ch. 6 overfitting runs (ch06/overfit_weight_decay.py, overfit_dropout.py) in xpnn.

    XPNN_DATA_DIR=../shared/data python examples/ch6_overfit.py
    python examples/ch6_overfit.py --iters 600 --out overfit.png

A 784-(100 x 6)-10 ReLU network learns only the first 300 MNIST training images by SGD
(learning rate 0.01, mini-batches of 100, 3 iterations an epoch) three times: as it is
(``MultiLayerNet``), with weight decay ``lambda = 0.1`` (the book's overfit_weight_decay.py)
and with dropout of ratio 0.2 (``MultiLayerNetExtend(use_dropout=True, dropout_ration=0.2)``,
overfit_dropout.py). Every epoch it prints the train accuracy (the 300 images) and the test
accuracy (the first ``--test-size`` test images, default 1,000; the book scores all 10,000) of each; the figure is the book's
Figures 6-20, 6-21 and 6-23 side by side. The book trains 200 epochs for weight decay
(``--iters 600``) and 300 for dropout; the default here is 150 epochs (``--iters 450``).
"""

from __future__ import annotations

import numpy as np
from ch6_common import mnist, parser, place, pyplot, train

import xpnn
from xpnn.optimizers import get_optimizer

TRAIN_SIZE, BATCH = 300, 100


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, 450, "ch6_overfit.png")
    p.add_argument("--test-size", type=int, default=1000, help="test images scored each epoch (default 1000)")
    args = p.parse_args(argv)
    if args.test_size < 1:
        p.error(f"--test-size must be >= 1; got {args.test_size}")
    plt = pyplot()
    x_train, t_train, x_test, t_test = mnist(args)
    x_train, t_train = x_train[:TRAIN_SIZE], t_train[:TRAIN_SIZE]
    x_test, t_test = x_test[: args.test_size], t_test[: args.test_size]
    nets = {
        # network = MultiLayerNet(input_size=784, hidden_size_list=[100]*6, output_size=10)
        "plain": xpnn.MultiLayerNet(784, [100] * 6, 10, seed=args.seed),
        # ..., weight_decay_lambda=0.1)
        "weight decay 0.1": xpnn.MultiLayerNet(784, [100] * 6, 10, weight_decay_lambda=0.1, seed=args.seed),
        # MultiLayerNetExtend(..., use_dropout=True, dropout_ration=0.2)
        "dropout 0.2": xpnn.MultiLayerNetExtend(
            784, [100] * 6, 10, use_dropout=True, dropout_ration=0.2, seed=args.seed
        ),
    }
    fig, axes = plt.subplots(1, len(nets), figsize=(4 * len(nets), 3.2), sharey=True)
    results = []
    for ax, (name, net) in zip(axes, nets.items()):
        print(f"============== {name} ==============")
        train_acc: list[float] = []
        test_acc: list[float] = []

        def record(i: int, net: xpnn.Sequential, train_acc=train_acc, test_acc=test_acc) -> None:
            train_acc.append(xpnn.accuracy(net, x_train, t_train))
            test_acc.append(xpnn.accuracy(net, x_test, t_test))
            epoch = i // (TRAIN_SIZE // BATCH)
            print(f"epoch:{epoch}, train acc:{train_acc[-1]:.4f}, test acc:{test_acc[-1]:.4f}")

        train(
            place(net, args), get_optimizer("sgd", lr=0.01), x_train, t_train,
            iters=args.iters, batch_size=BATCH, rng=np.random.default_rng(args.seed),
            every=TRAIN_SIZE // BATCH, on_eval=record,
        )  # fmt: skip
        epochs = np.arange(len(train_acc))
        ax.plot(epochs, train_acc, marker="o", markevery=10, label="train")
        ax.plot(epochs, test_acc, marker="s", markevery=10, label="test")
        ax.set(title=name, xlabel="epochs", ylabel="accuracy", ylim=(0, 1.0))
        ax.legend(loc="lower right")
        results.append((name, train_acc[-1], test_acc[-1]))
    fig.tight_layout()
    fig.savefig(args.out, dpi=70)
    for name, a, b in results:
        print(f"result: {name.replace(' ', '_')} train_acc={a:.4f} test_acc={b:.4f} gap={a - b:.4f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
