"""Analysis of a campaign: the review's reference data, the comparison with it, figures and the HTML report.

``seiscreen report`` writes the report; in a notebook::

    from seiscreen.report import compare_orderings, load_literature, plots
    comparison = compare_orderings(seiscreen.load_results(store).surfaces)
"""

from seiscreen.report.compare import Comparison, compare_orderings, compare_values
from seiscreen.report.literature import Literature, load_literature

__all__ = ["Comparison", "Literature", "compare_orderings", "compare_values", "load_literature", "write_report"]


def write_report(*args, **kwargs):
    """See :func:`seiscreen.report.html.write_report` (imported lazily: matplotlib)."""
    from seiscreen.report.html import write_report as _write

    return _write(*args, **kwargs)
