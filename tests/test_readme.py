"""Every ```python block of the README and of the guide runs as written, each in a fresh interpreter.

The documents are the README, the guide's pages (``docs/guide/*.md``, where the README's
sections on each topic live) and the few other pages that show code.

A block is run from a temporary directory (files it writes land there) with
``XPNN_DATA_DIR`` pointing at the real data when the block loads MNIST or the weights. What a
block needs is read from the block itself:

- its first line ``# GPU only``: skipped unless CuPy finds a GPU here (``XPNN_REQUIRE_GPU=1``
  makes that a failure);
- a backend named in a string (``backend="torch"``) or an optional library imported
  (``import dask.array``): run in the session of that backend (``XPNN_TEST_BACKENDS``); blocks
  that name no backend run in the NumPy session. A library the block needs that is not
  installed skips it under plain ``pytest`` and fails a nox session (which must install it);
- ``load_mnist``, ``load_sample_network``, ``fetch_sample_weights``: the real data (skipped
  with the reason without it, unless ``XPNN_REQUIRE_DATA=1``).

Keep blocks small: this test runs them all in the NumPy session.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REQUESTED, STRICT

import xpnn
from xpnn.backends import BACKENDS

ROOT = Path(__file__).parent.parent
GUIDE = ROOT / "docs" / "guide"
#: The README and the guide: the user's documents, whose blocks also name the extras they need.
USER_DOCUMENTS = [ROOT / "README.md", *sorted(GUIDE.glob("*.md"))]
DOCUMENTS = [
    *USER_DOCUMENTS,
    ROOT / "benchmarks" / "README.md",
    ROOT / "docs" / "index.md",
    ROOT / "docs" / "ko" / "quickstart.md",
]
GPU_MARK = "# GPU only"
NEEDS_DATA = re.compile(r"\b(load_mnist|load_sample_network|fetch_sample_weights)\b")
#: Optional libraries a block may import, and the backend whose test session has them.
OPTIONAL = {
    "torch": "torch",
    "jax": "jax",
    "dask": "dask",
    "distributed": "dask",
    "array_api_strict": "array_api_strict",
    "cupy": "cupy",
    "sklearn": "numpy",
    "onnx": "numpy",
    "onnxruntime": "numpy",
    "onnxscript": "numpy",
    "ndonnx": "numpy",
    "skl2onnx": "numpy",
    "safetensors": "numpy",
    "matplotlib": "numpy",
    "PIL": "numpy",
    "tqdm": "numpy",
}
#: The module each backend name stands for.
BACKEND_MODULES = {name: name for name in BACKENDS}


@dataclass(frozen=True)
class Block:
    """One fenced ```python block: where it starts and what it says."""

    document: Path
    line: int  # the line number of the block's first line of code, 1-based
    code: str

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(ROOT)} line {self.line}"

    @property
    def gpu_only(self) -> bool:
        first = next((ln.strip() for ln in self.code.splitlines() if ln.strip()), "")
        return first.lower().startswith(GPU_MARK.lower())

    @property
    def needs_data(self) -> bool:
        return bool(NEEDS_DATA.search(self.code))

    def modules(self) -> set[str]:
        """The optional libraries this block uses: imported, or named as a backend."""
        tree = ast.parse(self.code, filename=self.where)
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Constant) and node.value in BACKEND_MODULES:
                found.add(BACKEND_MODULES[node.value])
        return {m for m in found if m in OPTIONAL}


def python_blocks(document: Path) -> list[Block]:
    """The ```python blocks of a markdown file; an unclosed fence is an error naming its line."""
    blocks, start, lines = [], None, []
    fence = re.compile(r"^(\s*)```")
    for number, text in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
        if start is None:
            m = fence.match(text)
            if m:
                start = number
                lang = text.strip()[3:].strip().lower()
                lines = [] if lang in ("python", "py") else None  # None: a fence to skip over
            continue
        if text.strip() == "```":
            if lines is not None:
                blocks.append(Block(document, start + 1, "\n".join(lines) + "\n"))
            start = None
            continue
        if lines is not None:
            lines.append(text)
    if start is not None:
        raise ValueError(
            f"{document.relative_to(ROOT)}: the code fence opened at line {start} is never closed"
        )
    return blocks


BLOCKS = [block for document in DOCUMENTS if document.is_file() for block in python_blocks(document)]


def _gpu_reason() -> str | None:
    """Why GPU-only blocks cannot run here, or None where they can."""
    status = xpnn.backend_status()["cupy"]
    return None if status.available else f"no usable GPU here (cupy: {status.reason})"


def _block_sessions(block: Block, modules: set[str]) -> set[str]:
    """The test sessions a block runs in: those of the optional backends it uses, else NumPy's."""
    sessions = {OPTIONAL[m] for m in modules} - {"numpy"}
    if block.gpu_only:
        sessions.add("cupy")
    return sessions or {"numpy"}


