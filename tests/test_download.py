"""The downloader, against a local HTTP server on 127.0.0.1 (there is no internet here)."""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from idx import sha256, tiny_mnist
from local_http import closed_port, serve

import xpnn
from xpnn.io import RemoteFile, fetch, fetch_all, mnist


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict]]:
    """(base URL, directory of served files, their arrays): a server on 127.0.0.1, for this module."""
    root = tmp_path_factory.mktemp("served")
    arrays = tiny_mnist(root, n=5)
    with serve(root) as server:
        yield server.base, root, arrays


def remote(served, name: str, *kinds: str) -> RemoteFile:
    base, root, _ = served
    return RemoteFile(name, sha256(root / name), [f"{base}/{kind}/" for kind in kinds])


def test_downloads_from_the_first_good_mirror(served, tmp_path: Path) -> None:
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "forbidden", "html", "truncated", "good")
    path = fetch(r, tmp_path)
    assert path == tmp_path / r.name
    assert sha256(path) == r.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == [r.name], "no temporary or bad files are left"


def test_all_mirrors_failing_lists_what_was_tried(served, tmp_path: Path) -> None:
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "forbidden", "html", "truncated")
    with pytest.raises(xpnn.DataNotFoundError) as e:
        fetch(r, tmp_path)
    host = r.mirrors[0].split("/")[2]
    assert (
        str(e.value).splitlines()[1:4]
        == [
            "Downloading failed:",
            f"  {host}: HTTP 403 Forbidden.",
            f"  {host}: SHA-256 does not match (an error page, or a corrupt or different file).",  # html, truncated
        ]
    )
    assert list(tmp_path.iterdir()) == [], "a failed download leaves nothing behind"


