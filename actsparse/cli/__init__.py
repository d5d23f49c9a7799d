"""The ``actsparse`` command line: one module per subcommand, shared arguments in ``common``.

Every subcommand module (``profile``, ``demo``, ``train``, ``accelerate``, ``bench``,
``interpret``, ``sae``, ``study``) has ``add_parser(subparsers)`` and ``run(args) -> int``;
``app`` registers them all and holds :func:`main`, the entry point. The modules parse, load
from the zoo, call the library, write files and print; the work itself is in the verbs.

Example:
    >>> from actsparse.cli import main
    >>> main(["bench"])  # doctest: +ELLIPSIS
    usage: actsparse bench [-h] {kernels} ...
    ...
    2
"""

from actsparse.cli.app import main

__all__ = ["main"]