def _session_skip(block: Block, modules: set[str]) -> str | None:
    """Why this test session leaves the block to another one, or None where it runs here."""
    sessions = _block_sessions(block, modules)
    if sessions & set(REQUESTED):
        return None
    return f"uses {', '.join(sorted(sessions))}: runs in that backend's test session"


def _block_param(block: Block) -> Any:
    """The block as a test parameter, marked for the sessions it runs in (conftest's sessions mark)."""
    sessions = sorted(_block_sessions(block, block.modules()) - {"numpy"})
    marks = [pytest.mark.sessions(*sessions)] if sessions else []
    return pytest.param(block, id=block.where.replace(" ", "-"), marks=marks)


def run_block(
    block: Block, cwd: Path, data_dir: Path | None, cache_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a block as a script whose line numbers are the document's, so tracebacks point there."""
    script = cwd / f"{block.document.name}-line-{block.line}.py"
    script.write_text("\n" * (block.line - 1) + block.code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["XPNN_DATA_DIR"] = str(data_dir if data_dir is not None else cwd / "no-data")
    if cache_dir is not None:
        env["XPNN_CACHE_DIR"] = str(cache_dir)
    env["MPLBACKEND"] = "Agg"
    env["TMPDIR"] = str(cwd)  # img_show without a display saves its PNG here
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def failure_message(block: Block, result: subprocess.CompletedProcess[str]) -> str:
    """Which block failed, at which line of the document, and the error, then the whole output."""
    stderr = result.stderr.strip()
    lines = [int(n) for n in re.findall(rf'File ".*?-line-{block.line}\.py", line (\d+)', stderr)]
    at = f", at line {lines[-1]}" if lines else ""
    error = stderr.splitlines()[-1] if stderr else f"exit status {result.returncode}, no error output"
    return (
        f"the ```python block of {block.where} failed{at}: {error}\n"
        f"--- the block ---\n{block.code}--- stderr ---\n{stderr}\n--- stdout ---\n{result.stdout}"
    )


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One decoded-array cache for all blocks: MNIST is decoded once, as for a user."""
    return tmp_path_factory.mktemp("readme-cache")


@pytest.mark.parametrize("block", [_block_param(b) for b in BLOCKS])
def test_python_block_runs_as_written(
    block: Block, tmp_path: Path, shared_cache: Path, request: pytest.FixtureRequest
) -> None:
    modules = block.modules()
    why = _session_skip(block, modules)
    if why:
        pytest.skip(why)
    missing = sorted(m for m in modules - {"cupy"} if importlib.util.find_spec(m) is None)
    if missing and STRICT:  # a test session (nox) that this block belongs to must have what it needs
        pytest.fail(
            f"{block.where} needs {', '.join(missing)}, which this test session does not install:"
            " add the extra to the session in noxfile.py (EXTRAS)"
        )
    if missing:
        pytest.skip(f"needs {', '.join(missing)}, not installed here")
    if block.gpu_only or "cupy" in modules:
        gpu = _gpu_reason()
        if gpu and os.environ.get("XPNN_REQUIRE_GPU") == "1":
            pytest.fail(f"{block.where}: {gpu} and XPNN_REQUIRE_GPU=1")
        if gpu:
            pytest.skip(gpu)
    data_dir = request.getfixturevalue("real_data_dir") if block.needs_data else None
    result = run_block(block, tmp_path, data_dir, shared_cache)
    assert result.returncode == 0, failure_message(block, result)


# --- the runner itself ---------------------------------------------------------------------------


def test_readme_says_how_the_torch_session_gets_the_cpu_build() -> None:
    """PyPI's torch is a CUDA build of several GB on Linux: the first screen says how to avoid it (issue 26.5)."""
    first_screen = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:40])
    assert "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu nox" in first_screen


