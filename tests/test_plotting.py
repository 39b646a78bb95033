"""Pictures: save_image, img_show (which writes nothing where there is no display), digit grids."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import Case

import xpnn


@pytest.mark.parametrize("shape", [(784,), (28, 28), (1, 28, 28)])
def test_save_image_from_any_backend(backend: Case, tmp_path: Path, shape) -> None:
    from PIL import Image

    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    path = xpnn.save_image(backend.asarray(img.astype(np.float32) / 255), tmp_path / "d.png", scale=1)
    with Image.open(path) as picture:
        np.testing.assert_array_equal(np.asarray(picture), img.reshape(28, 28))


@pytest.mark.parametrize("scale", [None, 1, 3])
def test_save_image_scales_each_pixel_to_a_square(tmp_path: Path, scale) -> None:
    from PIL import Image

    img = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    kwargs = {} if scale is None else {"scale": scale}
    path = xpnn.save_image(img, tmp_path / "d.png", **kwargs)
    k = 8 if scale is None else scale  # the default makes a digit big enough to see
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        np.testing.assert_array_equal(np.asarray(picture), np.kron(img, np.ones((k, k), np.uint8)))


@pytest.mark.parametrize("name", ["d.jpg", "d.JPEG"])
def test_save_image_writes_jpeg_for_a_jpeg_name(tmp_path: Path, name: str) -> None:
    from PIL import Image

    img = np.zeros((28, 28), dtype=np.uint8)
    img[4:24, 10:18] = 255  # a bar, so that the JPEG has something to blur
    path = xpnn.save_image(img, tmp_path / name)
    with Image.open(path) as picture:
        assert picture.format == "JPEG" and picture.size == (224, 224)
        pixels = np.asarray(picture).astype(int)
    expected = np.kron(img, np.ones((8, 8), np.uint8)).astype(int)
    assert np.abs(pixels - expected).mean() < 8, "lossy, but the same picture"


def test_save_image_refuses_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.png, \.jpg or \.jpeg"):
        xpnn.save_image(np.zeros((28, 28)), tmp_path / "d.gif")
    assert not (tmp_path / "d.gif").exists()


@pytest.mark.parametrize("scale", [0, -2, 1.5, True, "8"])
def test_bad_scale(tmp_path: Path, scale) -> None:
    with pytest.raises(ValueError, match="scale must be a positive integer"):
        xpnn.save_image(np.zeros((28, 28)), tmp_path / "d.png", scale=scale)
    with pytest.raises(ValueError, match="scale must be a positive integer"):
        xpnn.img_show(np.zeros((28, 28)), scale=scale)


@pytest.mark.parametrize(
    "platform, display",
    [
        ("linux", {"DISPLAY": ":0"}),
        ("linux", {"WAYLAND_DISPLAY": "wayland-0"}),
        ("darwin", {}),
        ("win32", {}),
    ],
)
def test_img_show_with_a_display_shows_the_scaled_picture(monkeypatch, platform: str, display: dict) -> None:
    from PIL import Image

    shown = []
    monkeypatch.setattr("sys.platform", platform)
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in display.items():  # X11 or Wayland on Linux; macOS and Windows always have one
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(Image.Image, "show", lambda self, *a, **k: shown.append(self.size))
    assert xpnn.img_show(np.zeros(784, dtype=np.uint8)) is None
    assert xpnn.img_show(np.zeros(784, dtype=np.uint8), scale=2) is None
    assert shown == [(224, 224), (56, 56)]


def test_img_show_without_a_display_writes_no_file(monkeypatch, capsys, tmp_path: Path) -> None:
    """A temporary PNG per call would pile up: without a display nothing is written, and it says so."""
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.chdir(tmp_path)
    for _ in range(3):
        assert xpnn.img_show(np.zeros((28, 28), dtype=np.uint8)) is None
    assert list(tmp_path.iterdir()) == []
    assert (
        capsys.readouterr().out
        == (
            "no display here: nothing shown; xpnn.save_image(img, 'digit.png') writes the picture to a file\n"
        )
        * 3
    )


def test_bad_image_shapes() -> None:
    with pytest.raises(ValueError, match="square number of pixels"):
        xpnn.save_image(np.zeros(783), "x.png")
    with pytest.raises(ValueError, match=r"got \(2, 28, 28\)"):
        xpnn.save_image(np.zeros((2, 28, 28)), "x.png")


#: What every missing extra says (xpnn.backends.missing_extra), here for the ``plot`` extra.
PLOT = "needs the `plot` extra: pip install 'xpnn[plot]' (in a clone: pip install -e '.[plot]')"


@pytest.mark.parametrize("call", ["save_image", "img_show"])
def test_without_pillow_the_error_names_the_extra(call: str, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now raises ImportError
    args = (tmp_path / "d.png",) if call == "save_image" else ()
    with pytest.raises(ImportError) as error:
        getattr(xpnn, call)(np.zeros((28, 28)), *args)
    assert str(error.value) == (
        f"{call} {PLOT}; Pillow cannot be imported here (import of PIL halted; None in sys.modules)"
    )
    assert list(tmp_path.iterdir()) == []


def test_without_matplotlib_the_grid_error_names_the_extra(monkeypatch, tmp_path: Path) -> None:
    for module in ("matplotlib", "matplotlib.figure"):  # both: an earlier test may have imported them
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError) as error:
        xpnn.save_digit_grid(np.zeros((1, 28, 28)), [1], [1], tmp_path / "g.png")
    # the cause in parentheses is Python's own words, which depend on what was imported before
    assert str(error.value).startswith(f"save_digit_grid {PLOT}; matplotlib cannot be imported here (")
    assert list(tmp_path.iterdir()) == []


def _red_pixels(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as picture:
        rgb = np.asarray(picture.convert("RGB")).astype(int)
    return int(((rgb[..., 0] > 200) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)).sum())


@pytest.mark.parametrize("columns", [10, 4])
def test_save_digit_grid_lays_out_the_digits_and_frames_the_mistakes(
    backend: Case, tmp_path: Path, columns
) -> None:
    pytest.importorskip("matplotlib", reason="digit grids need matplotlib")
    from PIL import Image

    images = np.random.default_rng(2).random((12, 784), dtype=np.float32)
    labels = np.arange(12) % 10
    right = xpnn.save_digit_grid(
        backend.asarray(images), labels, labels, tmp_path / "right.png", columns=columns
    )
    rows = -(-12 // columns)
    with Image.open(right) as picture:
        assert picture.format == "PNG" and picture.size == (round(columns * 110), round(rows * 125))
    assert _red_pixels(right) == 0
    predicted = labels.copy()
    predicted[3] = (predicted[3] + 1) % 10
    one_hot = np.eye(10, dtype=np.float32)[labels]  # one-hot labels are read as their argmax
    wrong = xpnn.save_digit_grid(
        images, predicted, one_hot, tmp_path / "wrong.jpg", columns=columns, title="t"
    )
    with Image.open(wrong) as picture:
        assert picture.format == "JPEG" and picture.size == (round(columns * 110), round(rows * 125 + 40))
    assert _red_pixels(wrong) > 100  # one red frame and title


def test_save_digit_grid_refuses_mismatched_lengths(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="digit grids need matplotlib")
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    with pytest.raises(ValueError, match="^3 images, 2 predictions and 3 labels$"):
        xpnn.save_digit_grid(images, [1, 2], [1, 2, 3], tmp_path / "g.png")
    assert list(tmp_path.iterdir()) == []


def test_save_digit_grid_draws_gray_digits_on_a_fixed_scale_with_marked_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each panel: the digit in gray_r on 0..255 (a faint digit stays faint), its title
    ``predicted (true)`` at 9 pt, red with a thick red frame when wrong, else black with a thin gray one;
    the picture's size does not depend on the user's matplotlib settings."""
    pytest.importorskip("matplotlib", reason="digit grids need matplotlib")
    import matplotlib
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure
    from PIL import Image

    figures = []
    savefig = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda self, *a, **k: figures.append(self) or savefig(self, *a, **k)
    )
    faint = np.full((2, 28, 28), 100, dtype=np.uint8)  # uint8 pixels 100..120, none 0 nor 255
    faint[:, 10:18, 12:16] = 120
    with matplotlib.rc_context({"figure.dpi": 50, "image.cmap": "viridis"}):
        path = xpnn.save_digit_grid(faint, [3, 5], [3, 4], tmp_path / "g.png", columns=2)
    with Image.open(path) as picture:
        assert picture.size == (220, 125)  # 1.1 x 1.25 inches per digit at 100 dpi
    (fig,) = figures
    right, wrong = fig.axes
    for ax, title, color, frame, width in (
        (right, "3 (3)", "black", "lightgray", 0.5),
        (wrong, "5 (4)", "red", "red", 2.5),
    ):
        (image,) = ax.get_images()
        assert (image.get_cmap().name, image.norm.vmin, image.norm.vmax) == ("gray_r", 0, 255)
        assert ax.get_title() == title and ax.title.get_fontsize() == 9
        assert to_rgba(ax.title.get_color()) == to_rgba(color)
        for spine in ax.spines.values():
            assert (to_rgba(spine.get_edgecolor()), spine.get_linewidth()) == (to_rgba(frame), width)
        assert (list(ax.get_xticks()), list(ax.get_yticks())) == ([], [])
