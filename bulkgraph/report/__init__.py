"""`bulkgraph report`: a self-contained static HTML report of the history in the graph.

`data` reads the graph (Cypher and the query pack), `timeline` follows one resource,
`charts` draws plotly figures, `page` renders the jinja2 template; `build.build_report`
does all of it and writes `index.html`. `bulkgraph/cli/report.py` is a thin layer over it.
"""

from bulkgraph.report.build import REPORT_FILE, ReportSummary, build_report

__all__ = ["REPORT_FILE", "ReportSummary", "build_report"]