def test_readme_has_python_blocks_and_the_first_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = "\n".join(readme.splitlines()[:40])
    assert "python -m pip install -e . && xpnn mnist" in first_screen
    assert "python -m pip install nox && nox" in first_screen
    assert "python -m pip install nox && nox" in (ROOT / ".ci" / "run").read_text(), (
        "CI runs the README's test command"
    )
    assert [b for b in BLOCKS if b.document == ROOT / "README.md"], "the README shows an example"
    assert len([b for b in BLOCKS if b.document.parent == GUIDE]) >= 10, "the guide's blocks are collected"


# --- the README's shape (issue 22): a few screens, and links that work on GitHub -----------------

#: A README longer than this is no longer read to the end: the details belong in docs/guide/.
README_MAX_LINES = 200
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_readme_fits_on_a_few_screens() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move the details to a page"
        " of docs/guide/ and link to it"
    )


def relative_links(document: Path) -> list[str]:
    """The link and image targets of a markdown file that are paths in the repository."""
    text = re.sub(r"^```.*?^```", "", document.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)
    return [u for u in LINK.findall(text) if not re.match(r"[a-z]+:|#", u)]


def test_readme_links_and_picture_resolve_in_the_repository() -> None:
    """Relative links, as GitHub shows the README: each names a file of this checkout."""
    readme = ROOT / "README.md"
    links = relative_links(readme)
    assert any(u.startswith("docs/guide/") for u in links), "the README links into the guide"
    broken = [u for u in links if not (ROOT / u.split("#")[0]).is_file()]
    assert broken == []
    pictures = [u for u in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme.read_text()) if ":" not in u]
    assert pictures, "the README shows a picture"
    for u in pictures:
        data = (ROOT / u).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 100_000, f"{u}: a small PNG"


def test_every_guide_page_is_in_the_guide_toctree_and_linked_from_the_readme() -> None:
    index = (GUIDE / "index.md").read_text(encoding="utf-8")
    toctree = re.search(r"```\{toctree\}\n(.*?)```", index, flags=re.DOTALL)
    assert toctree, "docs/guide/index.md has a toctree"
    entries = {ln.strip() for ln in toctree.group(1).splitlines() if ln.strip() and not ln.startswith(":")}
    pages = {p.stem for p in GUIDE.glob("*.md")} - {"index"}
    assert pages == entries
    linked = {Path(u.split("#")[0]).stem for u in relative_links(ROOT / "README.md") if "guide/" in u}
    assert pages <= linked, f"the README links to no page {sorted(pages - linked)}"


#: What in a block needs an extra, and which extra (pyproject's names).
NEEDS_EXTRA = {
    r"\.safetensors\b": "safetensors",
    r"\b(save_image|img_show|save_digit_grid)\(": "plot",
    r"\b(export_onnx\(|onnxruntime\b)": "onnx",
    r"\bcompile\([^)]*[\"']jax[\"']": "jax",
    r"\b(MLPClassifier|sklearn)\b": "sklearn",
    r"(backend=[\"']torch[\"']|\bimport torch\b|--backend torch)": "torch",
    r"(\bimport dask\b|backend=[\"']dask[\"']|dask_batch_inference\.py)": "dask",
    r"\bprogress=True\b": "progress",
    r"(\bcupy\b|gpu_batch_inference\.py)": "cuda12",
}


