"""What a run reports when it ends (and, live, while it runs): the points' outcomes and the
scheduling figures.

The point collections are the public face of the book of points (`point_book.PointBook`
writes them): `delivered` holds only *fully* delivered points (UNCERTAIN ones at their planned
volume, since they are assumed given); a shot that was cut short is in `partial` and
`cut_short_ul` instead — a puncture that is never repeated, but not a delivered point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mesodrive.controller.states import RunState


@dataclass
class ScheduleStats:
    """What the benchmark and the summary report about timing."""

    min_slack_s: float | None = None  # least time between queueing a shot and its fire time
    steady_min_slack_s: float | None = None  # the same, leaving out each (re)start's first shot
    underruns: int = 0  # the queue ran dry: a shot could not keep the cadence
    late_shots: int = 0  # the device refused a shot as too late
    shots_sent: int = 0

    def summary(self) -> dict[str, object]:
        """The timing part of the session's end summary."""
        return {"min_slack_s": self.min_slack_s, "steady_min_slack_s": self.steady_min_slack_s,
                "underruns": self.underruns, "late_shots": self.late_shots}

    def note_slack(self, slack_s: float, *, first: bool) -> None:
        self.min_slack_s = slack_s if self.min_slack_s is None else min(self.min_slack_s, slack_s)
        if not first:
            m = self.steady_min_slack_s
            self.steady_min_slack_s = slack_s if m is None else min(m, slack_s)


@dataclass
class RunResult:
    state: RunState
    delivered: dict[int, float] = field(default_factory=dict)  # fully delivered point -> µL
    # (the planned µL if uncertain); a cut-short point is never in here
    uncertain: set[int] = field(default_factory=set)  # delivered points whose shot is UNCERTAIN
    partial: set[int] = field(default_factory=set)  # points whose shot was cut short (punctured,
    # under-dosed, never repeated); not among `delivered`
    skipped: dict[int, str] = field(default_factory=dict)  # point -> reason
    pending: list[int] = field(default_factory=list)  # not yet given (kept current at each
    # state change and at the end, not at every shot)
    stats: ScheduleStats = field(default_factory=ScheduleStats)
    cut_short_ul: dict[int, float] = field(default_factory=dict)  # point in `partial` -> µL given

    @property
    def given_ul(self) -> float:
        """All product given: the delivered points' volumes plus what cut-short shots gave."""
        return sum(self.delivered.values()) + sum(self.cut_short_ul.values())
