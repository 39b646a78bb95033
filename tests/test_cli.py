"""The ``xpnn`` command: output, and one clear line with exit status 2 for user errors."""

from __future__ import annotations

import importlib.util
import io
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import BOOK_ACCURACY, COMPILE_JAX, Case
from idx import tiny_mnist, tiny_mnist_files
from local_http import closed_port, serve
from test_export import _need

import xpnn
from xpnn import cli
from xpnn.backends import TABLE, Reason, Unusable
from xpnn.io import RemoteFile, mnist
from xpnn.io import samples as weights


def xpnn_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``xpnn ARGS`` run in this process: its exit status, stdout and stderr.

    In-process, so that coverage and mutation testing see what the command reaches (a subprocess
    hides it); :func:`test_the_command_runs_as_a_program` checks the real entry point once.
    """
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = cli.main(list(args))
        except SystemExit as e:  # argparse: --help, --version, and its own usage errors
            status = e.code if isinstance(e.code, int) else 2
    return subprocess.CompletedProcess(["xpnn", *args], status, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("module", ["xpnn", "xpnn.cli"])
def test_the_command_runs_as_a_program(module: str, tmp_path: Path) -> None:
    """The entry point itself (``python -m xpnn``, as the ``xpnn`` script), in a fresh interpreter
    with warnings as errors: output and exit status."""
    run = [sys.executable, "-W", "error", "-m", module]
    result = subprocess.run([*run, "backends"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == list(xpnn.BACKENDS)
    bad = subprocess.run(
        [*run, "mnist", "--data-dir", str(tmp_path), "--no-download"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1, bad.stderr
    assert bad.stderr.startswith("xpnn: error: ")


def test_backends_lists_every_backend_with_a_reason() -> None:
    result = xpnn_cli("backends")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(xpnn.BACKENDS)
    for line in lines:
        name, usable, *reason = line.split()
        assert usable in ("yes", "no") and reason
        assert (usable == "yes") == xpnn.backend_status()[name].available


def test_mnist_prints_the_books_accuracy(backend: Case, real_data_dir: Path) -> None:
    result = xpnn_cli("mnist", *backend.cli_args, "--data-dir", str(real_data_dir), "--no-download")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first == f"Accuracy:{BOOK_ACCURACY}"
    assert "10000 images in" in second and "images/s" in second


def test_missing_data_is_one_line_and_status_2(tmp_path: Path) -> None:
    result = xpnn_cli("mnist", "--data-dir", str(tmp_path), "--no-download")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "t10k-images-idx3-ubyte.gz" in result.stderr and str(tmp_path) in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backend", "tensorflow"], "unknown backend"),
        (["--batch-size", "0"], "--batch-size must be a positive"),
    ],
)
def test_bad_arguments_are_one_line(args: list[str], message: str, real_data_dir: Path) -> None:
    result = xpnn_cli("mnist", *args, "--data-dir", str(real_data_dir), "--no-download")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_unusable_backend_is_one_line(tmp_path: Path) -> None:
    if xpnn.backend_status()["cupy"].available:
        pytest.skip("CuPy is usable here")
    result = xpnn_cli("mnist", "--backend", "cupy", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("xpnn: error: backend 'cupy' is not usable here")
    assert result.stderr.count("\n") == 1


# --- in-process: the error contract, with files and mirrors of our own ---------------------------


@pytest.fixture
def tiny_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory with tiny MNIST files (and xpnn told their hashes) but no weights."""
    root = tmp_path / "data"
    tiny_mnist(root / "mnist", n=5)
    monkeypatch.setattr(mnist, "MNIST_FILES", tiny_mnist_files(root / "mnist", 5))
    return root


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_no_download_is_honoured_for_the_weights(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(tmp_path) as server:
        monkeypatch.setattr(
            weights,
            "SAMPLE_WEIGHTS",
            RemoteFile("sample_weight.pkl", weights.SAMPLE_WEIGHTS.sha256, [f"{server.base}/good/"]),
        )
        status, out, err = run_main(capsys, "mnist", "--data-dir", str(tiny_data), "--no-download")
    assert server.requests == [], "--no-download must not fetch anything"
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("xpnn: error: "), err
    assert "sample_weight.pkl" in err and str(tiny_data) in err
    assert not (tiny_data / "weights").exists()


@pytest.fixture
def mnist_args(tiny_data: Path, tmp_path: Path) -> list[str]:
    """``xpnn mnist`` arguments that get as far as loading MNIST on any machine: a data directory
    of tiny files and an MNIST-shaped weights file of its own (the tests run with no data of the user's)."""
    path = xpnn.save_weights(xpnn.random_network([784, 10]), tmp_path / "small.npz")
    return ["mnist", "--data-dir", str(tiny_data), "--weights", str(path), "--no-download"]


def test_a_multi_line_error_is_printed_on_one_line(
    mnist_args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise xpnn.DataError("first line\nsecond line\n  third, indented")

    monkeypatch.setattr(cli.mnist, "load_mnist", broken)  # the name the command calls
    status, out, err = run_main(capsys, *mnist_args)
    assert (status, out) == (2, "")
    assert err == "xpnn: error: first line second line third, indented\n"


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(13, "Permission denied", "/data/weights/sample_weight.pkl"),
        IsADirectoryError(21, "Is a directory", "/data/mnist/t10k-images-idx3-ubyte.gz"),
        OSError(28, "No space left on device"),  # no path: the error as Python words it
    ],
)
def test_os_errors_on_a_path_are_one_line_naming_it(
    error: OSError, mnist_args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(cli.mnist, "load_mnist", broken)  # the name the command calls
    status, out, err = run_main(capsys, *mnist_args)
    assert (status, out) == (2, "")
    words = f"{error.filename}: {error.strerror}" if error.filename else "[Errno 28] No space left on device"
    assert err == f"xpnn: error: {words}\n"


def test_export_writes_a_model_that_onnxruntime_runs(tmp_path: Path, real_data_dir: Path) -> None:
    ort = _need("onnxruntime")
    _need("ndonnx")
    out = tmp_path / "book.onnx"
    result = xpnn_cli(
        "export", "--out", str(out), "--output", "argmax", "--input-dtype", "uint8", "--normalize",
        "--data-dir", str(real_data_dir), "--no-download",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "784-50-100-10 sigmoid network" in result.stdout and "'label'" in result.stdout
    x, _ = xpnn.load_mnist(normalize=False, split="test", data_dir=real_data_dir, download=False)
    (labels,) = ort.InferenceSession(str(out)).run(None, {"input": x[:500]})
    net = xpnn.load_sample_network(real_data_dir, download=False)
    assert (labels == xpnn.predict(net, x[:500], normalize=True)).all()


def test_export_with_relu_and_a_weights_file(tmp_path: Path) -> None:
    _need("ndonnx")
    onnx = _need("onnx")
    weights_file = tmp_path / "toy.npz"
    xpnn.save_weights(xpnn.init_network(), weights_file)
    out = tmp_path / "toy.onnx"
    result = xpnn_cli("export", "--weights", str(weights_file), "--out", str(out), "--activation", "relu")
    assert result.returncode == 0, result.stderr
    meta = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert meta["xpnn.activation"] == "relu" and meta["xpnn.sizes"] == "2,3,2,2"
    bad = xpnn_cli("export", "--weights", str(tmp_path / "missing.npz"), "--out", str(out))
    assert bad.returncode == 2 and bad.stderr.startswith("xpnn: error:") and len(bad.stderr.splitlines()) == 1
    folder = tmp_path / "folder"
    folder.mkdir()
    bad = xpnn_cli("export", "--weights", str(weights_file), "--out", str(folder))
    assert (
        bad.returncode == 2
        and bad.stderr == f"xpnn: error: {folder}: is a directory: name the .onnx file to write\n"
    )
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "folder",
        "toy.npz",
        "toy.onnx",
    ]
    nested = tmp_path / "new" / "toy.onnx"
    assert xpnn_cli("export", "--weights", str(weights_file), "--out", str(nested)).returncode == 0
    assert nested.is_file()


def test_first_run_offline_is_one_line_naming_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    down = closed_port()
    monkeypatch.setattr(
        mnist,
        "MNIST_FILES",
        {k: (RemoteFile(r.name, r.sha256, [f"{down}/mnist/"]), s) for k, (r, s) in mnist.MNIST_FILES.items()},
    )
    monkeypatch.setattr(
        weights,
        "SAMPLE_WEIGHTS",
        RemoteFile("sample_weight.pkl", weights.SAMPLE_WEIGHTS.sha256, [f"{down}/ch03/"]),
    )
    root = tmp_path / "not-yet"
    status, out, err = run_main(capsys, "mnist", "--data-dir", str(root))
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"xpnn: error: Missing from the data directory {root}: ")
    for name in (
        "mnist/t10k-images-idx3-ubyte.gz",
        "mnist/t10k-labels-idx1-ubyte.gz",
        "weights/sample_weight.pkl",
    ):
        assert name in err
    assert "train-images" not in err, "only what xpnn mnist needs"
    assert f"{down.split('/')[2]}: cannot connect (Connection refused)." in err
    assert (
        f"from {down}/mnist/ and {down}/ch03/ into" in err
        and "--data-dir DIR" in err
        and "XPNN_DATA_DIR=DIR" in err
    )
    assert not root.exists(), "the data directory is made only once a download succeeds"


