"""Checks of the built documentation site (``nox -s docs`` builds it, then runs this file).

They read the HTML in ``docs/_build/html`` and skip where it has not been built;
``XPNN_REQUIRE_DOCS=1`` (set by the docs session) makes a missing site a failure.
"""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import xpnn

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SITE = DOCS / "_build" / "html"


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        why = f"the documentation site is not built ({SITE}): run `nox -s docs`"
        if os.environ.get("XPNN_REQUIRE_DOCS") == "1":
            pytest.fail(why + " (XPNN_REQUIRE_DOCS=1)")
        pytest.skip(why)
    return SITE


def notebook_sources() -> list[Path]:
    """The tutorial notebooks: MyST-markdown pages whose front matter names a jupytext format."""
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        if "_build" in path.relative_to(DOCS).parts:
            continue
        head = path.read_text(encoding="utf-8")[:400]
        if head.startswith("---") and "jupytext:" in head:
            found.append(path)
    return found


NOTEBOOKS = notebook_sources()


class _Page(HTMLParser):
    """The ``src`` of every ``<img>``, the ``href`` of every ``<a>`` and every element ``id``."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.images.append(a["src"] or "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if a.get("id"):
            self.ids.add(a["id"] or "")


def parse(page: Path) -> _Page:
    parser = _Page()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def local_target(page: Path, url: str) -> Path | None:
    """The file a relative link of ``page`` points to, or None for an external or in-page link."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


def html_page(source: Path) -> Path:
    return SITE / source.relative_to(DOCS).with_suffix(".html")


def test_there_are_tutorials() -> None:
    names = {p.relative_to(DOCS).as_posix() for p in NOTEBOOKS}
    expected = {
        "tutorials/ch3_inference.md",
        "tutorials/ch4_5_training.md",
        "tutorials/ch6_training_techniques.md",
        "tutorials/ch7_8_convnets.md",
    }
    assert expected | {"ko/ch3_inference.md"} <= names


def test_api_page_lists_every_public_name(site: Path) -> None:
    page = site / "api" / "index.html"
    parsed = parse(page)
    linked = {Path(urlsplit(u).path).name for u in parsed.links}
    missing = [
        name
        for name in xpnn.__all__
        if f"xpnn.{name}.html" not in linked and f"xpnn.{name}" not in parsed.ids
    ]
    assert not missing, f"{page} does not list {missing}"
    for name in xpnn.__all__:  # each listed name's own page exists and documents it
        own = site / "api" / "generated" / f"xpnn.{name}.html"
        if f"xpnn.{name}.html" in linked:
            assert f"xpnn.{name}" in parse(own).ids, f"{own} has no entry for xpnn.{name}"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_tutorial_page_has_its_figures(site: Path, source: Path) -> None:
    page = html_page(source)
    figures = source.read_text(encoding="utf-8").count("plt.show()")
    assert figures > 0, f"{source} draws no figure"
    images = [local_target(page, src) for src in parse(page).images]
    outputs = [p for p in images if p is not None and p.parent.name == "_images"]
    assert len(outputs) >= figures, f"{page}: {len(outputs)} images for {figures} figures"
    for path in outputs:
        assert path.is_file(), f"{page} shows {path}, which does not exist"
        data = path.read_bytes()
        assert len(data) > 1000 and data.startswith(b"\x89PNG"), f"{path} is not a PNG figure"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_tutorial_downloads_as_a_notebook_with_an_install_cell(site: Path, source: Path) -> None:
    page = html_page(source)
    downloads = [local_target(page, u) for u in parse(page).links if urlsplit(u).path.endswith(".ipynb")]
    assert downloads, f"{page} has no link to its .ipynb"
    assert downloads[0].is_file(), f"{page} links to {downloads[0]}, which does not exist"
    notebook = json.loads(downloads[0].read_bytes())
    assert notebook["nbformat"] == 4
    code = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code and code[0].startswith("# %pip install"), f"{downloads[0]}: its first cell installs nothing"
    assert len(code) == source.read_text(encoding="utf-8").count("```{code-cell}")


def test_no_page_shows_a_traceback_or_a_warning(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 40
    bad = {}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for sign in ("Traceback (most recent call last)", 'class="output traceback', 'class="output stderr'):
            if sign in text:
                bad[page.relative_to(site).as_posix()] = sign
    assert not bad, f"pages with an error or a warning in their output: {bad}"


def test_every_local_link_and_image_resolves(site: Path) -> None:
    broken = []
    for page in sorted(site.rglob("*.html")):
        parsed = parse(page)
        for url in parsed.links + parsed.images:
            target = local_target(page, url)
            if target is not None and not target.exists():
                broken.append(f"{page.relative_to(site)} -> {url}")
    assert not broken, broken
