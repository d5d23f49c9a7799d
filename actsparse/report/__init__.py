"""Every page and figure: the profile report, the accelerate, interpret, SAE and study pages,
and the command line's table.

All pages share one skeleton (:mod:`actsparse.report.page`), one number formatter
(:mod:`actsparse.report.format`) and one figure helper (:mod:`actsparse.report.figures`). This
package draws; it runs no model (the example maps it lays over images are measured by
:func:`actsparse.measure.examples.example_maps`, re-exported here). matplotlib is needed only
to draw (``pip install actsparse[report]``); importing this package does not import it.
"""

from actsparse.measure.examples import Examples, example_maps
from actsparse.report.profile_page import write_report
from actsparse.report.table import format_table, print_table

__all__ = ["Examples", "example_maps", "format_table", "print_table", "write_report"]
