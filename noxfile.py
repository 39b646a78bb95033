"""Test sessions, one per backend, from the one list in ``xpnn/backends/table.py``.

nox                     # the default sessions: every CPU backend, and lint
nox -s tests-numpy      # one backend
nox -s tests-cupy       # on a GPU machine; add --no-venv to reuse an interpreter that has CuPy
nox -s docs             # the documentation site, docs/_build/html (tutorials executed; warnings are errors)
nox -s mutation         # mutation testing with mutmut (slow; not in the default run): mutation/REPORT.md
"""

from __future__ import annotations

import runpy
import sys

import nox

nox.needs_version = ">=2024.3.2"
# virtualenv + pip, not uv: pip is what finds the CPU build of torch in this machine's wheel cache.
nox.options.default_venv_backend = "virtualenv"
nox.options.error_on_missing_interpreters = False

names = runpy.run_path("xpnn/backends/table.py")
BACKENDS: tuple[str, ...] = names["BACKENDS"]
GPU_BACKENDS: tuple[str, ...] = names["GPU_BACKENDS"]

#: What each backend's session installs on top of ``.[test]``: the backend's own extra, from
#: the table, and a few more where a session also tests something else. scikit-learn
#: (``xpnn.MLPClassifier``) in two sessions only, to keep CI short: NumPy (its doctests and
#: README blocks run there) and PyTorch, which also gets array-api-strict so that
#: scikit-learn's Array API checks run there for PyTorch and array-api-strict alike.
MORE = {
    "numpy": ["onnx", "sklearn", "skl2onnx"],  # ONNX export, compile("onnxruntime"), skl2onnx: once, here
    "torch": ["strict", "sklearn"],
}
EXTRAS = {name: [e for e in [info.extra] if e] + MORE.get(name, []) for name, info in names["TABLE"].items()}
#: Exact pins, where a range would pull the wrong build: torch 2.13.0 is a CPU build in this
#: machine class's local wheel cache, while a newer torch from PyPI is a multi-GB CUDA build.
#: Elsewhere PyPI's torch 2.13.0 on Linux is a CUDA build too: without a GPU, run
#: ``PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu nox`` for the CPU build (README).
PINS = {"torch": ["torch==2.13.0"]}


def _reuses_interpreter(session: nox.Session) -> bool:
    """``--no-venv``: run with the interpreter that runs nox, and what it has installed."""
    return isinstance(session.virtualenv, nox.virtualenv.PassthroughEnv)


def _install(session: nox.Session, extras: list[str], pins: list[str] = ()) -> None:
    if _reuses_interpreter(session):
        session.log(f"--no-venv: using {sys.executable} and what it has installed")
        return
    spec = f".[{','.join(['test', *extras])}]"
    session.install("-e", spec, *pins)


def _make_test_session(backend: str) -> None:
    @nox.session(name=f"tests-{backend.replace('_', '-')}", default=backend not in GPU_BACKENDS)
    def tests(session: nox.Session) -> None:
        _install(session, EXTRAS[backend], PINS.get(backend, []))
        env = {"XPNN_TEST_BACKENDS": backend}
        if "onnx" in EXTRAS[backend]:
            env["XPNN_REQUIRE_ONNX"] = "1"  # installed here, so its tests must not skip
        if "sklearn" in EXTRAS[backend]:
            # The estimator's tests must run here (not skip), with SciPy's Array API mode on.
            env.update(XPNN_REQUIRE_SKLEARN="1", SCIPY_ARRAY_API="1")
        args = session.posargs or (
            ["--doctest-modules", "xpnn", "tests"] if backend == "numpy" else ["tests"]
        )
        python = sys.executable if _reuses_interpreter(session) else "python"
        session.run(python, "-m", "pytest", *args, env=env)

    tests.__doc__ = f"Run the whole test suite on the {backend} backend."


for _backend in BACKENDS:
    _make_test_session(_backend)


