"""The ``xpnn`` command.

    xpnn backends                                  which backends are usable here, and why not
    xpnn mnist [--backend NAME] [--batch-size N]   the book's network on the MNIST test set
               [--data-dir DIR] [--weights PATH] [--activation relu] [--no-download]
               [--compile onnxruntime|jax]       a weights file's recorded activation is used
    xpnn mnist --network deep_convnet              the book's trained ch. 7-8 CNNs instead
    xpnn export --out model.onnx [--weights PATH]  a network as an ONNX model (xpnn[onnx])
               [--activation relu] [--output argmax] [--input-dtype uint8 --normalize]
    xpnn train [--backend NAME] [--sizes 784,50,10] [--optimizer sgd] [--lr 0.1] [--iters N |
               --epochs N] [--out FILE] ...       train on MNIST (default: the book's ch. 5 run)
    xpnn train --network simple_convnet            the book's ch. 7 CNN (Adam, 20 epochs) or ch. 8
               [--epochs N] [--train-size N] ...  deep_convnet instead of the ch. 5 MLP

User errors (running out of memory too) print one line and exit with status 2, not a traceback; every option, output path
and backend is checked before anything is downloaded, computed or printed. Names (backends,
activations, optimizers, dtypes) are case-insensitive. Ctrl-C ends a command with one line and
status 130; the files it writes are written atomically, so none is left half-written. A reader
of the output that leaves early (``xpnn train | head``) ends it quietly, with status 141.

This module wires the parser and turns errors into that one line; each command is a module of
its own (:mod:`.backends`, :mod:`.mnist`, :mod:`.export`, :mod:`.train`), each with an
``add_parser(sub)`` and a ``run(args)``; :mod:`._common` holds the options and checks they share.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys

from .. import __version__
from ..errors import BackendUnavailableError, DataError, DataNotFoundError
from . import backends, export, mnist, train

__all__ = ["USER_ERRORS", "main", "one_line", "parser"]

#: Errors a user can cause with arguments, files or the machine: one line, exit status 2.
#: ``OSError`` covers a data or weights path that cannot be read (permissions, a directory, ...).
USER_ERRORS = (
    BackendUnavailableError,
    DataError,
    DataNotFoundError,
    ImportError,
    OSError,
    ValueError,
)


#: What to make smaller when a command runs out of memory (NumPy's, CuPy's or PyTorch's).
_LESS_MEMORY = {"mnist": ": try a smaller --batch-size", "train": ": try a smaller --batch-size or --sizes"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xpnn", description="The book's networks on any Array API backend.")
    p.add_argument("--version", action="version", version=f"xpnn {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for command in (backends, mnist, export, train):
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extras = p.parse_known_args(argv)
    if extras:  # argparse would report them with the top-level usage, and suggest nothing
        args.parser.error(_unrecognized(extras, args.parser))
    try:
        return int(args.run(args))
    except BrokenPipeError:  # the reader of the output left (xpnn train | head): stop, quietly
        _stdout_to_devnull()
        return 141  # as a shell reports a command ended by SIGPIPE
    except USER_ERRORS as e:
        print(f"xpnn: error: {one_line(e)}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as e:  # RuntimeError: torch.OutOfMemoryError is one
        if not isinstance(e, MemoryError) and type(e).__name__ != "OutOfMemoryError":
            raise  # a bug: its traceback is what a report needs
        print(
            f"xpnn: error: out of memory ({one_line(e)}){_LESS_MEMORY.get(args.command, '')}", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:  # Ctrl-C: every file xpnn writes is renamed into place only once whole
        print(
            f"xpnn: interrupted: {args.command} stopped; nothing was left half-written (files are"
            " written whole or not at all)",
            file=sys.stderr,
        )
        return 130


def _stdout_to_devnull() -> None:
    """Point standard output at the null device, so that Python's flush at exit does not fail too."""
    with contextlib.suppress(OSError, ValueError):  # no file descriptor (a StringIO): nothing to flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def one_line(error: BaseException) -> str:
    """The error as one line: its own line breaks joined; an OSError as ``path: reason``."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error)
    return " ".join(text.split())


def _unrecognized(extras: list[str], command: argparse.ArgumentParser) -> str:
    """argparse's "unrecognized arguments" message, with the closest option for each unknown one
    (difflib: Python 3.11's argparse has no ``suggest_on_error``)."""
    known = [flag for action in command._actions for flag in action.option_strings]
    hints = []
    for word in extras:
        if word.startswith("-"):
            close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1, cutoff=0.6)
            hints += [f"{word.split('=', 1)[0]}: did you mean {close[0]}?" for _ in close]
    return f"unrecognized arguments: {' '.join(extras)}" + (f" ({'; '.join(hints)})" if hints else "")
