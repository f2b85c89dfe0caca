"""Progress of a guided run, for any front end (CLI line printer, web console, test log).

A callback sees each step as it starts; it can never break the run: an exception inside it
is logged and forgotten (observers never steer control flow)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ProgressCallback", "RunProgress", "notify"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunProgress:
    label: str  # which pass: "as found", "as left" (steps restart at 1 in each)
    phase: str  # "prepare", "blank", "dose", "depth", "done"
    step: int  # 1-based, within the whole run
    total: int
    message: str


ProgressCallback = Callable[[RunProgress], None]


def notify(callback: ProgressCallback | None, progress: RunProgress) -> None:
    if callback is None:
        return
    try:
        callback(progress)
    except Exception:  # an observer's bug must not stop a calibration
        log.exception("progress callback failed (ignored)")
