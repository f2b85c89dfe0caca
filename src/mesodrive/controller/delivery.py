"""The one rule for what a final shot did to its point — used by the run engine's book of
points and by `resume`, so a live run and a resumed one can never disagree.

Why one rule: the question "may this point be injected again?" is the safety question, and
"was this point fully delivered?" is the accounting question; they have different answers for
a shot that was cut short (the needle went in, the dose stopped early), and mixing them up
either repeats a puncture or reports a dose that was never given.

- NOT_GIVEN: certainly not executed (rejected, cancelled, never received) or stopped by the
  device before the needle moved (flag NOT_STARTED, set only by the contact check). The point
  stays pending and may be tried again under a new shot index.
- DELIVERED: executed to the end without the device reporting a shortfall.
- CUT_SHORT: executed, but aborted (ABORTED) or under-delivered (UNDER_DELIVERED) — even with
  0 µL given it was a puncture: never re-injected automatically, never counted as delivered.
- UNCERTAIN: unknowable; counted as delivered at the planned volume, flagged, never re-sent.

A reported depth of 0 proves nothing: with a depth offset the needle can be in the skin while
the device believes it is at zero, so only NOT_STARTED makes a DONE shot "not given".
"""

from __future__ import annotations

import enum

from mesodrive.driver.shots import ShotOutcome, ShotState
from mesodrive.driver.vocabulary import ShotFlag

_SHORTFALL = ShotFlag.ABORTED | ShotFlag.UNDER_DELIVERED


class Delivery(enum.Enum):
    NOT_GIVEN = "not given"
    DELIVERED = "delivered"
    CUT_SHORT = "cut short"
    UNCERTAIN = "uncertain"

    @property
    def final_for_point(self) -> bool:
        """The point is never injected again (everything but NOT_GIVEN)."""
        return self is not Delivery.NOT_GIVEN


def delivery(state: ShotState, outcome: ShotOutcome | None) -> Delivery:
    """What a shot in `state` with `outcome` did to its point (see the module docstring)."""
    if state is ShotState.UNCERTAIN:
        return Delivery.UNCERTAIN
    if state is not ShotState.DONE:
        return Delivery.NOT_GIVEN
    if outcome is None:  # DONE without a measurement: it ran; nothing says it fell short
        return Delivery.DELIVERED
    if outcome.not_started:
        return Delivery.NOT_GIVEN
    if outcome.flags & _SHORTFALL:
        return Delivery.CUT_SHORT
    return Delivery.DELIVERED


def shot_delivered(state: ShotState, outcome: ShotOutcome | None) -> bool:
    """Does this shot settle its point for good (never re-inject)? UNCERTAIN does; DONE does
    unless the device stopped it before the needle moved. A cut-short shot does too — it is
    a puncture — though it does not count as a *delivered* point (`delivery`)."""
    return delivery(state, outcome).final_for_point