def test_download_false_never_touches_the_network(served, tmp_path: Path) -> None:
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    with pytest.raises(xpnn.DataNotFoundError, match=f"Missing from the data directory {tmp_path}: {r.name}"):
        fetch(r, tmp_path, download=False)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_location_gives_a_clear_error(served, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    with pytest.raises(xpnn.DataNotFoundError, match="cannot be downloaded into"):
        fetch(r, blocker / "mnist")


@pytest.mark.parametrize("progress", [None, False, True])  # None: not given, quiet by default
def test_load_mnist_downloads_what_is_missing(
    served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    progress: bool | None,
) -> None:
    base, root, arrays = served
    files = {
        key: (RemoteFile(r.name, sha256(root / r.name), [f"{base}/html/", f"{base}/good/"]), (5, *shape[1:]))
        for key, (r, shape) in mnist.MNIST_FILES.items()
    }
    monkeypatch.setattr(mnist, "MNIST_FILES", files)
    given = {} if progress is None else {"progress": progress}
    _, (x_test, t_test) = xpnn.load_mnist(normalize=False, data_dir=tmp_path, **given)
    np.testing.assert_array_equal(x_test.reshape(5, 28, 28), arrays["t10k-images"])
    np.testing.assert_array_equal(t_test, arrays["t10k-labels"])
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(r.name for r, _ in files.values())
    err, named = capfd.readouterr().err, bool(progress)
    for r, _ in files.values():  # with progress, each mirror tried is named
        for kind in ("html", "good"):
            assert (f"Downloading {base}/{kind}/{r.name} into {tmp_path / 'mnist'}\n" in err) == named


def test_fetch_sample_weights_pins_the_hash(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The weights' download goes through the same checked path: a wrong file is refused."""
    from xpnn.io import samples as weights

    base, _, _ = served
    monkeypatch.setattr(
        weights,
        "SAMPLE_WEIGHTS",
        RemoteFile("sample_weight.pkl", weights.SAMPLE_WEIGHTS.sha256, [f"{base}/html/"]),
    )
    with pytest.raises(xpnn.DataNotFoundError, match="SHA-256 does not match"):
        xpnn.fetch_sample_weights(tmp_path)
    assert not (tmp_path / "weights" / "sample_weight.pkl").exists()


# --- the first run offline -----------------------------------------------------------------------


def test_first_run_offline_names_every_file_and_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pooch

    down = [closed_port() + "/mnist/", closed_port() + "/mirror2/"]
    files = {
        key: (RemoteFile(r.name, r.sha256, down), shape) for key, (r, shape) in mnist.MNIST_FILES.items()
    }
    monkeypatch.setattr(mnist, "MNIST_FILES", files)
    calls = []
    download = pooch.HTTPDownloader.__call__
    monkeypatch.setattr(
        pooch.HTTPDownloader,
        "__call__",
        lambda self, url, *a, **k: calls.append(url) or download(self, url, *a, **k),
    )
    root = tmp_path / "new" / "data"
    with pytest.raises(xpnn.DataNotFoundError) as e:
        xpnn.load_mnist(data_dir=root)
    message = str(e.value)
    assert message.startswith(f"Missing from the data directory {root}: mnist/train-images-idx3-ubyte.gz,")
    for remote, _ in files.values():
        assert f"mnist/{remote.name}" in message
    hosts = ", ".join(mirror.split("/")[2] for mirror in down)
    assert f"\n  {hosts}: cannot connect (Connection refused).\n" in message
    assert f"fetch them by hand from {down[0]} into" in message
    assert "connect to the network" in message
    assert "--data-dir DIR" in message and "XPNN_DATA_DIR=DIR" in message
    assert "into DIR/mnist/*.gz and pass --data-dir DIR" in message
    assert len(calls) == 2, "a host that refused is not asked again for the other files"
    assert not (tmp_path / "new").exists(), "no empty directories are left behind"


def test_the_whole_message_when_some_files_fail_for_different_reasons(served, tmp_path: Path) -> None:
    """Each reason names the files it kept out when it is not all of them; a file that a later
    mirror delivered is not among them; the hand-fetch hint names each file's first mirror."""
    base, _, _ = served
    a, b, c, d = (
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    )
    wanted = [
        remote(served, a, "forbidden"),
        remote(served, b, "html"),
        remote(served, c, "forbidden", "good"),  # refused first, then delivered
        remote(served, d, "forbidden"),
    ]
    mnist_dir = tmp_path / "mnist"
    with pytest.raises(xpnn.DataNotFoundError) as e:
        fetch_all([(r, mnist_dir) for r in wanted], tmp_path)
    host = base.split("/")[2]
    assert str(e.value) == "\n".join(
        [
            f"Missing from the data directory {tmp_path}: mnist/{a}, mnist/{b}, mnist/{d}.",
            "Downloading failed:",
            f"  {host}: HTTP 403 Forbidden ({a}, {d}).",
            f"  {host}: SHA-256 does not match (an error page, or a corrupt or different file) ({b}).",
            f"To fix it: connect to the network and run again, or fetch them by hand from {base}/forbidden/"
            f" and {base}/html/ into DIR/mnist/*.gz and pass --data-dir DIR (data_dir=DIR in Python) or"
            " set XPNN_DATA_DIR=DIR.",
        ]
    )
    assert sorted(p.name for p in mnist_dir.iterdir()) == [c]


@pytest.mark.parametrize(
    "names, hint",
    [
        (["t10k-labels-idx1-ubyte.gz"], ""),
        (["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"], "With only the test files, load them."),
    ],
    ids=["one", "two-and-a-hint"],
)
def test_the_whole_message_for_files_without_mirrors(tmp_path: Path, names: list[str], hint: str) -> None:
    """No mirror to name: the hand-fetch hint says only where to put the files; a hint ends it."""
    wanted = [(RemoteFile(name, "0" * 64, ()), tmp_path / "mnist") for name in names]
    with pytest.raises(xpnn.DataNotFoundError) as e:
        fetch_all(wanted, tmp_path, download=False, hint=hint)
    assert str(e.value) == "\n".join(
        [
            f"Missing from the data directory {tmp_path}: {', '.join('mnist/' + name for name in names)}.",
            "Downloading is off (--no-download, download=False).",
            "To fix it: allow downloading (leave out --no-download; download=True), or fetch"
            f" {'them' if len(names) > 1 else 'it'} by hand into DIR/mnist/*.gz and pass --data-dir DIR"
            " (data_dir=DIR in Python) or set XPNN_DATA_DIR=DIR.",
            *([hint] if hint else []),
        ]
    )


def test_an_existing_empty_data_directory_is_kept_and_nothing_added(tmp_path: Path) -> None:
    r = RemoteFile("t10k-labels-idx1-ubyte.gz", "0" * 64, [closed_port() + "/"])
    with pytest.raises(xpnn.DataNotFoundError, match="cannot connect"):
        fetch(r, tmp_path / "mnist", root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_data_directory_is_made_when_a_download_succeeds(served, tmp_path: Path) -> None:
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    path = fetch(r, tmp_path / "new" / "mnist")
    assert path.is_file() and path.parent == tmp_path / "new" / "mnist"


def test_a_directory_where_the_file_should_be_is_not_downloaded_over(served, tmp_path: Path) -> None:
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    (tmp_path / r.name).mkdir()
    with pytest.raises(xpnn.DataError, match="is a directory where a data file should be"):
        fetch(r, tmp_path)


def _failure(error: BaseException, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, bool]:
    """What ``fetch_all`` says of a mirror whose download raises ``error`` (pooch's downloader
    made to raise it), and whether that host was then taken as down (not asked for a second file)."""
    import pooch

    calls: list[str] = []

    def raising(self, url, *args, **kwargs):
        calls.append(url)
        raise error

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", raising)
    wanted = [(RemoteFile(name, "0" * 64, ["http://mirror.test/"]), tmp_path) for name in ("a.gz", "b.gz")]
    with pytest.raises(xpnn.DataNotFoundError) as e:
        fetch_all(wanted, tmp_path)
    lines = str(e.value).splitlines()
    assert lines[1] == "Downloading failed:", lines
    assert lines[2].startswith("  mirror.test: ") and lines[2].endswith("."), lines
    assert lines[3].startswith("To fix it:"), lines
    return lines[2].removeprefix("  mirror.test: ")[:-1], len(calls) == 1


def test_download_failures_are_summarized_in_whole_words(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import requests

    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except OSError as cause:
            raise requests.ConnectionError(
                "HTTPSConnectionPool(host='x', port=443): Max retries " * 9
            ) from cause
    except requests.ConnectionError as e:
        unresolved = e
    assert _failure(unresolved, monkeypatch, tmp_path) == (
        "cannot resolve the host name (Name or service not known)",
        True,
    )
    assert _failure(RuntimeError("a " + "long-winded " * 30), monkeypatch, tmp_path) == (
        "RuntimeError: a" + " long-winded" * 8 + "...",
        False,
    )


@pytest.mark.parametrize(
    "text, shown",
    [
        ("a" * 100 + " " + "b" * 5, "a" * 100 + " " + "b" * 5),  # 120 characters with the type: kept whole
        ("a" * 100 + " " + "b" * 6, "a" * 100 + "..."),  # one over: cut at the last whole word
        ("  two\n lines\t", "two lines"),  # on one line, whitespace collapsed
        ("x" * 95 + " one; two three", "x" * 95 + " one..."),  # no dangling punctuation before "..."
        ("x" * 95 + " AAX BBBB CCC", "x" * 95 + " AAX..."),  # only punctuation is taken off
        ("/" + "p" * 200, "/" + "p" * 102 + "..."),  # one long token (a path): cut mid-word, text kept
    ],
)
def test_an_unknown_failure_is_shown_on_one_line_cut_at_a_word(
    text: str, shown: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Any other error: its type and text, on one line, at most 120 characters, cut at a word."""
    assert _failure(RuntimeError(text), monkeypatch, tmp_path) == (f"RuntimeError: {shown}", False)


# --- mutation testing (nox -s mutation): how far the summary looks for the socket error ---


def _wrapped(depth: int, last: BaseException) -> BaseException:
    """``depth`` plain exceptions, each caused by the next, the last one caused by ``last``."""
    top = current = Exception("wrapper 0")
    for i in range(1, depth):
        current.__cause__ = Exception(f"wrapper {i}")
        current = current.__cause__
    current.__cause__ = last
    return top


def test_the_socket_error_is_found_behind_a_reason_attribute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """urllib3 keeps the socket error in ``.reason`` (MaxRetryError), not in the chain of causes."""
    import errno

    import requests

    retry = Exception("Max retries exceeded")
    retry.reason = OSError(errno.ECONNREFUSED, "Connection refused")  # type: ignore[attr-defined]
    found = _failure(requests.ConnectionError(retry), monkeypatch, tmp_path)
    assert found == ("cannot connect (Connection refused)", True)


def test_the_search_for_the_socket_error_is_bounded_and_ends_on_cycles(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import errno

    import requests

    def failure(error: BaseException) -> tuple[str, bool]:
        return _failure(error, monkeypatch, tmp_path)

    refused = OSError(errno.ECONNREFUSED, "Connection refused")
    found = failure(requests.ConnectionError(_wrapped(49, refused)))
    assert found == ("cannot connect (Connection refused)", True), "51 exceptions deep is still looked at"
    too_deep = failure(requests.ConnectionError(_wrapped(50, refused)))
    assert too_deep == ("cannot connect", True), "past 51 exceptions the search stops"
    a, b = Exception("a"), Exception("b")
    a.__context__, b.__context__ = b, a
    assert failure(requests.ConnectionError(a)) == ("cannot connect", True)
    # A second branch is still searched after the first ends: the error behind the second argument.
    two = requests.ConnectionError(Exception(_wrapped(2, Exception("no errno")), _wrapped(2, refused)))
    assert failure(two) == ("cannot connect (Connection refused)", True)


def test_download_failure_in_words_and_whether_the_host_was_reachable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import errno

    import requests

    def failure(error: BaseException) -> tuple[str, bool]:
        return _failure(error, monkeypatch, tmp_path)

    assert failure(requests.Timeout("read timed out")) == ("timed out", True)
    assert failure(requests.ConnectionError("no cause")) == ("cannot connect", True)
    full = OSError(errno.ENOSPC, "No space left on device")
    assert failure(full) == ("cannot write the file (No space left on device)", False)
    # Only pooch's ValueError about the hash is a hash mismatch; other text mentioning both words is not.
    assert failure(ValueError("hash does not match"))[0].startswith("SHA-256 does not match")
    assert failure(ValueError("no match found")) == ("ValueError: no match found", False)
    assert failure(RuntimeError("hash match")) == ("RuntimeError: hash match", False)


def test_a_mirrors_url_keeps_its_path() -> None:
    assert RemoteFile("f.gz", "0" * 64, ["http://h/DIRX/", "http://h/x"]).urls() == [
        "http://h/DIRX/f.gz",
        "http://h/x/f.gz",
    ]


def test_an_unreachable_mirror_is_skipped_for_the_next_files_and_the_next_mirror_used(
    served, tmp_path: Path
) -> None:
    base, root, _ = served
    down = closed_port()
    names = ["t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"]
    wanted = [(RemoteFile(n, sha256(root / n), [f"{down}/x/", f"{base}/good/"]), tmp_path) for n in names]
    assert fetch_all(wanted, tmp_path) == [tmp_path / n for n in names]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_every_file_that_cannot_be_written_is_named(served, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    names = ["t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"]
    wanted = [(remote(served, n, "good"), blocker / "mnist") for n in names]
    with pytest.raises(xpnn.DataNotFoundError) as e:
        fetch_all(wanted, tmp_path)
    assert str(e.value).startswith(
        f"{names[0]}, {names[1]} missing from {tmp_path}, and cannot be downloaded"
    )


def test_a_missing_file_outside_the_data_directory_is_named_by_its_full_path(served, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    with pytest.raises(xpnn.DataNotFoundError) as e:
        fetch_all([(r, elsewhere)], tmp_path / "data", download=False)
    assert str(e.value).startswith(
        f"Missing from the data directory {tmp_path / 'data'}: {elsewhere / r.name}."
    )


def test_with_downloading_off_the_message_says_so_and_how_to_turn_it_on(served, tmp_path: Path) -> None:
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    with pytest.raises(xpnn.DataNotFoundError) as e:
        fetch_all([(r, tmp_path / "mnist")], tmp_path, download=False)
    lines = str(e.value).splitlines()
    assert lines[:2] == [
        f"Missing from the data directory {tmp_path}: mnist/{r.name}.",
        "Downloading is off (--no-download, download=False).",
    ]
    assert lines[2].startswith(
        "To fix it: allow downloading (leave out --no-download; download=True), or fetch it"
    )


@pytest.mark.parametrize("progress", [None, False, True])  # None: not given, quiet by default
def test_a_progress_bar_only_when_asked(
    served, tmp_path: Path, capfd: pytest.CaptureFixture[str], progress: bool | None
) -> None:
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    import pooch

    level = pooch.get_logger().level
    fetch(r, tmp_path, **({} if progress is None else {"progress": progress}))
    err, shown = capfd.readouterr().err, bool(progress)
    assert ("100%" in err) == shown
    assert (f"Downloading {r.mirrors[0]}{r.name} into {tmp_path}\n" in err) == shown, err  # which file
    assert pooch.get_logger().level == level, "pooch's own log level is put back"


def test_the_download_is_named_before_it_starts_even_on_a_block_buffered_stderr(
    served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook's or a wrapper's stderr may hold text back: the line naming the file is flushed
    out before the (possibly long) transfer begins, not after it."""
    import io

    import pooch

    raw = io.BytesIO()
    held = io.TextIOWrapper(raw, encoding="utf-8")  # no line buffering: text waits for a flush
    monkeypatch.setattr(sys, "stderr", held)
    out_when_the_transfer_began = []
    real = pooch.HTTPDownloader.__call__

    def watched(*args, **kwargs):
        out_when_the_transfer_began.append(raw.getvalue().decode())
        return real(*args, **kwargs)

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", watched)
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    fetch(r, tmp_path, progress=True)
    assert out_when_the_transfer_began == [f"Downloading {r.mirrors[0]}{r.name} into {tmp_path}\n"]


def test_a_directory_that_cannot_be_written_is_refused_once_the_download_begins(
    served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    target = tmp_path / "mnist"
    target.mkdir()
    real = tempfile.TemporaryFile

    def read_only_target(*args, dir=None, **kwargs):  # tests run as root: chmod would not stop them
        if dir is not None and Path(dir) == target:
            raise PermissionError(13, "Permission denied", str(target))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only_target)
    r = remote(served, "t10k-labels-idx1-ubyte.gz", "good")
    with pytest.raises(xpnn.DataNotFoundError) as e:
        fetch(r, target)
    assert f"cannot be downloaded into {target} (Permission denied). Choose a writable data directory" in str(
        e.value
    )
    assert list(target.iterdir()) == []


# --- the directory the user named is only read (issue 25) ---------------------------------------


def _snapshot(directory: Path) -> dict[str, int]:
    """Every path under ``directory`` (itself included) and its modification time."""
    return {str(p.relative_to(directory)): p.stat().st_mtime_ns for p in [directory, *directory.rglob("*")]}


def _unreachable_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    down = (closed_port() + "/mnist/",)
    files = {
        key: (RemoteFile(r.name, r.sha256, down), shape) for key, (r, shape) in mnist.MNIST_FILES.items()
    }
    monkeypatch.setattr(mnist, "MNIST_FILES", files)


def test_an_offline_load_leaves_the_named_directory_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25.6: xpnn made DIR/mnist and a probe file in it, then removed them: DIR's mtime
    changed. Nothing is made before a download has begun to deliver bytes."""
    _unreachable_mnist(monkeypatch)
    root = tmp_path / "data"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    before = _snapshot(root)
    with pytest.raises(xpnn.DataNotFoundError, match="cannot connect"):
        xpnn.load_mnist(data_dir=root)
    assert _snapshot(root) == before


@pytest.mark.parametrize("download", [True, False])
def test_a_data_directory_one_level_too_deep_is_named_with_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, download: bool
) -> None:
    """Issue 25.4: ``data_dir=.../data/mnist`` holding the four files: the error says to use
    ``.../data``; nothing is downloaded and nothing is written into the directory named."""
    import pooch

    _unreachable_mnist(monkeypatch)
    calls: list[str] = []
    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", lambda self, url, *a, **k: calls.append(url))
    parent = tmp_path / "data"
    tiny_mnist(parent / "mnist", n=3)
    deep = parent / "mnist"
    before = _snapshot(deep)
    with pytest.raises(xpnn.DataNotFoundError) as e:
        xpnn.load_mnist(data_dir=deep, download=download)
    lines = str(e.value).splitlines()
    assert lines[0].startswith(f"Missing from the data directory {deep}: mnist/train-images-idx3-ubyte.gz, ")
    assert lines[1] == (
        f"{deep} holds train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,"
        f" t10k-labels-idx1-ubyte.gz itself: did you mean the parent directory {parent}?"
        f" (--data-dir {parent}, data_dir={str(parent)!r} or XPNN_DATA_DIR={parent})"
    )
    assert calls == []
    assert _snapshot(deep) == before


def test_a_weights_directory_named_as_the_data_directory_is_named_with_its_parent(tmp_path: Path) -> None:
    parent = tmp_path / "data"
    (parent / "weights").mkdir(parents=True)
    (parent / "weights" / "sample_weight.pkl").write_bytes(b"the book's weights")
    with pytest.raises(xpnn.DataNotFoundError) as e:
        xpnn.load_sample_network(parent / "weights", download=False)
    assert (
        f"\n{parent / 'weights'} holds sample_weight.pkl itself: did you mean the parent directory {parent}?"
        in str(e.value)
    )


def test_files_in_the_data_directory_itself_are_named_with_where_they_belong(tmp_path: Path) -> None:
    """A directory not named like the subdirectory: the files are to be moved, not the path changed."""
    (tmp_path / "sample_weight.pkl").write_bytes(b"the book's weights")
    with pytest.raises(xpnn.DataNotFoundError) as e:
        xpnn.load_sample_network(tmp_path, download=False)
    assert f"\n{tmp_path} holds sample_weight.pkl itself: it belongs in {tmp_path / 'weights'}." in str(
        e.value
    )


def test_several_files_in_the_data_directory_itself_are_named_with_where_they_belong(tmp_path: Path) -> None:
    tiny_mnist(tmp_path, n=3)  # the four MNIST files beside mnist/, not in it
    with pytest.raises(xpnn.DataNotFoundError) as e:
        xpnn.load_mnist(data_dir=tmp_path, download=False)
    assert f" itself: they belong in {tmp_path / 'mnist'}." in str(e.value)
    assert "it belongs" not in str(e.value)


def test_a_relative_data_directory_one_level_too_deep_names_its_parent_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_mnist(tmp_path / "mnist", n=3)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        xpnn.DataNotFoundError, match=re.escape(f"did you mean the parent directory {tmp_path}?")
    ):
        xpnn.load_mnist(data_dir="mnist", download=False)


def test_the_current_directory_one_level_too_deep_names_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack 12: data_dir="." inside the mnist folder said the files belong in ./mnist."""
    tiny_mnist(tmp_path / "mnist", n=3)
    monkeypatch.chdir(tmp_path / "mnist")
    with pytest.raises(
        xpnn.DataNotFoundError, match=re.escape(f"itself: did you mean the parent directory {tmp_path}?")
    ):
        xpnn.load_mnist(data_dir=".", download=False)