@nox.session(default=True)
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy on the package."""
    _install(session, ["lint"])
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(default=True)
def docs(session: nox.Session) -> None:
    """Build the documentation site into docs/_build/html, then check it (tests/test_docs.py).

    Warnings are errors; every tutorial notebook is executed (``-E``: nothing is reused from an
    earlier build). The tutorials read MNIST and the book's weights from ``XPNN_DATA_DIR``,
    passed through when it is set (as in CI), else from the per-user data directory.
    """
    import os

    _install(session, ["docs"])
    python = sys.executable if _reuses_interpreter(session) else "python"
    env = {name: os.environ[name] for name in ("XPNN_DATA_DIR", "XPNN_CACHE_DIR") if name in os.environ}
    out = "docs/_build/html"
    session.run(python, "-m", "sphinx", "-W", "--keep-going", "-E", "-b", "html", "docs", out, env=env)
    # The site was just built: its checks must run, not skip.
    env.update(XPNN_REQUIRE_DOCS="1", XPNN_TEST_BACKENDS="numpy")
    session.run(python, "-m", "pytest", "tests/test_docs.py", *session.posargs, env=env)


@nox.session(default=False)
def benchmark(session: nox.Session) -> None:
    """Run the benchmarks (every backend usable here) and write benchmarks/results/."""
    _install(session, ["torch", "jax", "dask", "plot"], [*PINS["torch"], "threadpoolctl"])
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session(default=False)
def mutation(session: nox.Session) -> None:
    """Mutation testing of xpnn/ with mutmut, then mutation/REPORT.md (slow: not in the default run or CI).

    nox -s mutation                                  # every module; results are kept in mutants/
    nox -s mutation -- "xpnn.io.weights.*"           # only mutants whose names match (mutmut run's args)
    nox -s mutation -- --max-children 1 "xpnn.mnist.*"
    nox -s mutation -- --sample 0.25 --seed 1        # a random quarter of each module's unrun mutants

    The tests run on NumPy and array-api-strict; XPNN_DATA_DIR must hold the real data (mnist/ and
    weights/, as in CI), or the mutants that only the real-data tests catch would be reported as
    surviving. A second run re-tests only the functions that changed since the first.
    """
    import os
    import time
    from pathlib import Path

    data = os.environ.get("XPNN_DATA_DIR")
    if not data or not os.path.isfile(os.path.join(data, "weights", "sample_weight.pkl")):
        session.error(
            "set XPNN_DATA_DIR to the directory with mnist/ and weights/sample_weight.pkl (as for CI):"
            " without it the real-data tests skip and the mutants only they catch look like survivors"
        )
    _install(session, ["strict", "onnx", "sklearn", "skl2onnx", "jax", "mutation"])
    # PYTHONPATH: what tests run in a subprocess (the command line, examples) imports the mutated
    # copy too, and MUTANT_UNDER_TEST, inherited, switches the mutant on there as well.
    env = {"XPNN_TEST_BACKENDS": "numpy,array_api_strict", "PYTHONPATH": os.path.abspath("mutants")}
    # Export, compile and the estimator are mutated too: their tests must run, not skip.
    env.update(
        XPNN_REQUIRE_ONNX="1", XPNN_REQUIRE_SKLEARN="1", SCIPY_ARRAY_API="1", XPNN_TEST_COMPILE_JAX="1"
    )
    start = time.monotonic()
    passthrough = _reuses_interpreter(session)
    mutmut = os.path.join(os.path.dirname(sys.executable), "mutmut") if passthrough else "mutmut"
    python = sys.executable if passthrough else "python"
    args = list(session.posargs)
    if "--sample" in args:  # --sample FRACTION [--seed N]: a random draw of the mutants not yet run
        at = args.index("--sample")
        fraction, args = args[at + 1], args[:at] + args[at + 2 :]
        seed = "0"
        if "--seed" in args:
            at = args.index("--seed")
            seed, args = args[at + 1], args[:at] + args[at + 2 :]
        if not list(Path("mutants/xpnn").rglob("*.py.meta")):
            # mutmut makes every mutant (and maps the tests) on its first run: run it on the 8 of backends/compat.py
            session.run(mutmut, "run", *args, "xpnn.backends.compat.*", env=env, external=passthrough)
        names = Path("mutants/drawn.txt")
        session.run(
            python, "mutation/sample.py", "--fraction", fraction, "--seed", seed, "--out", str(names),
            external=passthrough,
        )  # fmt: skip
        args += names.read_text(encoding="utf-8").split()
    session.run(mutmut, "run", *args, env=env, external=passthrough)
    seconds = f"{time.monotonic() - start:.0f}"
    command = " ".join(["nox -s mutation", *(["--", *session.posargs] if session.posargs else [])])
    session.run(python, "mutation/report.py", "--seconds", seconds, "--command", command)
