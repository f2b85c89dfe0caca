"""Reconnect: resynchronise the link and, after a reboot, re-handshake and re-learn the
device clock — needed before any shot outcome can be asked about again."""

from __future__ import annotations

from mesodrive.controller.recovery import Problem, ProblemKind
from mesodrive.driver.injector import Injector


def needs_reconnect(inj: Injector, problem: Problem) -> bool:
    return inj.link_lost or problem.kind in (ProblemKind.LINK_LOST, ProblemKind.DEVICE_REBOOTED)


def reconnect(inj: Injector) -> None:
    inj.reconnect()
