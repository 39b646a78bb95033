"""The examples run as a user runs them, on each backend under test."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import reference
from conftest import BOOK_ACCURACY, REQUESTED, Case, tolerance

import xpnn

EXAMPLES = Path(__file__).parent.parent / "examples"


def run_example(
    name: str, *args: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def parse_array(line: str) -> np.ndarray:
    return np.array([float(v) for v in line.strip("[] \n").split()])


def test_three_layer_example(backend: Case) -> None:
    out = run_example("three_layer.py", *backend.cli_args).stdout.splitlines()
    net = xpnn.to_backend(xpnn.init_network(), backend.name)
    rtol = tolerance(net.dtype)
    atol = 5e-9  # NumPy prints 8 decimals
    expected = reference.forward(xpnn.init_network(), np.array([1.0, 0.5]))
    np.testing.assert_allclose(parse_array(out[1]), expected, rtol=rtol, atol=atol)
    np.testing.assert_allclose(
        parse_array(out[2]), reference.softmax(np.array([0.3, 2.9, 4.0])), rtol=rtol, atol=atol
    )


def test_three_layer_example_unusable_backend_is_one_clear_line() -> None:
    result = run_example("three_layer.py", "--backend", "no-such-backend", check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown backend 'no-such-backend'" in result.stderr


def test_mnist_inference_example(backend: Case, real_data_dir) -> None:
    out = run_example(
        "mnist_inference.py", *backend.cli_args, "--data-dir", str(real_data_dir), "--no-download"
    )
    lines = out.stdout.splitlines()
    assert lines[:2] == [
        f"Accuracy:{BOOK_ACCURACY} (one image at a time)",  # the book's line, labelled
        f"Accuracy:{BOOK_ACCURACY} (batches of 100)",
    ]
    assert lines[2].split() == ["X", "W1", "W2", "W3", "->", "Y"]
    assert lines[3].split() == [
        "100",
        "x",
        "784",
        "784",
        "x",
        "50",
        "50",
        "x",
        "100",
        "100",
        "x",
        "10",
        "->",
        "100",
        "x",
        "10",
    ]


def test_mnist_inference_example_without_data(tmp_path) -> None:
    result = run_example("mnist_inference.py", "--data-dir", str(tmp_path), "--no-download", check=False)
    assert result.returncode == 2
    assert (
        result.stderr.count("\n") == 1
        and "t10k-images-idx3-ubyte.gz" in result.stderr
        and str(tmp_path) in result.stderr
    )


def test_show_digits_writes_a_png_grid(real_data_dir, tmp_path) -> None:
    from PIL import Image

    out = tmp_path / "digits.png"
    result = run_example(
        "show_digits.py",
        "--data-dir",
        str(real_data_dir),
        "--out",
        str(out),
        "--count",
        "20",
        "--no-download",
    )
    assert "wrote" in result.stdout and "20 digits" in result.stdout
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 500 and image.height > 200
        pixels = np.asarray(image.convert("RGB")).astype(int)
    reds = (pixels[..., 0] > 200) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    wrong = int(result.stdout.split(", ")[1].split()[0])
    assert (reds.sum() > 0) == (wrong > 0), "misclassified digits are framed in red"


def test_gpu_batch_inference_example_on_a_cpu(real_data_dir) -> None:
    result = run_example(
        "gpu_batch_inference.py",
        "--backend",
        "numpy",
        "--n-images",
        "30000",
        "--batch-size",
        "5000",
        "--repeat",
        "1",
        "--sweep",
        "1000,5000",
        "--data-dir",
        str(real_data_dir),
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("device: numpy")
    assert f"accuracy: {BOOK_ACCURACY:.4f}" in lines, "the tiled test set keeps the test set's accuracy"
    assert any(line.startswith("throughput:") and "images/s" in line for line in lines)
    assert lines[-2].startswith("| 1,000 |") and lines[-1].startswith("| 5,000 |")


def test_gpu_batch_inference_example_without_a_gpu_is_one_line(tmp_path) -> None:
    if xpnn.backend_status()["cupy"].available:
        pytest.skip("CuPy is usable here")
    result = run_example("gpu_batch_inference.py", "--data-dir", str(tmp_path), check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--backend numpy" in result.stderr
    if importlib.util.find_spec("cupy") is None:
        assert "cupy is not installed" in result.stderr and "nvidia-smi" not in result.stderr


def test_gpu_batch_inference_reduced_dtype_on_cpu_is_refused(tmp_path) -> None:
    result = run_example(
        "gpu_batch_inference.py",
        "--backend",
        "numpy",
        "--dtype",
        "float16",
        "--data-dir",
        str(tmp_path),
        check=False,
    )
    assert result.returncode == 2 and "for GPU backends" in result.stderr


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The example failed as a user error: status 2 and one line on stderr, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def _once_in(name: str) -> Any:
    """A test that runs once, in ``name``'s session (skipped elsewhere; see conftest's sessions mark)."""
    skip = pytest.mark.skipif(name not in REQUESTED, reason=f"runs once, in the {name} session")
    return lambda test: pytest.mark.sessions(name)(skip(test))


only_in = {name: _once_in(name) for name in ("numpy", "torch", "dask")}


def _without_matplotlib(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import matplotlib`` fails as it does where it is not installed."""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "matplotlib.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'matplotlib'\", name='matplotlib')\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(hidden), *filter(None, [env.get("PYTHONPATH")])])
    return env


