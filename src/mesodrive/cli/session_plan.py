"""The plan a recorded session ran: moved to `mesodrive.reports.recorded_plan` so that the web
console (which may not import the CLI) can draw and report it too; re-exported here for the
CLI modules that import it from here."""

from mesodrive.reports.recorded_plan import RecordedPlan, recorded_plan

__all__ = ["RecordedPlan", "recorded_plan"]
