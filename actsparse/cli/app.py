"""The ``actsparse`` parser and entry point: every subcommand registered the same way.

A subcommand is a module of this package with ``add_parser(subparsers)``, which adds its
parser and returns it, and ``run(args) -> int``, which handles it and returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from actsparse.cli import accelerate, bench, demo, interpret, profile, sae, study, train
from actsparse.cli.common import check_out
from actsparse.zoo.errors import ZooError


class Subcommand(Protocol):
    """What a subcommand module provides."""

    def add_parser(self, sub: Any) -> argparse.ArgumentParser: ...

    def run(self, args: argparse.Namespace) -> int: ...


SUBCOMMANDS: tuple[Subcommand, ...] = (profile, demo, train, accelerate, bench, interpret, sae,
                                       study)  # the order of ``actsparse --help``
ERRORS = (ValueError, TypeError, OSError, EOFError, ImportError, KeyError, ZooError,
          RuntimeError)  # said in one line; --debug shows the traceback
USAGE_ERROR = 2  # bad input, as argparse itself exits
INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, the shell's convention


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``actsparse`` console script; returns the exit status.

    Errors of the user's making are printed in one line to stderr, with exit status 2 (as
    argparse's own); Ctrl-C prints "interrupted" and exits 130. ``--debug`` re-raises instead.

    Example:
        >>> import contextlib, io
        >>> with contextlib.redirect_stderr(io.StringIO()) as err:
        ...     status = main(["study", "--data", "digits", "--out", "s", "--threads", "0"])
        >>> status, err.getvalue()
        (2, 'actsparse study: error: --threads must be >= 1, got 0\\n')
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():  # restores the usual display afterwards
            warnings.showwarning = _one_line_warning(args.command)
            if isinstance(getattr(args, "out", None), str):
                check_out(args.out)  # before any work, not after an epoch
            return int(args.run(args))
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"actsparse {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except ERRORS as err:
        if args.debug:
            raise
        text = " ".join(str(err).split()) or type(err).__name__  # one line, always
        print(f"actsparse {args.command}: error: {text}", file=sys.stderr)
        return USAGE_ERROR


def build_parser() -> argparse.ArgumentParser:
    """The ``actsparse`` parser with every subcommand of :data:`SUBCOMMANDS`.

    Example:
        >>> build_parser().parse_args(["demo"]).out
        'runs/demo'
    """
    parser = argparse.ArgumentParser(
        prog="actsparse", description="Measure the sparse activation maps of PyTorch models.")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command")
    for command in SUBCOMMANDS:
        command.add_parser(sub).set_defaults(run=command.run)
    return parser


def _one_line_warning(command: str) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints ``actsparse COMMAND: warning: ...`` in one line.

    Example:
        >>> import contextlib, io
        >>> with contextlib.redirect_stderr(io.StringIO()) as err:
        ...     _one_line_warning("profile")(UserWarning("2 layers\\n never ran"), UserWarning,
        ...                                  "f.py", 1)
        >>> err.getvalue()
        'actsparse profile: warning: 2 layers never ran\\n'
    """
    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        text = " ".join(str(message).split())
        print(f"actsparse {command}: warning: {text}", file=file or sys.stderr)

    return show
