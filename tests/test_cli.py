"""The ``xpnn`` command: output, and one clear line with exit status 2 for user errors."""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from conftest import BOOK_ACCURACY, COMPILE_JAX, Case
from idx import tiny_mnist, tiny_mnist_files
from local_http import closed_port, serve
from test_export import _need

import xpnn
from xpnn import cli, mnist, weights
from xpnn._data import RemoteFile


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


def test_the_command_runs_as_a_program(tmp_path: Path) -> None:
    """The entry point itself, in a fresh interpreter with warnings as errors: output and exit status."""
    run = [sys.executable, "-W", "error", "-m", "xpnn.cli"]
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
    "args, message", [(["--backend", "tensorflow"], "unknown backend"), (["--batch-size", "0"], "batch_size")]
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


def test_a_multi_line_error_is_printed_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise xpnn.DataError("first line\nsecond line\n  third, indented")

    monkeypatch.setattr(cli, "load_mnist", broken)  # the name the command calls
    status, out, err = run_main(capsys, "mnist", "--no-download")
    assert (status, out) == (2, "")
    assert err == "xpnn: error: first line second line third, indented\n"


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(13, "Permission denied", "/data/weights/sample_weight.pkl"),
        IsADirectoryError(21, "Is a directory", "/data/mnist/t10k-images-idx3-ubyte.gz"),
    ],
)
def test_os_errors_on_a_path_are_one_line_naming_it(
    error: OSError, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(cli, "load_mnist", broken)  # the name the command calls
    status, out, err = run_main(capsys, "mnist", "--no-download")
    assert (status, out) == (2, "")
    assert err == f"xpnn: error: {error.filename}: {error.strerror}\n"


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


@pytest.mark.parametrize("target", ["onnxruntime", "jax"])
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


def test_mnist_compiled_refuses_a_backend_before_any_download(tmp_path: Path) -> None:
    result = xpnn_cli("mnist", "--compile", "onnxruntime", "--backend", "torch", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert (
        "--compile onnxruntime runs on its own runtime, not on --backend torch: leave out --backend"
        in result.stderr
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


@pytest.mark.parametrize(
    "args, message",
    [
        (["--iters", "0"], "--iters must be a positive integer"),
        (["--iters", "-5"], "--iters must be a positive integer"),
        (["--epochs", "0"], "--epochs must be a positive integer"),
        (["--train-size", "0"], "--train-size must be a positive integer"),
        (["--train-size", "-59990"], "--train-size must be a positive integer"),
        (["--batch-size", "0"], "--batch-size must be a positive integer"),
        (["--seed", "-1"], "--seed must be a non-negative integer"),
        (["--lr", "nan"], "--lr must be a positive finite number"),
        (["--lr", "-0.1"], "--lr must be a positive finite number"),
        (["--weight-decay", "-1"], "--weight-decay must be a non-negative"),
        (["--optimizer", "lbfgs"], "--optimizer must be one of sgd"),
    ],
)
def test_train_refuses_impossible_settings_before_loading_data(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an empty data directory and --no-download: loading data first would fail naming a file
    assert cli.main(["train", *args, "--data-dir", str(tmp_path), "--no-download"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("xpnn: error: "), err
    assert message in err, err
    assert list(tmp_path.iterdir()) == []
