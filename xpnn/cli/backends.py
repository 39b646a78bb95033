"""``xpnn backends``: which backends are usable here, and why the others are not."""

from __future__ import annotations

import argparse
from typing import Any

from ..backends import backend_status


def add_parser(sub: Any) -> None:
    b = sub.add_parser("backends", help="list the backends usable here, and why the others are not")
    b.set_defaults(run=run, parser=b)


def run(args: argparse.Namespace) -> int:
    for name, status in backend_status().items():
        mark = "yes" if status.available else "no "
        version = f" {status.version}" if status.version else ""
        install = f"; install with {status.install}" if status.install else ""
        print(f"{name:17} {mark} {status.reason}{version}{install}")
    return 0
