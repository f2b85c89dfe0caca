"""The questions `mesodrive run` and `resume` ask at the terminal: the contraindication
screening before a session exists, and retry / skip / abort on an alarm (the recovery policy).
Without a terminal, or with --yes, nobody is asked: the screening must be confirmed by the flag
and every alarm aborts."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.text import Text

from mesodrive.cli import terminal
from mesodrive.cli.run_live import DISPLAY
from mesodrive.cli.terminal import EndOfInput, choose
from mesodrive.controller.recovery import (
    Answer,
    Decision,
    Problem,
    ProblemKind,
    RecoveryPolicy,
    abort_policy,
)
from mesodrive.controller.treatment import SCREENING, Screening
from mesodrive.plan import ValidatedPlan


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def screening(args: argparse.Namespace, console: Console, operator: str | None) -> Screening | None:
    if args.yes:
        return Screening("flag", "--yes", operator)
    if not terminal.interactive():
        _err("error: confirm the contraindication screening: run in a terminal, or pass --yes")
        return None
    console.print("Contraindication screening — does the patient have any of:")
    for item in SCREENING:
        console.print(f"  · {item}")
    yes = {"y": True, "n": False}
    try:
        typed = choose(DISPLAY.ask, "Screening done and none applies? [y/N] ", yes, empty=False)
    except EndOfInput:
        typed = False
    if not typed:
        console.print("not confirmed: nothing was done")
        return None
    return Screening("typed", "y", operator)


def policy(args: argparse.Namespace, console: Console, plan: ValidatedPlan) -> RecoveryPolicy:
    if args.yes or not terminal.interactive():
        return abort_policy

    def ask(problem: Problem) -> Answer:
        console.print(Text.assemble("\n", ("ALARM", "bold red"),
                                    f" {problem.kind.value} at point {problem.point}: "
                                    f"{problem.detail}"))
        try:
            choice = choose(DISPLAY.ask, "fix it, then: [r]etry / [s]kip point / [a]bort? ",
                            {"r": Decision.RETRY, "s": Decision.SKIP, "a": Decision.ABORT})
            reason = terminal.answer(DISPLAY.ask, "reason (recorded): ") or "(none given)"
            refill = None
            if choice is Decision.RETRY and problem.kind in (ProblemKind.EMPTY_SYRINGE,
                                                             ProblemKind.REFILL_DUE):
                refill = terminal.ask_volume(
                    DISPLAY.ask, "volume of the new syringe in µL (empty = full syringe): ",
                    plan.device.syringe_ul)
        except EndOfInput:
            return Answer(Decision.ABORT, "end of input: nobody left to answer at the terminal")
        return Answer(choice, reason, refill)

    return ask
