"""Pictures of digits: the book's ``img_show``, ``save_image``, and a labelled grid.

Pillow writes single images and matplotlib draws grids, as PNG or JPEG; both come with the
``plot`` extra (``pip install 'xpnn[plot]'``) and are imported only when a picture is asked for.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .backends import missing_extra, to_numpy
from .io import write_atomic

__all__ = ["img_show", "save_digit_grid", "save_image"]


def _as_uint8_image(img: Any) -> np.ndarray:
    """A (28, 28)-like uint8 picture from a flat, (H, W) or (1, H, W) image, uint8 or in [0, 1]."""
    a = to_numpy(img)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 1:
        side = round(a.size**0.5)
        if side * side != a.size:
            raise ValueError(f"a flat image must have a square number of pixels; got {a.size}")
        a = a.reshape(side, side)
    if a.ndim != 2:
        raise ValueError(f"an image has shape (H, W), (1, H, W) or (H*W,); got {a.shape}")
    if a.dtype.kind == "f":
        # The book shows normalized images too: [0, 1] floats map to 0..255.
        scale = 255.0 if a.max(initial=0.0) <= 1.0 else 1.0
        a = np.clip(np.rint(a * scale), 0, 255)
    return a.astype(np.uint8)


def _pil(what: str) -> Any:
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError(f"{missing_extra(what, 'plot')}; Pillow cannot be imported here ({e})") from e
    return Image


def _picture(img: Any, scale: int, what: str) -> Any:
    """A Pillow image of ``img``, each pixel drawn as a ``scale`` x ``scale`` square."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(
            f"scale must be a positive integer (8 draws each pixel as an 8 x 8 square); got {scale!r}"
        )
    Image = _pil(what)
    picture = Image.fromarray(_as_uint8_image(img), mode="L")
    if scale == 1:
        return picture
    # Nearest neighbour keeps the pixels square and sharp: a 28 x 28 digit stays a digit.
    return picture.resize((picture.width * int(scale), picture.height * int(scale)), Image.NEAREST)


#: How much :func:`save_image` and :func:`img_show` enlarge a picture by default: a 28 x 28
#: MNIST digit becomes 224 x 224 pixels, big enough to see on a screen.
DEFAULT_SCALE = 8

#: Formats :func:`save_image` writes, by file suffix (case-insensitive).
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def _format(path: Path) -> str:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(
            f"cannot tell the image format of {str(path)!r}: use a name ending in .png, .jpg or .jpeg"
        ) from None


def save_image(img: Any, path: str | os.PathLike[str], *, scale: int = DEFAULT_SCALE) -> Path:
    """Write one image (any backend's array, uint8 or in [0, 1]) as a PNG or JPEG; returns the path.

    The format follows the suffix (``.png``, ``.jpg``, ``.jpeg``). Each pixel is drawn as a
    ``scale`` x ``scale`` square (default 8: a 28 x 28 digit becomes 224 x 224); ``scale=1``
    keeps the image's own size. Example: ``save_image(x_test[0], "digit.png")``.
    """
    path = Path(path)
    image_format = _format(path)
    picture = _picture(img, scale, "save_image")
    write_atomic(path, lambda f: picture.save(f, format=image_format))
    return path


def _has_display() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def img_show(img: Any, *, scale: int = DEFAULT_SCALE) -> None:
    """Show an image as the book's ``img_show`` does (``PIL.Image.show``), ``scale`` times larger.

    Each pixel is drawn as a ``scale`` x ``scale`` square (default 8), so that a 28 x 28 digit
    can be seen. On a machine with no display it writes no file (a temporary one per call would
    pile up): it says so, pointing at :func:`save_image`, which writes the picture where asked.
    """
    picture = _picture(img, scale, "img_show")
    if _has_display():
        picture.show()
        return
    print("no display here: nothing shown; xpnn.save_image(img, 'digit.png') writes the picture to a file")


def save_digit_grid(
    images: Any,
    predicted: Sequence[int] | Any,
    labels: Sequence[int] | Any,
    path: str | os.PathLike[str],
    *,
    columns: int = 10,
    title: str | None = None,
) -> Path:
    """A PNG or JPEG grid of digits, each titled ``predicted (true)``; misclassified ones framed in red.

    The format follows the suffix of ``path`` (``.png``, ``.jpg``, ``.jpeg``).
    """
    path = Path(path)
    image_format = _format(path)
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(
            f"{missing_extra('save_digit_grid', 'plot')}; matplotlib cannot be imported here ({e})"
        ) from e
    pictures = [_as_uint8_image(img) for img in to_numpy(images)]
    predicted, labels = to_numpy(predicted).astype(int), to_numpy(labels).astype(int)
    if labels.ndim == 2:
        labels = labels.argmax(axis=-1)
    if not len(pictures) == len(predicted) == len(labels):
        raise ValueError(f"{len(pictures)} images, {len(predicted)} predictions and {len(labels)} labels")
    rows = -(-len(pictures) // columns)
    fig = Figure(figsize=(columns * 1.1, rows * 1.25 + (0.4 if title else 0)), dpi=100)
    for i, (picture, p, t) in enumerate(zip(pictures, predicted, labels)):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(picture, cmap="gray_r", vmin=0, vmax=255)
        wrong = p != t
        ax.set_title(f"{p} ({t})", fontsize=9, color="red" if wrong else "black")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color("red" if wrong else "lightgray")
            spine.set_linewidth(2.5 if wrong else 0.5)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format=image_format.lower()))
    return path