def _with_included(extras: set[str]) -> set[str]:
    """``extras`` and the extras they include (``skl2onnx = ["xpnn[onnx,sklearn]", ...]``)."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11's")
    table = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = table["optional-dependencies"]
    found, todo = set(), list(extras)
    while todo:
        extra = todo.pop()
        if extra in found:
            continue
        found.add(extra)
        for requirement in optional.get(extra, []):
            if requirement.startswith("xpnn["):
                todo += requirement[len("xpnn[") : requirement.index("]")].split(",")
    return found


@pytest.mark.parametrize("document", USER_DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_blocks_that_need_an_extra_say_which(document: Path) -> None:
    """Each code block of the README and the guide that needs an extra names it, ``'.[plot]'`` (issue 25.5)."""
    text = document.read_text(encoding="utf-8")
    blocks = re.findall(r"^```(?:python|bash)\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    unnamed = []
    for block in blocks:
        named = {e for group in re.findall(r"\.\[([a-z0-9,]+)\]", block) for e in group.split(",")}
        named = _with_included(named)
        needed = {extra for pattern, extra in NEEDS_EXTRA.items() if re.search(pattern, block)}
        if needed - named:
            unnamed.append((sorted(needed - named), block.splitlines()[0]))
    assert unnamed == []


def test_the_extra_check_sees_the_blocks() -> None:
    """The check above reads the blocks it must: the README and guide hold more than ten."""
    text = "".join(d.read_text(encoding="utf-8") for d in USER_DOCUMENTS)
    assert len(re.findall(r"^```(?:python|bash)\n", text, flags=re.MULTILINE)) > 10


def test_blocks_are_parsed_with_their_line_numbers_and_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    doc = tmp_path / "doc.md"
    doc.write_text(
        "text\n```bash\nxpnn mnist\n```\n```python\nimport xpnn\nxpnn.load_mnist(split='test')\n```\n"
        "```python\n# GPU only: CuPy\nimport dask.array as da\nxpnn.forward(n, x, backend='torch')\n```\n"
    )
    first, second = python_blocks(doc)
    assert (first.line, first.code) == (6, "import xpnn\nxpnn.load_mnist(split='test')\n")
    assert first.needs_data and not first.gpu_only and first.modules() == set()
    assert second.line == 10 and second.gpu_only and not second.needs_data
    assert second.modules() == {"dask", "torch"}


def test_an_unclosed_fence_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    doc = tmp_path / "doc.md"
    doc.write_text("```python\nimport xpnn\n")
    with pytest.raises(ValueError, match="line 1 is never closed"):
        python_blocks(doc)


def test_a_failing_block_is_reported_with_its_document_line(tmp_path: Path) -> None:
    block = Block(ROOT / "README.md", 41, "x = 1\nraise RuntimeError('boom')\n")
    result = run_block(block, tmp_path, None)
    message = failure_message(block, result)
    assert result.returncode != 0
    assert message.startswith(
        "the ```python block of README.md line 41 failed, at line 42: RuntimeError: boom"
    )


# --- install hints -------------------------------------------------------------------------------

#: The extra of pyproject.toml that installs each backend (numpy is a dependency).
EXTRA_OF = {"cupy": "cuda12", "torch": "torch", "jax": "jax", "dask": "dask", "array_api_strict": "strict"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement.strip("'\""), maxsplit=1)[0].lower()


@pytest.mark.parametrize("name", sorted(EXTRA_OF))
def test_install_hint_names_the_packages_of_the_backends_extra(name: str) -> None:
    """The hint works in a fresh environment: its first command installs the extra's packages by name."""
    tomllib = pytest.importorskip("tomllib")
    from xpnn.backends import TABLE

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    hint = TABLE[name].install
    first = re.match(r"`pip install ([^`]+)`", hint)
    assert first, f"{name}: the hint starts with a `pip install ...` command: {hint}"
    assert {_name(p) for p in first.group(1).split()} == {_name(r) for r in extras[EXTRA_OF[name]]}
    assert f"pip install -e '.[{EXTRA_OF[name]}]'" in hint, "and names the extra for a clone"
