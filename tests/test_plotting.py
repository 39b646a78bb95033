"""Pictures: save_image and img_show (which saves a PNG where there is no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import Case

import xpnn


@pytest.mark.parametrize("shape", [(784,), (28, 28), (1, 28, 28)])
def test_save_image_from_any_backend(backend: Case, tmp_path: Path, shape) -> None:
    from PIL import Image

    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    path = xpnn.save_image(backend.asarray(img.astype(np.float32) / 255), tmp_path / "d.png")
    with Image.open(path) as picture:
        np.testing.assert_array_equal(np.asarray(picture), img.reshape(28, 28))


def test_img_show_without_a_display_saves_a_png(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    path = xpnn.img_show(np.zeros((28, 28), dtype=np.uint8))
    assert path is not None and path.is_file() and path.parent == tmp_path
    assert f"saved the image to {path}" in capsys.readouterr().out


def test_bad_image_shapes() -> None:
    with pytest.raises(ValueError, match="square number of pixels"):
        xpnn.save_image(np.zeros(783), "x.png")
    with pytest.raises(ValueError, match=r"got \(2, 28, 28\)"):
        xpnn.save_image(np.zeros((2, 28, 28)), "x.png")
