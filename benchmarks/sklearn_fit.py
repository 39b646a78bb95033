"""xpnn's estimators against scikit-learn's own: fit time and test score, MNIST and diabetes.

    python benchmarks/sklearn_fit.py                              # NumPy (and torch on the CPU if installed)
    python benchmarks/sklearn_fit.py --epochs 1,3 --rounds 1      # quicker
    python benchmarks/sklearn_fit.py --backends numpy,cupy,torch:cuda --out DIR   # on a GPU machine
    python benchmarks/sklearn_fit.py --tasks diabetes             # the regressor only (no MNIST needed)

Both estimators get the same settings: the 60,000 training images (float32, normalized), one
hidden layer of 100 ReLU units, Adam with learning rate 1e-3, batches of 100, ``max_iter``
epochs, ``random_state=0``; the score is the accuracy on the 10,000 test images. Fits run
round-robin (scikit-learn, then each xpnn backend, per round), with a pause in between so one
library's spinning thread pool does not slow the next; the median fit time is reported, and its
ratio to scikit-learn's. Writes ``results/sklearn-fit.json`` and ``.md`` (``bench.py --readme``
copies the table into benchmarks/README.md). Needs ``XPNN_DATA_DIR`` (or a download) for MNIST.

The regression task: ``MLPRegressor`` on scikit-learn's bundled diabetes data (442 rows, 10
features, standardized; a 3:1 split), 16 ReLU units, Adam with learning rate 0.05,
``alpha=1.0``, 200 epochs, the default batches (``min(200, n)``); the score is the test R²,
the mean over ``random_state`` 0 and 1. Each round fits both seeds with each library.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from harness import RESULTS, machine, table  # the shared harness: machine info, markdown tables

import xpnn

NAME = "sklearn-fit"
SETTINGS = {"hidden_layer_sizes": (100,), "solver": "adam", "batch_size": 100, "random_state": 0}
REGRESSION = {"hidden_layer_sizes": (16,), "learning_rate_init": 0.05, "alpha": 1.0, "max_iter": 200}


def _sklearn(epochs: int) -> Any:
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(max_iter=epochs, **SETTINGS)


def _xpnn(epochs: int, backend: str, device: str | None) -> Any:
    return xpnn.MLPClassifier(max_iter=epochs, backend=backend, device=device, **SETTINGS)


def _backends(spec: str) -> list[tuple[str, str | None]]:
    """``numpy,torch:cuda`` -> [("numpy", None), ("torch", "cuda")], keeping the usable ones."""
    chosen = []
    for item in spec.split(","):
        name, _, device = item.strip().partition(":")
        try:
            xpnn.asarray([1.0], backend=name, device=device or None)
        except (xpnn.BackendUnavailableError, ValueError) as e:  # say why, go on with the rest
            print(f"skipping {item}: {e}", file=sys.stderr)
            continue
        chosen.append((name, device or None))
    return chosen


def _label(backend: str, device: str | None) -> str:
    return f"xpnn.MLPClassifier[{backend}{':' + device if device else ''}]"


def run_regression(args: argparse.Namespace) -> tuple[str, dict]:
    """Fit time and test R² of MLPRegressor on diabetes: (markdown table, raw results)."""
    from sklearn.datasets import load_diabetes
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    candidates: dict[str, Any] = {"scikit-learn MLPRegressor": MLPRegressor}
    for backend, device in _backends(args.backends):
        name = _label(backend, device).replace("MLPClassifier", "MLPRegressor")
        candidates[name] = lambda b=backend, d=device, **p: xpnn.MLPRegressor(backend=b, device=d, **p)
    warnings.simplefilter("ignore", ConvergenceWarning)
    for make in candidates.values():  # warm-up
        make(**{**REGRESSION, "max_iter": 2}).fit(X_train, y_train)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    scores: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.rounds):
        for name, make in candidates.items():
            for seed in (0, 1):
                model = make(random_state=seed, **REGRESSION)
                time.sleep(0.05)
                t0 = time.perf_counter()
                model.fit(X_train, y_train)
                times[name].append(time.perf_counter() - t0)
                scores[name].append(model.score(X_test, y_test))
            print(f"diabetes, {name}: {times[name][-1]:.3f} s, R² {scores[name][-1]:.4f}", flush=True)
    base = statistics.median(times["scikit-learn MLPRegressor"])
    rows, raw = [], {}
    for name in candidates:
        median = statistics.median(times[name])
        r2 = [float(statistics.mean(scores[name][i::2])) for i in (0, 1)]  # per seed, over the rounds
        rows.append(
            {
                "estimator": name + (" (baseline)" if name.startswith("scikit") else ""),
                "fit s": f"{median:.3f}",
                "ratio": f"{median / base:.2f}×",
                "test R² seed 0": f"{r2[0]:.4f}",
                "test R² seed 1": f"{r2[1]:.4f}",
                "mean": f"{statistics.mean(r2):.4f}",
            }
        )
        raw[f"diabetes/{name}"] = {
            "times": times[name],
            "median": median,
            "score": statistics.mean(r2),
            "r2": r2,
        }
    columns = ["estimator", "fit s", "ratio", "test R² seed 0", "test R² seed 1", "mean"]
    return table(rows, columns), raw


def run(args: argparse.Namespace) -> dict:
    from sklearn.exceptions import ConvergenceWarning

    if "mnist" not in args.tasks:
        return {"markdown": "", "raw": {}, "rounds": args.rounds, "title": "", "target": ""}

    (x_train, t_train), (x_test, t_test) = xpnn.load_mnist(normalize=True)
    if args.train_rows:
        x_train, t_train = x_train[: args.train_rows], t_train[: args.train_rows]
    backends = _backends(args.backends)
    candidates: dict[str, Any] = {"scikit-learn MLPClassifier": lambda e: _sklearn(e)}
    for backend, device in backends:
        candidates[_label(backend, device)] = lambda e, b=backend, d=device: _xpnn(e, b, d)

    warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter epochs is the point here
    for make in candidates.values():  # warm-up: imports, BLAS and device initialisation
        make(1).fit(x_train[:2000], t_train[:2000])

    rows, raw = [], {}
    for epochs in args.epochs:
        times: dict[str, list[float]] = {name: [] for name in candidates}
        scores: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, make in candidates.items():
                clf = make(epochs)
                time.sleep(0.05)
                t0 = time.perf_counter()
                clf.fit(x_train, t_train)
                times[name].append(time.perf_counter() - t0)
                scores[name] = clf.score(x_test, t_test)
                print(
                    f"{epochs} epochs, {name}: {times[name][-1]:.2f} s, score {scores[name]:.4f}", flush=True
                )
        base = statistics.median(times["scikit-learn MLPClassifier"])
        for name in candidates:
            median = statistics.median(times[name])
            rows.append(
                {
                    "epochs": epochs,
                    "estimator": name + (" (baseline)" if name.startswith("scikit") else ""),
                    "fit s": f"{median:.2f}",
                    "ratio": f"{median / base:.2f}×",
                    "test score": f"{scores[name]:.4f}",
                }
            )
            raw[f"{epochs}/{name}"] = {"times": times[name], "median": median, "score": scores[name]}
    return {
        "title": (
            f"MNIST fit, {x_train.shape[0]:,} images, 784-100-10 ReLU, Adam, batch 100:"
            " xpnn.MLPClassifier vs scikit-learn's MLPClassifier"
        ),
        "target": "xpnn[numpy] fit time ≤ 1.0× scikit-learn's, test score ≥ 0.96 at 3 epochs",
        "markdown": table(rows, ["epochs", "estimator", "fit s", "ratio", "test score"]),
        "raw": raw,
        "rounds": args.rounds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", default="1,3,10", help="comma-separated max_iter values (default 1,3,10)")
    parser.add_argument("--rounds", type=int, default=3, help="fits per estimator and epoch count (median)")
    parser.add_argument(
        "--backends",
        default="numpy,torch",
        help="xpnn backends, NAME or NAME:DEVICE, comma-separated; unusable ones are skipped",
    )
    parser.add_argument("--train-rows", type=int, default=0, help="use only the first N training images")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write JSON and markdown")
    parser.add_argument(
        "--tasks", default="mnist,diabetes", help="mnist (MLPClassifier), diabetes (MLPRegressor)"
    )
    args = parser.parse_args(argv)
    args.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if not args.tasks or set(args.tasks) - {"mnist", "diabetes"}:
        parser.error("--tasks takes mnist and/or diabetes, comma-separated")
    args.epochs = [int(e) for e in args.epochs.split(",")]
    if args.rounds < 1 or min(args.epochs) < 1:
        parser.error("--rounds and --epochs must be positive")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        parser.error("this benchmark needs scikit-learn: pip install -e '.[sklearn]'")
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine()
    result = run(args)
    if "diabetes" in args.tasks:
        regression, raw = run_regression(args)
        result["raw"].update(raw)
        result["regression"] = regression
    result["machine"] = info
    given = argv if argv is not None else sys.argv[1:]
    result["command"] = " ".join(["python benchmarks/sklearn_fit.py", *given])
    (args.out / f"{NAME}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    md = (
        f"### {result['title']}\n\nTarget: {result['target']}\n\n{result['markdown']}\n\n"
        if result["title"]
        else ""
    )
    if "regression" in result:
        md += (
            "### diabetes fit, 331 rows, 10-16-1 ReLU, Adam lr 0.05, alpha 1.0, 200 epochs:"
            " xpnn.MLPRegressor vs scikit-learn's MLPRegressor\n\n"
            "Target: xpnn[numpy] fit time ≤ 1.0× scikit-learn's; mean test R² within 0.05 of its\n\n"
            f"{result['regression']}\n\n"
        )
    md += f"`{result['command']}` on {info['cores']} cores, {info.get('blas', '')}, {info['date']}"
    md += f", OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    md += f", OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}\n"
    (args.out / f"{NAME}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
