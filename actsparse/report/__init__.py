"""Reporting a Profile: a self-contained HTML report with plots, and the command line's table.

matplotlib is needed only to draw (``pip install actsparse[report]``); importing this package
does not import it.
"""

from actsparse.report.examples import Examples, example_maps
from actsparse.report.html import write_report
from actsparse.report.table import format_table, print_table

__all__ = ["Examples", "example_maps", "format_table", "print_table", "write_report"]