#: What every missing extra says (xpnn.backends.missing_extra), here for the ``plot`` extra.
PLOT = "needs the `plot` extra: pip install 'xpnn[plot]' (in a clone: pip install -e '.[plot]')"


@only_in["numpy"]
def test_show_digits_without_matplotlib_is_one_line(tmp_path: Path) -> None:
    env = _without_matplotlib(tmp_path)
    out = tmp_path / "digits.png"
    result = run_example(
        "show_digits.py",
        "--out",
        str(out),
        "--data-dir",
        str(tmp_path),
        "--no-download",
        check=False,
        env=env,
    )
    stderr = one_line_error(result)
    assert stderr == f"error: show_digits.py {PLOT}; No module named 'matplotlib'\n"
    assert not out.exists()


@only_in["numpy"]
def test_train_mnist_needs_matplotlib_only_for_a_plot(real_data_dir: Path, tmp_path: Path) -> None:
    env = _without_matplotlib(tmp_path)
    args = ["--iters", "2", "--train-size", "200", "--data-dir", str(real_data_dir), "--no-download"]
    result = run_example("train_mnist.py", *args, env=env)
    assert result.stdout.startswith("train acc, test acc | ") and "learning curve" not in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hidden"], "no picture unless --plot names one"
    plot = run_example("train_mnist.py", *args, "--plot", str(tmp_path / "c.png"), check=False, env=env)
    assert one_line_error(plot) == f"error: --plot {PLOT}; No module named 'matplotlib'\n"
    assert plot.stdout == "" and not (tmp_path / "c.png").exists()


@only_in["numpy"]
def test_show_digits_refuses_a_format_it_cannot_write(tmp_path: Path) -> None:
    out = tmp_path / "digits.gif"
    result = run_example("show_digits.py", "--out", str(out), "--data-dir", str(tmp_path), check=False)
    assert ".png or .jpg" in one_line_error(result)
    assert not out.exists()


@only_in["numpy"]
def test_show_digits_writes_a_jpeg_for_a_jpg_name(real_data_dir, tmp_path) -> None:
    from PIL import Image

    out = tmp_path / "digits.jpg"
    args = ["--data-dir", str(real_data_dir), "--out", str(out), "--count", "10", "--no-download"]
    result = run_example("show_digits.py", *args)
    assert f"wrote {out}" in result.stdout
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.width > 500


