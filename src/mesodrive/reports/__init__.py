"""Treatment reports and what they are drawn from, for every front end (the CLI's `mesodrive
report`, the console's Report button): one layer above the plan and the records, below the
front ends, so both can call it (the console may not import the CLI).

- `recorded_plan` — the plan a recorded session ran: its points' positions, zones, outlines.
- `session_report` — what a report says, gathered once from the records (`build_report`).
- `maps` — the report's maps as inline SVG (volume delivered, depth error).
- `html` — the printable, self-contained HTML page (`render_html`).

Typical use::

    with RecordStore(path, readonly=True) as store:
        page = session_report_html(store, 12)
"""

from __future__ import annotations

from mesodrive.records import RecordStore
from mesodrive.reports.html import render_html
from mesodrive.reports.recorded_plan import RecordedPlan, recorded_plan
from mesodrive.reports.session_report import SessionReport, build_report

__all__ = ["RecordedPlan", "SessionReport", "build_report", "recorded_plan", "render_html",
           "session_report_html"]


def session_report_html(store: RecordStore, session: int) -> str:
    """The report of one session as an HTML page (errors as `RecordStore.session`)."""
    return render_html(build_report(store, session))
