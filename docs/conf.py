"""Sphinx configuration of the xpnn documentation: ``nox -s docs`` builds it, warnings are errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The package of this checkout, also when nox installed it elsewhere or not at all.
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import xpnn  # noqa: E402

project = "xpnn"
author = "xpnn developers"
copyright = "xpnn developers, MIT License"
version = release = xpnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_nb",
    "sphinx_copybutton",
]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "api/generated/*.inc"]
templates_path = ["_templates"]
html_static_path = ["_static"]
language = "en"

# --- API reference: autosummary pages from the docstrings -----------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": False}
autodoc_typehints = "none"  # the signatures stay short; the docstrings say what each argument is
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # the class template lists the members itself
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

# --- MyST and the tutorials (MyST-markdown notebooks, executed on every build) -----------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"
nb_execution_timeout = 120  # seconds per cell
nb_execution_raise_on_error = True
nb_execution_show_tb = True  # a failing cell prints its traceback in the build log
nb_merge_streams = True
nb_output_stderr = "warn"  # a warning printed by a cell fails the build (-W), as warnings fail the tests

# --- HTML: pydata-sphinx-theme -------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"xpnn {release}"
html_theme_options = {
    "navbar_align": "left",
    # Install, Tutorials, Guide, Coming from the book, Backends, API reference, 한국어; the rest under "More".
    "header_links_before_dropdown": 7,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "notebook-download", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = True

# --- Each tutorial downloadable as .ipynb: jupytext writes the notebooks next to the pages ------
NOTEBOOK_DIR = HERE / "_build" / "ipynb"
html_extra_path = [str(NOTEBOOK_DIR)]


def notebook_sources() -> list[Path]:
    """The MyST-markdown notebooks: the pages whose front matter names a jupytext format."""
    found = []
    for path in sorted(HERE.rglob("*.md")):
        if "_build" in path.parts:
            continue
        head = path.read_text(encoding="utf-8")[:400]
        if head.startswith("---") and "jupytext:" in head:
            found.append(path)
    return found


def write_notebooks() -> None:
    import jupytext

    NOTEBOOK_DIR.mkdir(parents=True, exist_ok=True)
    for path in notebook_sources():
        target = NOTEBOOK_DIR / path.relative_to(HERE).with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        jupytext.write(jupytext.read(path), target, fmt="ipynb")


write_notebooks()  # before html_extra_path is read
NOTEBOOK_PAGES = sorted(str(p.relative_to(HERE).with_suffix("").as_posix()) for p in notebook_sources())
html_context["notebook_pages"] = NOTEBOOK_PAGES


def check_data(app: object, config: object) -> None:
    """Fetch the data the tutorials read once, up front, or stop with what to do."""
    from sphinx.errors import ConfigError

    try:
        xpnn.fetch_sample_weights()
        xpnn.load_mnist()  # both splits: the ch. 4-5 tutorial trains
    except (xpnn.DataNotFoundError, xpnn.DataError) as e:
        raise ConfigError(
            f"the tutorials read MNIST and the book's weights, which are not to be had here: {e}\n"
            "Set XPNN_DATA_DIR to a directory with mnist/ and weights/sample_weight.pkl (nox -s docs"
            " passes it through), or build where the downloads can reach their mirrors."
        ) from e


def setup(app: Any) -> None:
    app.connect("config-inited", check_data)