@only_in["torch"]
def test_gpu_example_on_a_cpu_only_pytorch_says_so(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.version.cuda is not None or torch.cuda.is_available():
        pytest.skip("this PyTorch is a CUDA build")
    result = run_example(
        "gpu_batch_inference.py",
        "--backend",
        "torch",
        "--device",
        "cuda",
        "--data-dir",
        str(tmp_path),
        check=False,
    )
    stderr = one_line_error(result)
    assert "CPU-only build" in stderr and "nvidia-smi" not in stderr


def _closed_port() -> int:
    """A local TCP port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@only_in["dask"]
def test_dask_example_with_no_scheduler_listening_is_one_line(real_data_dir) -> None:
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_closed_port()}"
    args = ["--scheduler", address, "--synthetic", "1000", "--data-dir", str(real_data_dir)]
    result = run_example("dask_batch_inference.py", *args, check=False)
    stderr = one_line_error(result)
    assert f"cannot reach a Dask scheduler at {address!r}" in stderr and "after 3 s" in stderr


@only_in["dask"]
def test_dask_example_with_a_bad_scheduler_address_is_one_line(real_data_dir) -> None:
    pytest.importorskip("distributed")
    args = ["--scheduler", "no-port-here", "--synthetic", "1000", "--data-dir", str(real_data_dir)]
    result = run_example("dask_batch_inference.py", *args, check=False)
    assert "missing port number" in one_line_error(result)


@only_in["dask"]
def test_dask_example_cuda_without_cupy_says_cupy_is_missing(real_data_dir) -> None:
    pytest.importorskip("distributed")
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here")
    result = run_example("dask_batch_inference.py", "--cuda", "--data-dir", str(real_data_dir), check=False)
    stderr = one_line_error(result)
    assert "cupy is not installed" in stderr and "pip install cupy-cuda12x" in stderr
    assert "nvidia-smi" not in stderr  # no pointing at drivers


@only_in["numpy"]
@pytest.mark.parametrize(
    "args", [["--count", "0"], ["--count", "-3"], ["--count", "100000"], ["--start", "-1"]]
)
def test_show_digits_refuses_a_count_it_cannot_draw(tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "digits.png"
    result = run_example("show_digits.py", "--out", str(out), "--data-dir", str(tmp_path), *args, check=False)
    assert "--count must be 1 to 400" in one_line_error(result)
    assert not out.exists()


@only_in["numpy"]
def test_show_digits_start_past_the_end_is_one_line(real_data_dir, tmp_path: Path) -> None:
    out = tmp_path / "digits.png"
    args = ["--out", str(out), "--data-dir", str(real_data_dir), "--no-download", "--start", "10000"]
    result = run_example("show_digits.py", *args, check=False)
    assert "there are 10000 test digits" in one_line_error(result)
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--iters", "0"], "--iters must be a positive integer"),
        (["--train-size", "-5"], "--train-size must be a positive integer"),
        (["--backend", "dask"], "training does not run on Dask"),
        (["--plot", "/nonexistent/c.png"], "is not a folder this user can write to"),
        (["--plot", "curve.docx"], "name an image file ending in one of"),
    ],
)
def test_train_mnist_user_errors_are_one_line_before_training(
    args: list[str], message: str, tmp_path: Path
) -> None:
    # an empty data directory and --no-download: reaching the data would fail naming a file instead
    result = run_example("train_mnist.py", *args, "--data-dir", str(tmp_path), "--no-download", check=False)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_train_convnet_example_quick_run_is_the_books_trainer(
    backend: Case, real_data_dir: Path, tmp_path: Path
) -> None:
    """examples/train_convnet.py --quick (the book's ch. 7 run, 2 epochs on 300 images): its
    learning curve, and the test accuracy the library's Trainer loop gives with the same settings."""
    out = tmp_path / "curve.png"
    args = ["--quick", "--data-dir", str(real_data_dir), "--no-download", "--out", str(out)]
    result = run_example("train_convnet.py", *args, *backend.cli_args, check=backend.name != "dask")
    if backend.name == "dask":  # Dask predicts but does not train: one line, no figure
        assert one_line_error(result).startswith("error: training does not run on Dask")
        assert not out.exists()
        return
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("result: SimpleConvNet ")]
    got = dict(pair.split("=") for pair in line.split()[2:])
    data = {"data_dir": real_data_dir, "download": False, "normalize": False, "flatten": False}
    x, t = xpnn.load_mnist(split="train", **data)
    x_test, t_test = xpnn.load_mnist(split="test", **data)
    net = xpnn.SimpleConvNet(seed=0, dtype="float32", backend=backend.name, device=backend.device)
    _, history = xpnn.nn.train_network(
        net,
        x[:300],
        t[:300],
        epochs=2,
        batch_size=100,
        normalize=True,
        x_test=x_test[:1000],
        t_test=t_test[:1000],
    )
    assert float(got["test_acc"]) == pytest.approx(history["test_acc"][-1], abs=2e-3)
    assert float(got["final_loss"]) == pytest.approx(history["loss"][-1], abs=1e-3)
    assert 0.0 <= float(got["train_acc"]) <= 1.0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "error: --epochs must be >= 1; got 0"),
        (["--train-size", "-3"], "error: --train-size must be >= 1; got -3"),
        (["--backend", "no-such-backend"], "error: unknown backend 'no-such-backend'"),
    ],
)
def test_train_convnet_example_user_errors_are_one_line(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = run_example("train_convnet.py", *args, "--data-dir", str(tmp_path), "--no-download", check=False)
    assert one_line_error(result).startswith(message) and result.stdout == ""