def test_no_download_creates_no_data_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "not-yet"
    status, _, err = run_main(capsys, "mnist", "--data-dir", str(root), "--no-download")
    assert status == 2 and "Downloading is off" in err and "weights/sample_weight.pkl" in err
    assert not root.exists()


def _truncated_npz(path: Path) -> Path:
    import numpy as np

    np.savez(path, W1=np.zeros((784, 50), dtype=np.float32))
    path.write_bytes(path.read_bytes()[:300])
    return path


@pytest.mark.parametrize(
    "make, fault",
    [
        (_truncated_npz, "weights.npz"),
        (lambda p: p.with_suffix(".pkl").mkdir() or p.with_suffix(".pkl"), "weights.pkl"),
    ],
    ids=["truncated-npz", "directory"],
)
def test_a_bad_weights_file_is_one_line(
    make, fault: str, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make(tmp_path / "weights.npz")
    status, out, err = run_main(capsys, "mnist", "--data-dir", str(tiny_data), "--weights", str(path))
    assert (status, out) == (2, ""), err
    assert err.count("\n") == 1 and err.startswith("xpnn: error: ") and fault in err, err


def test_an_mnist_file_declaring_the_wrong_size_is_one_line(
    tiny_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gzip

    import numpy as np

    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (60000, 28, 28))
    (tiny_data / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(header))
    sizes = [784, 50, 100, 10]
    net = {f"W{i + 1}": np.zeros(sizes[i : i + 2], dtype=np.float32) for i in range(3)}
    net |= {f"b{i + 1}": np.zeros(sizes[i + 1], dtype=np.float32) for i in range(3)}
    w = xpnn.save_weights(net, tiny_data / "net.npz")
    status, out, err = run_main(
        capsys, "mnist", "--data-dir", str(tiny_data), "--weights", str(w), "--no-download"
    )
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and "shape (60000, 28, 28) in its IDX header; expected (5, 28, 28)" in err


@pytest.mark.parametrize("target", ["onnxruntime", pytest.param("jax", marks=pytest.mark.sessions("jax"))])
def test_mnist_compiled(target: str, real_data_dir: Path) -> None:
    if target == "jax":
        if not COMPILE_JAX:
            pytest.skip("compile('jax') is tested in the JAX session")
        pytest.importorskip("jax")
    else:
        _need("onnxruntime")
        _need("ndonnx")
    result = xpnn_cli("mnist", "--compile", target, "--data-dir", str(real_data_dir), "--no-download")
    assert result.returncode == 0, result.stderr
    assert f"Accuracy:{BOOK_ACCURACY}" in result.stdout
    assert (
        "onnxruntime (CPUExecutionProvider)" if target == "onnxruntime" else "jax.jit on"
    ) in result.stdout


@pytest.mark.parametrize("backend", ["torch", "numpy", "NumPy"])
def test_mnist_compiled_refuses_a_backend_before_any_download(backend: str, tmp_path: Path) -> None:
    """``--compile`` picks the runtime: any ``--backend`` is refused, the default one's name too."""
    result = xpnn_cli("mnist", "--compile", "onnxruntime", "--backend", backend, "--data-dir", str(tmp_path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"xpnn: error: --compile onnxruntime runs on its own runtime, not on --backend {backend.lower()}:"
        " leave out --backend (--device picks the device)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_mnist_compiled_device_errors_speak_cli(real_data_dir: Path) -> None:
    ort = _need("onnxruntime")
    _need("ndonnx")
    args = ("mnist", "--compile", "onnxruntime", "--data-dir", str(real_data_dir), "--no-download")
    bad = xpnn_cli(*args, "--device", "tpu")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "got --device 'tpu'" in bad.stderr
    if "CUDAExecutionProvider" in ort.get_available_providers():
        return  # benchmarks/gpu_checks.sh runs the CUDA provider
    bad = xpnn_cli(*args, "--device", "cuda")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "leave out --device" in bad.stderr and "provider=" not in bad.stderr


# --- what a user reads: help, version, the backends table ----------------------------------------

#: Each command's options, as its ``--help`` lists them (whitespace aside): the flags, their
#: choices and what the help says of each, defaults included.
HELP = {
    "": """
        The book's networks on any Array API backend.
        positional arguments: {backends,mnist,export,train}
        backends list the backends usable here, and why the others are not
        mnist accuracy and time of the book's network on the MNIST test set
        export write a network as an ONNX model (needs the `onnx` extra: pip install 'xpnn[onnx]')
        train train a network on MNIST (default: the book's ch. 5 run, 10,000 iterations)
        options: -h, --help show this help message and exit
        --version show program's version number and exit
    """,
    "backends": "options: -h, --help show this help message and exit",
    "mnist": f"""
        options: -h, --help show this help message and exit
        --backend BACKEND {", ".join(xpnn.BACKENDS)} or auto (default: numpy)
        --device DEVICE backend device, e.g. cuda:0
        --batch-size BATCH_SIZE images per batch (default: 100, as the book)
        --data-dir DATA_DIR data directory (default: $XPNN_DATA_DIR or the per-user one)
        --weights WEIGHTS weights file (.pkl, .npz, .safetensors); default: the book's
        --no-download never download; fail if a file is missing
        --activation {{identity,relu,sigmoid,tanh}} hidden activation (default: the one the weights file records,
        else sigmoid, the book's)
        --compile {{onnxruntime,jax}} run the network compiled (xpnn.compile) for onnxruntime
        (--device cuda: its CUDA provider) or jax; takes no --backend
        --network {{simple_convnet,deep_convnet}} the book's trained ch. 7 SimpleConvNet or ch. 8
        DeepConvNet instead of the ch. 3 network
    """,
    "export": """
        options: -h, --help show this help message and exit
        --out OUT the .onnx file to write
        --weights WEIGHTS weights file (.pkl, .npz, .safetensors); default: the book's
        --activation {identity,relu,sigmoid,tanh} hidden activation (default: the one the weights file records,
        else sigmoid, the book's)
        --output {softmax,identity,argmax} probabilities (default), logits, or class indices
        --input-dtype {float32,float64,float16,uint8} the model's input dtype (default: float32)
        --normalize divide the input by 255 in the model (raw bytes in)
        --data-dir DATA_DIR data directory (default: $XPNN_DATA_DIR or the per-user one)
        --no-download never download; fail if a file is missing
    """,
    "train": f"""
        options: -h, --help show this help message and exit
        --backend BACKEND {", ".join(xpnn.BACKENDS)} or auto (default: numpy)
        --device DEVICE backend device, e.g. cuda:0
        --network {{mlp,simple_convnet,deep_convnet}} mlp (default: the ch. 5 network of --sizes), or
        the book's ch. 7 SimpleConvNet or ch. 8 DeepConvNet (Adam, 20 epochs, as the book's
        train_convnet.py)
        --sizes SIZES layer widths, input first (default: 784,50,10)
        --activation {{identity,relu,sigmoid,tanh}} hidden activation (default: relu)
        --weight-init WEIGHT_INIT he, xavier or a standard deviation (default: 0.01; simple_convnet:
        its weight_init_std)
        --optimizer {{sgd,momentum,nesterov,adagrad,rmsprop,adam}} update rule (default: sgd; adam for
        the CNNs)
        --lr LR learning rate (default: 0.1 for the mlp with sgd, the book's ch. 5 run; else the
        optimizer's own: momentum 0.01, nesterov 0.01, adagrad 0.01, rmsprop 0.01, adam 0.001)
        --batch-size BATCH_SIZE mini-batch size (default: 100)
        --iters ITERS the book's loop: batches drawn with replacement
        --epochs EPOCHS epochs, shuffled without replacement (the CNNs: default 20)
        --weight-decay WEIGHT_DECAY L2 weight decay lambda (default: 0)
        --seed SEED seed of the weights and the batches (default: 0)
        --dtype {{float32,float64}} weights and compute dtype (default: float32)
        --train-size TRAIN_SIZE train on the first N images only
        --out OUT write the trained weights here (.npz or .safetensors)
        --data-dir DATA_DIR data directory (default: $XPNN_DATA_DIR or the per-user one)
        --no-download never download; fail if a file is missing
        --no-progress no progress bar
    """,
}


@pytest.mark.parametrize("command", list(HELP))
def test_help_lists_each_option_with_its_choices_and_defaults(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    result = xpnn_cli(*[c for c in [command] if c], "--help")
    assert (result.returncode, result.stderr) == (0, "")
    usage, _, rest = result.stdout.partition("\n\n")  # the usage line's wrapping varies with Python
    assert usage.startswith(f"usage: xpnn {command}".rstrip() + " [-h]"), usage
    assert " ".join(rest.split()) == " ".join(HELP[command].split())


def test_version_and_a_missing_command() -> None:
    result = xpnn_cli("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"xpnn {xpnn.__version__}\n", "")
    result = xpnn_cli()
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == "xpnn: error: the following arguments are required: command"
    result = xpnn_cli("export")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "xpnn export: error: the following arguments are required: --out"


def test_backends_table_is_name_usable_reason_and_version() -> None:
    result = xpnn_cli("backends")
    assert (result.returncode, result.stderr) == (0, "")
    status = xpnn.backend_status()
    assert any(s.version for s in status.values()) and any(not s.version for s in status.values())
    expected = [
        f"{name:<17} {'yes' if s.available else 'no '} {s.reason}"
        + (f" {s.version}" if s.version else "")
        + (f"; install with {s.install}" if s.install else "")
        for name, s in status.items()
    ]
    assert result.stdout.splitlines() == expected
    numpy_line = result.stdout.splitlines()[0]
    assert numpy_line == f"numpy             yes usable {np.__version__}"


@pytest.mark.parametrize(
    "why, code, install",
    [
        ("torch is not installed", Reason.NOT_INSTALLED, True),
        ("torch cannot be imported (broken)", Reason.IMPORT_FAILED, True),
        ("a test computation failed", Reason.PROBE_FAILED, False),
    ],
)
def test_backends_shows_how_to_install_a_missing_backend(
    why: str, code: Reason, install: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xpnn.backends import status as backends_status

    real = backends_status.check_backend
    unusable = Unusable(code, why, "torch")
    monkeypatch.setattr(
        backends_status,
        "check_backend",
        lambda name, device: (None, unusable) if name == "torch" else real(name, device),
    )
    result = xpnn_cli("backends")
    assert (result.returncode, result.stderr) == (0, "")
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("torch ")]
    command = TABLE["torch"].install
    assert line == f"torch             no  {why}" + (f"; install with {command}" if install else "")
    assert ("`pip install torch`" in line and "pip install -e '.[torch]'" in line) == install
    assert xpnn.backend_status(["torch"])["torch"].install == (command if install else None)


# --- the commands end to end, on tiny data from a local mirror -----------------------------------


@dataclass
class Mirror:
    """A local mirror of tiny MNIST files and a "book network" of our own, and an empty data dir."""

    server: Any
    root: Path  # the --data-dir, empty at first
    net: dict[str, np.ndarray]  # what sample_weight.pkl holds: 784-1-10
    x: np.ndarray  # the 5 test images, uint8, flat
    t: np.ndarray  # their labels


def _discerning_network(labels: np.ndarray) -> dict[str, np.ndarray]:
    """A 784-1-10 network that predicts the commonest label only with normalized input and sigmoid.

    Its hidden unit is -0.001 * sum(pixels): sigmoid of it is at least 0.3 on [0, 1] pixels, so
    class ``k`` (weight 10) beats class ``j`` (bias 1); raw bytes (sigmoid near 0) or relu (0)
    leave class ``j``, which no image has: those mistakes score 0.
    """
    k = int(np.bincount(labels, minlength=10).argmax())
    j = int(np.flatnonzero(np.bincount(labels, minlength=10) == 0)[0])
    w2, b2 = np.zeros((1, 10), np.float32), np.zeros(10, np.float32)
    w2[0, k], b2[j] = 10.0, 1.0
    return {"W1": np.full((784, 1), -0.001, np.float32), "b1": np.zeros(1, np.float32), "W2": w2, "b2": b2}


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    import pickle

    from idx import sha256

    files = tmp_path / "mirror"
    arrays = tiny_mnist(files, n=5)
    net = _discerning_network(arrays["t10k-labels"])
    (files / "sample_weight.pkl").write_bytes(pickle.dumps(net))
    # a data directory named by the environment must not stand in for --data-dir
    monkeypatch.setenv("XPNN_DATA_DIR", str(tmp_path / "elsewhere"))
    with serve(files) as server:
        good = f"{server.base}/good/"
        monkeypatch.setattr(mnist, "MNIST_FILES", tiny_mnist_files(files, 5, mirrors=(good,)))
        monkeypatch.setattr(
            weights,
            "SAMPLE_WEIGHTS",
            RemoteFile("sample_weight.pkl", sha256(files / "sample_weight.pkl"), [good]),
        )
        yield Mirror(
            server, tmp_path / "data", net, arrays["t10k-images"].reshape(5, 784), arrays["t10k-labels"]
        )


def _clock(monkeypatch: pytest.MonkeyPatch, *ticks: float) -> None:
    """The command's clock reads ``ticks`` (its timing lines become exact)."""
    monkeypatch.setattr(cli._common, "time", SimpleNamespace(perf_counter=iter(ticks).__next__))


@pytest.mark.sessions("array_api_strict")
def test_mnist_fetches_what_it_needs_and_prints_accuracy_and_timing(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    right = xpnn.accuracy(mirror.net, mirror.x, mirror.t, normalize=True)  # sigmoid, the book's
    with_relu = xpnn.accuracy(mirror.net, mirror.x, mirror.t, normalize=True, activation="relu")
    assert right > 0 and right != with_relu
    _clock(monkeypatch, 100.0, 100.004)  # 4 ms for the 5 images
    result = xpnn_cli("mnist", "--data-dir", str(mirror.root))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        f"Accuracy:{right}",
        "5 images in 4.0 ms (1,250 images/s) on numpy cpu, batch size 100",
    ]
    assert sorted(mirror.server.requests) == [
        "/good/sample_weight.pkl",
        "/good/t10k-images-idx3-ubyte.gz",
        "/good/t10k-labels-idx1-ubyte.gz",
    ]  # the test set and the weights only, each once
    assert sorted(p.relative_to(mirror.root).as_posix() for p in mirror.root.rglob("*.*")) == [
        "mnist/t10k-images-idx3-ubyte.gz",
        "mnist/t10k-labels-idx1-ubyte.gz",
        "weights/sample_weight.pkl",
    ]
    # offline now, relu, batches of 2, array-api-strict's second device (where it is installed)
    pytest.importorskip("array_api_strict", reason="the rest runs on array-api-strict")
    _clock(monkeypatch, 5.0, 7.5)
    relu = xpnn.accuracy(mirror.net, mirror.x, mirror.t, normalize=True, activation="relu")
    result = xpnn_cli(
        "mnist", "--data-dir", str(mirror.root), "--no-download", "--activation", "relu", "--batch-size", "2",
        "--backend", "array_api_strict", "--device", "device1",
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        f"Accuracy:{relu}",
        "5 images in 2500.0 ms (2 images/s) on array_api_strict array_api_strict.Device('device1'), batch size 2",
    ]
    assert len(mirror.server.requests) == 3


def test_mnist_with_a_weights_file_fetches_only_the_test_set(mirror: Mirror, tmp_path: Path) -> None:
    weights_file = xpnn.save_weights(mirror.net, tmp_path / "mine.npz")
    result = xpnn_cli("mnist", "--data-dir", str(mirror.root), "--weights", str(weights_file))
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.splitlines()[0]
        == f"Accuracy:{xpnn.accuracy(mirror.net, mirror.x, mirror.t, normalize=True)}"
    )
    assert sorted(mirror.server.requests) == [
        "/good/t10k-images-idx3-ubyte.gz",
        "/good/t10k-labels-idx1-ubyte.gz",
    ]
    assert not (mirror.root / "weights").exists()


@pytest.mark.parametrize("command", ["mnist", "export", "train"])
def test_an_unknown_activation_names_the_choices_and_no_python_only_option(
    command: str, mirror: Mirror
) -> None:
    """The command line cannot pass a function: its error says what it can take, in its own usage."""
    out = ["--out", "m.onnx"] if command == "export" else []
    result = xpnn_cli(command, *out, "--data-dir", str(mirror.root), "--activation", "swish")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"usage: xpnn {command} [-h]")
    assert result.stderr.splitlines()[-1].startswith(
        f"xpnn {command}: error: argument --activation: invalid choice: 'swish' (choose from"
    )
    assert "function" not in result.stderr
    assert mirror.server.requests == [] and not mirror.root.exists()


@pytest.mark.parametrize("target", ["onnxruntime", pytest.param("jax", marks=pytest.mark.sessions("jax"))])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_mnist_compiled_on_tiny_data(target: str, activation: str, mirror: Mirror) -> None:
    if target == "jax":
        if not COMPILE_JAX:
            pytest.skip("compile('jax') is tested in the JAX session")
        pytest.importorskip("jax")
    else:
        _need("onnxruntime")
        _need("ndonnx")
    expected = xpnn.accuracy(mirror.net, mirror.x, mirror.t, normalize=True, activation=activation)
    result = xpnn_cli(
        "mnist", "--compile", target, "--activation", activation, "--data-dir", str(mirror.root)
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first == f"Accuracy:{expected}"
    where = "onnxruntime (CPUExecutionProvider)" if target == "onnxruntime" else "jax.jit on cpu:0"
    assert second.endswith(f" on {where}, batch size 100"), second


def test_mnist_compiled_errors_name_the_flags(mirror: Mirror) -> None:
    _need("onnxruntime")
    _need("ndonnx")
    args = ("mnist", "--compile", "onnxruntime", "--data-dir", str(mirror.root))
    bad = xpnn_cli(*args, "--device", "tpu")
    assert bad.returncode == 2 and bad.stderr == (
        "xpnn: error: onnxruntime runs on device 'cpu' or 'cuda' (its CUDA execution provider, GPU 0);"
        " got --device 'tpu'\n"
    )
    ort = _need("onnxruntime")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        return
    bad = xpnn_cli(*args, "--device", "cuda")
    assert bad.returncode == 2 and bad.stderr == (
        "xpnn: error: onnxruntime's CUDA execution provider is not available here (this onnxruntime has"
        f" {ort.get_available_providers()}): install onnxruntime-gpu on a machine with an NVIDIA GPU,"
        " or leave out --device (onnxruntime on the CPU)\n"
    )


def _library_run(mirror: Mirror, **options: Any) -> tuple[Any, dict]:
    """What ``xpnn train`` should do, through the library: the same data, network and settings."""
    data = {"data_dir": mirror.root, "download": False}
    x, t = xpnn.load_mnist(split="train", **data)
    x_test, t_test = xpnn.load_mnist(split="test", **data)
    size = options.pop("train_size", None)
    x, t = x[:size], t[:size]
    net = xpnn.random_network(
        options.pop("sizes"),
        weight_init=options.pop("weight_init"),
        seed=options["seed"],
        dtype=options.pop("dtype"),
    )
    return xpnn.train(net, x, t, x_test=x_test, t_test=t_test, progress=False, **options)


@pytest.mark.parametrize(
    "args, options, header",
    [
        (
            ["--iters", "7", "--batch-size", "2", "--out", "net.npz"],
            dict(sizes=[784, 50, 10], weight_init=0.01, dtype="float32", activation="relu", optimizer="sgd",
                 lr=0.1, batch_size=2, iters=7, seed=0, weight_decay=0.0),
            "784-50-10 relu, sgd lr 0.1, batch 2, float32, 5 images",
        ),
        (
            ["--sizes", "784-7-10", "--activation", "sigmoid", "--weight-init", "he", "--optimizer", "Adam",
             "--lr", "0.01", "--epochs", "2", "--batch-size", "3", "--weight-decay", "0.1", "--seed", "3",
             "--dtype", "float64", "--train-size", "4", "--out", "NET.SafeTensors"],
            dict(sizes=[784, 7, 10], weight_init="he", dtype="float64", activation="sigmoid", optimizer="adam",
                 lr=0.01, batch_size=3, epochs=2, seed=3, weight_decay=0.1, train_size=4),
            "784-7-10 sigmoid, adam lr 0.01, batch 3, float64, 4 images",
        ),
        (
            ["--sizes", "784,3,10", "--activation", "relu", "--weight-init", "0.5", "--iters", "1",
             "--batch-size", "1", "--train-size", "1", "--lr", "2"],
            dict(sizes=[784, 3, 10], weight_init=0.5, dtype="float32", activation="relu", optimizer="sgd",
                 lr=2.0, batch_size=1, iters=1, seed=0, weight_decay=0.0, train_size=1),
            "784-3-10 relu, sgd lr 2.0, batch 1, float32, 1 images",
        ),
        (
            ["--optimizer", "MOMENTUM", "--activation", "ReLU", "--dtype", "Float64", "--iters", "2",
             "--backend", "NumPy"],
            dict(sizes=[784, 50, 10], weight_init=0.01, dtype="float64", activation="relu",
                 optimizer="momentum", lr=0.01, batch_size=100, iters=2, seed=0, weight_decay=0.0),
            "784-50-10 relu, momentum lr 0.01, batch 100, float64, 5 images",
        ),
    ],
    ids=["defaults", "every-option", "smallest", "names-in-any-case-and-the-optimizers-own-lr"],
)  # fmt: skip
def test_train_prints_each_epoch_and_writes_what_the_library_trains(
    args: list[str], options: dict, header: str, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(mirror.root.parent)
    _clock(monkeypatch, 100.0, 112.5)  # 12.5 s of training
    data_dir = ["--data-dir", str(mirror.root)]
    if "--weight-init" not in args:  # the data directory named by XPNN_DATA_DIR instead
        monkeypatch.setenv("XPNN_DATA_DIR", str(mirror.root))
        data_dir = []
    result = xpnn_cli("train", *data_dir, "--no-progress", *args)  # downloads the four files
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert len(mirror.server.requests) == 4
    out = args[args.index("--out") + 1] if "--out" in args else None
    network, history = _library_run(mirror, **options)
    epochs = [
        f"epoch {e:>3} (iteration {i:>6}) loss {loss:.4f} | train acc, test acc | {a:.4f}, {b:.4f}"
        for e, i, loss, a, b in zip(
            *(history[k] for k in ("epoch", "iteration", "loss", "train_acc", "test_acc"))
        )
    ]
    assert result.stdout.splitlines() == [
        f"{header} on numpy cpu",
        *epochs,
        f"trained in 12.5 s; test accuracy {history['test_acc'][-1]:.4f}",
        *(
            [f"weights written to {out}",
             "evaluate them with: " + shlex.join(["xpnn", "mnist", "--weights", out, *data_dir])]
            if out else []
        ),
    ]  # fmt: skip
    if out is None:
        assert sorted(p.name for p in mirror.root.parent.iterdir()) == ["data", "mirror"]  # nothing written
        return
    written = xpnn.load_weights(out)
    assert {k: v.dtype for k, v in written.items()} == {k: np.dtype(options["dtype"]) for k in written}
    assert sorted(written) == sorted(network)
    for key, value in network.items():
        np.testing.assert_array_equal(written[key], xpnn.to_numpy(value))


def test_train_without_download_names_the_training_files(mirror: Mirror) -> None:
    result = xpnn_cli("train", "--data-dir", str(mirror.root), "--no-download")
    assert (result.returncode, result.stdout) == (2, "") and result.stderr.count("\n") == 1
    assert "Downloading is off" in result.stderr and "mnist/train-images-idx3-ubyte.gz" in result.stderr
    assert mirror.server.requests == [] and not mirror.root.exists()


@pytest.mark.parametrize(
    "args, iters, epochs, progress, backend, device",
    [
        ([], 10_000, None, None, "numpy", None),
        (["--epochs", "2"], None, 2, None, "numpy", None),
        pytest.param(
            ["--iters", "3", "--no-progress", "--backend", "array_api_strict", "--device", "device1"], 3, None,
            False, "array_api_strict", "device1",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("array_api_strict") is None, reason="array-api-strict is not installed"
            ),
        ),
    ],
)  # fmt: skip
def test_train_runs_the_books_10000_iterations_by_default_where_asked(
    args: list[str], iters: int | None, epochs: int | None, progress: bool | None, backend: str,
    device: str | None, mirror: Mirror, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from xpnn import training
    from xpnn.backends import get_backend

    asked = {}

    def one_step(*a: Any, **kw: Any) -> Any:  # records what the command asks for, then trains briefly
        asked.update(kw, x=a[1])
        return real(*a, **{**kw, "iters": 1, "epochs": None, "progress": False})

    real = training.train
    monkeypatch.setattr(training, "train", one_step)
    result = xpnn_cli("train", "--data-dir", str(mirror.root), *args)
    assert result.returncode == 0, result.stderr
    assert (asked["iters"], asked["epochs"], asked["progress"], asked["batch_size"]) == (
        iters,
        epochs,
        progress,
        100,
    )
    assert (asked["backend"], asked["device"]) == (backend, get_backend(backend, device)[1])
    for x in (asked["x"], asked["x_test"]):  # both sets as floats in [0, 1], as the book trains
        assert x.shape == (5, 784) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1


@pytest.mark.sessions("torch", "array_api_strict")
def test_mnist_computes_on_the_backend_and_device_asked_for(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xpnn.backends import get_backend

    pytest.importorskip("array_api_strict", reason="computes on array-api-strict's second device")
    devices = []

    def accuracy(network: Any, *args: Any, **kwargs: Any) -> float:
        devices.append((type(network).__name__, network.xp.__name__, network.device))
        return xpnn.accuracy(network, *args, **kwargs)

    monkeypatch.setattr(cli.mnist, "accuracy", accuracy)
    result = xpnn_cli(
        "mnist", "--data-dir", str(mirror.root), "--backend", "array_api_strict", "--device", "device1"
    )
    assert result.returncode == 0, result.stderr
    device1 = get_backend("array_api_strict", "device1")[1]
    assert devices == [("Network", "array_api_strict", device1)] * 2  # the warm-up, then the timed run


class _Flushed(io.StringIO):
    """Standard output that notes how many lines it held each time it was flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(self.getvalue().count("\n"))


def test_train_flushes_each_epoch_as_it_ends(mirror: Mirror) -> None:
    """``xpnn train | tee log`` shows each epoch when it ends, not when the run does."""
    out = _Flushed()
    with redirect_stdout(out):
        assert cli.main(["train", "--data-dir", str(mirror.root), "--epochs", "2", "--no-progress"]) == 0
    assert out.getvalue().count("\n") == 4 and {2, 3} <= set(out.flushed_at)  # header, 2 epochs, the end


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "0"], "--lr must be a positive finite number; got 0.0"),
        (["--lr", "inf"], "--lr must be a positive finite number; got inf"),
        (["--weight-decay", "inf"], "--weight-decay must be a non-negative finite number; got inf"),
        (["--weight-decay", "nan"], "--weight-decay must be a non-negative finite number; got nan"),
        (["--iters", "0"], "--iters must be a positive integer; got 0"),
        (["--epochs", "-1"], "--epochs must be a positive integer; got -1"),
        (["--iters", "-5"], "--iters must be a positive integer; got -5"),
        (["--train-size", "-59990"], "--train-size must be a positive integer; got -59990"),
        (["--batch-size", "0"], "--batch-size must be a positive integer; got 0"),
        (["--lr", "nan"], "--lr must be a positive finite number; got nan"),
        (["--lr", "-0.1"], "--lr must be a positive finite number; got -0.1"),
        (["--weight-decay", "-1"], "--weight-decay must be a non-negative finite number; got -1.0"),
        (["--train-size", "0"], "--train-size must be a positive integer; got 0"),
        (["--batch-size", "-3"], "--batch-size must be a positive integer; got -3"),
        (["--seed", "-2"], "--seed must be a non-negative integer; got -2"),
        (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs' (choose from"),
        (["--dtype", "float16"], "argument --dtype: invalid choice: 'float16' (choose from"),
        (["--weight-init", "uniform"], "--weight-init takes he, xavier or a standard deviation such as 0.01; got 'uniform'"),
        (["--weight-init", "-0.5"], "--weight-init takes he, xavier or a standard deviation such as 0.01; got '-0.5'"),
        (["--sizes", "784,0,10"], "--sizes takes positive layer widths such as 784,50,10; got '784,0,10'"),
        (["--backend", "tensorflow"], "unknown backend 'tensorflow'"),
        (["--backend", "dask"], "xpnn train does not run on Dask: train with --backend numpy, torch, jax, cupy or"
                                " array_api_strict, then evaluate on Dask: xpnn mnist --backend dask --weights FILE"),
        (["--out", "w.NPY"], "--out must name a .npz or .safetensors file; got 'w.NPY'"),
        (["--sizes", "784,50,11"], "MNIST needs 784 inputs and 10 outputs: --sizes 784,...,10; got '784,50,11'"),
        (["--sizes", "785,50,10"], "MNIST needs 784 inputs and 10 outputs: --sizes 784,...,10; got '785,50,10'"),
        (["--iters", "2", "--epochs", "2"], "argument --epochs: not allowed with argument --iters"),
        (["--activation", "swish"], "argument --activation: invalid choice: 'swish' (choose from"),
    ],
)  # fmt: skip
def test_train_errors_are_the_whole_line(args: list[str], message: str, mirror: Mirror) -> None:
    result = xpnn_cli("train", *args, "--data-dir", str(mirror.root))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1].startswith(
        f"xpnn{' train' * message.startswith('argument')}: error: {message}"
    )
    assert mirror.server.requests == [] and not mirror.root.exists()


@pytest.mark.parametrize(
    "args, activation, output, input_dtype, normalize, name",
    [
        ([], "sigmoid", "softmax", "float32", False, "probabilities"),
        (["--activation", "relu", "--output", "identity", "--input-dtype", "float64"], "relu", "identity", "float64", False, "logits"),
        (["--activation", "sigmoid", "--output", "ArgMax", "--input-dtype", "float16"], "sigmoid", "argmax", "float16", False, "label"),
        (["--output", "softmax", "--input-dtype", "uint8", "--normalize"], "sigmoid", "softmax", "uint8", True, "probabilities"),
        (["--input-dtype", "float32", "--normalize"], "sigmoid", "softmax", "float32", True, "probabilities"),
    ],
)  # fmt: skip
def test_export_writes_the_model_its_options_ask_for(
    args: list[str], activation: str, output: str, input_dtype: str, normalize: bool, name: str,
    mirror: Mirror, tmp_path: Path,
) -> None:  # fmt: skip
    ort = _need("onnxruntime")
    _need("ndonnx")
    out = tmp_path / "model.onnx"
    result = xpnn_cli(
        "export", "--out", str(out), "--data-dir", str(mirror.root), *args
    )  # the book's weights
    assert (result.returncode, result.stderr) == (0, "")
    scaled = ", divided by 255" if normalize else ""
    assert result.stdout == (
        f"wrote {out}: 784-1-10 {activation} network, input 'input' ({input_dtype}{scaled}), output {name!r}, opset 21\n"
    )
    assert [p.rsplit("/", 1)[1] for p in mirror.server.requests] == ["sample_weight.pkl"]
    x = mirror.x.astype(input_dtype) if normalize else (mirror.x / 255).astype(input_dtype)
    (got,) = ort.InferenceSession(str(out)).run(None, {"input": x})
    y = xpnn.forward(mirror.net, (mirror.x / 255).astype(np.float64), activation=activation)
    expected = {"softmax": xpnn.softmax(y), "identity": y, "argmax": y.argmax(axis=-1)}[output]
    np.testing.assert_allclose(got, expected, rtol=1e-2 if input_dtype == "float16" else 1e-5, atol=1e-3)


def test_export_without_download_refuses_to_fetch_the_weights(mirror: Mirror, tmp_path: Path) -> None:
    _need("ndonnx")  # without the onnx extra, export refuses before it looks for the weights
    out = tmp_path / "model.onnx"
    result = xpnn_cli("export", "--out", str(out), "--data-dir", str(mirror.root), "--no-download")
    assert (result.returncode, result.stdout) == (2, "") and result.stderr.count("\n") == 1
    assert "Downloading is off" in result.stderr and "sample_weight.pkl" in result.stderr
    assert mirror.server.requests == [] and not out.exists()


# --- checked before the work: output paths, extras, backends (nothing fetched, nothing printed) --


def _refused_before_any_work(result: subprocess.CompletedProcess[str], mirror: Mirror, line: str) -> None:
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"xpnn: error: {line}\n")
    assert mirror.server.requests == [] and not mirror.root.exists()


def test_train_refuses_an_output_it_could_not_write_before_training(mirror: Mirror, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    train = ("train", "--data-dir", str(mirror.root), "--iters", "1", "--no-progress")
    _refused_before_any_work(
        xpnn_cli(*train, "--out", str(folder)),
        mirror,
        f"{folder}: is a directory: name the .npz or .safetensors file to write",
    )
    _refused_before_any_work(
        xpnn_cli(*train, "--out", str(a_file / "sub" / "net.npz")),
        mirror,
        f"{a_file}: is not a directory: --out cannot be written there",
    )
    nested = tmp_path / "new" / "deeper" / "net.npz"  # folders on the way are made
    assert xpnn_cli(*train, "--out", str(nested)).returncode == 0 and nested.is_file()


def test_train_refuses_an_output_folder_it_cannot_write_to_before_training(
    mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder this user may not write to (as ``os.access`` says: root may write anywhere)."""
    import errno
    import os

    folder = tmp_path / "read-only"
    folder.mkdir()
    access = os.access

    def read_only(path: Any, mode: int, **kwargs: Any) -> bool:
        return not (Path(path) == folder and mode & os.W_OK) and access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", read_only)
    line = f"{folder}: this user cannot write here: choose another --out"
    train = ("train", "--data-dir", str(mirror.root), "--iters", "1", "--no-progress")
    _refused_before_any_work(xpnn_cli(*train, "--out", str(folder / "sub" / "net.npz")), mirror, line)
    with pytest.raises(PermissionError) as refused:
        cli._common.check_out(str(folder / "net.npz"), (".npz",), ".npz")
    assert (refused.value.errno, refused.value.filename) == (errno.EACCES, str(folder))
    assert list(folder.iterdir()) == []


def test_train_without_the_safetensors_extra_refuses_before_training(
    mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "safetensors", None)  # import safetensors now raises ImportError
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    out = tmp_path / "net.safetensors"
    result = xpnn_cli("train", "--data-dir", str(mirror.root), "--out", str(out))
    _refused_before_any_work(
        result,
        mirror,
        f"--out {out} needs the `safetensors` extra: pip install 'xpnn[safetensors]' (in a clone:"
        " pip install -e '.[safetensors]'); or name a .npz file, which needs nothing more",
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "args, line",
    [
        (["mnist", "--compile", "jax"], "--compile jax needs the `jax` extra: pip install 'xpnn[jax]' (in a clone: pip install -e '.[jax]'); jax cannot be imported here (import of jax halted; None in sys.modules)"),
        (["export", "--out", "m.onnx"], "xpnn export needs the `onnx` extra: pip install 'xpnn[onnx]' (in a clone: pip install -e '.[onnx]'); ndonnx cannot be imported here (import of ndonnx halted; None in sys.modules)"),
    ],
)  # fmt: skip
def test_compile_and_export_without_their_extra_refuse_before_any_download(
    args: list[str], line: str, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("jax", "onnx", "ndonnx", "onnxruntime", "onnxscript"):
        monkeypatch.setitem(sys.modules, module, None)
    _refused_before_any_work(xpnn_cli(*args, "--data-dir", str(mirror.root)), mirror, line)


def test_mnist_refuses_a_bad_weights_file_before_any_download(mirror: Mirror, tmp_path: Path) -> None:
    missing = tmp_path / "missing.npz"
    result = xpnn_cli("mnist", "--data-dir", str(mirror.root), "--weights", str(missing))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("xpnn: error: ") and result.stderr.count("\n") == 1
    assert str(missing) in result.stderr  # in load_weights' own words
    assert mirror.server.requests == [] and not mirror.root.exists()


def test_export_refuses_a_name_that_is_not_onnx_before_loading_weights(mirror: Mirror) -> None:
    result = xpnn_cli("export", "--out", "model.pb", "--data-dir", str(mirror.root))
    _refused_before_any_work(result, mirror, "--out must name a .onnx file; got 'model.pb'")


# --- a weights file's own activation (what xpnn train records) -----------------------------------


@pytest.fixture
def relu_file(mirror: Mirror, tmp_path: Path) -> Path:
    """A weights file that records relu, as ``xpnn train --out`` writes one."""
    return xpnn.save_weights(mirror.net, tmp_path / "relu.npz", activation="relu")


def test_train_then_mnist_and_export_use_the_activation_the_file_records(
    mirror: Mirror, tmp_path: Path
) -> None:
    """Issue 25.1 as reported, with no stand-in: ``train --out``, then ``mnist``/``export --weights``."""
    out = tmp_path / "relu.npz"
    data = ("--data-dir", str(mirror.root))
    trained = xpnn_cli(
        "train", *data, "--iters", "3", "--batch-size", "2", "--no-progress", "--out", str(out)
    )
    assert trained.returncode == 0, trained.stderr
    assert "--activation" not in trained.stdout
    net = xpnn.load_weights(out)
    assert net.activation == "relu"
    result = xpnn_cli("mnist", *data, "--weights", str(out))
    assert (result.returncode, result.stderr) == (0, "")
    relu = xpnn.accuracy(net, mirror.x, mirror.t, normalize=True, activation="relu")
    assert result.stdout.splitlines()[0] == f"Accuracy:{relu}"
    if importlib.util.find_spec("ndonnx") is not None:
        exported = xpnn_cli("export", "--weights", str(out), "--out", str(tmp_path / "m.onnx"))
        assert (exported.returncode, exported.stderr) == (0, "")
        assert exported.stdout.startswith(f"wrote {tmp_path / 'm.onnx'}: 784-50-10 relu network")


@pytest.mark.parametrize("action", ["error", "always"])
def test_mnist_and_train_say_normalize_so_they_never_warn(
    action: str, mirror: Mirror, tmp_path: Path
) -> None:
    """The commands read raw MNIST bytes and say ``normalize`` to the library (issue 26.2): no
    ``UnscaledInputWarning`` (nor any other warning), as errors or merely recorded."""
    import warnings

    out = tmp_path / "net.npz"
    data = ("--data-dir", str(mirror.root))
    commands = [
        ("mnist", *data),
        ("train", *data, "--iters", "2", "--batch-size", "2", "--no-progress", "--out", str(out)),
        ("mnist", *data, "--weights", str(out)),  # what train's "evaluate them with" runs
    ]
    if all(importlib.util.find_spec(m) is not None for m in ("ndonnx", "onnxruntime")):
        commands.append(("mnist", *data, "--weights", str(out), "--compile", "onnxruntime"))
    for args in commands:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter(action)
            result = xpnn_cli(*args)
        assert (result.returncode, result.stderr, seen) == (0, "", []), args


@pytest.mark.parametrize("given", [[], ["--activation", "relu"], ["--activation", "ReLU"]])
def test_mnist_runs_a_file_with_the_activation_it_records(
    given: list[str], relu_file: Path, mirror: Mirror
) -> None:
    relu = xpnn.accuracy(mirror.net, mirror.x, mirror.t, normalize=True, activation="relu")
    assert relu != xpnn.accuracy(mirror.net, mirror.x, mirror.t, normalize=True)  # sigmoid would differ
    result = xpnn_cli("mnist", "--data-dir", str(mirror.root), "--weights", str(relu_file), *given)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == f"Accuracy:{relu}"


def test_mnist_compiled_runs_a_file_with_the_activation_it_records(relu_file: Path, mirror: Mirror) -> None:
    _need("onnxruntime")
    _need("ndonnx")
    relu = xpnn.accuracy(mirror.net, mirror.x, mirror.t, normalize=True, activation="relu")
    args = ("mnist", "--compile", "onnxruntime", "--data-dir", str(mirror.root), "--weights", str(relu_file))
    result = xpnn_cli(*args)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == f"Accuracy:{relu}"


def test_export_writes_the_activation_the_file_records(
    relu_file: Path, mirror: Mirror, tmp_path: Path
) -> None:
    _need("ndonnx")
    out = tmp_path / "relu.onnx"
    result = xpnn_cli("export", "--weights", str(relu_file), "--out", str(out))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"wrote {out}: 784-1-10 relu network")


@pytest.mark.parametrize("command", ["mnist", "export"])
def test_an_activation_that_contradicts_the_file_is_an_error(
    command: str, relu_file: Path, mirror: Mirror, tmp_path: Path
) -> None:
    if command == "export":
        _need("ndonnx")  # without the onnx extra, export refuses before it reads the weights
    out = tmp_path / "m.onnx"
    args = ["--out", str(out)] if command == "export" else []
    result = xpnn_cli(
        command, *args, "--data-dir", str(mirror.root), "--weights", str(relu_file), "--activation", "Sigmoid"
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"xpnn: error: --activation sigmoid contradicts {relu_file}, which records activation relu:"
        " leave out --activation\n"
    )
    assert not out.exists()


@pytest.mark.parametrize("command", ["mnist", "export"])
def test_a_file_without_an_activation_warns_naming_the_option(
    command: str, mirror: Mirror, tmp_path: Path
) -> None:
    if command == "export":
        _need("ndonnx")
    plain = xpnn.save_weights(mirror.net, tmp_path / "plain.npz")  # a file from before files recorded it
    args = [command, "--data-dir", str(mirror.root)]
    if command == "export":
        args += ["--out", str(tmp_path / "m.onnx")]
    result = xpnn_cli(*args, "--weights", str(plain))
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"xpnn: warning: {plain} records no activation: running it with sigmoid (the book's);"
        " if it was trained with relu, pass --activation relu\n"
    )
    sigmoid = xpnn.accuracy(mirror.net, mirror.x, mirror.t, normalize=True)
    assert result.stdout.startswith(
        f"Accuracy:{sigmoid}\n"
        if command == "mnist"
        else f"wrote {tmp_path / 'm.onnx'}: 784-1-10 sigmoid network"
    )
    given = xpnn_cli(*args, "--weights", str(plain), "--activation", "relu")
    assert (given.returncode, given.stderr) == (0, "")
    # the book's own file is sigmoid: no warning, by default or named with --weights
    assert xpnn_cli(*args).stderr == ""
    book = mirror.root / "weights" / "sample_weight.pkl"
    assert book.is_file() and xpnn_cli(*args, "--weights", str(book)).stderr == ""


# --- names and usage: one rule for names, a typo gets the closest option -------------------------


@pytest.mark.parametrize(
    "args, line",
    [
        (["train", "--bakend", "numpy"], "unrecognized arguments: --bakend numpy (--bakend: did you mean --backend?)"),
        (["mnist", "--activaton=relu"], "unrecognized arguments: --activaton=relu (--activaton: did you mean --activation?)"),
        (["train", "--bakend=array_api_strict"],
         "unrecognized arguments: --bakend=array_api_strict (--bakend: did you mean --backend?)"),
        (["export", "--out", "m.onnx", "--nomalize", "--ouput", "argmax"],
         "unrecognized arguments: --nomalize --ouput argmax (--nomalize: did you mean --normalize?;"
         " --ouput: did you mean --output?)"),
        (["mnist", "extra"], "unrecognized arguments: extra"),
        (["backends", "--all"], "unrecognized arguments: --all"),
    ],
)  # fmt: skip
def test_an_unknown_option_gets_the_closest_one_and_the_commands_usage(
    args: list[str], line: str, mirror: Mirror
) -> None:
    result = xpnn_cli(*args, "--data-dir", str(mirror.root)) if args[0] != "backends" else xpnn_cli(*args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"usage: xpnn {args[0]} [-h]"), result.stderr
    assert result.stderr.splitlines()[-1] == f"xpnn {args[0]}: error: {line}"
    assert mirror.server.requests == [] and not mirror.root.exists()


def test_activation_names_are_case_insensitive_in_the_api_as_on_the_command_line() -> None:
    from xpnn.functions import HIDDEN_ACTIVATIONS, resolve_activation

    net, x = xpnn.init_network(), np.array([[1.0, -0.5]])
    for name in ("relu", "sigmoid"):
        assert resolve_activation(name.upper(), HIDDEN_ACTIVATIONS, "activation") is HIDDEN_ACTIVATIONS[name]
        expected = xpnn.forward(net, x, activation=name)
        np.testing.assert_array_equal(xpnn.forward(net, x, activation=name.capitalize()), expected)
    with pytest.raises(ValueError, match="unknown activation 'Swish'"):
        resolve_activation("Swish", HIDDEN_ACTIVATIONS, "activation")


# --- xpnn train --network: the book's ch. 7-8 CNNs (tiny fake MNIST from the mirror) ------------


def _library_convnet_run(mirror: Mirror, network: str, **options: Any) -> tuple[Any, dict]:
    """What ``xpnn train --network`` should do, through the library: the book's network, its
    Trainer loop (xpnn.nn.train_network) on uint8 images divided by 255 on the device."""
    data = {"data_dir": mirror.root, "download": False, "normalize": False, "flatten": False}
    x, t = xpnn.load_mnist(split="train", **data)
    x_test, t_test = xpnn.load_mnist(split="test", **data)
    size = options.pop("train_size", None)
    place = {"seed": options["seed"], "dtype": options.pop("dtype")}
    if network == "simple_convnet":
        net: Any = xpnn.SimpleConvNet(weight_init_std=options.pop("weight_init_std"), **place)
    else:
        net = xpnn.DeepConvNet(**place)
    return xpnn.nn.train_network(
        net, x[:size], t[:size], x_test=x_test, t_test=t_test, normalize=True, **options
    )


@pytest.mark.parametrize(
    "args, network, options, header",
    [
        (
            ["--network", "simple_convnet", "--epochs", "2", "--batch-size", "2"],
            "simple_convnet",
            dict(weight_init_std=0.01, dtype="float32", optimizer="adam", lr=0.001, batch_size=2, epochs=2, seed=0),
            "simple_convnet, adam lr 0.001, batch 2, float32, 5 images",
        ),
        (
            ["--network", "Simple_ConvNet", "--weight-init", "0.1", "--optimizer", "sgd", "--epochs", "1",
             "--batch-size", "3", "--train-size", "4", "--seed", "3", "--dtype", "float64"],
            "simple_convnet",
            dict(weight_init_std=0.1, dtype="float64", optimizer="sgd", lr=0.01, batch_size=3, epochs=1, seed=3,
                 train_size=4),
            "simple_convnet, sgd lr 0.01, batch 3, float64, 4 images",
        ),
        (
            ["--network", "deep_convnet", "--epochs", "1", "--lr", "0.01", "--batch-size", "4"],
            "deep_convnet",
            dict(dtype="float32", optimizer="adam", lr=0.01, batch_size=4, epochs=1, seed=0),
            "deep_convnet, adam lr 0.01, batch 4, float32, 5 images",
        ),
    ],
    ids=["simple-adam", "simple-every-option", "deep"],
)  # fmt: skip
def test_train_network_prints_each_epoch_of_what_the_library_trains(
    args: list[str], network: str, options: dict, header: str, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clock(monkeypatch, 100.0, 101.5)
    result = xpnn_cli("train", "--data-dir", str(mirror.root), *args)  # downloads the four files
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert len(mirror.server.requests) == 4
    batches = -(-options.get("train_size", 5) // options["batch_size"])
    _, history = _library_convnet_run(mirror, network, **options)
    assert result.stdout.splitlines() == [
        f"{header} on numpy cpu",
        *(
            f"epoch {e:>3} (iteration {e * batches:>6}) loss {loss:.4f} | test acc {acc:.4f}"
            for e, loss, acc in zip(history["epoch"], history["loss"], history["test_acc"])
        ),
        f"trained in 1.5 s; test accuracy {history['test_acc'][-1]:.4f}",
    ]


def test_train_network_runs_the_books_20_adam_epochs_on_unflattened_images_by_default(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: dict[str, Any] = {}

    def one_epoch(net: Any, x: Any, t: Any, **kw: Any) -> Any:  # records the call, then trains briefly
        asked.update(kw, net=net, x=x)
        return real(net, x, t, **{**kw, "epochs": 1})

    real = xpnn.nn.train_network
    monkeypatch.setattr(xpnn.nn, "train_network", one_epoch)
    result = xpnn_cli("train", "--data-dir", str(mirror.root), "--network", "simple_convnet")
    assert result.returncode == 0, result.stderr
    assert {k: asked[k] for k in ("optimizer", "lr", "batch_size", "epochs", "seed", "normalize")} == dict(
        optimizer="adam", lr=0.001, batch_size=100, epochs=20, seed=0, normalize=True
    )
    assert isinstance(asked["net"], xpnn.SimpleConvNet) and asked["net"].dtype == np.float32
    np.testing.assert_array_equal(
        xpnn.to_numpy(asked["net"].params["W1"]),
        xpnn.to_numpy(xpnn.SimpleConvNet(seed=0, dtype="float32").params["W1"]),
    )  # the book's weight_init_std=0.01 draw from --seed
    for x in (asked["x"], asked["x_test"]):  # (N, 1, 28, 28) bytes, divided by 255 on the device
        assert x.shape == (5, 1, 28, 28) and x.dtype == np.uint8


def test_train_network_mlp_is_the_default(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = []
    for network in ([], ["--network", "MLP"]):
        _clock(monkeypatch, 1.0, 2.0)
        runs.append(xpnn_cli("train", "--data-dir", str(mirror.root), "--iters", "3", *network))
    assert runs[0].returncode == 0 and runs[0].stdout == runs[1].stdout
    assert runs[0].stdout.startswith("784-50-10 relu, sgd lr 0.1, batch 100, float32, 5 images")


@pytest.mark.parametrize(
    "args, line",
    [
        (["--network", "simple_convnet", "--activation", "relu"], "--network simple_convnet takes no --activation (its activations are the book's ReLU layers): leave out --activation"),
        (["--network", "deep_convnet", "--sizes", "784,50,10"], "--network deep_convnet takes no --sizes (its layers are the book's): leave out --sizes"),
        (["--network", "simple_convnet", "--iters", "5"], "--network simple_convnet takes no --iters (it trains by epochs, as the book's Trainer: use --epochs): leave out --iters"),
        (["--network", "simple_convnet", "--weight-decay", "0.1"], "--network simple_convnet takes no --weight-decay (the book's CNNs train without weight decay): leave out --weight-decay"),
        (["--network", "deep_convnet", "--weight-init", "0.01"], "--network deep_convnet takes no --weight-init (the book draws its weights with He's scale): leave out --weight-init"),
        (["--network", "simple_convnet", "--weight-init", "he"], "--network simple_convnet takes --weight-init as a standard deviation such as 0.01 (the book's weight_init_std); got 'he'"),
        (["--network", "simple_convnet", "--weight-init", "-1"], "--network simple_convnet takes --weight-init as a standard deviation such as 0.01 (the book's weight_init_std); got '-1'"),
        (["--network", "simple_convnet", "--epochs", "0"], "--epochs must be a positive integer; got 0"),
        (["--network", "deep_convnet", "--train-size", "0"], "--train-size must be a positive integer; got 0"),
        (["--network", "simple_convnet", "--lr", "nan"], "--lr must be a positive finite number; got nan"),
        (["--network", "simple_convnet", "--out", "w.pkl"], "--out must name a .npz or .safetensors file; got 'w.pkl'"),
        (["--network", "deep_convnet", "--backend", "dask"], "xpnn train does not run on Dask: train with --backend numpy, torch, jax, cupy or array_api_strict, then evaluate on Dask: xpnn mnist --backend dask --weights FILE"),
        (["--network", "simple_convnet", "--backend", "tensorflow"], "unknown backend 'tensorflow'"),
    ],
)  # fmt: skip
def test_train_network_refuses_what_a_cnn_cannot_do_before_any_work(
    args: list[str], line: str, mirror: Mirror
) -> None:
    result = xpnn_cli("train", "--data-dir", str(mirror.root), *args)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.startswith(f"xpnn: error: {line}") and result.stderr.count("\n") == 1
    assert mirror.server.requests == [] and not mirror.root.exists()


def test_train_network_out_writes_the_trained_network(mirror: Mirror, tmp_path: Path) -> None:
    out = tmp_path / "cnn.npz"
    args = ("train", "--data-dir", str(mirror.root), "--network", "simple_convnet", "--epochs", "1")
    result = xpnn_cli(*args, "--out", str(out))
    assert result.returncode == 0, result.stderr
    evaluate = shlex.join(["xpnn", "mnist", "--weights", str(out), "--data-dir", str(mirror.root)])
    assert result.stdout.splitlines()[-2:] == [f"weights written to {out}", f"evaluate them with: {evaluate}"]
    trained, _ = _library_convnet_run(
        mirror, "simple_convnet", weight_init_std=0.01, dtype="float32", optimizer="adam", lr=0.001,
        batch_size=100, epochs=1, seed=0,
    )  # fmt: skip
    written = xpnn.load_weights(out)
    for key, value in trained.params.items():
        np.testing.assert_array_equal(xpnn.to_numpy(written.params[key]), xpnn.to_numpy(value))


def test_a_trained_cnn_file_is_evaluated_and_exported_as_its_layers(mirror: Mirror, tmp_path: Path) -> None:
    """``xpnn train --network simple_convnet --out F``, then the command it prints, and ``export``:
    the file's layers run, on (N, 1, 28, 28) images, with no activation warning."""
    out = tmp_path / "cnn.npz"
    data = ("--data-dir", str(mirror.root))
    trained = xpnn_cli("train", *data, "--network", "simple_convnet", "--epochs", "1", "--out", str(out))
    assert trained.returncode == 0, trained.stderr
    command = shlex.split(trained.stdout.splitlines()[-1].removeprefix("evaluate them with: "))
    assert command[:2] == ["xpnn", "mnist"]
    result = xpnn_cli(*command[1:], "--batch-size", "2")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    net = xpnn.load_weights(out)
    right = xpnn.accuracy(net, mirror.x.reshape(5, 1, 28, 28), mirror.t, normalize=True)
    assert result.stdout.splitlines()[0] == f"Accuracy:{right}"
    assert result.stdout.splitlines()[1].endswith(" on numpy cpu, batch size 2")
    refused = xpnn_cli(*command[1:], "--activation", "relu")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (
        f"xpnn: error: --activation relu does not apply to {out}: it is a layer network, whose"
        " activations are its layers: leave out --activation\n"
    )
    if importlib.util.find_spec("ndonnx") is not None and importlib.util.find_spec("onnx") is not None:
        model = tmp_path / "cnn.onnx"
        exported = xpnn_cli("export", "--weights", str(out), "--out", str(model), "--output", "argmax")
        assert (exported.returncode, exported.stderr) == (0, "")
        assert exported.stdout == (
            f"wrote {model}: 1x28x28 Convolution-Relu-Pooling-Affine-Relu-Affine network, input 'input'"
            " (float32), output 'label', opset 21\n"
        )


@pytest.mark.parametrize("command", ["mnist", "export"])
def test_a_weights_file_that_is_no_mnist_network_is_refused_before_any_download(
    command: str, mirror: Mirror, tmp_path: Path
) -> None:
    """A 2-3-2-2 network cannot read MNIST: ``mnist`` says so before fetching the test set (the
    library would fail on the first label only after it); ``export`` writes any network."""
    toy = xpnn.save_weights(xpnn.init_network(), tmp_path / "toy.npz")
    if command == "export":
        _need("ndonnx")
        result = xpnn_cli("export", "--weights", str(toy), "--out", str(tmp_path / "toy.onnx"))
        assert result.returncode == 0 and result.stdout.startswith(
            f"wrote {tmp_path / 'toy.onnx'}: 2-3-2-2 sigmoid"
        )
        return
    result = xpnn_cli("mnist", "--data-dir", str(mirror.root), "--weights", str(toy))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1] == (
        f"xpnn: error: {toy} is a network of 2 inputs and 2 outputs; MNIST needs 784 (or 1x28x28)"
        " inputs and 10 outputs: name weights trained on MNIST (xpnn train --out FILE writes them)"
    )
    assert mirror.server.requests == [] and not mirror.root.exists()


@pytest.mark.parametrize("sizes", [[784, 1, 5], [5, 1, 10]])
def test_mnist_refuses_a_network_with_either_side_wrong_before_any_download(
    sizes: list[int], mirror: Mirror, tmp_path: Path
) -> None:
    """MNIST inputs but not 10 classes (or 10 classes of other inputs) is refused as well."""
    wrong = xpnn.save_weights(xpnn.random_network(sizes, seed=0), tmp_path / "wrong.npz")
    result = xpnn_cli("mnist", "--data-dir", str(mirror.root), "--weights", str(wrong))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(
        f"xpnn: error: {wrong} is a network of {sizes[0]} inputs and {sizes[-1]} outputs; MNIST needs"
    )
    assert mirror.server.requests == [] and not mirror.root.exists()


def test_mnist_network_checks_the_device_and_honours_no_download(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mnist --network``: a device the backend has not is refused before any download, and
    ``--no-download`` fetches nothing (the CNN's file comes from our mirror, where it is not)."""
    book = weights.SAMPLE_CONVNETS["simple_convnet"]
    mine = RemoteFile(book.name, book.sha256, [f"{mirror.server.base}/good/"])
    monkeypatch.setitem(weights.SAMPLE_CONVNETS, "simple_convnet", mine)
    args = ("mnist", "--network", "simple_convnet", "--data-dir", str(mirror.root))
    _refused_before_any_work(
        xpnn_cli(*args, "--device", "cuda"),
        mirror,
        "backend 'numpy' takes device=only the device 'cpu'; got 'cuda'",
    )
    offline = xpnn_cli(*args, "--no-download")
    assert (offline.returncode, offline.stdout) == (2, "") and offline.stderr.count("\n") == 1
    assert "Downloading is off" in offline.stderr and "params.pkl" in offline.stderr
    assert mirror.server.requests == []


@pytest.mark.sessions("jax")
def test_mnist_compiled_for_jax_takes_the_device_asked_for(mirror: Mirror) -> None:
    if not COMPILE_JAX:
        pytest.skip("compile('jax') is tested in the JAX session")
    pytest.importorskip("jax")
    result = xpnn_cli("mnist", "--compile", "jax", "--device", "tpu", "--data-dir", str(mirror.root))
    assert (result.returncode, result.stdout) == (2, "") and result.stderr.count("\n") == 1
    assert result.stderr.startswith("xpnn: error: jax has no device 'tpu'"), result.stderr


class OutOfMemoryError(RuntimeError):
    """What PyTorch raises when a device's memory runs out (``torch.OutOfMemoryError``, by name)."""


@pytest.mark.parametrize(
    "error",
    [
        MemoryError(
            "Unable to allocate 584. GiB for an array with shape (784, 100000000) and data type float64"
        ),
        OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 292.00 GiB.\nGPU 0 has a total capacity of 79 GiB"
        ),
    ],
    ids=["numpy", "torch"],
)
def test_running_out_of_memory_is_one_line_naming_what_to_make_smaller(
    error: Exception, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xpnn import training

    def too_big(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(training, "train", too_big)
    result = xpnn_cli("train", "--data-dir", str(mirror.root), "--no-progress")
    assert result.returncode == 2
    assert result.stderr == (
        f"xpnn: error: out of memory ({' '.join(str(error).split())}): try a smaller --batch-size or --sizes\n"
    )


def test_a_bug_is_not_dressed_as_a_user_error(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any other exception keeps its traceback: it is what a bug report needs."""
    from xpnn import training

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(training, "train", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["train", "--data-dir", str(mirror.root), "--iters", "1"])


class _Closed(io.StringIO):
    """Standard output whose reader has left (``xpnn backends | head -0``): every write fails."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


class _ClosedFile(_Closed):
    """Such an output that is closed too: it has no file descriptor left (``ValueError``)."""

    def fileno(self) -> int:
        raise ValueError("I/O operation on closed file")


@pytest.mark.parametrize("stdout", [_Closed, _ClosedFile])
def test_a_reader_that_leaves_early_ends_the_command_quietly(stdout: type[io.StringIO]) -> None:
    err = io.StringIO()
    with redirect_stdout(stdout()), redirect_stderr(err):
        status = cli.main(["backends"])
    assert (status, err.getvalue()) == (141, "")


@pytest.mark.parametrize("where", ["training", "writing"])
def test_ctrl_c_is_one_line_status_130_and_leaves_no_file(
    where: str, mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while ``xpnn train`` trains, or halfway through writing ``--out``: no traceback, and
    neither the file nor a part of it is left in the folder."""
    from xpnn import training

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        if where == "writing":
            args[0].write(b"PK half a file")  # np.savez(file, ...): some bytes, then Ctrl-C
        raise KeyboardInterrupt

    if where == "training":
        monkeypatch.setattr(training, "train", interrupted)
    else:
        monkeypatch.setattr(np, "savez", interrupted)
    folder = tmp_path / "out"
    folder.mkdir()
    result = xpnn_cli(
        "train", "--data-dir", str(mirror.root), "--iters", "1", "--out", str(folder / "net.npz")
    )
    assert result.returncode == 130
    assert result.stderr == (
        "xpnn: interrupted: train stopped; nothing was left half-written (files are written whole"
        " or not at all)\n"
    )
    assert list(folder.iterdir()) == []
