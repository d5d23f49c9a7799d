"""The ``actsparse`` parser and entry point: every subcommand registered the same way.

A subcommand is a module of this package with ``add_parser(subparsers)``, which adds its
parser and returns it, and ``run(args) -> int``, which handles it and returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from actsparse.cli import accelerate, bench, demo, interpret, profile, sae, study, train


class Subcommand(Protocol):
    """What a subcommand module provides."""

    def add_parser(self, sub: Any) -> argparse.ArgumentParser: ...

    def run(self, args: argparse.Namespace) -> int: ...


SUBCOMMANDS: tuple[Subcommand, ...] = (profile, demo, train, accelerate, bench, interpret, sae,
                                       study)  # the order of ``actsparse --help``
ERRORS = (ValueError, TypeError, FileNotFoundError, ImportError, KeyError)  # said in one line


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``actsparse`` console script; returns the exit status.

    Errors of the user's making are printed in one line to stderr, with exit status 1.

    Example:
        >>> import contextlib, io
        >>> with contextlib.redirect_stderr(io.StringIO()) as err:
        ...     status = main(["study", "--data", "digits", "--out", "s", "--threads", "0"])
        >>> status, err.getvalue()
        (1, 'actsparse study: error: --threads must be >= 1, got 0\\n')
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except ERRORS as err:
        print(f"actsparse {args.command}: error: {err}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The ``actsparse`` parser with every subcommand of :data:`SUBCOMMANDS`.

    Example:
        >>> build_parser().parse_args(["demo"]).out
        'runs/demo'
    """
    parser = argparse.ArgumentParser(
        prog="actsparse", description="Measure the sparse activation maps of PyTorch models.")
    sub = parser.add_subparsers(dest="command")
    for command in SUBCOMMANDS:
        command.add_parser(sub).set_defaults(run=command.run)
    return parser
