"""``python -m actsparse.cli``: the same as the ``actsparse`` command."""

from actsparse.cli.app import main

raise SystemExit(main())
